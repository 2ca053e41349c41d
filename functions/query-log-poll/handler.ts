/**
 * query-log-poll: the fallback for clusters that cannot configure Trino's HTTP event listener. Scheduled every
 * minute: reads `GET /v1/query`, selects the queries finished since the watermark (./decide.ts), fetches each one's
 * QueryInfo (`GET /v1/query/{id}`), turns it into the same QueryCompletedEvent JSON the listener posts, sends it to
 * the query-log queue (the shipper indexes it with `_id` = queryId, so an overlap never duplicates), and only then
 * advances the watermark (SSM String parameter). Loss window: see ./decide.ts and docs/query-logs.md.
 *
 * @module
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import pLimit from 'p-limit';
import { publishMetrics } from '../../lib/aws/cloudwatch.ts';
import type { AwsCall } from '../../lib/aws/ec2.ts';
import { sendMessages } from '../../lib/aws/sqs.ts';
import { getJsonParameter, putParameterValue } from '../../lib/aws/ssm.ts';
import { AwsError, TrinoHttpError } from '../../lib/errors.ts';
import { scheduledHandler } from '../../lib/handler.ts';
import { logger } from '../../lib/logger.ts';
import { type CoordinatorDeps, coordinatorDeps } from '../../lib/trino/connect.ts';
import { type PollWatermark, selectCompletedQueries, toCompletedEvent } from './decide.ts';
import { type QueryLogPollConfig, QueryLogPollEnvSchema, WatermarkSchema } from './schemas.ts';

/** The AWS SDK clients of the query-log poller (dependency name → client class). */
const AWS = { sqs: SQSClient, ssm: SSMClient, cloudwatch: CloudWatchClient };

/** Dependencies; injectable for tests. */
export type PollDeps = CoordinatorDeps<QueryLogPollConfig, typeof AWS>;

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

async function readWatermark(deps: PollDeps, call: AwsCall): Promise<PollWatermark | undefined> {
  const read = await getJsonParameter(deps.ssm, parameterName(deps.config), WatermarkSchema, call);
  if (read.found && !read.ok) logger.warn('Query-log watermark unreadable: starting from what Trino retains');
  return read.found && read.ok ? read.value : undefined;
}

/**
 * One poll.
 * @throws TrinoError when `GET /v1/query` fails; AwsError | AwsThrottledError when SSM or SQS fail (the watermark is
 *   then not advanced: the next poll sends the same queries again, which the shipper's `_id` makes harmless).
 */
export async function runPoll(deps: PollDeps, call: AwsCall = {}): Promise<PollResult> {
  const { config } = deps;
  const client = await deps.coordinator();
  const watermark = await readWatermark(deps, call);
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
  const refused = await sendMessages(
    deps.sqs,
    config.QUERY_LOG_QUEUE_URL,
    events.map(({ queryId, event }) => ({
      body: JSON.stringify(event),
      attributes: { queryId, source: 'poller' },
    })),
    call,
  );
  if (refused.length > 0) {
    throw new AwsError(`SQS refused ${refused.length} query-log messages; the watermark stays`, {
      context: { codes: refused.map((f) => f.code) },
    });
  }
  const sent = events.length;
  if (selection.next !== undefined && selection.selected.length > 0) {
    await putParameterValue(deps.ssm, parameterName(config), JSON.stringify(selection.next), call);
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
    call,
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

/** Default dependencies, built once per container. */
export const getDefaultPollDeps: () => PollDeps = coordinatorDeps(QueryLogPollEnvSchema, AWS);

/** Builds the handler over the given dependencies. */
export function makePollHandler(deps: () => PollDeps = getDefaultPollDeps) {
  return scheduledHandler(deps, runPoll);
}

/** Lambda entry point. */
export const handler = makePollHandler();
