/**
 * Inbound event and configuration schemas of the cluster-metrics function.
 *
 * @module
 */
import * as z from 'zod';
import { envBool, envInt } from '../../lib/config.ts';
import { MetricsSinkSchema } from '../../lib/metrics-sink.ts';
import { TrinoConnectionEnvSchema } from '../../lib/trino/connect.ts';

/** The EventBridge scheduled event that triggers a cycle (defined in lib/events.ts, shared by every scheduled function). */
export { type ScheduledEvent, ScheduledEventSchema } from '../../lib/events.ts';

/**
 * Environment of the function (plus {@link TrinoConnectionEnvSchema}):
 * - `CLUSTER_NAME` (required): value of the `ClusterName` dimension.
 * - `METRICS_NAMESPACE`: CloudWatch namespace (default `Trino`).
 * - `METRICS_WINDOW_MS`: window of the finished/failed counters, normally the schedule period (default 60000).
 * - `METRICS_MAX_USERS`: users with their own `User` dimension, the rest summed as `(other)` (default 0: no per-user
 *   metrics; each user costs two custom metrics, $0.60 a month, docs/cost.md).
 * - `METRICS_SET`: `standard` (default: the metrics scaling policies, alarms and the dashboard use) or `full` (also
 *   `QueriesFinished`, `RunningDrivers`, `WorkerCpuUtilizationMax`, `ClusterMemoryTotalBytes`,
 *   `ClusterMemoryReservedBytes`); with EMF the rest are in the log line as properties either way.
 * - `METRICS_SINK`: `emf` (default: CloudWatch embedded metric format on stdout) or `put-metric-data`.
 * - `METRICS_HIGH_RESOLUTION`: `true` publishes with StorageResolution 1 (default `false`).
 * - `WORKER_STATUS_CONCURRENCY`: parallel `GET /v1/status` calls to workers (default 16).
 */
export const MetricsEnvSchema = TrinoConnectionEnvSchema.extend({
  CLUSTER_NAME: z.string().min(1).max(255),
  METRICS_NAMESPACE: z.string().min(1).max(255).default('Trino'),
  METRICS_WINDOW_MS: envInt(1_000, 3_600_000).default(60_000),
  METRICS_MAX_USERS: envInt(0, 100).default(0),
  METRICS_SET: z.enum(['standard', 'full']).default('standard'),
  METRICS_SINK: MetricsSinkSchema,
  METRICS_HIGH_RESOLUTION: envBool.default(false),
  WORKER_STATUS_CONCURRENCY: envInt(1, 64).default(16),
});
/** Parsed {@link MetricsEnvSchema}. */
export type MetricsConfig = z.infer<typeof MetricsEnvSchema>;
