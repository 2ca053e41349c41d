/**
 * Bench figure: duration of one cluster-metrics cycle (read the coordinator, compute, PutMetricData) against
 * moto and a real secure Trino from the harness, median of 5 cycles after one warm-up.
 */
import { controlPlaneEnv } from '../harness/control-plane-env.ts';
import { localContext, scheduledEvent } from '../harness/invoke.ts';
import { startMoto } from '../harness/moto.ts';
import { startTrinoCluster } from '../harness/trino.ts';

/** Result of {@link metricsCycleBench}. */
export interface MetricsCycleFigures {
  readonly trinoVersion: string;
  readonly cycleMs: number;
  readonly cyclesMs: number[];
}

/** Runs the cycles and returns the figures. */
export async function metricsCycleBench(log: (line: string) => void): Promise<MetricsCycleFigures> {
  const moto = await startMoto();
  const cluster = await startTrinoCluster({ line: 'newest', workers: 1, secure: true, name: 'bench' });
  try {
    Object.assign(process.env, await controlPlaneEnv(moto.clientConfig, cluster, 'bench'), {
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    const { handler } = await import('../functions/cluster-metrics/handler.ts');
    await handler(scheduledEvent('bench'), localContext('clusterMetrics'));
    const cyclesMs: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const start = performance.now();
      await handler(scheduledEvent('bench'), localContext('clusterMetrics'));
      cyclesMs.push(Math.round((performance.now() - start) * 10) / 10);
    }
    const sorted = [...cyclesMs].sort((a, b) => a - b);
    const cycleMs = sorted[2] ?? 0;
    log(`metrics cycle        ${cycleMs} ms (median of 5, Trino ${cluster.version}, secure)`);
    return { trinoVersion: cluster.version, cycleMs, cyclesMs };
  } finally {
    await cluster.stop();
    await moto.stop();
  }
}
