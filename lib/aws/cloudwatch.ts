/**
 * CloudWatch adapter: publishes {@link Metric}s with `PutMetricData`, batched within the API's limits
 * (≤ 1000 metrics and ≤ 1 MB per call; we send ≤ 500 per call, far under the byte limit for our names).
 * Source: CloudWatch API reference, PutMetricData.
 *
 * @module
 */
import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { AwsError, AwsThrottledError, AwsTransientError } from '../errors.ts';
import type { Metric } from '../metrics.ts';
import { isThrottling, isTransient, sdkErrorName } from './sdk-errors.ts';
import { type AwsCall, sendAws } from './send.ts';

/** Metrics sent per `PutMetricData` call. */
export const METRICS_PER_CALL = 500;

/** Options of {@link publishMetrics}. */
export interface PublishOptions {
  /** CloudWatch namespace, e.g. `Trino`. */
  readonly namespace: string;
  /** Value of the `ClusterName` dimension added to every metric. */
  readonly clusterName: string;
  /** Timestamp of every datum. */
  readonly timestamp: Date;
  /** `1` for high-resolution (per-second) metrics, `60` for standard. Default 60. */
  readonly storageResolution?: 1 | 60;
}

/**
 * Converts our metrics to CloudWatch `MetricDatum`s (adding `ClusterName`). Pure.
 * @returns One datum per metric, in order.
 */
export function toMetricData(metrics: readonly Metric[], options: PublishOptions): MetricDatum[] {
  return metrics.map((metric) => ({
    MetricName: metric.name,
    Unit: metric.unit,
    ...(metric.statistics === undefined
      ? { Value: metric.value }
      : {
          StatisticValues: {
            SampleCount: metric.statistics.sampleCount,
            Sum: metric.statistics.sum,
            Minimum: metric.statistics.minimum,
            Maximum: metric.statistics.maximum,
          },
        }),
    Timestamp: options.timestamp,
    StorageResolution: options.storageResolution ?? 60,
    Dimensions: [
      { Name: 'ClusterName', Value: options.clusterName },
      ...Object.entries(metric.dimensions ?? {}).map(([Name, Value]) => ({ Name, Value })),
    ],
  }));
}

/**
 * Publishes metrics in batches of {@link METRICS_PER_CALL}.
 * @param client - The module's CloudWatch client (created once by the caller).
 * @param metrics - Metrics to publish; nothing is sent when empty.
 * @param options - Namespace, cluster name, timestamp, resolution.
 * @returns Number of `PutMetricData` calls made.
 * @throws AwsThrottledError when throttled after the SDK's retries; AwsError otherwise (SDK error name in context).
 */
export async function publishMetrics(
  client: CloudWatchClient,
  metrics: readonly Metric[],
  options: PublishOptions,
  call: AwsCall = {},
): Promise<number> {
  const data = toMetricData(metrics, options);
  let calls = 0;
  for (let start = 0; start < data.length; start += METRICS_PER_CALL) {
    const batch = data.slice(start, start + METRICS_PER_CALL);
    const put = new PutMetricDataCommand({ Namespace: options.namespace, MetricData: batch });
    await sendAws(
      {
        operation: 'CloudWatch PutMetricData',
        translate: (cause) => {
          const sdkName = sdkErrorName(cause);
          const ErrorClass = isThrottling(cause)
            ? AwsThrottledError
            : isTransient(cause)
              ? AwsTransientError
              : AwsError;
          return new ErrorClass(
            `CloudWatch PutMetricData failed (${sdkName}) for namespace ${options.namespace}`,
            {
              cause,
              context: { namespace: options.namespace, sdkError: sdkName, batchSize: batch.length },
            },
          );
        },
      },
      (options) => client.send(put, options),
      call,
    );
    calls += 1;
  }
  return calls;
}
