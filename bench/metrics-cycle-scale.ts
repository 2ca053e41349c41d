/**
 * Bench figure `metricsCycle500`: one cluster-metrics cycle (the Lambda handler: parse → read the coordinator and
 * every worker's `/v1/status` → compute → publish) against a coordinator that reports N workers, and moto for
 * CloudWatch. The coordinator and workers are the **scale double** (harness/scale-double.ts: recorded real Trino 476
 * responses multiplied to N workers on loopback, each answer delayed `latencyMs`), not a real cluster.
 * PutMetricData calls are counted on the CloudWatch client by an SDK middleware (bench/aws-calls.ts).
 *
 * Per size: one warm-up cycle (container init, keep-alive), then the median of `cycles` cycles.
 *
 * @module
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { type MetricsDeps, makeHandler } from '../functions/cluster-metrics/handler.ts';
import { MetricsEnvSchema } from '../functions/cluster-metrics/schemas.ts';
import { localContext, scheduledEvent } from '../harness/invoke.ts';
import type { MotoServer } from '../harness/moto.ts';
import { startScaleDouble } from '../harness/scale-double.ts';
import { loadConfig } from '../lib/config.ts';
import { lazyTrinoClient } from '../lib/trino/connect.ts';
import { countCalls } from './aws-calls.ts';
import { growthVsLinear, median } from './figures.ts';

/** One size's figures. */
export interface CycleAtSize {
  readonly workers: number;
  /** Median duration of one cycle, ms. */
  readonly cycleMs: number;
  readonly cyclesMs: readonly number[];
  /** PutMetricData calls of one cycle (counted on the client). */
  readonly putMetricDataCalls: number;
  /** Metrics published in one cycle. */
  readonly metricsPublished: number;
  /** Worker `/v1/status` requests the double answered in one cycle. */
  readonly workerStatusRequests: number;
  /** `cycleMs / workers`. */
  readonly msPerWorker: number;
}

/** Result of {@link metricsCycleScaleBench}. */
export interface MetricsCycleScaleFigures extends CycleAtSize {
  /** Sink and metric set measured (`put-metric-data`, `full` unless overridden). */
  readonly sink: string;
  readonly metricSet: string;
  readonly double: string;
  readonly trinoVersion: string;
  readonly latencyMs: number;
  readonly workerStatusConcurrency: number;
  /** Every measured size, smallest first. */
  readonly bySize: readonly CycleAtSize[];
  /** `(cycle(500)/cycle(50)) / (500/50)`: ≤ 1 means the cycle grows linearly at most. */
  readonly growthVsLinear: number;
  readonly goals: { readonly cycleMs: 1000; readonly putMetricDataCalls: 2 };
}

/**
 * Measures the cycle at each size (default 50, 100, 500 workers).
 * @param moto - A running moto (CloudWatch).
 * @param options.latencyMs - Per-request latency of the double (default 2).
 * @param options.env - Extra environment of the function (e.g. `METRICS_SINK`).
 */
export async function metricsCycleScaleBench(
  moto: MotoServer,
  log: (line: string) => void,
  options: {
    sizes?: readonly number[];
    latencyMs?: number;
    cycles?: number;
    env?: Readonly<Record<string, string>>;
  } = {},
): Promise<MetricsCycleScaleFigures> {
  const sizes = options.sizes ?? [50, 100, 500];
  const cycles = options.cycles ?? 5;
  const bySize: CycleAtSize[] = [];
  let label = '';
  let version = '';
  let concurrency = 0;
  let sink = '';
  let metricSet = '';
  for (const workers of sizes) {
    const double = await startScaleDouble({ workers, latencyMs: options.latencyMs ?? 2 });
    label = double.label;
    version = double.trinoVersion;
    try {
      // PutMetricData (the figure counts its calls against moto) and the full metric set: the worst case. The
      // default sink (EMF) makes no call at all.
      const config = loadConfig(MetricsEnvSchema, {
        CLUSTER_NAME: `bench-scale-${workers}`,
        TRINO_URL: double.coordinatorUrl,
        METRICS_SINK: 'put-metric-data',
        METRICS_SET: 'full',
        ...options.env,
      });
      concurrency = config.WORKER_STATUS_CONCURRENCY;
      sink = config.METRICS_SINK;
      metricSet = config.METRICS_SET;
      const cloudwatch = new CloudWatchClient(moto.clientConfig);
      const calls = countCalls(cloudwatch);
      const deps: MetricsDeps = { config, cloudwatch, trino: lazyTrinoClient(config), now: () => Date.now() };
      const handler = makeHandler(() => deps);
      await handler(scheduledEvent('bench-scale'), localContext('clusterMetrics'));
      const cyclesMs: number[] = [];
      let published = 0;
      for (let i = 0; i < cycles; i += 1) {
        double.resetCounts();
        calls.PutMetricDataCommand = 0;
        const start = performance.now();
        const result = await handler(scheduledEvent('bench-scale'), localContext('clusterMetrics'));
        cyclesMs.push(Math.round((performance.now() - start) * 10) / 10);
        published = result.published;
      }
      const cycleMs = median(cyclesMs);
      const figures: CycleAtSize = {
        workers,
        cycleMs,
        cyclesMs,
        putMetricDataCalls: calls.PutMetricDataCommand ?? 0,
        metricsPublished: published,
        workerStatusRequests: double.requests['worker GET /v1/status'] ?? 0,
        msPerWorker: Math.round((cycleMs / workers) * 1000) / 1000,
      };
      bySize.push(figures);
      log(
        `metrics cycle ${String(workers).padStart(3)} workers  ${cycleMs} ms (median of ${cycles}), ` +
          `${figures.putMetricDataCalls} PutMetricData, ${published} metrics  [${label}, ${double.latencyMs} ms/request]`,
      );
    } finally {
      await double.close();
    }
  }
  const smallest = bySize[0];
  const largest = bySize[bySize.length - 1];
  if (smallest === undefined || largest === undefined) throw new Error('no size measured');
  return {
    ...largest,
    sink,
    metricSet,
    double: label,
    trinoVersion: version,
    latencyMs: options.latencyMs ?? 2,
    workerStatusConcurrency: concurrency,
    bySize,
    growthVsLinear: growthVsLinear(
      { size: smallest.workers, cost: smallest.cycleMs },
      { size: largest.workers, cost: largest.cycleMs },
    ),
    goals: { cycleMs: 1000, putMetricDataCalls: 2 },
  };
}
