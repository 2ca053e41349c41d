/**
 * query-log-ingest: the Lambda behind a Function URL that Trino's HTTP event listener posts every
 * `QueryCompletedEvent` to. It authenticates the post (shared-secret header), validates the event, and enqueues
 * it unchanged on SQS for the shipper, answering fast so the coordinator never waits on the search engine.
 *
 * Status codes follow what Trino's listener does with them (io.trino.plugin.httpquery.HttpEventListener retries
 * 5xx, 408, 429 and connection failures up to `connect-retry-count` times and never retries other 4xx):
 * - 202: enqueued;
 * - 400: not JSON, or not a QueryCompletedEvent (body names the first invalid paths): retrying cannot help;
 * - 401: missing or wrong secret (no details); nothing is read further nor enqueued;
 * - 405: not POST/PUT;
 * - 413: still larger than an SQS message after dropping the bulky diagnostic fields (metric + error log);
 * - 503: the secret could not be read, or SendMessage failed: Trino retries.
 * The SQL text and the secret are never logged; info lines carry the query id, state and sizes only.
 *
 * @module
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import { sendMessage } from '../../lib/aws/sqs.ts';
import { containerDeps, sdkClients } from '../../lib/deps.ts';
import { SecretError } from '../../lib/errors.ts';
import { logger } from '../../lib/logger.ts';
import { formatIssues } from '../../lib/middleware.ts';
import { QueryCompletedEventSchema, shrinkEventJson } from '../../lib/trino/query-events.ts';
import {
  type FunctionUrlEvent,
  FunctionUrlEventSchema,
  type FunctionUrlResult,
  type QueryLogIngestConfig,
  QueryLogIngestEnvSchema,
} from './schemas.ts';
import { cachedSharedSecret, type SharedSecretStore, secretMatches } from './secret.ts';

export { cachedSharedSecret, parseSecretValue, type SharedSecretStore, secretMatches } from './secret.ts';

/** Metric names this function publishes (EMF, namespace `POWERTOOLS_METRICS_NAMESPACE`), each a Count. */
export const INGEST_METRICS = {
  /** An event was enqueued. */
  accepted: 'QueryEventsAccepted',
  /** An event was enqueued without some bulky diagnostic fields (it did not fit otherwise). */
  trimmed: 'QueryEventsTrimmed',
  /** 401: missing or wrong secret. */
  unauthorized: 'QueryEventsUnauthorized',
  /** 400 or 405: not a Function URL POST, not JSON, or not a QueryCompletedEvent. */
  invalid: 'QueryEventsInvalid',
  /** 413: too large for an SQS message even after trimming; the event is lost. */
  tooLarge: 'QueryEventsTooLarge',
  /** 503: SendMessage or the secret read failed (Trino retries). */
  enqueueFailed: 'QueryEventsEnqueueFailed',
} as const;

/** Everything the handler needs from the outside world; injectable for tests. */
export interface IngestDeps {
  readonly config: QueryLogIngestConfig;
  readonly sqs: SQSClient;
  readonly secret: SharedSecretStore;
  readonly metrics: Metrics;
}

/** Finds a header case-insensitively (Function URLs lower-case names, other front ends may not). */
function header(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

function respond(statusCode: number, body: Record<string, unknown>): FunctionUrlResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function describe(error: unknown): Record<string, unknown> {
  if (error instanceof SecretError) return { name: error.name, message: error.message, ...error.context };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { message: String(error) };
}

async function authenticate(event: FunctionUrlEvent, deps: IngestDeps): Promise<'ok' | 'denied'> {
  const presented = header(event.headers, deps.config.QUERY_LOG_SECRET_HEADER)?.trim();
  if (!presented) return 'denied';
  if (secretMatches(presented, await deps.secret.get())) return 'ok';
  const fresh = await deps.secret.refreshIfStale();
  return fresh !== undefined && secretMatches(presented, fresh) ? 'ok' : 'denied';
}

/** Bytes SQS counts for String message attributes: name + data type (`String`) + value. */
function attributeBytes(attributes: Record<string, string>): number {
  return Object.entries(attributes).reduce(
    (sum, [name, value]) =>
      sum + Buffer.byteLength(name) + Buffer.byteLength('String') + Buffer.byteLength(value),
    0,
  );
}

/**
 * Handles one Function URL request: authenticate, validate, enqueue.
 * @param rawEvent - The Function URL event (validated here: a malformed envelope is a 400, never a 5xx).
 * @returns The HTTP response; see the module documentation for the status codes.
 */
export async function ingestQueryEvent(rawEvent: unknown, deps: IngestDeps): Promise<FunctionUrlResult> {
  const { metrics } = deps;
  const envelope = FunctionUrlEventSchema.safeParse(rawEvent);
  if (!envelope.success) {
    metrics.addMetric(INGEST_METRICS.invalid, MetricUnit.Count, 1);
    logger.warn('Rejected a request that is not a Function URL v2.0 event', {
      issues: formatIssues(envelope.error),
    });
    return respond(400, { message: 'Not a Lambda Function URL (payload format 2.0) request' });
  }
  const event = envelope.data;
  const method = event.requestContext.http.method.toUpperCase();
  if (method !== 'POST' && method !== 'PUT') {
    metrics.addMetric(INGEST_METRICS.invalid, MetricUnit.Count, 1);
    return {
      ...respond(405, { message: 'Use POST' }),
      headers: { 'content-type': 'application/json', allow: 'POST, PUT' },
    };
  }

  let auth: 'ok' | 'denied';
  try {
    auth = await authenticate(event, deps);
  } catch (error) {
    metrics.addMetric(INGEST_METRICS.enqueueFailed, MetricUnit.Count, 1);
    logger.error('Could not read the shared secret; answering 503 so Trino retries', {
      error: describe(error),
    });
    return respond(503, { message: 'Temporarily unavailable' });
  }
  if (auth === 'denied') {
    metrics.addMetric(INGEST_METRICS.unauthorized, MetricUnit.Count, 1);
    logger.warn('Rejected a post without the right shared secret', {
      sourceIp: event.requestContext.http.sourceIp,
      secretHeaderPresent: header(event.headers, deps.config.QUERY_LOG_SECRET_HEADER) !== undefined,
    });
    return respond(401, { message: 'Unauthorized' });
  }

  const text =
    event.body === undefined
      ? ''
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    metrics.addMetric(INGEST_METRICS.invalid, MetricUnit.Count, 1);
    logger.warn('Rejected a body that is not JSON', { bodyBytes: Buffer.byteLength(text) });
    return respond(400, { message: 'The body is not JSON: expected one Trino QueryCompletedEvent object' });
  }
  const parsed = QueryCompletedEventSchema.safeParse(json);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error);
    metrics.addMetric(INGEST_METRICS.invalid, MetricUnit.Count, 1);
    logger.warn('Rejected a body that is not a QueryCompletedEvent', { issues });
    return respond(400, { message: `Not a Trino QueryCompletedEvent: ${issues.join('; ')}`, issues });
  }
  const { queryId, queryState } = parsed.data.metadata;

  const attributes: Record<string, string> = { queryId, queryState };
  const trimmedAttribute = 'trimmedFields';
  // Budget for the body: the message limit less the attributes, including a possible trimmedFields attribute.
  const budget =
    deps.config.QUERY_LOG_MAX_MESSAGE_BYTES - attributeBytes(attributes) - trimmedAttribute.length - 512;
  const shrunk = shrinkEventJson(text, budget);
  if (!shrunk.fits) {
    metrics.addMetric(INGEST_METRICS.tooLarge, MetricUnit.Count, 1);
    logger.error('Query event too large for an SQS message even without its diagnostic fields; dropped', {
      queryId,
      queryState,
      bodyBytes: Buffer.byteLength(text),
      trimmedBytes: shrunk.bytes,
      budgetBytes: budget,
      queryLength: parsed.data.metadata.query.length,
    });
    return respond(413, { message: `Event larger than ${budget} bytes after trimming`, queryId });
  }
  if (shrunk.droppedFields.length > 0) {
    attributes[trimmedAttribute] = shrunk.droppedFields.join(',');
    metrics.addMetric(INGEST_METRICS.trimmed, MetricUnit.Count, 1);
  }

  const fifo = deps.config.QUERY_LOG_QUEUE_URL.endsWith('.fifo');
  try {
    await sendMessage(deps.sqs, deps.config.QUERY_LOG_QUEUE_URL, {
      body: shrunk.json,
      attributes,
      ...(fifo ? { fifo: { groupId: queryId, deduplicationId: queryId } } : {}),
    });
  } catch (error) {
    metrics.addMetric(INGEST_METRICS.enqueueFailed, MetricUnit.Count, 1);
    logger.error('SendMessage failed; answering 503 so Trino retries', { queryId, error: describe(error) });
    return respond(503, { message: 'Temporarily unavailable', queryId });
  }
  metrics.addMetric(INGEST_METRICS.accepted, MetricUnit.Count, 1);
  logger.info('Enqueued query event', {
    queryId,
    queryState,
    messageBytes: shrunk.bytes,
    droppedFields: shrunk.droppedFields,
  });
  return respond(202, { queryId });
}

/** Default dependencies, built once per container: config from the environment, one SQS client, one secret cache. */
export const getDefaultDeps: () => IngestDeps = containerDeps(QueryLogIngestEnvSchema, (config) => ({
  ...sdkClients({ sqs: SQSClient }),
  secret: cachedSharedSecret(config),
  metrics: new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'TrinoSentinel',
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'trino-sentinel',
  }),
}));

/**
 * Builds the middy handler.
 * @param deps - Injected dependencies, or a function building them lazily (default {@link getDefaultDeps}).
 * @example const handler = makeHandler({ config, sqs, secret, metrics });
 */
export function makeHandler(deps: IngestDeps | (() => IngestDeps) = getDefaultDeps) {
  const resolve = () => (typeof deps === 'function' ? deps() : deps);
  return middy<unknown, FunctionUrlResult>()
    .use(injectLambdaContext(logger, { logEvent: false }))
    .use({
      // Flush this invocation's metrics (EMF) after the response is built, whatever the outcome.
      // (Block bodies: a middy middleware that returns a value replaces the response.)
      after: () => {
        resolve().metrics.publishStoredMetrics();
      },
      onError: () => {
        resolve().metrics.publishStoredMetrics();
      },
    })
    .handler(async (event) => ingestQueryEvent(event, resolve()));
}

/** Lambda entry point. */
export const handler = makeHandler();
