import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  bucketUsers,
  type ClusterObservation,
  computeClusterMetrics,
  OTHER_USERS,
  STANDARD_METRICS,
  selectMetricSet,
} from '../../functions/cluster-metrics/decide.ts';
import { memoryFromMBean } from '../../functions/cluster-metrics/handler.ts';
import type { BasicQueryInfo, NodeStatus, QueryState } from '../../lib/trino/schemas.ts';
import { BasicQueryInfoListSchema, MBeanSchema, NodeStatusSchema } from '../../lib/trino/schemas.ts';

const NOW = Date.parse('2026-11-23T04:00:00.000Z');
const policy = { windowMs: 60_000, maxUsers: 2 };

function query(
  state: QueryState,
  overrides: {
    user?: string;
    endTime?: string;
    fullyBlocked?: boolean;
    runningDrivers?: number;
    memory?: string;
  } = {},
): BasicQueryInfo {
  return {
    queryId: `q-${Math.random()}`,
    session: { user: overrides.user ?? 'alice' },
    state,
    query: 'SELECT 1',
    queryStats: {
      createTime: '2026-11-23T03:59:00.000Z',
      ...(overrides.endTime === undefined ? {} : { endTime: overrides.endTime }),
      ...(overrides.fullyBlocked === undefined ? {} : { fullyBlocked: overrides.fullyBlocked }),
      runningDrivers: overrides.runningDrivers ?? 0,
      totalMemoryReservation: overrides.memory ?? '0B',
    },
  };
}

function status(overrides: Partial<NodeStatus> = {}): NodeStatus {
  return {
    nodeId: 'w',
    nodeVersion: { version: '476' },
    environment: 'test',
    coordinator: false,
    processCpuLoad: 0.5,
    systemCpuLoad: 0.5,
    heapUsed: 100,
    heapAvailable: 1000,
    ...overrides,
  };
}

const byName = (metrics: ReturnType<typeof computeClusterMetrics>) =>
  Object.fromEntries(metrics.filter((m) => m.dimensions === undefined).map((m) => [m.name, m.value]));

describe('computeClusterMetrics', () => {
  it('publishes only CoordinatorReachable = 0 when the coordinator is unreachable', () => {
    expect(
      computeClusterMetrics({ coordinatorReachable: false, queries: [query('RUNNING')] }, policy, NOW),
    ).toEqual([{ name: 'CoordinatorReachable', unit: 'Count', value: 0 }]);
  });

  it.each([
    ['WAITING_FOR_PREREQUISITES', 'QueuedQueries'],
    ['QUEUED', 'QueuedQueries'],
    ['WAITING_FOR_RESOURCES', 'QueuedQueries'],
    ['DISPATCHING', 'QueuedQueries'],
    ['PLANNING', 'RunningQueries'],
    ['STARTING', 'RunningQueries'],
    ['RUNNING', 'RunningQueries'],
    ['FINISHING', 'RunningQueries'],
  ] as const)('counts a %s query in %s', (state, metric) => {
    const metrics = byName(
      computeClusterMetrics({ coordinatorReachable: true, queries: [query(state)] }, policy, NOW),
    );
    expect(metrics[metric]).toBe(1);
    expect(metrics[metric === 'QueuedQueries' ? 'RunningQueries' : 'QueuedQueries']).toBe(0);
  });

  it.each([
    ['inside the window', '2026-11-23T03:59:30.000Z', 1],
    ['exactly at now (inclusive)', '2026-11-23T04:00:00.000Z', 1],
    ['exactly at the window start (exclusive)', '2026-11-23T03:59:00.000Z', 0],
    ['before the window', '2026-11-23T03:58:00.000Z', 0],
    ['in the future', '2026-11-23T04:00:01.000Z', 0],
  ])('counts a query that ended %s as finished %i time(s)', (_, endTime, expected) => {
    const observation: ClusterObservation = {
      coordinatorReachable: true,
      queries: [query('FINISHED', { endTime }), query('FAILED', { endTime })],
    };
    const metrics = byName(computeClusterMetrics(observation, policy, NOW));
    expect(metrics.QueriesFinished).toBe(expected);
    expect(metrics.QueriesFailed).toBe(expected);
  });

  it('ignores a finished query without an end time', () => {
    expect(
      byName(computeClusterMetrics({ coordinatorReachable: true, queries: [query('FINISHED')] }, policy, NOW))
        .QueriesFinished,
    ).toBe(0);
  });

  it('counts fully blocked running queries, sums running drivers and their memory when the memory pool is unknown', () => {
    const metrics = byName(
      computeClusterMetrics(
        {
          coordinatorReachable: true,
          queries: [
            query('RUNNING', { fullyBlocked: true, runningDrivers: 4, memory: '1kB' }),
            query('RUNNING', { fullyBlocked: false, runningDrivers: 6, memory: '1MB' }),
            query('QUEUED', { fullyBlocked: true }),
          ],
        },
        policy,
        NOW,
      ),
    );
    expect(metrics).toMatchObject({
      BlockedQueries: 1,
      RunningDrivers: 10,
      QueryMemoryReservedBytes: 1024 + 1024 * 1024,
    });
    expect(metrics.ClusterMemoryTotalBytes).toBeUndefined();
  });

  it('treats missing or unparseable driver and memory fields of a running query as zero', () => {
    const bare: BasicQueryInfo = {
      queryId: 'q-bare',
      session: { user: 'alice' },
      state: 'RUNNING',
      query: 'SELECT 1',
      queryStats: { createTime: '2026-11-23T03:59:00.000Z' },
    };
    const garbage = query('RUNNING', { memory: 'lots' });
    const metrics = byName(
      computeClusterMetrics({ coordinatorReachable: true, queries: [bare, garbage] }, policy, NOW),
    );
    expect(metrics).toMatchObject({ RunningQueries: 2, RunningDrivers: 0, QueryMemoryReservedBytes: 0 });
  });

  it('publishes memory from the pool, with utilisation, instead of the per-query sum', () => {
    const metrics = byName(
      computeClusterMetrics(
        { coordinatorReachable: true, queries: [], memory: { totalBytes: 4000, reservedBytes: 1000 } },
        policy,
        NOW,
      ),
    );
    expect(metrics).toMatchObject({
      ClusterMemoryTotalBytes: 4000,
      ClusterMemoryReservedBytes: 1000,
      ClusterMemoryUtilization: 25,
    });
    expect(metrics.QueryMemoryReservedBytes).toBeUndefined();
  });

  it('reports 0 % memory utilisation for an empty pool rather than dividing by zero', () => {
    expect(
      byName(
        computeClusterMetrics(
          { coordinatorReachable: true, queries: [], memory: { totalBytes: 0, reservedBytes: 0 } },
          policy,
          NOW,
        ),
      ).ClusterMemoryUtilization,
    ).toBe(0);
  });

  it('counts answering workers, unreachable workers, CPU mean and max, heap max; ignores the coordinator and unknown CPU', () => {
    const metrics = byName(
      computeClusterMetrics(
        {
          coordinatorReachable: true,
          queries: [],
          workers: [
            { uri: 'a', status: status({ systemCpuLoad: 0.2, heapUsed: 500, heapAvailable: 1000 }) },
            { uri: 'b', status: status({ systemCpuLoad: 0.6 }) },
            { uri: 'c', status: status({ systemCpuLoad: -1, heapAvailable: 0 }) },
            { uri: 'd' },
            { uri: 'coordinator', status: status({ coordinator: true, systemCpuLoad: 1 }) },
          ],
        },
        policy,
        NOW,
      ),
    );
    expect(metrics).toMatchObject({
      ActiveWorkers: 3,
      UnreachableWorkers: 1,
      WorkerCpuUtilization: 40,
      WorkerCpuUtilizationMax: 60,
      WorkerHeapUtilizationMax: 50,
    });
  });

  it('omits CPU and heap metrics when no worker reports them, and all worker metrics when workers were not read', () => {
    const none = byName(
      computeClusterMetrics(
        { coordinatorReachable: true, queries: [], workers: [{ uri: 'd' }] },
        policy,
        NOW,
      ),
    );
    expect(none).toMatchObject({ ActiveWorkers: 0, UnreachableWorkers: 1 });
    expect(none.WorkerCpuUtilization).toBeUndefined();
    expect(none.WorkerHeapUtilizationMax).toBeUndefined();
    expect(
      byName(computeClusterMetrics({ coordinatorReachable: true, queries: [] }, policy, NOW)).ActiveWorkers,
    ).toBeUndefined();
  });

  it('publishes per-user running and queued counts for the top users and sums the rest as (other)', () => {
    const metrics = computeClusterMetrics(
      {
        coordinatorReachable: true,
        queries: [
          query('RUNNING', { user: 'alice' }),
          query('QUEUED', { user: 'alice' }),
          query('RUNNING', { user: 'bob' }),
          query('RUNNING', { user: 'carol' }),
          query('QUEUED', { user: 'dave' }),
          query('FINISHED', { user: 'erin', endTime: '2026-11-23T03:59:30.000Z' }),
        ],
      },
      policy,
      NOW,
    );
    const perUser = metrics
      .filter((m) => m.dimensions !== undefined)
      .map((m) => [m.name, m.dimensions?.User, m.value]);
    expect(perUser).toEqual([
      ['RunningQueries', 'alice', 1],
      ['QueuedQueries', 'alice', 1],
      ['RunningQueries', 'bob', 1],
      ['QueuedQueries', 'bob', 0],
      ['RunningQueries', OTHER_USERS, 1],
      ['QueuedQueries', OTHER_USERS, 1],
    ]);
  });
});

describe('per-user metrics off (maxUsers 0, the default) and the metric set', () => {
  const observation: ClusterObservation = {
    coordinatorReachable: true,
    queries: [query('RUNNING', { user: 'alice' }), query('QUEUED', { user: 'bob' })],
    workers: [
      {
        uri: 'http://w1:8080',
        status: status({ systemCpuLoad: 0.5, heapUsed: 1, heapAvailable: 4 }),
      },
    ],
    memory: { totalBytes: 100, reservedBytes: 25 },
  };

  it.each([
    [0, 0],
    [1, 4],
    [10, 4],
  ])('maxUsers %i → %i metrics with a User dimension', (maxUsers, count) => {
    const metrics = computeClusterMetrics(observation, { windowMs: 60_000, maxUsers }, NOW);
    expect(metrics.filter((m) => m.dimensions?.User !== undefined)).toHaveLength(count);
    // The cluster totals never depend on it.
    expect(metrics.find((m) => m.name === 'RunningQueries' && m.dimensions === undefined)?.value).toBe(1);
    expect(metrics.find((m) => m.name === 'QueuedQueries' && m.dimensions === undefined)?.value).toBe(1);
  });

  it.each([
    [
      'standard',
      [
        'QueriesFinished',
        'RunningDrivers',
        'WorkerCpuUtilizationMax',
        'ClusterMemoryTotalBytes',
        'ClusterMemoryReservedBytes',
      ],
    ],
    ['full', []],
  ] as const)(
    'METRICS_SET=%s keeps out of CloudWatch only %j (they stay log values)',
    (set, logOnlyNames) => {
      const metrics = computeClusterMetrics(observation, { windowMs: 60_000, maxUsers: 1 }, NOW);
      const { published, logOnly } = selectMetricSet(metrics, set);
      expect(Object.keys(logOnly).sort()).toEqual([...logOnlyNames].sort());
      expect(published.length + Object.keys(logOnly).length).toBe(metrics.length);
      // Per-user metrics are never dropped by the set (maxUsers governs them).
      expect(published.filter((m) => m.dimensions !== undefined)).toHaveLength(4);
      for (const metric of published.filter((m) => m.dimensions === undefined)) {
        if (set === 'standard') expect(STANDARD_METRICS.has(metric.name)).toBe(true);
      }
    },
  );

  it('the standard set holds every cluster metric the scaling policies, alarms and dashboard read', () => {
    // What infra/ and serverless/ read: `MetricName: X` (scaling policies, alarms) and the dashboard's metric
    // arrays (`["${Namespace}","X",…]` / `[".","X",…]`).
    const files = [
      'infra/trino-cluster.yaml',
      'serverless/metrics.yml',
      'serverless/dashboard.yml',
      'serverless/failover.yml',
      'serverless/drain.yml',
      'serverless/node-health.yml',
      'serverless/query-logs.yml',
    ];
    const read = new Set<string>();
    for (const file of files) {
      const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
      for (const match of text.matchAll(/MetricName:\s*(\w+)/g)) if (match[1]) read.add(match[1]);
      for (const match of text.matchAll(/\[\s*"(?:\$\{Namespace\}|\.)"\s*,\s*"(\w+)"/g))
        if (match[1]) read.add(match[1]);
    }
    // The names this function can publish: everything a rich observation yields under METRICS_SET=full.
    const clusterMetricNames = new Set(
      computeClusterMetrics(observation, { windowMs: 60_000, maxUsers: 1 }, NOW).map((m) => m.name),
    );
    const readClusterMetrics = [...read].filter((name) => clusterMetricNames.has(name)).sort();
    expect(readClusterMetrics).toContain('QueuedQueries');
    expect(readClusterMetrics).toContain('ClusterMemoryUtilization');
    expect(readClusterMetrics.filter((name) => !STANDARD_METRICS.has(name))).toEqual([]);
  });
});

describe('bucketUsers', () => {
  it('keeps everyone when there are no more users than the limit', () => {
    expect(bucketUsers(new Map([['a', { running: 1, queued: 0 }]]), 3)).toEqual([
      ['a', { running: 1, queued: 0 }],
    ]);
  });

  it('puts everyone in (other) when the limit is 0', () => {
    expect(
      bucketUsers(
        new Map([
          ['a', { running: 1, queued: 0 }],
          ['b', { running: 0, queued: 2 }],
        ]),
        0,
      ),
    ).toEqual([[OTHER_USERS, { running: 1, queued: 2 }]]);
  });
});

describe('recorded Trino responses parse with our schemas', () => {
  it.each(['435', '476'])('Trino %s: /v1/query, /v1/status and the ClusterMemoryManager MBean', (version) => {
    const read = (name: string): unknown =>
      JSON.parse(readFileSync(`test/fixtures/trino-${version}/${name}`, 'utf8'));
    const queries = BasicQueryInfoListSchema.parse(read('v1-query.json'));
    expect(queries.length).toBeGreaterThan(0);
    expect(NodeStatusSchema.parse(read('worker-v1-status.json')).coordinator).toBe(false);
    const memory = memoryFromMBean(MBeanSchema.parse(read('jmx-ClusterMemoryManager.json')));
    expect(memory?.totalBytes).toBeGreaterThan(0);
    expect(memory?.reservedBytes).toBeGreaterThanOrEqual(0);
  });
});
