/**
 * Configuration of the query-log fallback poller.
 *
 * @module
 */
import * as z from 'zod';
import { envInt } from '../../lib/config.ts';
import { TrinoConnectionEnvSchema } from '../../lib/trino/connect.ts';

/**
 * Environment (plus {@link TrinoConnectionEnvSchema}: the coordinator, as a user allowed to view every query):
 * - `CLUSTER_NAME` (required), `QUERY_LOG_QUEUE_URL` (required): the queue the ingest Lambda feeds too.
 * - `QUERY_LOG_WATERMARK_SSM_PARAMETER`: a String parameter holding the watermark JSON (default
 *   `/trino-sentinel/<CLUSTER_NAME>/query-log-watermark`).
 * - `QUERY_LOG_MAX_QUERIES_PER_POLL` (500): at most this many queries shipped per invocation.
 * - `QUERY_LOG_FETCH_CONCURRENCY` (4): parallel `GET /v1/query/{id}`.
 * - `METRICS_NAMESPACE` (`Trino`).
 */
export const QueryLogPollEnvSchema = TrinoConnectionEnvSchema.extend({
  CLUSTER_NAME: z.string().min(1),
  QUERY_LOG_QUEUE_URL: z.url({ protocol: /^https?$/ }),
  QUERY_LOG_WATERMARK_SSM_PARAMETER: z.string().startsWith('/').optional(),
  QUERY_LOG_MAX_QUERIES_PER_POLL: envInt(1, 10_000).default(500),
  QUERY_LOG_FETCH_CONCURRENCY: envInt(1, 32).default(4),
  METRICS_NAMESPACE: z.string().min(1).default('Trino'),
});
/** Parsed {@link QueryLogPollEnvSchema}. */
export type QueryLogPollConfig = z.infer<typeof QueryLogPollEnvSchema>;

/** The watermark as stored in SSM ({@link import('./decide.ts').PollWatermark}). */
export const WatermarkSchema = z.object({
  endTimeMs: z.number().int().nonnegative(),
  queryIdsAtEnd: z.array(z.string()),
});
