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
  /** The value; with `statistics`, the statistic set is sent instead (one datum summarising many samples). */
  readonly value: number;
  /** Several samples summarised (CloudWatch `StatisticValues`): one datum instead of one call per sample. */
  readonly statistics?: {
    readonly sampleCount: number;
    readonly sum: number;
    readonly minimum: number;
    readonly maximum: number;
  };
  /** Dimensions besides `ClusterName` (which the publisher always adds). */
  readonly dimensions?: Readonly<Record<string, string>>;
}
