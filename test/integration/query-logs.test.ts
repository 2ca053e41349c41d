/**
 * The query-log path end to end with real parts: a secure Trino 476 whose HTTP event listener posts to our ingest
 * handler (local Function URL), moto's SQS, our shipper driven by a local SQS event source, and a real OpenSearch
 * 2.19.1 (Maven Central integ-test distribution). Faults: the engine down then back, poison messages, duplicates.
 */
import { readFileSync } from 'node:fs';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dailyIndexName } from '../../functions/query-log-ship/decide.ts';
import { type QueryLogPipeline, startQueryLogPipeline } from '../../harness/query-log-pipeline.ts';
import { type SearchEngine, startOpenSearch } from '../../harness/search-engine.ts';
import { runQuery, startQuery, startTrinoCluster, type TrinoCluster } from '../../harness/trino.ts';
import { awsConfig, resetAws } from '../helpers/components.ts';

const PREFIX = 'trino-queries';
const finishedFixture = readFileSync(
  'test/fixtures/trino-476/http-event-listener-query-completed-finished.json',
  'utf8',
);

/** A recorded event with another query id (and end time now). */
function eventWithId(
  queryId: string,
  change: (event: Record<string, Record<string, unknown>>) => void = () => undefined,
) {
  const event = JSON.parse(finishedFixture) as Record<string, Record<string, unknown>>;
  event.metadata = { ...event.metadata, queryId };
  event.endTime = new Date().toISOString() as never;
  change(event);
  return JSON.stringify(event);
}

describe('query logs from a real Trino into a real OpenSearch', () => {
  let engine: SearchEngine;
  let pipeline: QueryLogPipeline;
  let cluster: TrinoCluster;
  const sqs = new SQSClient(awsConfig());

  async function findDocument(queryId: string): Promise<Record<string, unknown> | undefined> {
    const now = Date.now();
    for (const at of [now, now - 86_400_000]) {
      const found = await pipeline.sink.getDocument(
        dailyIndexName(PREFIX, new Date(at).toISOString()),
        queryId,
      );
      if (found) return found;
    }
    return undefined;
  }

  async function waitForDocuments(ids: readonly string[], timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    const found = new Map<string, Record<string, unknown>>();
    while (found.size < ids.length) {
      for (const id of ids) {
        if (found.has(id)) continue;
        const doc = await findDocument(id).catch(() => undefined);
        if (doc) found.set(id, doc);
      }
      if (found.size === ids.length) break;
      if (Date.now() > deadline) {
        throw new Error(
          `documents missing after ${timeoutMs} ms: ${ids.filter((id) => !found.has(id)).join(', ')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    return found;
  }

  async function count(queryId: string): Promise<number> {
    const response = await fetch(`${engine.url}/${PREFIX}-*/_count?q=queryId:${encodeURIComponent(queryId)}`);
    const body = (await response.json()) as { count: number };
    return body.count;
  }

  beforeAll(async () => {
    engine = await startOpenSearch();
    await resetAws();
    pipeline = await startQueryLogPipeline({
      aws: awsConfig(),
      searchUrl: engine.url,
      name: 'it-qlogs',
      indexPrefix: PREFIX,
      maxAttempts: 30,
    });
    cluster = await startTrinoCluster({
      line: 'newest',
      workers: 1,
      secure: true,
      name: 'qlogs',
      eventListener: pipeline.listener,
    });
  });
  afterAll(async () => {
    await cluster?.stop();
    await pipeline?.stop();
    await engine?.destroy();
  });

  it('indexes finished, failed and cancelled queries with their fields, found by GET <index>/_doc/<queryId>', async () => {
    const ok = await runQuery(cluster, 'SELECT count(*) FROM tpch.tiny.orders');
    const bad = await runQuery(cluster, 'SELEC 1');
    const long = await startQuery(
      cluster,
      "SELECT count(*) FROM tpch.sf15.lineitem WHERE comment LIKE '%x%'",
    );
    await long.cancel();
    const cancelled = await long.done;
    const docs = await waitForDocuments([ok.queryId, bad.queryId, cancelled.queryId]);
    expect(docs.get(ok.queryId)).toMatchObject({
      queryId: ok.queryId,
      queryState: 'FINISHED',
      user: 'sentinel',
      query: 'SELECT count(*) FROM tpch.tiny.orders',
      outputRows: 1,
      tablesRead: ['tpch.tiny.orders'],
    });
    expect(docs.get(ok.queryId)?.cpuTimeMs).toEqual(expect.any(Number));
    expect(docs.get(bad.queryId)).toMatchObject({
      queryState: 'FAILED',
      errorCode: 'SYNTAX_ERROR',
      errorType: 'USER_ERROR',
    });
    expect(docs.get(cancelled.queryId)).toMatchObject({ queryState: 'FAILED', errorCode: 'USER_CANCELED' });

    // The template's explicit mapping is what the daily index got.
    const index = dailyIndexName(PREFIX, String(docs.get(ok.queryId)?.endTime));
    const mapping = (await (await fetch(`${engine.url}/${index}/_mapping`)).json()) as Record<
      string,
      { mappings: { properties: Record<string, { type: string }> } }
    >;
    const properties = mapping[index]?.mappings.properties ?? {};
    expect(properties.queryId?.type).toBe('keyword');
    expect(properties.endTime?.type).toBe('date');
    expect(properties.wallTimeMs?.type).toBe('long');
    expect(properties.peakUserMemoryBytes?.type).toBe('long');
    expect(properties.query?.type).toBe('text');
  });

  it('loses nothing while the engine is down and duplicates nothing when it is back', async () => {
    await engine.stop();
    const queries = [];
    for (let i = 0; i < 3; i += 1) queries.push(await runQuery(cluster, `SELECT ${i} AS n`));
    await new Promise((r) => setTimeout(r, 4_000)); // the shipper fails and retries meanwhile
    expect(pipeline.eventSource.stats.reportedFailures).toBeGreaterThan(0);
    await engine.restart();
    const ids = queries.map((q) => q.queryId);
    await waitForDocuments(ids, 90_000);
    await fetch(`${engine.url}/${PREFIX}-*/_refresh`, { method: 'POST' });
    for (const id of ids) expect(await count(id)).toBe(1);
    expect(await pipeline.deadLettered()).toBe(0);
  });

  it('indexes a re-delivered event once (_id = queryId)', async () => {
    const body = eventWithId('20991231_000000_00001_dupes');
    await sqs.send(new SendMessageCommand({ QueueUrl: pipeline.queueUrl, MessageBody: body }));
    await sqs.send(new SendMessageCommand({ QueueUrl: pipeline.queueUrl, MessageBody: body }));
    await waitForDocuments(['20991231_000000_00001_dupes']);
    await new Promise((r) => setTimeout(r, 3_000));
    await fetch(`${engine.url}/${PREFIX}-*/_refresh`, { method: 'POST' });
    expect(await count('20991231_000000_00001_dupes')).toBe(1);
  });

  it('sends poison messages to the DLQ with the reason, and indexes the good ones of the same batch', async () => {
    const good = eventWithId('20991231_000000_00002_good');
    // A keyword longer than Lucene's 32 766-byte term limit: OpenSearch rejects this one document with 400.
    const immense = eventWithId('20991231_000000_00003_poison', (event) => {
      event.context = { ...event.context, traceToken: 'x'.repeat(40_000) };
    });
    for (const body of ['this is not json', immense, good]) {
      await sqs.send(new SendMessageCommand({ QueueUrl: pipeline.queueUrl, MessageBody: body }));
    }
    await waitForDocuments(['20991231_000000_00002_good']);
    const deadline = Date.now() + 30_000;
    while ((await pipeline.deadLettered()) < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 500));
    const dead = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: pipeline.dlqUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    const reasons = (dead.Messages ?? []).map((m) => m.MessageAttributes?.reason?.StringValue ?? '');
    expect(reasons).toHaveLength(2);
    expect(reasons.some((r) => r.startsWith('not a query event'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('rejected: 400'))).toBe(true);
    expect(await findDocument('20991231_000000_00003_poison')).toBeUndefined();
  });
});
