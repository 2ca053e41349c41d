/**
 * Configuration and carried-state schemas of the node-health function.
 *
 * @module
 */
import * as z from 'zod';
import { envInt } from '../../lib/config.ts';
import { MetricsSinkSchema } from '../../lib/metrics-sink.ts';
import { TrinoConnectionEnvSchema } from '../../lib/trino/connect.ts';

/**
 * Environment (plus {@link TrinoConnectionEnvSchema}: the coordinator through the ENI address):
 * - `CLUSTER_NAME`, `WORKER_ASG_NAME`, `COORDINATOR_ASG_NAME`, `COORDINATOR_ENI_ID` (required).
 * - `WORKER_URL_TEMPLATE` (`http://{privateIp}:8080`), `PRIMARY_URL_TEMPLATE` (`https://{privateIp}:8443`).
 * - `UNHEALTHY_AFTER_SECONDS` (300): bad this long in a row → `SetInstanceHealth Unhealthy`.
 * - `LAUNCH_GRACE_SECONDS` (600): never bad this soon after launch.
 * - `NODE_HEALTH_SSM_PARAMETER`: where the carried state lives (String parameter; default
 *   `/trino-sentinel/<cluster>/node-health`).
 * - `PROBE_TIMEOUT_MS` (2000), `METRICS_NAMESPACE` (`Trino`), `METRICS_SINK` (`emf` | `put-metric-data`, default
 *   `emf`: lib/metrics-sink.ts).
 */
export const NodeHealthEnvSchema = TrinoConnectionEnvSchema.extend({
  CLUSTER_NAME: z.string().min(1),
  WORKER_ASG_NAME: z.string().min(1),
  COORDINATOR_ASG_NAME: z.string().min(1),
  COORDINATOR_ENI_ID: z.string().regex(/^eni-[0-9a-f]{8,17}$/, 'must be an ENI id (eni-…)'),
  WORKER_URL_TEMPLATE: z.string().min(1).default('http://{privateIp}:8080'),
  PRIMARY_URL_TEMPLATE: z.string().min(1).default('https://{privateIp}:8443'),
  UNHEALTHY_AFTER_SECONDS: envInt(60, 86_400).default(300),
  LAUNCH_GRACE_SECONDS: envInt(0, 86_400).default(600),
  NODE_HEALTH_SSM_PARAMETER: z.string().startsWith('/').optional(),
  PROBE_TIMEOUT_MS: envInt(100, 30_000).default(2_000),
  METRICS_NAMESPACE: z.string().min(1).default('Trino'),
  METRICS_SINK: MetricsSinkSchema,
});
/** Parsed {@link NodeHealthEnvSchema}. */
export type NodeHealthConfig = z.infer<typeof NodeHealthEnvSchema>;

/** The carried state as stored: instance id → first bad time (epoch ms). */
export const HealthStateSchema = z.record(
  z.string().regex(/^i-[0-9a-f]{8,17}$/),
  z.number().int().nonnegative(),
);
