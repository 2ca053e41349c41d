/**
 * Pure decisions of scale-in: the order in which an Auto Scaling custom termination policy offers instances, and
 * which instances are workers of this cluster (Spot interruption warnings). No I/O, no clock, no environment.
 * Every branch is unit-tested.
 *
 * @module
 */

/** A scale-in candidate and the load the coordinator reports for it. */
export interface TerminationCandidate {
  readonly instanceId: string;
  /** Running + queued splits on the worker (coordinator's `system.runtime.tasks`); undefined = not a known worker. */
  readonly splits?: number;
  /** Tasks not yet finished on the worker. */
  readonly tasks?: number;
}

/**
 * Orders scale-in candidates for an Auto Scaling custom termination policy: least loaded first. Instances the
 * coordinator does not know (still booting, or Trino not running) carry no work and come first.
 * Ties keep the order Auto Scaling gave.
 * @returns Instance ids, most preferred to terminate first.
 */
export function orderForTermination(candidates: readonly TerminationCandidate[]): string[] {
  return candidates
    .map((candidate, index) => ({ candidate, index }))
    .sort(
      (a, b) =>
        (a.candidate.splits ?? 0) - (b.candidate.splits ?? 0) ||
        (a.candidate.tasks ?? 0) - (b.candidate.tasks ?? 0) ||
        a.index - b.index,
    )
    .map(({ candidate }) => candidate.instanceId);
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
