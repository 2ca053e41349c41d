/**
 * The shipper's per-item error paths that a real engine will not produce on demand (429 rejections under load),
 * with a local HTTP server answering `_bulk` exactly as OpenSearch does (per-item statuses and error bodies) — an
 * HTTP double, labelled as such; the real-engine paths (400 mapping errors, engine down) are in
 * test/integration/query-logs.test.ts. The DLQ is an SQS client mock; every call is asserted.
 */
import { readFileSync } from 'node:fs';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runShip, type ShipDeps } from '../../functions/query-log-ship/handler.ts';
import { QueryLogShipEnvSchema } from '../../functions/query-log-ship/schemas.ts';
import { loadConfig } from '../../lib/config.ts';
import { sinkFromConfig } from '../../lib/search/query-log-sink.ts';
import { startTestServer, type TestServer } from '../helpers/http-server.ts';

const sqs = mockClient(SQSClient);
const cloudwatch = mockClient(CloudWatchClient);
const fixture = readFileSync(
  'test/fixtures/trino-476/http-event-listener-query-completed-finished.json',
  'utf8',
);

function record(messageId: string, queryId: string, receiveCount = 1, body?: string) {
  const event = JSON.parse(fixture);
  event.metadata.queryId = queryId;
  return {
    messageId,
    body: body ?? JSON.stringify(event),
    attributes: { ApproximateReceiveCount: String(receiveCount) },
  };
}

/** OpenSearch's `_bulk` answer for the given per-item statuses (bodies as OpenSearch 2.x writes them). */
function bulkAnswer(statuses: readonly number[]) {
  return JSON.stringify({
    took: 3,
    errors: statuses.some((s) => s >= 300),
    items: statuses.map((status, i) => ({
      index: {
        _index: 'trino-queries-2026.11.23',
        _id: `q${i}`,
        status,
        ...(status === 429
          ? {
              error: {
                type: 'rejected_execution_exception',
                reason:
                  'rejected execution of coordinating operation [shard_detail=[trino-queries-2026.11.23][0][P]]',
              },
            }
          : status === 400
            ? {
                error: {
                  type: 'mapper_parsing_exception',
                  reason: 'failed to parse field [wallTimeMs] of type [long]',
                },
              }
            : { result: 'created', _version: 1 }),
      },
    })),
  });
}

describe('shipper against per-item bulk failures', () => {
  let server: TestServer;
  let deps: ShipDeps;
  let statuses: number[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    server.respond((request) => {
      if (request.path.startsWith('/_bulk')) return { status: 200, body: bulkAnswer(statuses) };
      if (request.method === 'GET' && request.path.startsWith('/_plugins/_ism/policies/'))
        return { status: 404, body: '{}' };
      return { status: 200, body: '{"acknowledged":true}' };
    });
    const config = loadConfig(QueryLogShipEnvSchema, {
      CLUSTER_NAME: 'prod',
      SEARCH_ENGINE: 'opensearch',
      SEARCH_ENDPOINT: server.url,
      QUERY_LOG_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/prod-query-logs-dlq',
      QUERY_LOG_MAX_ATTEMPTS: '3',
      METRICS_SINK: 'put-metric-data',
    });
    const sink = await sinkFromConfig(config);
    deps = {
      config,
      sqs: new SQSClient({ region: 'us-east-1' }),
      cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
      sink: async () => sink,
      now: () => Date.parse('2026-11-23T07:14:00Z'),
    };
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    sqs.reset();
    cloudwatch.reset();
    cloudwatch.on(PutMetricDataCommand).resolves({});
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    server.received.length = 0;
  });

  it('sends one NDJSON _bulk with index actions (_id = queryId) and retries only the 429 items', async () => {
    statuses = [201, 429, 201];
    const response = await runShip(
      { Records: [record('m0', 'q0'), record('m1', 'q1'), record('m2', 'q2')] },
      deps,
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    const bulk = server.received.find((r) => r.path.startsWith('/_bulk'));
    const lines = (bulk?.body ?? '')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(6);
    expect(lines[0]).toEqual({ index: { _index: 'trino-queries-2026.11.23', _id: 'q0' } });
    expect(lines[1]).toMatchObject({
      queryId: 'q0',
      queryState: 'FINISHED',
      '@timestamp': expect.any(String),
    });
    expect(lines[2]).toEqual({ index: { _index: 'trino-queries-2026.11.23', _id: 'q1' } });
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });

  it('dead-letters a 429 item that used up its attempts and a 400 item at once, with the reasons', async () => {
    statuses = [429, 400, 201];
    const response = await runShip(
      { Records: [record('m0', 'q0', 3), record('m1', 'q1', 1), record('m2', 'q2', 1)] },
      deps,
    );
    expect(response.batchItemFailures).toEqual([]);
    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls).toHaveLength(1);
    const entries = calls[0]?.args[0].input.Entries ?? [];
    expect(calls[0]?.args[0].input.QueueUrl).toBe(
      'https://sqs.us-east-1.amazonaws.com/123456789012/prod-query-logs-dlq',
    );
    expect(entries.map((e) => e.MessageAttributes?.sourceMessageId?.StringValue)).toEqual(['m0', 'm1']);
    expect(entries[0]?.MessageAttributes?.reason?.StringValue).toMatch(
      /^still failing after 3 attempts: 429 rejected_execution_exception/,
    );
    expect(entries[1]?.MessageAttributes?.reason?.StringValue).toMatch(
      /^rejected: 400 mapper_parsing_exception/,
    );
    expect(JSON.parse(entries[1]?.MessageBody ?? '{}').metadata.queryId).toBe('q1');
  });

  it('keeps a message in the queue when the DLQ refuses it', async () => {
    statuses = [400];
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }] });
    const response = await runShip({ Records: [record('m0', 'q0')] }, deps);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }]);
  });

  it('retries the whole batch when the engine answers 503 to the request', async () => {
    server.respond(() => ({ status: 503, body: '{"error":"unavailable"}' }));
    const response = await runShip({ Records: [record('m0', 'q0'), record('m1', 'q1')] }, deps);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['m0', 'm1']);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });
});
