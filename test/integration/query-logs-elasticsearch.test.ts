/**
 * The shipper against a real Elasticsearch 8.17.0 (Maven Central integ-test distribution, security disabled, no
 * ILM module), with recorded Trino 476 listener events and moto's SQS as the dead-letter queue: template and
 * mapping, indexing, no duplicates on re-delivery, a rejected document dead-lettered, the engine down then back.
 * The same adapter serves OpenSearch (test/integration/query-logs.test.ts runs the whole path there).
 */
import { readFileSync } from 'node:fs';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dailyIndexName } from '../../functions/query-log-ship/decide.ts';
import { runShip, type ShipDeps } from '../../functions/query-log-ship/handler.ts';
import { QueryLogShipEnvSchema } from '../../functions/query-log-ship/schemas.ts';
import { type SearchEngine, startSearchEngine } from '../../harness/search-engine.ts';
import { loadConfig } from '../../lib/config.ts';
import { SearchEngineError } from '../../lib/errors.ts';
import { type QueryLogSink, sinkFromConfig } from '../../lib/search/query-log-sink.ts';
import { awsConfig } from '../helpers/components.ts';

const PREFIX = 'es-queries';
const fixture = (name: string) =>
  readFileSync(`test/fixtures/trino-476/http-event-listener-query-completed-${name}.json`, 'utf8');

function record(messageId: string, body: string, receiveCount = 1) {
  return { messageId, body, attributes: { ApproximateReceiveCount: String(receiveCount) } };
}

function queryIdOf(body: string): string {
  return String(JSON.parse(body).metadata.queryId);
}

describe('query-log shipper on a real Elasticsearch', () => {
  let engine: SearchEngine;
  let sink: QueryLogSink;
  let deps: ShipDeps;
  let dlqUrl: string;
  const sqs = new SQSClient(awsConfig());
  const events = ['finished', 'failed-syntax', 'cancelled'].map(fixture);

  async function count(queryId: string): Promise<number> {
    await fetch(`${engine.url}/${PREFIX}-*/_refresh`, { method: 'POST' });
    const response = await fetch(`${engine.url}/${PREFIX}-*/_count?q=queryId:${encodeURIComponent(queryId)}`);
    return ((await response.json()) as { count: number }).count;
  }

  beforeAll(async () => {
    engine = await startSearchEngine({ engine: 'elasticsearch', heapMb: 512 });
    dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'it-es-query-logs-dlq' }))).QueueUrl ?? '';
    const config = loadConfig(QueryLogShipEnvSchema, {
      CLUSTER_NAME: 'it-es',
      SEARCH_ENGINE: 'elasticsearch',
      SEARCH_ENDPOINT: engine.url,
      QUERY_LOG_INDEX_PREFIX: PREFIX,
      QUERY_LOG_DLQ_URL: dlqUrl,
      SEARCH_TIMEOUT_MS: '5000',
    });
    sink = await sinkFromConfig(config);
    deps = {
      config,
      sqs,
      cloudwatch: new CloudWatchClient(awsConfig()),
      sink: async () => sink,
      now: () => Date.now(),
    };
  });
  afterAll(async () => {
    await engine?.destroy();
  });

  it('installs the template without ILM where ILM is missing, and says so', async () => {
    await expect(sink.ensureSetup()).rejects.toThrow(SearchEngineError);
    await expect(sink.ensureSetup()).rejects.toThrow(/ILM/);
    const template = await fetch(`${engine.url}/_index_template/${PREFIX}`);
    expect(template.status).toBe(200);
  });

  it('indexes finished, failed and cancelled events with the explicit mapping, once each even when re-delivered', async () => {
    const batch = { Records: events.map((body, i) => record(`m${i}`, body)) };
    expect((await runShip(batch, deps)).batchItemFailures).toEqual([]);
    expect((await runShip(batch, deps)).batchItemFailures).toEqual([]);
    const [finished, failed, cancelled] = events.map((body) => JSON.parse(body));
    const index = dailyIndexName(PREFIX, finished.endTime);
    expect(await sink.getDocument(index, finished.metadata.queryId)).toMatchObject({
      queryState: 'FINISHED',
    });
    expect(
      await sink.getDocument(dailyIndexName(PREFIX, failed.endTime), failed.metadata.queryId),
    ).toMatchObject({
      errorCode: 'SYNTAX_ERROR',
    });
    expect(
      await sink.getDocument(dailyIndexName(PREFIX, cancelled.endTime), cancelled.metadata.queryId),
    ).toMatchObject({ errorCode: 'USER_CANCELED' });
    for (const body of events) expect(await count(queryIdOf(body))).toBe(1);
    const mapping = (await (await fetch(`${engine.url}/${index}/_mapping`)).json()) as Record<
      string,
      { mappings: { properties: Record<string, { type: string }> } }
    >;
    const properties = mapping[index]?.mappings.properties ?? {};
    expect([properties.queryId?.type, properties.endTime?.type, properties.cpuTimeMs?.type]).toEqual([
      'keyword',
      'date',
      'long',
    ]);
  });

  it('dead-letters the document Elasticsearch rejects (400) and indexes the rest of the batch', async () => {
    const poison = JSON.parse(events[0] ?? '{}');
    poison.metadata.queryId = '20991231_000000_00009_espoison';
    poison.context.traceToken = 'x'.repeat(40_000);
    const good = JSON.parse(events[0] ?? '{}');
    good.metadata.queryId = '20991231_000000_00010_esgood';
    const response = await runShip(
      { Records: [record('p', JSON.stringify(poison)), record('g', JSON.stringify(good))] },
      deps,
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(await count('20991231_000000_00010_esgood')).toBe(1);
    expect(await count('20991231_000000_00009_espoison')).toBe(0);
    const dead = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    expect(dead.Messages?.map((m) => m.MessageAttributes?.reason?.StringValue)).toEqual([
      expect.stringMatching(/^rejected: 400 /),
    ]);
  });

  it('retries the whole batch while Elasticsearch is down, and indexes it once when it is back', async () => {
    const body = JSON.parse(events[0] ?? '{}');
    body.metadata.queryId = '20991231_000000_00011_esdown';
    const batch = { Records: [record('d', JSON.stringify(body))] };
    await engine.stop();
    expect((await runShip(batch, deps)).batchItemFailures).toEqual([{ itemIdentifier: 'd' }]);
    await engine.restart();
    expect(
      (await runShip({ Records: [record('d', JSON.stringify(body), 2)] }, deps)).batchItemFailures,
    ).toEqual([]);
    expect(await count('20991231_000000_00011_esdown')).toBe(1);
  });
});
