/**
 * query-log-poll: the fallback for clusters that cannot configure Trino's HTTP event listener. Scheduled every
 * minute: reads `GET /v1/query`, selects the queries finished since the watermark (./decide.ts), fetches each one's
 * QueryInfo (`GET /v1/query/{id}`), turns it into the same QueryCompletedEvent JSON the listener posts, sends it to
 * the query-log queue (the shipper indexes it with `_id` = queryId, so an overlap never duplicates), and only then
 * advances the watermark (SSM String parameter). Loss window: see ./decide.ts and docs/query-logs.md.
 *
 * @module
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import pLimit from 'p-limit';
import { publishMetrics } from '../../lib/aws/cloudwatch.ts';
import { sdkErrorName, toAwsError } from '../../lib/aws/sdk-errors.ts';
import { loadConfig } from '../../lib/config.ts';
import { AwsError, TrinoHttpError } from '../../lib/errors.ts';
import { logger } from '../../lib/logger.ts';
import { validateEvent } from '../../lib/middleware.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import { lazyTrinoClient } from '../../lib/trino/connect.ts';
import { ScheduledEventSchema } from '../cluster-metrics/schemas.ts';
import { type PollWatermark, selectCompletedQueries, toCompletedEvent } from './decide.ts';
import { type QueryLogPollConfig, QueryLogPollEnvSchema, WatermarkSchema } from './schemas.ts';

/** Dependencies; injectable for tests. */
export interface PollDeps {
  readonly config: QueryLogPollConfig;
  readonly sqs: SQSClient;
  readonly ssm: SSMClient;
  readonly cloudwatch: CloudWatchClient;
  readonly coordinator: () => Promise<TrinoClient>;
  readonly now: () => number;
}

/** Result of one poll. */
export interface PollResult {
  readonly selected: number;
  readonly sent: number;
  /** Queries listed but gone (404) before their QueryInfo could be read. */
  readonly expired: number;
  readonly possibleGap: boolean;
  readonly watermark: PollWatermark | undefined;
}

function parameterName(config: QueryLogPollConfig): string {
  return (
    config.QUERY_LOG_WATERMARK_SSM_PARAMETER ?? `/trino-sentinel/${config.CLUSTER_NAME}/query-log-watermark`
  );
}

async function readWatermark(deps: PollDeps): Promise<PollWatermark | undefined> {
  try {
    const out = await deps.ssm.send(new GetParameterCommand({ Name: parameterName(deps.config) }));
    const parsed = WatermarkSchema.safeParse(JSON.parse(out.Parameter?.Value ?? 'null'));
    if (!parsed.success) logger.warn('Query-log watermark unreadable: starting from what Trino retains');
    return parsed.success ? parsed.data : undefined;
  } catch (cause) {
    if (sdkErrorName(cause) === 'ParameterNotFound') return undefined;
    if (cause instanceof SyntaxError) return undefined;
    throw toAwsError('SSM GetParameter', cause);
  }
}

/**
 * One poll.
 * @throws TrinoError when `GET /v1/query` fails; AwsError | AwsThrottledError when SSM or SQS fail (the watermark is
 *   then not advanced: the next poll sends the same queries again, which the shipper's `_id` makes harmless).
 */
export async function runPoll(deps: PollDeps): Promise<PollResult> {
  const { config } = deps;
  const client = await deps.coordinator();
  const watermark = await readWatermark(deps);
  const retained = (await client.getQueries()).map((q) => {
    const end = q.queryStats.endTime ? Date.parse(q.queryStats.endTime) : Number.NaN;
    return { queryId: q.queryId, state: q.state, ...(Number.isNaN(end) ? {} : { endTimeMs: end }) };
  });
  const selection = selectCompletedQueries(retained, watermark, config.QUERY_LOG_MAX_QUERIES_PER_POLL);
  if (selection.possibleGap) {
    logger.warn('Possible query-log gap: no query Trino retains reaches back to the watermark', {
      watermarkEndTime: watermark ? new Date(watermark.endTimeMs).toISOString() : undefined,
    });
  }
  const limit = pLimit(config.QUERY_LOG_FETCH_CONCURRENCY);
  let expired = 0;
  const events = (
    await Promise.all(
      selection.selected.map((queryId) =>
        limit(async () => {
          try {
            return { queryId, event: toCompletedEvent(await client.getQueryInfo(queryId)) };
          } catch (error) {
            if (error instanceof TrinoHttpError && error.status === 404) {
              expired += 1;
              logger.warn('Query expired from the coordinator before it could be read', { queryId });
              return undefined;
            }
            throw error;
          }
        }),
      ),
    )
  ).filter((e) => e !== undefined);
  let sent = 0;
  for (let start = 0; start < events.length; start += 10) {
    const batch = events.slice(start, start + 10);
    const entries = batch.map(({ queryId, event }, index) => ({
      Id: String(index),
      MessageBody: JSON.stringify(event),
      MessageAttributes: {
        queryId: { DataType: 'String', StringValue: queryId },
        source: { DataType: 'String', StringValue: 'poller' },
      },
    }));
    let out: { Failed?: { Id?: string; Code?: string }[] };
    try {
      out = await deps.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: config.QUERY_LOG_QUEUE_URL, Entries: entries }),
      );
    } catch (cause) {
      throw toAwsError('SQS SendMessageBatch', cause);
    }
    if ((out.Failed ?? []).length > 0) {
      throw new AwsError(`SQS refused ${out.Failed?.length} query-log messages; the watermark stays`, {
        context: { codes: (out.Failed ?? []).map((f) => f.Code) },
      });
    }
    sent += batch.length;
  }
  if (selection.next !== undefined && selection.selected.length > 0) {
    try {
      await deps.ssm.send(
        new PutParameterCommand({
          Name: parameterName(config),
          Value: JSON.stringify(selection.next),
          Type: 'String',
          Overwrite: true,
        }),
      );
    } catch (cause) {
      throw toAwsError('SSM PutParameter', cause);
    }
  }
  await publishMetrics(
    deps.cloudwatch,
    [
      { name: 'QueryLogsPolled', unit: 'Count', value: sent },
      { name: 'QueryLogPollExpired', unit: 'Count', value: expired },
      { name: 'QueryLogPollPossibleGap', unit: 'Count', value: selection.possibleGap ? 1 : 0 },
    ],
    {
      namespace: config.METRICS_NAMESPACE,
      clusterName: config.CLUSTER_NAME,
      timestamp: new Date(deps.now()),
    },
  ).catch((error: unknown) => logger.warn('Could not publish poll metrics', { error: String(error) }));
  logger.info('Query-log poll done', { selected: selection.selected.length, sent, expired });
  return {
    selected: selection.selected.length,
    sent,
    expired,
    possibleGap: selection.possibleGap,
    watermark: selection.next,
  };
}

let defaultDeps: PollDeps | undefined;

/** Default dependencies, built once per container. */
export function getDefaultPollDeps(): PollDeps {
  if (defaultDeps === undefined) {
    const config = loadConfig(QueryLogPollEnvSchema);
    defaultDeps = {
      config,
      sqs: new SQSClient({}),
      ssm: new SSMClient({}),
      cloudwatch: new CloudWatchClient({}),
      coordinator: lazyTrinoClient(config),
      now: () => Date.now(),
    };
  }
  return defaultDeps;
}

/** Builds the handler. */
export function makePollHandler(deps: PollDeps | (() => PollDeps) = getDefaultPollDeps) {
  return middy()
    .use(injectLambdaContext(logger))
    .use(validateEvent(ScheduledEventSchema, 'EventBridge scheduled event'))
    .handler(async () => runPoll(typeof deps === 'function' ? deps() : deps));
}

/** Lambda entry point. */
export const handler = makePollHandler();
