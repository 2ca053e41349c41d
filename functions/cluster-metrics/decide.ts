/**
 * Pure computation of the cluster metric set from what the handler observed on the coordinator.
 * No I/O, no clock, no environment: time and policy are arguments. The contract (name, unit, dimensions,
 * source field) is documented in docs/metrics.md; keep the two in step.
 *
 * @module
 */
import type { Metric } from '../../lib/metrics.ts';
import type { BasicQueryInfo, NodeStatus, QueryState } from '../../lib/trino/schemas.ts';
import { parseDataSizeBytes } from '../../lib/trino/units.ts';

/** Cluster memory as the coordinator's memory pool reports it, in bytes. */
export interface ClusterMemory {
  readonly totalBytes: number;
  readonly reservedBytes: number;
}

/** What the handler observed in one cycle. */
export interface ClusterObservation {
  /** Whether `GET /v1/info` answered `starting:false` within the timeout. */
  readonly coordinatorReachable: boolean;
  /** `GET /v1/query` (empty when not read). */
  readonly queries: readonly BasicQueryInfo[];
  /** Cluster memory pool; `undefined` when it could not be read (metric omitted, not zeroed). */
  readonly memory?: ClusterMemory;
  /**
   * One entry per worker the coordinator's failure detector lists (`GET /v1/node`); `status` is that worker's
   * `GET /v1/status` when it answered, `undefined` when it did not. `undefined` list: not read this cycle.
   */
  readonly workers?: readonly { readonly uri: string; readonly status?: NodeStatus }[];
}

/** Settings of the computation. */
export interface MetricsPolicy {
  /** Length in ms of the window for the finished/failed counters (the schedule period). */
  readonly windowMs: number;
  /**
   * How many users get their own `User` dimension (largest running+queued first); the rest are summed as `(other)`.
   * 0: no per-user metrics at all (the cluster totals say the rest).
   */
  readonly maxUsers: number;
}

/**
 * The cluster-level metrics published by default (`METRICS_SET=standard`): those the worker scaling policies
 * (infra/trino-cluster.yaml), the alarms and the dashboard (serverless.yml) read, plus `QueryMemoryReservedBytes`,
 * the memory signal when the MBean is unreadable. Per-user metrics are governed by {@link MetricsPolicy.maxUsers}.
 */
export const STANDARD_METRICS: ReadonlySet<string> = new Set([
  'CoordinatorReachable',
  'RunningQueries',
  'QueuedQueries',
  'BlockedQueries',
  'QueriesFailed',
  'ActiveWorkers',
  'UnreachableWorkers',
  'WorkerCpuUtilization',
  'WorkerHeapUtilizationMax',
  'ClusterMemoryUtilization',
  'QueryMemoryReservedBytes',
]);

/**
 * Splits a computed metric set into what is published as metrics and what stays a log value. Pure.
 * @param set - `standard`: cluster-level metrics in {@link STANDARD_METRICS} and every per-user metric; `full`: all.
 * @returns `published` in the input order; `logOnly` as name → value (cluster-level metrics only have no dimensions).
 */
export function selectMetricSet(
  metrics: readonly Metric[],
  set: 'standard' | 'full',
): { published: Metric[]; logOnly: Record<string, number> } {
  const published: Metric[] = [];
  const logOnly: Record<string, number> = {};
  for (const metric of metrics) {
    if (set === 'full' || metric.dimensions !== undefined || STANDARD_METRICS.has(metric.name)) {
      published.push(metric);
    } else {
      logOnly[metric.name] = metric.value;
    }
  }
  return { published, logOnly };
}

/** Name used for the bucket of users beyond {@link MetricsPolicy.maxUsers}. */
export const OTHER_USERS = '(other)';

/** Not started yet. `WAITING_FOR_PREREQUISITES` is PrestoDB's state before `QUEUED`. */
const QUEUED_STATES: ReadonlySet<QueryState> = new Set([
  'WAITING_FOR_PREREQUISITES',
  'QUEUED',
  'WAITING_FOR_RESOURCES',
  'DISPATCHING',
]);
const RUNNING_STATES: ReadonlySet<QueryState> = new Set(['PLANNING', 'STARTING', 'RUNNING', 'FINISHING']);

/**
 * Computes the metric set of one cycle.
 *
 * - Unreachable coordinator: only `CoordinatorReachable = 0` (nothing else is known; no zeros are invented).
 * - Query counts by state, `BlockedQueries` (running and `fullyBlocked`), finished/failed in the window
 *   (by `queryStats.endTime` in `(now - windowMs, now]`), per-user running/queued with bounded cardinality.
 * - Workers: `ActiveWorkers` (workers that answered `/v1/status`), `UnreachableWorkers`, average and maximum
 *   `WorkerCpuUtilization` (systemCpuLoad × 100; negative loads, meaning unknown, are ignored), maximum heap use.
 * - Memory: reserved/total bytes and `ClusterMemoryUtilization` percent.
 *
 * @param observation - What the handler read; see {@link ClusterObservation}.
 * @param policy - Window and cardinality; see {@link MetricsPolicy}.
 * @param nowMs - Current time, epoch ms.
 * @returns Metrics in a stable order.
 * @example computeClusterMetrics({ coordinatorReachable: false, queries: [] }, policy, Date.now())
 *   // [{ name: 'CoordinatorReachable', unit: 'Count', value: 0 }]
 */
export function computeClusterMetrics(
  observation: ClusterObservation,
  policy: MetricsPolicy,
  nowMs: number,
): Metric[] {
  if (!observation.coordinatorReachable) {
    return [{ name: 'CoordinatorReachable', unit: 'Count', value: 0 }];
  }
  const metrics: Metric[] = [{ name: 'CoordinatorReachable', unit: 'Count', value: 1 }];

  let running = 0;
  let queued = 0;
  let blocked = 0;
  let finished = 0;
  let failed = 0;
  let runningDrivers = 0;
  let reservedByQueries = 0;
  const perUser = new Map<string, { running: number; queued: number }>();
  const windowStart = nowMs - policy.windowMs;

  for (const query of observation.queries) {
    const isRunning = RUNNING_STATES.has(query.state);
    const isQueued = QUEUED_STATES.has(query.state);
    if (isRunning) {
      running += 1;
      runningDrivers += query.queryStats.runningDrivers ?? 0;
      reservedByQueries += parseDataSizeBytes(query.queryStats.totalMemoryReservation ?? '0B') ?? 0;
      if (query.queryStats.fullyBlocked === true) blocked += 1;
    } else if (isQueued) {
      queued += 1;
    } else {
      const endMs = query.queryStats.endTime ? Date.parse(query.queryStats.endTime) : Number.NaN;
      if (endMs > windowStart && endMs <= nowMs) {
        if (query.state === 'FINISHED') finished += 1;
        else failed += 1;
      }
    }
    if (isRunning || isQueued) {
      const counts = perUser.get(query.session.user) ?? { running: 0, queued: 0 };
      if (isRunning) counts.running += 1;
      else counts.queued += 1;
      perUser.set(query.session.user, counts);
    }
  }

  metrics.push(
    { name: 'RunningQueries', unit: 'Count', value: running },
    { name: 'QueuedQueries', unit: 'Count', value: queued },
    { name: 'BlockedQueries', unit: 'Count', value: blocked },
    { name: 'QueriesFinished', unit: 'Count', value: finished },
    { name: 'QueriesFailed', unit: 'Count', value: failed },
    { name: 'RunningDrivers', unit: 'Count', value: runningDrivers },
  );

  for (const [user, counts] of policy.maxUsers > 0 ? bucketUsers(perUser, policy.maxUsers) : []) {
    metrics.push(
      { name: 'RunningQueries', unit: 'Count', value: counts.running, dimensions: { User: user } },
      { name: 'QueuedQueries', unit: 'Count', value: counts.queued, dimensions: { User: user } },
    );
  }

  if (observation.workers !== undefined) {
    const answered = observation.workers.flatMap((worker) =>
      worker.status !== undefined && !worker.status.coordinator ? [worker.status] : [],
    );
    const unreachable = observation.workers.filter((worker) => worker.status === undefined).length;
    metrics.push(
      { name: 'ActiveWorkers', unit: 'Count', value: answered.length },
      { name: 'UnreachableWorkers', unit: 'Count', value: unreachable },
    );
    const cpu = answered.map((status) => status.systemCpuLoad).filter((load) => load >= 0);
    if (cpu.length > 0) {
      metrics.push(
        { name: 'WorkerCpuUtilization', unit: 'Percent', value: round2((sum(cpu) / cpu.length) * 100) },
        { name: 'WorkerCpuUtilizationMax', unit: 'Percent', value: round2(Math.max(...cpu) * 100) },
      );
    }
    const heap = answered.filter((s) => s.heapAvailable > 0).map((s) => s.heapUsed / s.heapAvailable);
    if (heap.length > 0) {
      metrics.push({
        name: 'WorkerHeapUtilizationMax',
        unit: 'Percent',
        value: round2(Math.max(...heap) * 100),
      });
    }
  }

  if (observation.memory !== undefined) {
    const { totalBytes, reservedBytes } = observation.memory;
    metrics.push(
      { name: 'ClusterMemoryTotalBytes', unit: 'Bytes', value: totalBytes },
      { name: 'ClusterMemoryReservedBytes', unit: 'Bytes', value: reservedBytes },
      {
        name: 'ClusterMemoryUtilization',
        unit: 'Percent',
        value: totalBytes > 0 ? round2((reservedBytes / totalBytes) * 100) : 0,
      },
    );
  } else {
    metrics.push({ name: 'QueryMemoryReservedBytes', unit: 'Bytes', value: reservedByQueries });
  }

  return metrics;
}

/**
 * Keeps the `maxUsers` users with the most running+queued queries (ties by name) and sums the rest into
 * {@link OTHER_USERS}. Pure.
 */
export function bucketUsers(
  perUser: ReadonlyMap<string, { running: number; queued: number }>,
  maxUsers: number,
): [string, { running: number; queued: number }][] {
  const ranked = [...perUser.entries()].sort(
    ([userA, a], [userB, b]) => b.running + b.queued - (a.running + a.queued) || userA.localeCompare(userB),
  );
  const kept = ranked.slice(0, Math.max(0, maxUsers));
  const rest = ranked.slice(Math.max(0, maxUsers));
  if (rest.length === 0) return kept;
  const other = rest.reduce(
    (acc, [, counts]) => ({ running: acc.running + counts.running, queued: acc.queued + counts.queued }),
    { running: 0, queued: 0 },
  );
  return [...kept, [OTHER_USERS, other]];
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
