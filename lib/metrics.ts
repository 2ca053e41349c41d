/**
 * The SDK-independent metric value shared by the metric computations and the CloudWatch adapter.
 *
 * @module
 */

/** CloudWatch units we publish (a subset of CloudWatch's `StandardUnit` names). */
export type MetricUnit = 'Count' | 'Bytes' | 'Percent' | 'Milliseconds' | 'Seconds';

/** One metric value. */
export interface Metric {
  /** Metric name, e.g. `RunningQueries`. */
  readonly name: string;
  readonly unit: MetricUnit;
  readonly value: number;
  /** Dimensions besides `ClusterName` (which the publisher always adds). */
  readonly dimensions?: Readonly<Record<string, string>>;
}
