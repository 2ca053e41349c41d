/**
 * Where a function's metrics go: CloudWatch Embedded Metric Format (EMF) log lines (default) or `PutMetricData`
 * calls. Both produce the same CloudWatch metrics (namespace, name, unit, dimensions `ClusterName` + the metric's
 * own, resolution); they differ in cost and delivery:
 *
 * - `emf`: one JSON line per dimension set on stdout; CloudWatch Logs extracts the metrics from the function's log
 *   group (seconds later). No API call, no `cloudwatch:PutMetricData` permission used; paid as log ingestion
 *   (~1 KB a cycle) instead of $0.01 per 1,000 calls. Values not published as metrics can ride along as plain
 *   properties (searchable with Logs Insights, not billed as metrics). Source: Amazon CloudWatch User Guide,
 *   "Specification: Embedded metric format".
 * - `put-metric-data`: `PutMetricData` through lib/aws/cloudwatch.ts, synchronous, a failure fails the invocation.
 *   For log pipelines that do not keep Lambda logs in CloudWatch Logs, and for emulators (moto cannot extract EMF).
 *
 * @module
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import * as z from 'zod';
import { type PublishOptions, publishMetrics } from './aws/cloudwatch.ts';
import type { AwsCall } from './aws/ec2.ts';
import type { Metric } from './metrics.ts';

/** `METRICS_SINK`: `emf` (default) or `put-metric-data`. */
export const MetricsSinkSchema = z.enum(['emf', 'put-metric-data']).default('emf');
/** Parsed {@link MetricsSinkSchema}. */
export type MetricsSink = z.infer<typeof MetricsSinkSchema>;

/** Metrics one EMF directive may declare (EMF specification: at most 100). */
export const EMF_MAX_METRICS = 100;
/** Values one EMF metric may carry in an array (EMF specification: at most 100). */
export const EMF_MAX_VALUES = 100;

/** Options of {@link toEmfDocuments}: those of PutMetricData, plus log-only properties. */
export interface EmfOptions extends PublishOptions {
  /** Extra numbers for the `ClusterName`-only document as plain properties: in the log, not metrics. */
  readonly properties?: Readonly<Record<string, number>>;
}

/** One EMF log line, parsed. */
export type EmfDocument = Record<string, unknown> & {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly {
        readonly Name: string;
        readonly Unit: string;
        readonly StorageResolution?: 1;
      }[];
    }[];
  };
};

/**
 * The values of a metric in EMF: its value, or for a statistic set a list of samples with exactly its count, sum,
 * minimum and maximum (`[min, max, m, m, …]` with `m = (sum − min − max) / (count − 2)`), which CloudWatch
 * aggregates to the same statistics. Pure.
 */
export function emfValues(metric: Metric): number[] {
  const stats = metric.statistics;
  if (stats === undefined) return [metric.value];
  const n = Math.max(0, Math.round(stats.sampleCount));
  if (n === 0) return [];
  if (n === 1) return [stats.sum];
  if (n === 2) return [stats.minimum, stats.maximum];
  const middle = (stats.sum - stats.minimum - stats.maximum) / (n - 2);
  return [stats.minimum, stats.maximum, ...Array.from({ length: n - 2 }, () => middle)];
}

/**
 * Converts metrics to EMF documents: one per distinct set of dimension values (every document carries
 * `ClusterName`), at most {@link EMF_MAX_METRICS} metrics and, per metric, {@link EMF_MAX_VALUES} values each (more
 * become further documents). A metric name appears once per document. Pure.
 * @returns The documents, in the order their dimension sets first appear.
 */
export function toEmfDocuments(metrics: readonly Metric[], options: EmfOptions): EmfDocument[] {
  interface Group {
    readonly dimensions: Record<string, string>;
    readonly metrics: Metric[];
  }
  const groups = new Map<string, Group>();
  for (const metric of metrics) {
    const dimensions = { ClusterName: options.clusterName, ...(metric.dimensions ?? {}) };
    const key = JSON.stringify(Object.entries(dimensions).sort(([a], [b]) => a.localeCompare(b)));
    const group: Group = groups.get(key) ?? { dimensions, metrics: [] };
    group.metrics.push(metric);
    groups.set(key, group);
  }
  if (options.properties !== undefined && groups.size === 0) {
    groups.set('[]', { dimensions: { ClusterName: options.clusterName }, metrics: [] });
  }
  const documents: EmfDocument[] = [];
  const timestamp = options.timestamp.getTime();
  const resolution = options.storageResolution === 1 ? ({ StorageResolution: 1 } as const) : {};
  for (const { dimensions, metrics: members } of groups.values()) {
    // Split into documents: each metric name once, ≤ EMF_MAX_METRICS metrics, ≤ EMF_MAX_VALUES values a metric.
    const pending = members.map((metric) => ({ metric, values: emfValues(metric) }));
    const clusterOnly = Object.keys(dimensions).length === 1;
    let first = true;
    while (pending.length > 0 || first) {
      const batch: { metric: Metric; values: number[] }[] = [];
      const names = new Set<string>();
      for (let i = 0; i < pending.length && batch.length < EMF_MAX_METRICS; ) {
        const entry = pending[i];
        if (entry === undefined || names.has(entry.metric.name)) {
          i += 1;
          continue;
        }
        names.add(entry.metric.name);
        batch.push({ metric: entry.metric, values: entry.values.slice(0, EMF_MAX_VALUES) });
        if (entry.values.length > EMF_MAX_VALUES) {
          pending[i] = { metric: entry.metric, values: entry.values.slice(EMF_MAX_VALUES) };
          i += 1;
        } else {
          pending.splice(i, 1);
        }
      }
      const document: Record<string, unknown> = {
        _aws: {
          Timestamp: timestamp,
          CloudWatchMetrics: [
            {
              Namespace: options.namespace,
              Dimensions: [Object.keys(dimensions)],
              Metrics: batch.map(({ metric }) => ({ Name: metric.name, Unit: metric.unit, ...resolution })),
            },
          ],
        },
        ...(first && clusterOnly ? (options.properties ?? {}) : {}),
        ...dimensions,
      };
      for (const { metric, values } of batch)
        document[metric.name] = values.length === 1 ? values[0] : values;
      documents.push(document as EmfDocument);
      first = false;
      if (batch.length === 0) break;
    }
  }
  return documents;
}

/** Options of {@link publishMetricSet}. */
export interface SinkOptions extends EmfOptions {
  readonly sink: MetricsSink;
  /** Where EMF lines go (default: stdout, one line each: the Lambda runtime makes each line a log event). */
  readonly write?: (line: string) => void;
}

/** What {@link publishMetricSet} did. */
export interface SinkResult {
  readonly putMetricDataCalls: number;
  readonly emfDocuments: number;
}

const stdoutLine = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * Publishes metrics through the configured sink; nothing is sent or written for no metrics (unless EMF
 * properties are given).
 * @param client - The module's CloudWatch client (used by `put-metric-data` only).
 * @throws AwsThrottledError | AwsError from `PutMetricData`; EMF writing does not throw.
 */
export async function publishMetricSet(
  client: CloudWatchClient,
  metrics: readonly Metric[],
  options: SinkOptions,
  call: AwsCall = {},
): Promise<SinkResult> {
  if (options.sink === 'put-metric-data') {
    return { putMetricDataCalls: await publishMetrics(client, metrics, options, call), emfDocuments: 0 };
  }
  if (metrics.length === 0 && options.properties === undefined)
    return { putMetricDataCalls: 0, emfDocuments: 0 };
  const documents = toEmfDocuments(metrics, options);
  const write = options.write ?? stdoutLine;
  for (const document of documents) write(JSON.stringify(document));
  return { putMetricDataCalls: 0, emfDocuments: documents.length };
}
