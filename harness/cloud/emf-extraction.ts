/**
 * What CloudWatch Logs does with a Lambda function's log, for the local cloud: every log line that is an Embedded
 * Metric Format document becomes CloudWatch metrics (here, `PutMetricData` to moto, which has no log-to-metric
 * extraction). Without it the deployed functions' default metrics sink (`METRICS_SINK=emf`, lib/metrics-sink.ts)
 * would publish nothing a test could read.
 *
 * Source of the document shape: Amazon CloudWatch User Guide, "Specification: Embedded metric format" (root
 * `_aws` with `Timestamp` (ms since the epoch) and `CloudWatchMetrics[]` of `{Namespace, Dimensions: string[][],
 * Metrics: [{Name, Unit?, StorageResolution?}]}`; dimension and metric values are root members; a metric value is a
 * number or an array of up to 100 numbers). A line that is not such a document is ignored, as CloudWatch Logs
 * keeps it as a plain log event.
 * @module
 */
import type { MetricDatum, PutMetricDataCommandInput, StandardUnit } from '@aws-sdk/client-cloudwatch';
import * as z from 'zod';

const Directive = z.object({
  Namespace: z.string().min(1),
  Dimensions: z.array(z.array(z.string()).max(30)),
  Metrics: z
    .array(
      z.object({
        Name: z.string().min(1),
        Unit: z.string().optional(),
        StorageResolution: z.union([z.literal(1), z.literal(60)]).optional(),
      }),
    )
    .max(100),
});
const Document = z
  .object({ _aws: z.object({ Timestamp: z.number(), CloudWatchMetrics: z.array(Directive) }) })
  .loose();

/**
 * The `PutMetricData` inputs that publish one EMF log line's metrics: one input per directive (namespace), one
 * datum per metric and dimension set; an array value becomes its `StatisticValues` (count, sum, min, max).
 * Members the directive names but the document lacks make that datum (or, for a dimension, that dimension set)
 * invalid and skipped, as CloudWatch Logs skips them. Pure.
 * @param line - One log line as the function wrote it (JSON).
 * @returns The inputs; `[]` when the line is not an EMF document.
 */
export function emfLineToPutMetricData(line: string): PutMetricDataCommandInput[] {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{') || !trimmed.includes('"_aws"')) return [];
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    return [];
  }
  const parsed = Document.safeParse(json);
  if (!parsed.success) return [];
  const document = parsed.data as Record<string, unknown> & z.infer<typeof Document>;
  const timestamp = new Date(document._aws.Timestamp);
  const inputs: PutMetricDataCommandInput[] = [];
  for (const directive of document._aws.CloudWatchMetrics) {
    const data: MetricDatum[] = [];
    const dimensionSets = directive.Dimensions.length === 0 ? [[]] : directive.Dimensions;
    for (const names of dimensionSets) {
      const values = names.map((name) => document[name]);
      if (!values.every((value): value is string => typeof value === 'string')) continue;
      const dimensions = names.map((name, i) => ({ Name: name, Value: values[i] }));
      for (const metric of directive.Metrics) {
        const value = document[metric.Name];
        const base = {
          MetricName: metric.Name,
          Timestamp: timestamp,
          ...(dimensions.length > 0 ? { Dimensions: dimensions } : {}),
          ...(metric.Unit === undefined ? {} : { Unit: metric.Unit as StandardUnit }),
          ...(metric.StorageResolution === 1 ? { StorageResolution: 1 } : {}),
        };
        if (typeof value === 'number' && Number.isFinite(value)) {
          data.push({ ...base, Value: value });
        } else if (
          Array.isArray(value) &&
          value.length > 0 &&
          value.every((v): v is number => typeof v === 'number' && Number.isFinite(v))
        ) {
          data.push({
            ...base,
            StatisticValues: {
              SampleCount: value.length,
              Sum: value.reduce((sum, v) => sum + v, 0),
              Minimum: Math.min(...value),
              Maximum: Math.max(...value),
            },
          });
        }
      }
    }
    // PutMetricData takes at most 1,000 data a call.
    for (let i = 0; i < data.length; i += 1_000) {
      inputs.push({ Namespace: directive.Namespace, MetricData: data.slice(i, i + 1_000) });
    }
  }
  return inputs;
}
