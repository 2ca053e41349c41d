import { describe, expect, it } from 'vitest';
import {
  AUTO_SCALING_POLICY_MAX_RUN_MS,
  chooseDrainRequest,
  type DrainPolicy,
  type DrainProgress,
  type DrainSchedule,
  decideDrainStep,
  decideTerminationOrder,
  inputOrder,
  isClusterWorker,
  LIFECYCLE_MAX_WAIT_MS,
  MAX_POLLS_PER_EXECUTION,
  planDrain,
  TERMINATION_ANSWER_MARGIN_MS,
  terminationBudgetMs,
} from '../../functions/worker-drain/decide.ts';

const HOUR = 3_600_000;
const policy = (overrides: Partial<DrainPolicy> = {}): DrainPolicy => ({
  drainTimeoutMs: 6 * HOUR,
  heartbeatTimeoutMs: 600_000,
  pollIntervalMs: 30_000,
  heartbeatMarginMs: 30_000,
  unreachableConfirmations: 2,
  ...overrides,
});
const T0 = Date.parse('2026-11-23T00:00:00Z');
const fresh: DrainProgress = { lastHeartbeatAtMs: T0, heartbeats: 0, consecutiveUnreachable: 0, polls: 0 };

describe('planDrain', () => {
  it('uses the configured 6 h deadline when the hook allows it (heartbeat timeout 10 min → AWS limit 16.7 h)', () => {
    expect(planDrain(T0, policy())).toEqual({
      startedAtMs: T0,
      deadlineAtMs: T0 + 6 * HOUR,
      pollIntervalSeconds: 30,
    });
  });

  it('caps the deadline at 100 × HeartbeatTimeout less one poll (30 s timeout → 50 min)', () => {
    const schedule = planDrain(
      T0,
      policy({ heartbeatTimeoutMs: 30_000, heartbeatMarginMs: 10_000, pollIntervalMs: 5_000 }),
    );
    expect(schedule.deadlineAtMs).toBe(T0 + 100 * 30_000 - 5_000);
    expect(schedule.pollIntervalSeconds).toBe(5);
  });

  it('caps the deadline at 48 h less one poll, and raises the poll so the execution stays under the check budget', () => {
    const schedule = planDrain(
      T0,
      policy({ drainTimeoutMs: 48 * HOUR, heartbeatTimeoutMs: 7_200_000, pollIntervalMs: 10_000 }),
    );
    expect(schedule.pollIntervalSeconds).toBeGreaterThanOrEqual(
      Math.ceil((48 * HOUR) / MAX_POLLS_PER_EXECUTION / 1000) - 1,
    );
    expect(schedule.deadlineAtMs).toBeLessThan(T0 + LIFECYCLE_MAX_WAIT_MS);
    expect((schedule.deadlineAtMs - T0) / (schedule.pollIntervalSeconds * 1000)).toBeLessThanOrEqual(
      MAX_POLLS_PER_EXECUTION,
    );
  });

  it('lowers the poll interval to fit inside the heartbeat timeout less the margin', () => {
    expect(
      planDrain(
        T0,
        policy({ heartbeatTimeoutMs: 60_000, heartbeatMarginMs: 20_000, pollIntervalMs: 120_000 }),
      ).pollIntervalSeconds,
    ).toBe(40);
  });

  it('never plans a poll interval below one second', () => {
    expect(
      planDrain(T0, policy({ pollIntervalMs: 10, heartbeatTimeoutMs: 30_000, heartbeatMarginMs: 29_999 }))
        .pollIntervalSeconds,
    ).toBe(1);
  });
});

describe('decideDrainStep', () => {
  const schedule: DrainSchedule = { startedAtMs: T0, deadlineAtMs: T0 + 6 * HOUR, pollIntervalSeconds: 30 };
  const step = (
    workerState: Parameters<typeof decideDrainStep>[2]['workerState'],
    nowMs: number,
    progress: DrainProgress = fresh,
    instancePresent = true,
    requested: 'DRAINING' | 'SHUTTING_DOWN' = 'DRAINING',
  ) => decideDrainStep(schedule, progress, { workerState, instancePresent }, policy(), requested, nowMs);

  it.each([
    ['DRAINING', false],
    ['SHUTTING_DOWN', false],
    ['INACTIVE', false],
  ] as const)('keeps waiting while the worker reports %s', (state, done) => {
    const result = step(state, T0 + 60_000);
    expect(result.done).toBe(done);
    expect(result.request).toBeUndefined();
    expect(result.waitSeconds).toBe(30);
    expect(result.progress.polls).toBe(1);
  });

  it('ends INSTANCE_GONE before anything else, even past the deadline', () => {
    expect(step('DRAINING', T0 + 7 * HOUR, fresh, false)).toMatchObject({
      done: true,
      outcome: 'INSTANCE_GONE',
      heartbeat: false,
    });
  });

  it('ends WORKER_EXITED after N consecutive refused connections, not after N − 1', () => {
    const first = step('UNREACHABLE', T0 + 60_000);
    expect(first).toMatchObject({ done: false });
    expect(first.progress.consecutiveUnreachable).toBe(1);
    expect(first.waitSeconds).toBe(5);
    const second = step('UNREACHABLE', T0 + 65_000, first.progress);
    expect(second).toMatchObject({ done: true, outcome: 'WORKER_EXITED' });
  });

  it('resets the unreachable count when the worker answers again', () => {
    const first = step('UNREACHABLE', T0 + 60_000);
    expect(step('DRAINING', T0 + 65_000, first.progress).progress.consecutiveUnreachable).toBe(0);
  });

  it('ends WORKER_DRAINED when the worker reports DRAINED, and asks it for SHUTTING_DOWN', () => {
    expect(step('DRAINED', T0 + 60_000)).toMatchObject({
      done: true,
      outcome: 'WORKER_DRAINED',
      request: 'SHUTTING_DOWN',
    });
  });

  it('ends DEADLINE at the deadline with the worker still busy', () => {
    expect(step('DRAINING', T0 + 6 * HOUR)).toMatchObject({ done: true, outcome: 'DEADLINE' });
    expect(step('DRAINING', T0 + 6 * HOUR - 1).done).toBe(false);
  });

  it.each(['DRAINING', 'SHUTTING_DOWN'] as const)(
    're-requests %s when the worker says ACTIVE again',
    (requested) => {
      expect(step('ACTIVE', T0 + 60_000, fresh, true, requested)).toMatchObject({
        done: false,
        request: requested,
      });
    },
  );

  it('never waits past the deadline', () => {
    expect(step('DRAINING', T0 + 6 * HOUR - 7_000).waitSeconds).toBe(7);
  });

  it('heartbeats exactly when the next check plus the margin reaches the heartbeat timeout', () => {
    // timeout 600 s, margin 30 s, poll 30 s: heartbeat when now + 30 s + 30 s >= last + 600 s, i.e. now >= last + 540 s.
    expect(step('DRAINING', T0 + 539_999).heartbeat).toBe(false);
    const due = step('DRAINING', T0 + 540_000);
    expect(due.heartbeat).toBe(true);
    expect(due.progress).toMatchObject({ lastHeartbeatAtMs: T0 + 540_000, heartbeats: 1 });
  });

  it('keeps a 3 h drain alive with a 60 s heartbeat timeout: no gap between heartbeats ever reaches the timeout', () => {
    const tight = policy({ heartbeatTimeoutMs: 60_000, heartbeatMarginMs: 10_000, pollIntervalMs: 20_000 });
    const plan = planDrain(T0, tight);
    let progress = fresh;
    let now = T0;
    let lastBeat = T0;
    let maxGap = 0;
    for (;;) {
      const result = decideDrainStep(
        plan,
        progress,
        { workerState: 'DRAINING', instancePresent: true },
        tight,
        'DRAINING',
        now,
      );
      if (result.heartbeat) {
        maxGap = Math.max(maxGap, now - lastBeat);
        lastBeat = now;
      }
      progress = result.progress;
      if (result.done) {
        expect(result.outcome).toBe('DEADLINE');
        break;
      }
      now += result.waitSeconds * 1000;
      expect(now - lastBeat).toBeLessThan(60_000);
    }
    expect(now - T0).toBeGreaterThanOrEqual(100 * 60_000 - 20_000);
    expect(maxGap).toBeLessThan(60_000);
    expect(progress.heartbeats).toBeGreaterThan(90);
  });
});

describe('chooseDrainRequest', () => {
  it.each([
    ['476', 'trino', true, 'DRAINING'],
    ['468', 'trino', true, 'DRAINING'],
    ['467', 'trino', true, 'SHUTTING_DOWN'],
    ['435', 'trino', true, 'SHUTTING_DOWN'],
    ['476', 'trino', false, 'SHUTTING_DOWN'],
    ['0.289', 'presto', true, 'SHUTTING_DOWN'],
    ['abc', 'trino', true, 'SHUTTING_DOWN'],
  ] as const)('version %s (%s, preferDraining %s) → %s', (version, flavor, prefer, expected) => {
    expect(chooseDrainRequest(version, flavor, prefer)).toBe(expected);
  });
});

describe('decideTerminationOrder', () => {
  const busy = { splits: 40, tasks: 3 };
  it('puts instances the coordinator does not list first, then the fewest splits, then the fewest tasks, else keeps the order', () => {
    expect(
      decideTerminationOrder([
        { instanceId: 'i-busy', load: busy },
        { instanceId: 'i-light', load: { splits: 2, tasks: 5 } },
        { instanceId: 'i-booting', load: 'NOT_A_WORKER' },
        { instanceId: 'i-light-fewer-tasks', load: { splits: 2, tasks: 1 } },
        { instanceId: 'i-idle-a', load: { splits: 0, tasks: 0 } },
        { instanceId: 'i-idle-b', load: { splits: 0, tasks: 0 } },
      ]),
    ).toEqual({
      instanceIds: ['i-booting', 'i-idle-a', 'i-idle-b', 'i-light-fewer-tasks', 'i-light', 'i-busy'],
      basis: 'LOAD',
      unknown: [],
    });
  });

  it.each([
    [
      'every load unknown: exactly the order Auto Scaling offered',
      ['UNKNOWN', 'UNKNOWN', 'UNKNOWN'],
      ['i-0', 'i-1', 'i-2'],
      'AUTO_SCALING_ORDER',
    ],
    [
      'unknowns after the known idle ones, in Auto Scaling order: never guessed idle',
      ['UNKNOWN', 'NOT_A_WORKER', 'UNKNOWN', { splits: 0, tasks: 0 }],
      ['i-1', 'i-3', 'i-0', 'i-2'],
      'PARTIAL',
    ],
    [
      'unknowns before the workers known to be busy',
      [busy, 'UNKNOWN', { splits: 1, tasks: 0 }],
      ['i-1', 'i-2', 'i-0'],
      'PARTIAL',
    ],
    ['one known busy worker alone', [busy], ['i-0'], 'LOAD'],
    ['a tie on splits broken by tasks', [busy, { splits: 40, tasks: 1 }], ['i-1', 'i-0'], 'LOAD'],
  ] as const)('%s', (_, loads, expected, basis) => {
    const order = decideTerminationOrder(loads.map((load, i) => ({ instanceId: `i-${i}`, load })));
    expect(order.instanceIds).toEqual(expected);
    expect(order.basis).toBe(basis);
    expect(order.unknown).toEqual(loads.flatMap((load, i) => (load === 'UNKNOWN' ? [`i-${i}`] : [])));
  });

  it('answers nothing for no candidates, in Auto Scaling order', () => {
    expect(decideTerminationOrder([])).toEqual({ instanceIds: [], basis: 'AUTO_SCALING_ORDER', unknown: [] });
  });
});

describe("terminationBudgetMs (the termination policy's own deadline)", () => {
  it.each([
    ["a 10-s Lambda: Auto Scaling's 2 s binds", 10_000, 1_750],
    ['a 2-s Lambda: the handler stop margin binds', 2_000, 750],
    ["a 3-s Lambda (Lambda's default timeout)", 3_000, 1_750],
    ['almost no time left', 1_100, 0],
    ['past the stop margin already', 500, 0],
  ])('%s → %d ms', (_, remainingMs, budgetMs) => {
    expect(terminationBudgetMs(remainingMs, 1_000)).toBe(budgetMs);
  });

  it("keeps the answer margin inside Auto Scaling's limit", () => {
    expect(terminationBudgetMs(60_000, 1_000) + TERMINATION_ANSWER_MARGIN_MS).toBe(
      AUTO_SCALING_POLICY_MAX_RUN_MS,
    );
  });
});

describe('inputOrder (what the termination policy answers when it cannot parse the event)', () => {
  it.each([
    ['the ids in order', { Instances: [{ InstanceId: 'i-b' }, { InstanceId: 'i-a' }] }, ['i-b', 'i-a']],
    ['only string ids', { Instances: [{ InstanceId: 7 }, null, 'i-x', { InstanceId: 'i-a' }] }, ['i-a']],
    ['nothing without an Instances array', { Instances: 'i-a' }, []],
    ['nothing for null', null, []],
    ['nothing for a string', 'SCALE_IN', []],
    ['nothing without Instances', {}, []],
  ])('%s', (_, event, ids) => {
    expect(inputOrder(event)).toEqual(ids);
  });
});

describe('isClusterWorker', () => {
  it.each([
    [{ 'trino-sentinel:cluster': 'prod', 'trino-sentinel:role': 'worker' }, true],
    [{ 'trino-sentinel:cluster': 'prod', 'trino-sentinel:role': 'coordinator' }, false],
    [{ 'trino-sentinel:cluster': 'staging', 'trino-sentinel:role': 'worker' }, false],
    [{}, false],
  ])('%o → %s', (tags, expected) => {
    expect(isClusterWorker(tags, 'prod')).toBe(expected);
  });
});
