/**
 * Pure decisions of scale-in: the termination policy's budget and the order in which it offers instances (with
 * what it does not know), and which instances are workers of this cluster (Spot interruption warnings). No I/O, no
 * clock, no environment.
 * Every branch is unit-tested.
 *
 * @module
 */

/**
 * Amazon EC2 Auto Scaling's limit on a custom termination policy's run time, ms: the Lambda function gets at most
 * two seconds. A function that does not answer in time answers nothing:
 * Auto Scaling waits a short time and invokes it again, as long as the group is above its desired capacity (an
 * instance refresh fails after an hour of it). Source: Amazon EC2 Auto Scaling User Guide, "Create a custom
 * termination policy with Lambda", Limitations and Considerations.
 */
export const AUTO_SCALING_POLICY_MAX_RUN_MS = 2_000;

/** Kept back from the reads' budget for deciding, logging and the answer's trip back to Auto Scaling, ms. */
export const TERMINATION_ANSWER_MARGIN_MS = 250;

/**
 * How long the termination policy may spend reading the coordinator and EC2, ms: the smaller of the Lambda's
 * remaining time less the handler's stop margin and Auto Scaling's {@link AUTO_SCALING_POLICY_MAX_RUN_MS}, less
 * {@link TERMINATION_ANSWER_MARGIN_MS}; never negative. Pure.
 * @param remainingMs - `context.getRemainingTimeInMillis()` when the handler starts, ms.
 * @param stopMarginMs - How long before the Lambda timeout the handler is stopped (lib/handler.ts), ms.
 * @example terminationBudgetMs(10_000, 1_000) // 1_750: Auto Scaling's 2 s, not the Lambda's 10 s, binds
 */
export function terminationBudgetMs(remainingMs: number, stopMarginMs: number): number {
  return Math.max(
    0,
    Math.min(remainingMs - stopMarginMs, AUTO_SCALING_POLICY_MAX_RUN_MS) - TERMINATION_ANSWER_MARGIN_MS,
  );
}

/**
 * What the coordinator's view says of one scale-in candidate:
 * - `{ splits, tasks }`: the coordinator lists it as a worker with this load (running + queued splits; tasks not
 *   finished);
 * - `NOT_A_WORKER`: the coordinator's view WAS read and does not list it (still booting, Trino not running): it
 *   carries no work;
 * - `UNKNOWN`: not known: the view or the instance's address could not be read before the deadline (or failed).
 *   Never taken for idle.
 */
export type CandidateLoad = { readonly splits: number; readonly tasks: number } | 'NOT_A_WORKER' | 'UNKNOWN';

/** A scale-in candidate and what the coordinator reported for it. */
export interface TerminationCandidate {
  readonly instanceId: string;
  readonly load: CandidateLoad;
}

/**
 * What the order rests on:
 * - `LOAD`: every candidate's load was read;
 * - `PARTIAL`: some were read, the others are `UNKNOWN`;
 * - `AUTO_SCALING_ORDER`: none was read (or there is no candidate): Auto Scaling's own order, as it offered them.
 */
export type TerminationBasis = 'LOAD' | 'PARTIAL' | 'AUTO_SCALING_ORDER';

/** The termination policy's decision. */
export interface TerminationOrder {
  /** Instance ids, most preferred to terminate first: every candidate, once. */
  readonly instanceIds: string[];
  readonly basis: TerminationBasis;
  /** The candidates whose load was unknown, in Auto Scaling's order. */
  readonly unknown: string[];
}

/** 0: known to carry no work; 1: unknown; 2: known to carry work. */
function rank(load: CandidateLoad): number {
  if (load === 'NOT_A_WORKER') return 0;
  if (load === 'UNKNOWN') return 1;
  return load.splits === 0 && load.tasks === 0 ? 0 : 2;
}

function splitsOf(load: CandidateLoad): number {
  return typeof load === 'object' ? load.splits : 0;
}

function tasksOf(load: CandidateLoad): number {
  return typeof load === 'object' ? load.tasks : 0;
}

/**
 * Orders scale-in candidates for an Auto Scaling custom termination policy. Pure.
 * 1. Known to carry no work (not a worker in the coordinator's view, or no splits and no tasks) come first.
 * 2. Then the candidates whose load is UNKNOWN, in the order Auto Scaling offered them (its default policy's order):
 *    an unknown is never guessed idle, but a worker known to be busy is a worse pick than one that may not be.
 * 3. Then the busy workers, fewest splits first, then fewest tasks.
 * Ties keep Auto Scaling's order. With every load unknown the answer is exactly Auto Scaling's order.
 * @returns The order, what it rests on, and which candidates were unknown.
 * @example decideTerminationOrder([{ instanceId: 'i-a', load: 'UNKNOWN' }]) // { instanceIds: ['i-a'], basis: 'AUTO_SCALING_ORDER', … }
 */
export function decideTerminationOrder(candidates: readonly TerminationCandidate[]): TerminationOrder {
  const unknown = candidates.filter((c) => c.load === 'UNKNOWN').map((c) => c.instanceId);
  const basis: TerminationBasis =
    unknown.length === candidates.length ? 'AUTO_SCALING_ORDER' : unknown.length === 0 ? 'LOAD' : 'PARTIAL';
  const instanceIds = candidates
    .map((candidate, index) => ({ candidate, index }))
    .sort(
      (a, b) =>
        rank(a.candidate.load) - rank(b.candidate.load) ||
        splitsOf(a.candidate.load) - splitsOf(b.candidate.load) ||
        tasksOf(a.candidate.load) - tasksOf(b.candidate.load) ||
        a.index - b.index,
    )
    .map(({ candidate }) => candidate.instanceId);
  return { instanceIds, basis, unknown };
}

/**
 * Whether an instance is a worker of this cluster, from its launch-template tags (`trino-sentinel:cluster`,
 * `trino-sentinel:role=worker`): a Spot warning for any other instance is ignored.
 */
export function isClusterWorker(tags: Readonly<Record<string, string>>, clusterName: string): boolean {
  return tags['trino-sentinel:cluster'] === clusterName && tags['trino-sentinel:role'] === 'worker';
}

/**
 * The instance ids of a termination-policy event read leniently, in Auto Scaling's order: what the policy answers
 * when it cannot do better (an event it cannot parse, or the coordinator unreachable). Pure.
 * @returns The `Instances[].InstanceId` strings found, or `[]`.
 */
export function inputOrder(event: unknown): string[] {
  if (
    typeof event !== 'object' ||
    event === null ||
    !('Instances' in event) ||
    !Array.isArray(event.Instances)
  ) {
    return [];
  }
  return event.Instances.flatMap((i: unknown) =>
    typeof i === 'object' && i !== null && 'InstanceId' in i && typeof i.InstanceId === 'string'
      ? [i.InstanceId]
      : [],
  );
}
