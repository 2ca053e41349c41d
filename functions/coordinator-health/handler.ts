/**
 * coordinator-health: scheduled every minute, probes the active coordinator through the coordinator ENI's address
 * every `PROBE_INTERVAL_MS` for `LOOP_DURATION_MS` inside one invocation (cheaper than a Step Functions loop at
 * 5 s: one 128 MB invocation per minute), publishes `CoordinatorHealthy` (0/1 per round, sent as one statistic set
 * per invocation and on a confirmed failure: one EMF log line — or one `PutMetricData` call — a minute, not twelve), and on a *confirmed*
 * failure (`assessRound` in ./decide.ts: N failed probes and an independent signal, never an unknown) starts the failover
 * state machine — or, with `AUTO_FAILOVER=false`, only alarms and notifies.
The parts: ./deps.ts (dependencies), ./loop.ts (the probe loop), ./probe.ts (what one round gathers),
./start-failover.ts (on a confirmed failure), ./store.ts (the state between invocations), ./decide.ts (the pure
decisions).
 *
 * The lock (`startExecutionOnce`): a failover starts only when no execution of the failover state machine is
 * RUNNING; names are unique per minute (`failoverExecutionName`), so a closed execution never blocks the next
 * failure. A confirmed failure that starts nothing although it should (`NAME_TAKEN`, or the start failed) publishes
 * `FailoverNotStarted`, which alarms.
 *
 * @module
 */
import { ScheduledEventSchema } from '../../lib/events.ts';
import { eventHandler } from '../../lib/handler.ts';
import { getDefaultHealthDeps, type HealthDeps } from './deps.ts';
import { runHealthLoop } from './loop.ts';

export { getDefaultHealthDeps, type HealthDeps } from './deps.ts';
export { type HealthRunResult, runHealthLoop } from './loop.ts';
export { probe } from './probe.ts';

/**
 * Builds the handler over the given dependencies: each invocation resumes the stored detector state and probes
 * until just before the next scheduled invocation (the event's `time` + `LOOP_DURATION_MS`).
 */
export function makeHealthHandler(deps: () => HealthDeps = getDefaultHealthDeps) {
  return eventHandler(ScheduledEventSchema, 'EventBridge scheduled event', deps, (event, d, call) =>
    runHealthLoop(d, undefined, call, Date.parse(event.time)),
  );
}

/** Lambda entry point. */
export const handler = makeHealthHandler();
