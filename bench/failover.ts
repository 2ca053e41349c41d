/**
 * Bench figures of coordinator failover: the control plane's own overhead in the drill, `servingAfterMs` minus the
 * configured detection window (FAILURES_TO_CONFIRM × PROBE_INTERVAL_MS; goal ≤ 3 000 ms), over 5 drills on one HA
 * sandbox (moto + a secure Trino 476: coordinator, hot standby, worker behind the ENI proxy). After each drill a
 * replacement standby is started, as the coordinator group would launch one.
 */
import { type FailoverDrillResult, runFailoverDrill, startHaSandbox } from '../harness/drills/failover.ts';
import { failoverBenchSummary } from '../harness/drills/figures.ts';
import { startMoto } from '../harness/moto.ts';

/** Result of {@link failoverBench}. */
export interface FailoverFigures {
  readonly drills: number;
  readonly detectionWindowMs: number;
  readonly overheadMs: readonly (number | null)[];
  readonly medianOverheadMs: number | null;
  readonly medianServingAfterMs: number | null;
  readonly medianWorkersBackAfterMs: number | null;
  readonly falseFailovers: number;
  readonly goalOverheadMs: number;
}

/**
 * Starts the replacement standby; moto answers `ResourceContention` to AttachInstances while the fenced
 * coordinator's termination is still being processed in its group (seen on a loaded machine): wait and retry.
 */
async function addStandbyRetrying(
  ha: Awaited<ReturnType<typeof startHaSandbox>>,
  log: (line: string) => void,
): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await ha.addStandby();
      return;
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      if (attempt >= 5 || !/ResourceContention/.test(name)) throw error;
      log(`failover bench: addStandby answered ${name}, retrying (${attempt}/5)`);
      await new Promise((resolve) => setTimeout(resolve, 3_000 * attempt));
    }
  }
}

/** Runs `drills` failovers (default 5) and derives the figures. */
export async function failoverBench(log: (line: string) => void, drills = 5): Promise<FailoverFigures> {
  const moto = await startMoto();
  try {
    const ha = await startHaSandbox({ aws: moto.clientConfig, clusterName: 'bench-ha', log });
    try {
      const results: FailoverDrillResult[] = [];
      for (let i = 0; i < drills; i += 1) {
        const result = await runFailoverDrill(ha, { watchMs: 2_000 });
        results.push(result);
        log(
          `failover drill ${i + 1}/${drills}: detected ${result.detectedAfterMs} ms, serving ${result.servingAfterMs} ms, workers back ${result.workersBackAfterMs} ms, overhead ${result.controlPlaneOverheadMs} ms (${result.outcome})`,
        );
        if (i + 1 < drills) {
          try {
            await addStandbyRetrying(ha, log);
          } catch (error) {
            // Keep the drills done: the figures say how many there were.
            log(
              `failover bench: no standby for drill ${i + 2} (${String(error)}); stopping after ${i + 1} drills`,
            );
            break;
          }
        }
      }
      return {
        drills: results.length,
        detectionWindowMs: results[0]?.detectionWindowMs ?? 0,
        overheadMs: results.map((r) => r.controlPlaneOverheadMs),
        ...failoverBenchSummary(results),
        goalOverheadMs: 3_000,
      };
    } finally {
      await ha.stop();
    }
  } finally {
    await moto.stop();
  }
}
