/**
 * The query-log-ingest handler end to end in-process: Function URL v2.0 events in (recorded Trino 476 event
 * listener bodies), SQS SendMessage out through a client mock that records exactly what was sent, the secret read
 * through the real Powertools providers over mocked SSM / Secrets Manager clients.
 */

import { readFileSync } from 'node:fs';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  cachedSharedSecret,
  INGEST_METRICS,
  type IngestDeps,
  makeHandler,
  parseSecretValue,
  secretMatches,
} from '../../functions/query-log-ingest/handler.ts';
import { QueryLogIngestEnvSchema } from '../../functions/query-log-ingest/schemas.ts';
import { toFunctionUrlEvent } from '../../harness/function-url.ts';
import { localContext } from '../../harness/invoke.ts';
import { loadConfig } from '../../lib/config.ts';
import { ConfigError } from '../../lib/errors.ts';
import type { SecretSources } from '../../lib/trino/connect.ts';
import { QueryCompletedEventSchema } from '../../lib/trino/query-events.ts';

const SECRET = 's3cr3t-Never-Logged-7f1c';
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/trino-query-events';
const fixture = (name: 'finished' | 'failed-syntax' | 'cancelled') =>
  readFileSync(`test/fixtures/trino-476/http-event-listener-query-completed-${name}.json`, 'utf8');

const sqs = mockClient(SQSClient);
const ssm = mockClient(SSMClient);
const secretsManager = mockClient(SecretsManagerClient);

function sources(): SecretSources {
  return {
    ssm: new SSMProvider({ awsSdkV3Client: new SSMClient({ region: 'us-east-1' }) }),
    secrets: new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({ region: 'us-east-1' }) }),
  };
}

function setup(env: Record<string, string> = {}, now: () => number = Date.now) {
  const config = loadConfig(QueryLogIngestEnvSchema, {
    QUERY_LOG_QUEUE_URL: QUEUE_URL,
    QUERY_LOG_SECRET_SSM_PARAMETER: '/trino/query-log/secret',
    ...env,
  });
  const metrics = new Metrics({ namespace: 'Test' });
  const added = vi.spyOn(metrics, 'addMetric');
  const deps: IngestDeps = {
    config,
    sqs: new SQSClient({ region: 'us-east-1' }),
    secret: cachedSharedSecret(config, async () => sources(), now),
    metrics,
  };
  const handler = makeHandler(deps);
  const invoke = (event: unknown) => handler(event, localContext('queryLogIngest'));
  const metricNames = () => added.mock.calls.map((call) => call[0]);
  return { invoke, metricNames, config };
}

/** A Function URL event for a POST, built by the same code the local Function URL uses. */
function post(
  body: string,
  headers: Record<string, string> = { 'x-trino-sentinel-secret': SECRET },
  contentType = 'application/json; charset=utf-8',
): APIGatewayProxyEventV2 {
  return toFunctionUrlEvent({
    method: 'POST',
    url: '/',
    headers: { 'content-type': contentType, ...headers },
    body: Buffer.from(body, 'utf8'),
    sourceIp: '10.1.2.3',
  });
}

const sent = () => sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input);

let output: string[];
beforeEach(() => {
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  sqs.reset();
  ssm.reset();
  secretsManager.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  ssm.on(GetParameterCommand).resolves({ Parameter: { Value: SECRET, Type: 'SecureString' } });
  output = [];
  const capture = (chunk: unknown) => {
    output.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('query-log-ingest: accepted events', () => {
  it.each([
    ['finished', 'FINISHED'],
    ['failed-syntax', 'FAILED'],
    ['cancelled', 'FAILED'],
  ] as const)('enqueues the %s event unchanged with its queryId and answers 202', async (name, state) => {
    const { invoke, metricNames } = setup();
    const body = fixture(name);
    const queryId = QueryCompletedEventSchema.parse(JSON.parse(body)).metadata.queryId;
    const response = await invoke(post(body));
    expect(response).toEqual({
      statusCode: 202,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ queryId }),
    });
    expect(sent()).toEqual([
      {
        QueueUrl: QUEUE_URL,
        MessageBody: body,
        MessageAttributes: {
          queryId: { DataType: 'String', StringValue: queryId },
          queryState: { DataType: 'String', StringValue: state },
        },
      },
    ]);
    expect(metricNames()).toEqual([INGEST_METRICS.accepted]);
    expect(ssm.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({
      Name: '/trino/query-log/secret',
      WithDecryption: true,
    });
  });

  it('never logs the secret or the SQL text', async () => {
    const { invoke } = setup();
    await invoke(post(fixture('cancelled')));
    await invoke(post(fixture('cancelled'), { 'x-trino-sentinel-secret': 'wrong' }));
    const logs = output.join('');
    expect(logs).toContain('Enqueued query event');
    expect(logs).not.toContain(SECRET);
    expect(logs).not.toContain('lineitem');
  });

  it('decodes a base64 body (isBase64Encoded) and enqueues the decoded JSON', async () => {
    const { invoke } = setup();
    const body = fixture('failed-syntax');
    const event = post(body, { 'x-trino-sentinel-secret': SECRET }, 'application/octet-stream');
    expect(event.isBase64Encoded).toBe(true);
    expect((await invoke(event)).statusCode).toBe(202);
    expect(sent()[0]?.MessageBody).toBe(body);
  });

  it.each([
    ['X-Trino-Sentinel-Secret', {}],
    ['x-trino-sentinel-secret', { QUERY_LOG_SECRET_HEADER: 'X-TRINO-SENTINEL-SECRET' }],
    ['X-Custom-Auth', { QUERY_LOG_SECRET_HEADER: 'x-custom-auth' }],
  ])('finds the secret header whatever its case (%s, config %j)', async (name, env) => {
    const { invoke } = setup(env);
    const event = { ...post(fixture('failed-syntax'), {}), headers: { [name]: SECRET } };
    expect((await invoke(event)).statusCode).toBe(202);
  });

  it('accepts the value Trino sends for "Name: value" (leading space)', async () => {
    const { invoke } = setup();
    expect(
      (await invoke(post(fixture('failed-syntax'), { 'x-trino-sentinel-secret': ` ${SECRET}` }))).statusCode,
    ).toBe(202);
  });

  it('accepts either secret during a rotation (one per line) and reads the secret once', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: `old-secret\n${SECRET}\n` } });
    const { invoke } = setup();
    for (const secret of ['old-secret', SECRET]) {
      expect(
        (await invoke(post(fixture('failed-syntax'), { 'x-trino-sentinel-secret': secret }))).statusCode,
      ).toBe(202);
    }
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
  });

  it('reads the secret from Secrets Manager when QUERY_LOG_SECRET_ARN is set', async () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:query-log-AbCdEf';
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
    const { invoke } = setup({ QUERY_LOG_SECRET_SSM_PARAMETER: '', QUERY_LOG_SECRET_ARN: arn });
    expect((await invoke(post(fixture('finished')))).statusCode).toBe(202);
    expect(secretsManager.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: arn });
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(0);
  });

  it('sets the query id as message group and deduplication id on a FIFO queue', async () => {
    const fifo = `${QUEUE_URL}.fifo`;
    const { invoke } = setup({ QUERY_LOG_QUEUE_URL: fifo });
    await invoke(post(fixture('failed-syntax')));
    expect(sent()[0]).toMatchObject({
      QueueUrl: fifo,
      MessageGroupId: '20261123_071326_00002_j3ux5',
      MessageDeduplicationId: '20261123_071326_00002_j3ux5',
    });
  });

  it('drops bulky diagnostic fields to fit the message budget and says which', async () => {
    const { invoke, metricNames } = setup({ QUERY_LOG_MAX_MESSAGE_BYTES: '60000' });
    expect((await invoke(post(fixture('finished')))).statusCode).toBe(202);
    const message = sent()[0];
    expect(Buffer.byteLength(message?.MessageBody ?? '')).toBeLessThan(60_000);
    expect(message?.MessageAttributes?.trimmedFields?.StringValue).toMatch(/^metadata\.payload(,|$)/);
    const parsed = QueryCompletedEventSchema.parse(JSON.parse(message?.MessageBody ?? ''));
    expect(parsed.metadata).not.toHaveProperty('payload');
    expect(parsed.metadata.query).toBe('SELECT count(*) FROM tpch.tiny.orders');
    expect(metricNames()).toEqual([INGEST_METRICS.trimmed, INGEST_METRICS.accepted]);
  });
});

describe('query-log-ingest: rejected requests', () => {
  it.each([
    ['no secret header', {}],
    ['a wrong secret', { 'x-trino-sentinel-secret': 'not-it' }],
    ['an empty secret', { 'x-trino-sentinel-secret': '' }],
    ['the secret as a prefix', { 'x-trino-sentinel-secret': SECRET.slice(0, 10) }],
    ['the secret in another header', { authorization: `Bearer ${SECRET}` }],
  ])('answers 401 with no details and enqueues nothing for %s', async (_, headers) => {
    const { invoke, metricNames } = setup();
    const response = await invoke(post(fixture('finished'), headers));
    expect(response).toMatchObject({ statusCode: 401, body: '{"message":"Unauthorized"}' });
    expect(sent()).toEqual([]);
    expect(metricNames()).toEqual([INGEST_METRICS.unauthorized]);
  });

  it('checks the secret before looking at the body (401, not 400, for garbage without a secret)', async () => {
    const { invoke } = setup();
    expect((await invoke(post('not json', {}))).statusCode).toBe(401);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const { invoke, metricNames } = setup();
    const response = await invoke(post('{"metadata":'));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).message).toMatch(/not JSON/);
    expect(sent()).toEqual([]);
    expect(metricNames()).toEqual([INGEST_METRICS.invalid]);
  });

  it('answers 400 for an empty body', async () => {
    const { invoke } = setup();
    expect((await invoke(post(''))).statusCode).toBe(400);
    expect(sent()).toEqual([]);
  });

  it('answers 400 naming the missing field when a required field is absent', async () => {
    const { invoke } = setup();
    const body = JSON.parse(fixture('finished'));
    delete body.metadata.queryId;
    delete body.statistics.wallTime;
    const response = await invoke(post(JSON.stringify(body)));
    expect(response.statusCode).toBe(400);
    const answer = JSON.parse(response.body);
    expect(answer.message).toMatch(/^Not a Trino QueryCompletedEvent: metadata\.queryId: /);
    expect(answer.issues).toEqual([
      expect.stringMatching(/^metadata\.queryId: /),
      expect.stringMatching(/^statistics\.wallTime: /),
    ]);
    expect(sent()).toEqual([]);
  });

  it('answers 400 for an event that is not a Function URL request', async () => {
    const { invoke } = setup();
    expect((await invoke({ hello: 'world' })).statusCode).toBe(400);
    expect(sent()).toEqual([]);
  });

  it('answers 405 for a GET', async () => {
    const { invoke } = setup();
    const event = post('');
    const response = await invoke({
      ...event,
      requestContext: { ...event.requestContext, http: { ...event.requestContext.http, method: 'GET' } },
    });
    expect(response).toMatchObject({ statusCode: 405, headers: { allow: 'POST, PUT' } });
  });

  it('answers 413 with a metric when even the trimmed event exceeds the message budget', async () => {
    const { invoke, metricNames } = setup({ QUERY_LOG_MAX_MESSAGE_BYTES: '20000' });
    const body = JSON.parse(fixture('failed-syntax'));
    body.metadata.query = `SELECT '${'x'.repeat(30_000)}'`;
    const response = await invoke(post(JSON.stringify(body)));
    expect(response.statusCode).toBe(413);
    expect(JSON.parse(response.body).queryId).toBe('20261123_071326_00002_j3ux5');
    expect(sent()).toEqual([]);
    expect(metricNames()).toEqual([INGEST_METRICS.tooLarge]);
    expect(output.join('')).not.toContain('xxxxxxxx');
  });

  it('answers 503 so Trino retries when SendMessage fails', async () => {
    sqs
      .on(SendMessageCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { invoke, metricNames } = setup();
    const response = await invoke(post(fixture('failed-syntax')));
    expect(response.statusCode).toBe(503);
    expect(sent()).toHaveLength(1);
    expect(metricNames()).toEqual([INGEST_METRICS.enqueueFailed]);
  });

  it('answers 503 when the secret cannot be read, and reads it again on the next request', async () => {
    ssm
      .on(GetParameterCommand)
      .rejectsOnce(new Error('AccessDenied'))
      .resolves({ Parameter: { Value: SECRET } });
    const { invoke } = setup();
    expect((await invoke(post(fixture('failed-syntax')))).statusCode).toBe(503);
    expect(sent()).toEqual([]);
    expect((await invoke(post(fixture('failed-syntax')))).statusCode).toBe(202);
  });
});

describe('shared secret', () => {
  it('re-reads a rotated secret on a mismatch, at most once per refresh interval', async () => {
    let nowMs = 1_000_000;
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: 'old' } })
      .resolves({ Parameter: { Value: SECRET } });
    const { invoke } = setup({ QUERY_LOG_SECRET_REFRESH_SECONDS: '30' }, () => nowMs);
    const withOld = post(fixture('failed-syntax'), { 'x-trino-sentinel-secret': 'old' });
    const withNew = post(fixture('failed-syntax'));
    expect((await invoke(withOld)).statusCode).toBe(202);
    nowMs += 10_000;
    expect((await invoke(withNew)).statusCode).toBe(401); // cache younger than 30 s: no re-read
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
    nowMs += 25_000;
    expect((await invoke(withNew)).statusCode).toBe(202); // older than 30 s: re-read once, now matches
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('expires the cached secret after QUERY_LOG_SECRET_CACHE_SECONDS', async () => {
    let nowMs = 0;
    const { invoke } = setup({ QUERY_LOG_SECRET_CACHE_SECONDS: '60' }, () => nowMs);
    await invoke(post(fixture('failed-syntax')));
    nowMs = 59_000;
    await invoke(post(fixture('failed-syntax')));
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
    nowMs = 61_000;
    await invoke(post(fixture('failed-syntax')));
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('answers 503 for a parameter that holds only blank lines', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: '\n  \n' } });
    const { invoke } = setup();
    expect((await invoke(post(fixture('failed-syntax')))).statusCode).toBe(503);
  });

  it.each([
    ['abc', ['abc'], true],
    ['abc', ['x', 'abc'], true],
    ['abc', ['abcd'], false],
    ['', ['abc'], false],
    ['abc', [], false],
  ])('secretMatches(%j, %j) is %s', (presented, accepted, expected) => {
    expect(secretMatches(presented, accepted)).toBe(expected);
  });

  it('parses one secret per line, trimmed, blank lines ignored', () => {
    expect(parseSecretValue(' a \r\n\nb\n')).toEqual(['a', 'b']);
  });
});

describe('configuration', () => {
  it.each([
    [{}, /QUERY_LOG_SECRET_SSM_PARAMETER is not set/],
    [
      { QUERY_LOG_SECRET_SSM_PARAMETER: 'p', QUERY_LOG_SECRET_ARN: 'a' },
      /QUERY_LOG_SECRET_ARN is invalid \(set only one/,
    ],
    [
      { QUERY_LOG_SECRET_SSM_PARAMETER: 'p', QUERY_LOG_SECRET_HEADER: 'bad header' },
      /QUERY_LOG_SECRET_HEADER is invalid/,
    ],
    [
      { QUERY_LOG_SECRET_SSM_PARAMETER: 'p', QUERY_LOG_MAX_MESSAGE_BYTES: '2000000' },
      /QUERY_LOG_MAX_MESSAGE_BYTES is invalid/,
    ],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => loadConfig(QueryLogIngestEnvSchema, { QUERY_LOG_QUEUE_URL: QUEUE_URL, ...env })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig(QueryLogIngestEnvSchema, { QUERY_LOG_QUEUE_URL: QUEUE_URL, ...env })).toThrow(
      message,
    );
  });

  it('defaults: header x-trino-sentinel-secret, 1 MiB messages, 300 s cache, 30 s refresh', () => {
    const config = loadConfig(QueryLogIngestEnvSchema, {
      QUERY_LOG_QUEUE_URL: QUEUE_URL,
      QUERY_LOG_SECRET_SSM_PARAMETER: 'p',
    });
    expect(config).toMatchObject({
      QUERY_LOG_SECRET_HEADER: 'x-trino-sentinel-secret',
      QUERY_LOG_MAX_MESSAGE_BYTES: 1_048_576,
      QUERY_LOG_SECRET_CACHE_SECONDS: 300,
      QUERY_LOG_SECRET_REFRESH_SECONDS: 30,
    });
  });
});
