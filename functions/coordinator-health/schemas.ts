/**
 * Configuration schema of the coordinator health detector.
 *
 * @module
 */
import * as z from 'zod';
import { envBool, envInt } from '../../lib/config.ts';
import { MetricsSinkSchema } from '../../lib/metrics-sink.ts';
import { TrinoConnectionEnvSchema } from '../../lib/trino/connect.ts';

/**
 * Environment (plus {@link TrinoConnectionEnvSchema}; `TRINO_URL` is the coordinator ENI's address):
 * - `CLUSTER_NAME` (required), `COORDINATOR_ENI_ID` (required): the ENI that carries the coordinator address.
 * - `PRIMARY_URL_TEMPLATE`: the active instance's own address for the independent probe; `{privateIp}` and
 *   `{tag:<Key>}` are substituted (default `https://{privateIp}:8443`).
 * - `PROBE_INTERVAL_MS` (5000), `PROBE_TIMEOUT_MS` (2000), `FAILURES_TO_CONFIRM` (3).
 * - `LOOP_DURATION_MS` (57500): the last round of an invocation starts this long after its scheduled time (the
 *   event's `time`; after its start when called directly). With the 1-minute schedule: 60 s − one probe timeout
 *   − 0.5 s to store the state, so the invocation ends before the next one starts and the next one's first round
 *   falls one interval after this one's last (./decide.ts `roundSchedule`).
 * - `DETECTOR_STATE_SSM_PARAMETER` (optional): the SSM parameter carrying the detector state between invocations
 *   (./store.ts); without it every invocation starts healthy.
 * - `HANDOVER_JITTER_MS` (5000): a stored run of failures is continued only while its last probe is at most one
 *   interval + this old (./decide.ts `resumeState`).
 * - `AUTO_FAILOVER` (true): false = detect, alarm and notify only.
 * - `FAILOVER_STATE_MACHINE_ARN` (needed when AUTO_FAILOVER), `ALARM_TOPIC_ARN` (optional SNS topic).
 * - `METRICS_NAMESPACE` (`Trino`), `METRICS_SINK` (`emf` | `put-metric-data`, default `emf`: lib/metrics-sink.ts).
 */
export const HealthEnvSchema = TrinoConnectionEnvSchema.extend({
  CLUSTER_NAME: z.string().min(1),
  COORDINATOR_ENI_ID: z.string().regex(/^eni-[0-9a-f]{8,17}$/, 'must be an ENI id (eni-…)'),
  PRIMARY_URL_TEMPLATE: z.string().min(1).default('https://{privateIp}:8443'),
  PROBE_INTERVAL_MS: envInt(500, 60_000).default(5_000),
  PROBE_TIMEOUT_MS: envInt(100, 30_000).default(2_000),
  FAILURES_TO_CONFIRM: envInt(2, 100).default(3),
  LOOP_DURATION_MS: envInt(0, 890_000).default(57_500),
  DETECTOR_STATE_SSM_PARAMETER: z.string().startsWith('/').optional(),
  HANDOVER_JITTER_MS: envInt(0, 60_000).default(5_000),
  AUTO_FAILOVER: envBool.default(true),
  FAILOVER_STATE_MACHINE_ARN: z.string().startsWith('arn:').optional(),
  ALARM_TOPIC_ARN: z.string().startsWith('arn:').optional(),
  METRICS_NAMESPACE: z.string().min(1).default('Trino'),
  METRICS_SINK: MetricsSinkSchema,
});
/** Parsed {@link HealthEnvSchema}. */
export type HealthConfig = z.infer<typeof HealthEnvSchema>;
