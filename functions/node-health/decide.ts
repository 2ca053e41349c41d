/**
 * Pure decisions of node health: which instances of the worker and coordinator groups have been broken long
 * enough to be marked `Unhealthy` (so their Auto Scaling group replaces them through its lifecycle hooks). EC2
 * health checks alone keep a hung JVM `InService` forever; this decides from what Trino itself says.
 * No I/O, no clock: observations, the carried state and time are arguments.
 *
 * A node is **bad** this round when it is `InService`, past its launch grace, and:
 * - a worker: absent from the coordinator's `/v1/node` (not announced), or its own `GET /v1/info/state` failed
 *   (the process does not answer) — unless it reports SHUTTING_DOWN/DRAINING/DRAINED (a drain in progress);
 * - a coordinator-group member that does NOT hold the ENI (a standby): its primary address does not answer as a
 *   coordinator. (The ENI's holder is the failover's business, never marked here.)
 * A reading that could not be taken is `UNKNOWN` and never counts: when the coordinator's `/v1/node` cannot be
 * read, no worker is bad for being absent from it. A node bad for `unhealthyAfterMs` in a row is marked.
 *
 * **Every probe of a group failed** ({@link groupsWhereEveryProbeFailed}): when at least
 * {@link ALL_FAILED_MIN_PROBES} members of a group were probed this round and not one answered, that is a
 * configuration or network problem (a URL template with the wrong scheme or port, a security group, TLS), not N sick
 * nodes: nothing of that group is bad this round (the evidence neither clears nor advances, as for `UNKNOWN`), and
 * the handler publishes `NodeGroupsAllProbesFailed` (alarmed). trino-gateway treats an all-down view the same way:
 * its router never acts on it. The coordinator group counts the ENI holder's own probe of its primary address (a
 * control: the holder is never marked here), so a lone standby that does not answer while the holder does is sick.
 *
 * @module
 */

/** What the gatherer read of one group member. */
export interface MemberObservation {
  readonly instanceId: string;
  readonly group: NodeGroup;
  /** Auto Scaling lifecycle state (`InService`, `Pending`, `Terminating:Wait`, …). */
  readonly lifecycleState: string;
  /** Launch time, epoch ms. */
  readonly launchTimeMs: number;
  /** This coordinator-group instance holds the coordinator ENI (the active coordinator). */
  readonly holdsEni?: boolean;
  /** Worker: listed by the coordinator's `/v1/node`; `UNKNOWN` when `/v1/node` could not be read. */
  readonly announced?: boolean | 'UNKNOWN';
  /**
   * Worker: its `GET /v1/info/state` (`ACTIVE`, `SHUTTING_DOWN`, `DRAINING`, `DRAINED`, …) or `UNREACHABLE`;
   * coordinator: `ANSWERS` / `UNREACHABLE` on its primary address; `UNKNOWN` when there was no address to probe.
   */
  readonly process: string;
}

/** Carried state: since when each instance has been bad (epoch ms). */
export type HealthState = Readonly<Record<string, number>>;

/** Settings. */
export interface NodeHealthPolicy {
  /** How long a node must be bad in a row before it is marked Unhealthy, ms (default 5 min). */
  readonly unhealthyAfterMs: number;
  /** Grace after launch during which a node is never bad (Trino starting), ms (default 10 min). */
  readonly launchGraceMs: number;
}

/** Verdict of one member this round. */
export type MemberVerdict = 'HEALTHY' | 'BAD' | 'SKIPPED' | 'UNKNOWN';

/** A group of nodes node-health watches. */
export type NodeGroup = 'worker' | 'coordinator';

/**
 * The fewest probes of one group in a round for "every probe failed" to mean a configuration or network problem:
 * one failed probe alone cannot tell a sick node from a wrong template, and a lone node that does not answer must
 * still be replaced.
 */
export const ALL_FAILED_MIN_PROBES = 2;

/** The decision of one round. */
export interface NodeHealthDecision {
  /** Instances to mark Unhealthy now. */
  readonly markUnhealthy: readonly {
    readonly instanceId: string;
    readonly group: NodeGroup;
    readonly badForMs: number;
    readonly reason: string;
  }[];
  /** The state to carry (bad instances not yet marked, with their first bad time). */
  readonly state: HealthState;
  /** Each member's verdict, for logs. */
  readonly verdicts: Readonly<Record<string, MemberVerdict>>;
  /** Groups whose every probe failed this round ({@link groupsWhereEveryProbeFailed}): none of them was marked. */
  readonly everyProbeFailed: readonly NodeGroup[];
}

const DRAINING_STATES = new Set(['SHUTTING_DOWN', 'DRAINING', 'DRAINED']);

/** One member's verdict and, when bad, why. Pure. */
export function assessMember(
  member: MemberObservation,
  policy: NodeHealthPolicy,
  nowMs: number,
):
  | { readonly verdict: 'BAD'; readonly reason: string }
  | { readonly verdict: Exclude<MemberVerdict, 'BAD'>; readonly reason?: string } {
  if (member.lifecycleState !== 'InService') return { verdict: 'SKIPPED', reason: member.lifecycleState };
  if (nowMs - member.launchTimeMs < policy.launchGraceMs)
    return { verdict: 'SKIPPED', reason: 'launch grace' };
  if (member.group === 'coordinator') {
    if (member.holdsEni)
      return { verdict: 'SKIPPED', reason: 'holds the coordinator ENI (the failover decides)' };
    if (member.process === 'UNKNOWN') return { verdict: 'UNKNOWN' };
    return member.process === 'ANSWERS'
      ? { verdict: 'HEALTHY' }
      : { verdict: 'BAD', reason: 'standby coordinator does not answer on its primary address' };
  }
  if (DRAINING_STATES.has(member.process))
    return { verdict: 'SKIPPED', reason: `draining (${member.process})` };
  if (member.process === 'UNREACHABLE') return { verdict: 'BAD', reason: 'worker process does not answer' };
  if (member.process === 'UNKNOWN' || member.announced === 'UNKNOWN' || member.announced === undefined) {
    return { verdict: 'UNKNOWN' };
  }
  return member.announced
    ? { verdict: 'HEALTHY' }
    : { verdict: 'BAD', reason: 'worker not announced to the coordinator' };
}

/**
 * The groups in which every member probed this round failed its probe (`UNREACHABLE`), counting only `InService`
 * members past their launch grace whose probe was taken (not `UNKNOWN`), the ENI holder's control probe included,
 * and at least {@link ALL_FAILED_MIN_PROBES} of them. Pure.
 * @returns The groups, `worker` before `coordinator`; `[]` when every group had an answer (or too few probes).
 */
export function groupsWhereEveryProbeFailed(
  members: readonly MemberObservation[],
  policy: NodeHealthPolicy,
  nowMs: number,
): NodeGroup[] {
  return (['worker', 'coordinator'] as const).filter((group) => {
    const probed = members.filter(
      (m) =>
        m.group === group &&
        m.lifecycleState === 'InService' &&
        nowMs - m.launchTimeMs >= policy.launchGraceMs &&
        m.process !== 'UNKNOWN',
    );
    return probed.length >= ALL_FAILED_MIN_PROBES && probed.every((m) => m.process === 'UNREACHABLE');
  });
}

/**
 * Folds one round of observations into the carried state and decides which instances to mark Unhealthy.
 * Instances no longer observed leave the state; an UNKNOWN round keeps a node's first bad time (it neither clears
 * nor advances the evidence), and so does a round in which every probe of the node's group failed.
 * @example decideNodeHealth(members, {}, { unhealthyAfterMs: 300_000, launchGraceMs: 600_000 }, now)
 */
export function decideNodeHealth(
  members: readonly MemberObservation[],
  previous: HealthState,
  policy: NodeHealthPolicy,
  nowMs: number,
): NodeHealthDecision {
  const state: Record<string, number> = {};
  const verdicts: Record<string, MemberVerdict> = {};
  const markUnhealthy: NodeHealthDecision['markUnhealthy'][number][] = [];
  const everyProbeFailed = groupsWhereEveryProbeFailed(members, policy, nowMs);
  for (const member of members) {
    const assessed = assessMember(member, policy, nowMs);
    // A bad node in a group whose every probe failed is no evidence against that node: held as UNKNOWN.
    const verdict =
      assessed.verdict === 'BAD' && everyProbeFailed.includes(member.group) ? 'UNKNOWN' : assessed.verdict;
    verdicts[member.instanceId] = verdict;
    const since = previous[member.instanceId];
    if (verdict === 'UNKNOWN') {
      if (since !== undefined) state[member.instanceId] = since;
      continue;
    }
    if (assessed.verdict !== 'BAD') continue;
    const firstBadAtMs = since ?? nowMs;
    const badForMs = nowMs - firstBadAtMs;
    if (badForMs >= policy.unhealthyAfterMs) {
      markUnhealthy.push({
        instanceId: member.instanceId,
        group: member.group,
        badForMs,
        reason: assessed.reason,
      });
    } else {
      state[member.instanceId] = firstBadAtMs;
    }
  }
  return { markUnhealthy, state, verdicts, everyProbeFailed };
}
