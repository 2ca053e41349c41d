/**
 * CheckServing: `GET /v1/info` through the ENI address (`starting:false`, `coordinator:true`) and `GET /v1/node`
 * (minus `/v1/node/failed`) for the re-announced workers; records the first time each held.
 * Source: Trino io.trino.server.ServerInfoResource, io.trino.server.NodeResource.
 *
 * @module
 */
import type { AwsCall } from '../../../lib/aws/ec2.ts';
import { logger } from '../../../lib/logger.ts';
import { decideServing } from '../decide.ts';
import { type FailoverDeps, note } from '../deps.ts';
import { answers } from '../observe.ts';
import type { FailoverState } from '../schemas.ts';

/** @throws nothing of its own: a coordinator that does not answer is a WAIT until `SERVING_TIMEOUT_MS`. */
export async function runCheckServing(
  state: FailoverState,
  deps: FailoverDeps,
  call: AwsCall,
): Promise<FailoverState> {
  const now = deps.now();
  const serving = state.serving ?? { firstCheckAtMs: now, step: 'WAIT' as const, workers: 0 };
  const client = await deps.coordinator();
  const timeoutMs = deps.config.PROBE_TIMEOUT_MS;
  const answersOnEni = await answers(client, timeoutMs, true, call);
  let workers = 0;
  if (answersOnEni) {
    try {
      const options = { timeoutMs, ...(call.signal ? { signal: call.signal } : {}) };
      const [nodes, failed] = await Promise.all([client.getNodes(options), client.getFailedNodes(options)]);
      const failedUris = new Set(failed.map((n) => n.uri));
      workers = nodes.filter((n) => !failedUris.has(n.uri)).length;
    } catch (error) {
      logger.warn('Could not read /v1/node through the ENI address', { error: String(error) });
    }
  }
  const step = decideServing({
    answersOnEni,
    workers,
    baselineWorkers: state.baselineWorkers,
    minimumWorkers: deps.config.MIN_WORKERS,
    elapsedMs: now - serving.firstCheckAtMs,
    timeoutMs: deps.config.SERVING_TIMEOUT_MS,
  });
  let next: FailoverState = {
    ...state,
    serving: {
      ...serving,
      step,
      workers,
      ...(answersOnEni && serving.servingAtMs === undefined ? { servingAtMs: now } : {}),
      ...(step === 'SERVING' && serving.workersBackAtMs === undefined ? { workersBackAtMs: now } : {}),
    },
  };
  if (answersOnEni && serving.servingAtMs === undefined)
    next = note(next, now, 'The coordinator answers on the ENI address');
  if (step === 'SERVING') next = note(next, now, `${workers} worker(s) re-announced`);
  if (step === 'TIMEOUT') {
    next = note(
      next,
      now,
      `Serving check timed out: ${workers}/${state.baselineWorkers} workers, answers: ${answersOnEni}`,
    );
  }
  return next;
}
