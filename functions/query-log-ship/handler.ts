/**
 * query-log-ship: reads the query-log queue in batches (SQS event source, `ReportBatchItemFailures`) and writes each
 * event as a document with the `_bulk` API, `_id` = queryId, into the daily index `<prefix>-YYYY.MM.DD`
 * (./decide.ts). Only the messages whose items failed are reported back (they alone retry); poison messages and
 * those that keep failing go to the dead-letter queue with the reason (./decide.ts), never lost, never duplicated.
 * On its first batch the function installs the index template and the retention policy (idempotent).
 *
 * @module
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsCall } from '../../lib/aws/ec2.ts';
import { SQS_BATCH, sendMessages } from '../../lib/aws/sqs.ts';
import {
  type ContainerDeps,
  containerDeps,
  onceResolved,
  type SdkClients,
  sdkClients,
} from '../../lib/deps.ts';
import { eventHandler } from '../../lib/handler.ts';
import { logger } from '../../lib/logger.ts';
import { publishMetricSet } from '../../lib/metrics-sink.ts';
import { type BulkDocument, type QueryLogSink, sinkFromConfig } from '../../lib/search/query-log-sink.ts';
import { QueryCompletedEventSchema, toQueryLogDocument } from '../../lib/trino/query-events.ts';
import { dailyIndexName, decideShipment, type ItemResult, type ShipMessage } from './decide.ts';
import { type QueryLogShipConfig, QueryLogShipEnvSchema, type SqsEvent, SqsEventSchema } from './schemas.ts';

/** The AWS SDK clients of the query-log shipper (dependency name → client class). */
const AWS = { sqs: SQSClient, cloudwatch: CloudWatchClient };

/** Dependencies; injectable for tests. */
export interface ShipDeps extends ContainerDeps<QueryLogShipConfig>, SdkClients<typeof AWS> {
  /** The search engine, resolved once (endpoint lookup, credentials) and cached by the caller. */
  readonly sink: () => Promise<QueryLogSink>;
}

/** The Lambda's answer to the event source mapping. */
export interface BatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

let setUp: Promise<void> | undefined;

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Ships one batch.
 * @returns The messages to retry (`batchItemFailures`).
 */
export async function runShip(event: SqsEvent, deps: ShipDeps, call: AwsCall = {}): Promise<BatchResponse> {
  const { config } = deps;
  const messages: ShipMessage[] = [];
  const documents: (BulkDocument & { readonly messageId: string; readonly endTime: string })[] = [];
  for (const record of event.Records) {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount);
    try {
      const parsed = QueryCompletedEventSchema.safeParse(JSON.parse(record.body));
      if (!parsed.success) {
        const paths = parsed.error.issues.slice(0, 3).map((i) => i.path.join('.') || '(root)');
        messages.push({
          messageId: record.messageId,
          receiveCount,
          parseError: `invalid at ${paths.join(', ')}`,
        });
        continue;
      }
      const document = toQueryLogDocument(parsed.data, {
        sqlMaxLength: config.QUERY_LOG_SQL_MAX_LENGTH,
        redactSql: config.QUERY_LOG_REDACT_SQL,
      });
      documents.push({
        messageId: record.messageId,
        index: dailyIndexName(config.QUERY_LOG_INDEX_PREFIX, document.endTime),
        id: document.queryId,
        document: { ...document },
        endTime: document.endTime,
      });
      messages.push({ messageId: record.messageId, receiveCount });
    } catch (error) {
      messages.push({ messageId: record.messageId, receiveCount, parseError: describe(error) });
    }
  }

  let results: ReadonlyMap<string, ItemResult> | { readonly unavailable: string };
  if (documents.length === 0) {
    results = new Map();
  } else {
    try {
      const sink = await deps.sink();
      setUp ??= sink.ensureSetup().catch((error: unknown) => {
        setUp = undefined; // try again on the next batch
        throw error;
      });
      await setUp.catch((error: unknown) =>
        logger.warn('Index template or retention policy not installed; shipping anyway', {
          error: describe(error),
        }),
      );
      const items = await sink.bulkIndex(documents);
      results = new Map(
        documents.map((d, i) => [d.messageId, items[i] ?? { status: 0, ok: false, retryable: true }]),
      );
    } catch (error) {
      logger.warn('Search engine unavailable: the batch will be retried', { error: describe(error) });
      results = { unavailable: describe(error) };
    }
  }

  const outcomes = decideShipment(messages, results, config.QUERY_LOG_MAX_ATTEMPTS);
  const retry = new Set(outcomes.filter((o) => o.kind === 'RETRY').map((o) => o.messageId));
  const dead = outcomes.filter((o) => o.kind === 'DEAD');
  const bodyOf = new Map(event.Records.map((r) => [r.messageId, r.body]));
  for (let start = 0; start < dead.length; start += SQS_BATCH) {
    const batch = dead.slice(start, start + SQS_BATCH);
    try {
      const refused = await sendMessages(
        deps.sqs,
        config.QUERY_LOG_DLQ_URL,
        batch.map((o) => ({
          body: bodyOf.get(o.messageId) ?? '',
          attributes: { reason: (o.reason ?? 'unknown').slice(0, 1_000), sourceMessageId: o.messageId },
        })),
        call,
      );
      for (const failed of refused) {
        const o = batch[failed.index];
        if (o) retry.add(o.messageId); // not dead-lettered: keep it in the queue
      }
    } catch (error) {
      logger.error('Could not dead-letter messages; they stay in the queue', { error: describe(error) });
      for (const o of batch) retry.add(o.messageId);
    }
  }

  const indexed = outcomes.filter((o) => o.kind === 'INDEXED').map((o) => o.messageId);
  const endOf = new Map(documents.map((d) => [d.messageId, Date.parse(d.endTime)]));
  const lagMs = Math.max(0, ...indexed.map((id) => deps.now() - (endOf.get(id) ?? deps.now())));
  const deadLettered = dead.filter((o) => !retry.has(o.messageId));
  for (const o of deadLettered)
    logger.error('Query event dead-lettered', { messageId: o.messageId, reason: o.reason });
  if (retry.size > 0)
    logger.warn('Query events to retry', {
      count: retry.size,
      reasons: [...new Set(outcomes.filter((o) => retry.has(o.messageId)).map((o) => o.reason))].slice(0, 5),
    });
  // Retried and dead-lettered only when non-zero: a metric with no data point in an hour costs nothing, and a Sum
  // over missing data reads as 0 on the dashboard.
  await publishMetricSet(
    deps.cloudwatch,
    [
      { name: 'QueryLogsIndexed', unit: 'Count', value: indexed.length },
      ...(retry.size > 0 ? [{ name: 'QueryLogsRetried', unit: 'Count' as const, value: retry.size }] : []),
      ...(deadLettered.length > 0
        ? [{ name: 'QueryLogsDeadLettered', unit: 'Count' as const, value: deadLettered.length }]
        : []),
      ...(indexed.length > 0 ? [{ name: 'QueryLogLagMs', unit: 'Milliseconds' as const, value: lagMs }] : []),
    ],
    {
      sink: config.METRICS_SINK,
      namespace: config.METRICS_NAMESPACE,
      clusterName: config.CLUSTER_NAME,
      timestamp: new Date(deps.now()),
    },
    call,
  ).catch((error: unknown) => logger.warn('Could not publish shipper metrics', { error: describe(error) }));
  logger.info('Query-log batch shipped', {
    messages: messages.length,
    indexed: indexed.length,
    retried: retry.size,
    deadLettered: deadLettered.length,
  });
  return { batchItemFailures: [...retry].map((itemIdentifier) => ({ itemIdentifier })) };
}

/** Default dependencies, built once per container (the sink is resolved lazily and cached). */
export const getDefaultShipDeps: () => ShipDeps = containerDeps(QueryLogShipEnvSchema, (config) => ({
  ...sdkClients(AWS),
  sink: onceResolved(() => sinkFromConfig(config)),
}));

/** Builds the handler over the given dependencies. */
export function makeShipHandler(deps: () => ShipDeps = getDefaultShipDeps) {
  return eventHandler(SqsEventSchema, 'SQS batch event', deps, runShip);
}

/** Lambda entry point. */
export const handler = makeShipHandler();
