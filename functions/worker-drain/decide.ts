/**
 * Pure decisions of the worker drain: deadlines, poll pacing, heartbeats, completion; the scale-in order
 * in ./scale-in/decide.ts (re-exported here).
 * No I/O, no clock, no environment: time and policy are arguments. Every branch is unit-tested.
 *
 * AWS limits used (Amazon EC2 Auto Scaling User Guide, "Lifecycle hooks"): HeartbeatTimeout 30–7200 s; a
 * lifecycle action waits at most min(48 h, 100 × HeartbeatTimeout) from its start, then DefaultResult applies.
 * Step Functions Standard: 25,000 history events per execution.
 *
 * @module
 */
import type { NodeState } from '../../lib/trino/schemas.ts';

/** 48 hours in ms: the longest any lifecycle action may wait. */
export const LIFECYCLE_MAX_WAIT_MS = 48 * 3_600_000;

/** History events one poll round costs in the drain state machine (Wait 3 + Task 5 + Choice 2), rounded up. */
export const HISTORY_EVENTS_PER_POLL = 11;

/** Poll rounds we allow per execution, keeping well under the 25,000-event history limit. */
export const MAX_POLLS_PER_EXECUTION = 2_000;

/** Settings of a drain (from the function's environment). */
export interface DrainPolicy {
  /** How long a drain may take before the lifecycle action is completed anyway, ms (default 6 h). */
  readonly drainTimeoutMs: number;
  /** The lifecycle hook's HeartbeatTimeout, ms (30 000–7 200 000). */
  readonly heartbeatTimeoutMs: number;
  /** Desired time between checks, ms. */
  readonly pollIntervalMs: number;
  /** Heartbeat when the next check would come later than this before the heartbeat timeout expires, ms. */
  readonly heartbeatMarginMs: number;
  /** Consecutive failed connections to the worker that prove its process is gone. */
  readonly unreachableConfirmations: number;
}

/** The lifecycle action's fixed timing, computed once when the drain begins. */
export interface DrainSchedule {
  /** When the lifecycle action started (the event's time), epoch ms. */
  readonly startedAtMs: number;
  /** When the drain gives up and completes anyway, epoch ms. */
  readonly deadlineAtMs: number;
  /** Seconds between checks, after pacing for the history limit and the heartbeat timeout. */
  readonly pollIntervalSeconds: number;
}

/**
 * Computes the drain's deadline and poll interval.
 *
 * - Deadline: the smaller of `drainTimeoutMs` and AWS's own limit, min(48 h, 100 × HeartbeatTimeout), less one
 *   poll interval so we complete before AWS applies the DefaultResult on its own.
 * - Poll interval: the desired one, but never so short that the execution exceeds {@link MAX_POLLS_PER_EXECUTION}
 *   polls before the deadline, and never longer than the heartbeat timeout less the margin (heartbeats are sent
 *   at polls).
 *
 * @param startedAtMs - Lifecycle action start (the EventBridge event's `time`), epoch ms.
 * @param policy - See {@link DrainPolicy}.
 * @returns See {@link DrainSchedule}.
 * @example planDrain(t0, { drainTimeoutMs: 6 * 3600e3, heartbeatTimeoutMs: 600e3, pollIntervalMs: 30e3, ... })
 *   // { deadlineAtMs: t0 + 6 h, pollIntervalSeconds: 30 }
 */
export function planDrain(startedAtMs: number, policy: DrainPolicy): DrainSchedule {
  const awsLimitMs = Math.min(LIFECYCLE_MAX_WAIT_MS, 100 * policy.heartbeatTimeoutMs);
  // Heartbeats are sent at checks: a check must come before the timeout less the margin.
  const maxPollSeconds = Math.max(
    1,
    Math.floor((policy.heartbeatTimeoutMs - policy.heartbeatMarginMs) / 1_000),
  );
  const desiredSeconds = Math.min(Math.max(1, Math.floor(policy.pollIntervalMs / 1_000)), maxPollSeconds);
  const spanMs = Math.max(0, Math.min(policy.drainTimeoutMs, awsLimitMs - desiredSeconds * 1_000));
  // Enough seconds between checks that the whole span fits in MAX_POLLS_PER_EXECUTION checks.
  const budgetSeconds = Math.ceil(spanMs / MAX_POLLS_PER_EXECUTION / 1_000);
  const pollIntervalSeconds = Math.min(Math.max(desiredSeconds, budgetSeconds), maxPollSeconds);
  return {
    startedAtMs,
    deadlineAtMs:
      startedAtMs + Math.max(0, Math.min(policy.drainTimeoutMs, awsLimitMs - pollIntervalSeconds * 1_000)),
    pollIntervalSeconds,
  };
}

/** What one check observed. */
export interface DrainObservation {
  /** The worker's `GET /v1/info/state`, or `UNREACHABLE` when the connection failed (refused, reset, timeout). */
  readonly workerState: NodeState | 'UNREACHABLE';
  /** Whether the EC2 instance still exists and is not terminated. */
  readonly instancePresent: boolean;
}

/** The drain's progress, carried in the execution's state between checks. */
export interface DrainProgress {
  readonly lastHeartbeatAtMs: number;
  readonly heartbeats: number;
  readonly consecutiveUnreachable: number;
  readonly polls: number;
}

/** Why a drain ended. */
export type DrainOutcome =
  /** The worker's process is gone (connection refused N times in a row after shutdown began). */
  | 'WORKER_EXITED'
  /** The worker reports `DRAINED`: its last task is done; it is asked for `SHUTTING_DOWN` and the action completes. */
  | 'WORKER_DRAINED'
  /** The EC2 instance no longer exists. */
  | 'INSTANCE_GONE'
  /** The configured deadline (or AWS's limit) passed with the worker still busy. */
  | 'DEADLINE';

/** Result of {@link decideDrainStep}. */
export interface DrainStep {
  /** True: complete the lifecycle action with CONTINUE now. */
  readonly done: boolean;
  readonly outcome?: DrainOutcome;
  /** Send `RecordLifecycleActionHeartbeat` before the next wait. */
  readonly heartbeat: boolean;
  /**
   * Ask the worker for a state: `SHUTTING_DOWN` once it is `DRAINED` (so the process exits while the instance is
   * terminated), or the original request again when the worker reports `ACTIVE` (it restarted or missed it).
   */
  readonly request?: 'SHUTTING_DOWN' | 'DRAINING';
  /** Seconds to wait before the next check. */
  readonly waitSeconds: number;
  /** Updated progress to carry. */
  readonly progress: DrainProgress;
}

/**
 * Decides what to do after one check of a draining worker.
 *
 * Order of precedence: instance gone → done; worker process gone (confirmed) → done; worker `DRAINED` → done
 * (and ask it for `SHUTTING_DOWN`); deadline passed → done; otherwise keep waiting, heartbeating when the next
 * check would land within the heartbeat margin of the timeout, and re-requesting the drain if the worker says
 * `ACTIVE`.
 *
 * @param schedule - From {@link planDrain}.
 * @param progress - Carried progress (before this check).
 * @param observation - This check's view of the worker and instance.
 * @param policy - See {@link DrainPolicy}.
 * @param requested - The state the drain asked the worker for (`DRAINING` where supported, else `SHUTTING_DOWN`).
 * @param nowMs - Current time, epoch ms.
 */
export function decideDrainStep(
  schedule: DrainSchedule,
  progress: DrainProgress,
  observation: DrainObservation,
  policy: DrainPolicy,
  requested: 'SHUTTING_DOWN' | 'DRAINING',
  nowMs: number,
): DrainStep {
  const consecutiveUnreachable =
    observation.workerState === 'UNREACHABLE' ? progress.consecutiveUnreachable + 1 : 0;
  const base = { ...progress, consecutiveUnreachable, polls: progress.polls + 1 };
  const finish = (outcome: DrainOutcome): DrainStep => ({
    done: true,
    outcome,
    heartbeat: false,
    waitSeconds: 0,
    progress: base,
  });

  if (!observation.instancePresent) return finish('INSTANCE_GONE');
  if (consecutiveUnreachable >= policy.unreachableConfirmations) return finish('WORKER_EXITED');
  // DRAINED: every task is done; nothing is lost by completing now. The process is asked to exit cleanly.
  if (observation.workerState === 'DRAINED') return { ...finish('WORKER_DRAINED'), request: 'SHUTTING_DOWN' };
  if (nowMs >= schedule.deadlineAtMs) return finish('DEADLINE');

  const remainingSeconds = Math.max(1, Math.ceil((schedule.deadlineAtMs - nowMs) / 1_000));
  // A worker that just refused a connection is re-checked soon to confirm it is gone.
  const waitSeconds =
    observation.workerState === 'UNREACHABLE'
      ? Math.min(5, schedule.pollIntervalSeconds, remainingSeconds)
      : Math.min(schedule.pollIntervalSeconds, remainingSeconds);
  const nextCheckAtMs = nowMs + waitSeconds * 1_000;
  const heartbeat =
    nextCheckAtMs + policy.heartbeatMarginMs >= progress.lastHeartbeatAtMs + policy.heartbeatTimeoutMs;

  const request: DrainStep['request'] = observation.workerState === 'ACTIVE' ? requested : undefined;

  return {
    done: false,
    heartbeat,
    ...(request === undefined ? {} : { request }),
    waitSeconds,
    progress: {
      ...base,
      lastHeartbeatAtMs: heartbeat ? nowMs : progress.lastHeartbeatAtMs,
      heartbeats: heartbeat ? progress.heartbeats + 1 : progress.heartbeats,
    },
  };
}

/**
 * Which state to request first: the reversible `DRAINING` where the release supports it (Trino ≥ 468,
 * trinodb/trino#24444), else `SHUTTING_DOWN`. PrestoDB: always `SHUTTING_DOWN`.
 * @param version - `nodeVersion.version` from `GET /v1/info`, e.g. `"476"` or `"0.289"`.
 * @param flavor - `trino` or `presto`.
 * @param preferDraining - Operator setting (default true).
 */
export function chooseDrainRequest(
  version: string,
  flavor: 'trino' | 'presto',
  preferDraining: boolean,
): 'DRAINING' | 'SHUTTING_DOWN' {
  if (!preferDraining || flavor === 'presto') return 'SHUTTING_DOWN';
  const major = Number.parseInt(version, 10);
  return Number.isFinite(major) && major >= FIRST_RELEASE_WITH_DRAINING ? 'DRAINING' : 'SHUTTING_DOWN';
}

/** First Trino release with `DRAINING`/`DRAINED` (trinodb/trino#24444, merged December 2024). */
export const FIRST_RELEASE_WITH_DRAINING = 468;

/** The scale-in decisions (termination order, which instances are this cluster's workers): ./scale-in/decide.ts. */
export {
  AUTO_SCALING_POLICY_MAX_RUN_MS,
  type CandidateLoad,
  decideTerminationOrder,
  inputOrder,
  isClusterWorker,
  TERMINATION_ANSWER_MARGIN_MS,
  type TerminationBasis,
  type TerminationCandidate,
  type TerminationOrder,
  terminationBudgetMs,
} from './scale-in/decide.ts';
