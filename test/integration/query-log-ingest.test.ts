/**
 * query-log-ingest against the real components: a secure Trino 476 (HTTPS, password, file access control) whose
 * HTTP event listener posts every completed query to the handler behind a local Function URL
 * (harness/function-url.ts), which reads its shared secret from moto's SSM (SecureString) and enqueues on
 * moto's SQS. The messages are read back with ReceiveMessage.
 *
 * Starts its own moto and its own Trino cluster: the listener is configured at start-up (event-listener.properties),
 * so the shared cluster of global-setup.ts cannot be pointed at this handler.
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedSharedSecret, makeHandler } from '../../functions/query-log-ingest/handler.ts';
import { QueryLogIngestEnvSchema } from '../../functions/query-log-ingest/schemas.ts';
import { type LocalFunctionUrl, startFunctionUrl } from '../../harness/function-url.ts';
import { type MotoServer, startMoto } from '../../harness/moto.ts';
import { runQuery, startQuery, startTrinoCluster, type TrinoCluster } from '../../harness/trino.ts';
import { loadConfig } from '../../lib/config.ts';
import { QueryCompletedEventSchema, toQueryLogDocument } from '../../lib/trino/query-events.ts';

const SECRET_PARAMETER = '/trino-sentinel/it/query-log-secret';
const SECRET = randomBytes(24).toString('base64url');

describe('query-log-ingest with a real Trino 476 event listener, moto SQS and SSM', () => {
  let moto: MotoServer;
  let sqs: SQSClient;
  let queueUrl: string;
  let functionUrl: LocalFunctionUrl;
  let cluster: TrinoCluster;
  /** Every message received so far, by query id (the cluster's own start-up probe queries included). */
  const received = new Map<string, Message>();

  async function drain(waitSeconds: number): Promise<void> {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: waitSeconds,
        MessageAttributeNames: ['All'],
      }),
    );
    for (const message of out.Messages ?? []) {
      const queryId = message.MessageAttributes?.queryId?.StringValue ?? `unknown-${received.size}`;
      received.set(queryId, message);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }

  async function waitForMessages(queryIds: readonly string[], timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!queryIds.every((id) => received.has(id))) {
      if (Date.now() > deadline) {
        const missing = queryIds.filter((id) => !received.has(id));
        const statuses = functionUrl.exchanges.map((e) => e.statusCode).join(',');
        throw new Error(
          `no SQS message for ${missing.join(', ')} after ${timeoutMs} ms (posts: ${statuses})`,
        );
      }
      await drain(1);
    }
  }

  beforeAll(async () => {
    moto = await startMoto();
    sqs = new SQSClient(moto.clientConfig);
    const ssm = new SSMClient(moto.clientConfig);
    queueUrl =
      (await sqs.send(new CreateQueueCommand({ QueueName: 'trino-query-events' }))).QueueUrl ??
      'missing QueueUrl';
    await ssm.send(
      new PutParameterCommand({
        Name: SECRET_PARAMETER,
        Type: 'SecureString',
        Value: SECRET,
        Overwrite: true,
      }),
    );
    const config = loadConfig(QueryLogIngestEnvSchema, {
      QUERY_LOG_QUEUE_URL: queueUrl,
      QUERY_LOG_SECRET_SSM_PARAMETER: SECRET_PARAMETER,
    });
    const handler = makeHandler({
      config,
      sqs,
      secret: cachedSharedSecret(config, async () => ({
        ssm: new SSMProvider({ awsSdkV3Client: ssm }),
        secrets: new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(moto.clientConfig) }),
      })),
      metrics: new Metrics({ namespace: 'TrinoSentinelIT', serviceName: 'query-log-ingest-it' }),
    });
    functionUrl = await startFunctionUrl(handler, { functionName: 'queryLogIngest' });
    cluster = await startTrinoCluster({
      line: 'newest',
      workers: 1,
      secure: true,
      name: 'qlog',
      // Trino's own syntax is "Name: value"; the leading space reaches the handler, which trims it.
      eventListener: { ingestUri: functionUrl.url, headers: { 'X-Trino-Sentinel-Secret': ` ${SECRET}` } },
    });
  });

  afterAll(async () => {
    await cluster?.stop();
    await functionUrl?.close();
    await moto?.stop();
  });

  it('enqueues one message per completed query: finished, failed (syntax error) and cancelled', async () => {
    const ok = await runQuery(cluster, 'SELECT count(*) FROM tpch.tiny.orders');
    expect(ok.state).toBe('FINISHED');
    const bad = await runQuery(cluster, 'SELEC 1');
    expect(bad.error?.errorName).toBe('SYNTAX_ERROR');
    const long = await startQuery(
      cluster,
      "SELECT count(*) FROM tpch.sf15.lineitem WHERE comment LIKE '%x%'",
    );
    await long.cancel();
    const cancelled = await long.done;
    expect(cancelled.error?.errorName).toBe('USER_CANCELED');

    await waitForMessages([ok.queryId, bad.queryId, cancelled.queryId]);
    const expectations = [
      [ok.queryId, 'FINISHED', undefined],
      [bad.queryId, 'FAILED', 'SYNTAX_ERROR'],
      [cancelled.queryId, 'FAILED', 'USER_CANCELED'],
    ] as const;
    for (const [queryId, state, errorCode] of expectations) {
      const message = received.get(queryId);
      expect(message?.MessageAttributes?.queryState?.StringValue).toBe(state);
      const event = QueryCompletedEventSchema.parse(JSON.parse(message?.Body ?? ''));
      expect(event.metadata.queryId).toBe(queryId);
      expect(event.metadata.queryState).toBe(state);
      const doc = toQueryLogDocument(event, { sqlMaxLength: 10_000, redactSql: false });
      expect(doc).toMatchObject({ queryId, queryState: state, user: 'sentinel', serverVersion: '476' });
      expect(doc.errorCode).toBe(errorCode);
    }
    const posts = functionUrl.exchanges.filter((e) => e.statusCode !== 202);
    expect(posts).toEqual([]);
  });

  it('answers 401 to a post with a wrong secret and enqueues nothing', async () => {
    await drain(0);
    const before = received.size;
    const body = readFileSync(
      'test/fixtures/trino-476/http-event-listener-query-completed-finished.json',
      'utf8',
    );
    const attempts: Record<string, string>[] = [{ 'x-trino-sentinel-secret': 'not-the-secret' }, {}];
    for (const headers of attempts) {
      const response = await fetch(functionUrl.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ message: 'Unauthorized' });
    }
    await drain(2);
    expect(received.size).toBe(before);
  });
});
