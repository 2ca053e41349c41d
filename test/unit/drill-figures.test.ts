/**
 * The figures the drills and the bench print (harness/drills/figures.ts): each formula on tables of times, so a
 * drill's `drainSeconds`-style number means what its name says before a real Trino ever runs.
 */
import { describe, expect, it } from 'vitest';
import {
  drainTimeFigures,
  drainTransitionFigures,
  failoverBenchSummary,
  failoverFigures,
  failoverTailSummary,
  median,
  percentile,
  queryLogFigures,
  schedulePhaseMs,
  tailFigure,
  waitForPhaseMs,
} from '../../harness/drills/figures.ts';

describe('median', () => {
  it.each([
    [[], null],
    [[7], 7],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[10, 10, 10, 500, 1], 10],
  ])('of %j is %s', (values, expected) => {
    expect(median(values)).toBe(expected);
  });
});

describe('percentile (nearest rank)', () => {
  it.each([
    [[], 99, null],
    [[5, 6], 0, null],
    [[5], 99, 5],
    [[10, 20, 30, 40], 50, 20],
    [[10, 20, 30, 40], 75, 30],
    [[10, 20, 30, 40], 99, 40],
    [Array.from({ length: 100 }, (_, i) => 100 - i), 99, 99],
    [Array.from({ length: 100 }, (_, i) => i + 1), 50, 50],
  ])('of %j at p%s is %s', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });
});

const heartbeat = (atMs: number) => ({ command: 'RecordLifecycleActionHeartbeat', atMs });
const complete = (atMs: number) => ({ command: 'CompleteLifecycleAction', atMs });

describe('drainTimeFigures (scale-in drill)', () => {
  it.each([
    [
      'drained at 40 s, completed at 45 s, one heartbeat at 20 s',
      { lifecycleStartMs: 0, drainedAtMs: 40_000, lifecycleCalls: [heartbeat(20_000), complete(45_000)] },
      { lastTaskToCompleteMs: 5_000, maxHeartbeatGapSeconds: 25 },
    ],
    [
      'heartbeats every 10 s then a late completion',
      {
        lifecycleStartMs: 1_000,
        drainedAtMs: 30_500,
        lifecycleCalls: [heartbeat(11_000), heartbeat(21_000), heartbeat(31_000), complete(33_500)],
      },
      { lastTaskToCompleteMs: 3_000, maxHeartbeatGapSeconds: 10 },
    ],
    [
      'the worker was never seen drained',
      { lifecycleStartMs: 0, drainedAtMs: null, lifecycleCalls: [complete(12_000)] },
      { lastTaskToCompleteMs: null, maxHeartbeatGapSeconds: 12 },
    ],
    [
      'no completion recorded (the action was lost)',
      { lifecycleStartMs: 0, drainedAtMs: 9_000, lifecycleCalls: [heartbeat(4_000)] },
      { lastTaskToCompleteMs: null, maxHeartbeatGapSeconds: 4 },
    ],
    [
      'no lifecycle call at all',
      { lifecycleStartMs: 0, drainedAtMs: null, lifecycleCalls: [] },
      {
        lastTaskToCompleteMs: null,
        maxHeartbeatGapSeconds: 0,
      },
    ],
  ])('%s', (_, times, expected) => {
    expect(drainTimeFigures(times)).toEqual(expected);
  });
});

describe('drainTransitionFigures (bench)', () => {
  it.each([
    // BeginDrain + 3 × (WaitForDrain, CheckDrain, IsDrainDone) + CompleteLifecycleAction
    [11, 5, { transitionsPerCheck: 3, stateTransitionsPerDrainedWorkerHour: 360, goalMs: 10_000 }],
    [5, 5, { transitionsPerCheck: 3, stateTransitionsPerDrainedWorkerHour: 360, goalMs: 10_000 }],
    // Fewer than one full check (drained at once): what was entered, per the one check
    [4, 30, { transitionsPerCheck: 2, stateTransitionsPerDrainedWorkerHour: 240, goalMs: 35_000 }],
  ])('%s states entered at a %s s poll', (transitions, poll, expected) => {
    expect(drainTransitionFigures(transitions, poll)).toEqual(expected);
  });
});

describe('failoverFigures (failover drill)', () => {
  const detection = { failuresToConfirm: 3, probeIntervalMs: 1_000 };
  it.each([
    [
      'served 4 s after a failure confirmed 0.5 s after the kill',
      { killedAtMs: 100_000, detectedAtMs: 103_200 },
      { failureAtMs: 100_500, servingAfterMs: 4_000, workersBackAfterMs: 9_000, timeline: [] },
      {
        detectedAfterMs: 3_200,
        servingAfterMs: 4_500,
        workersBackAfterMs: 9_500,
        controlPlaneOverheadMs: 1_500,
        detectionWindowMs: 3_000,
        timeline: [],
      },
    ],
    [
      'never served (no standby): no serving time, no overhead',
      { killedAtMs: 0, detectedAtMs: 3_100 },
      { failureAtMs: 0, timeline: [{ atMs: 3_100, event: 'PlanFailover' }] },
      {
        detectedAfterMs: 3_100,
        servingAfterMs: null,
        workersBackAfterMs: null,
        controlPlaneOverheadMs: null,
        detectionWindowMs: 3_000,
        timeline: [{ afterMs: 3_100, event: 'PlanFailover' }],
      },
    ],
  ])('%s', (_, times, report, expected) => {
    expect(failoverFigures(times, report, detection)).toEqual(expected);
  });

  it('re-bases every timeline event on the kill', () => {
    const figures = failoverFigures(
      { killedAtMs: 50, detectedAtMs: 60 },
      {
        failureAtMs: 55,
        timeline: [
          { atMs: 70, event: 'AttachEni' },
          { atMs: 90, event: 'CheckServing' },
        ],
      },
      { failuresToConfirm: 2, probeIntervalMs: 500 },
    );
    expect(figures.timeline).toEqual([
      { afterMs: 20, event: 'AttachEni' },
      { afterMs: 40, event: 'CheckServing' },
    ]);
    expect(figures.detectionWindowMs).toBe(1_000);
  });
});

describe('failoverBenchSummary', () => {
  it.each([
    [
      'five drills, one that never served',
      [
        {
          controlPlaneOverheadMs: 1_000,
          servingAfterMs: 4_000,
          workersBackAfterMs: 8_000,
          falseFailovers: 0,
        },
        {
          controlPlaneOverheadMs: 1_400,
          servingAfterMs: 4_400,
          workersBackAfterMs: 9_000,
          falseFailovers: 0,
        },
        { controlPlaneOverheadMs: null, servingAfterMs: null, workersBackAfterMs: null, falseFailovers: 1 },
        {
          controlPlaneOverheadMs: 1_200,
          servingAfterMs: 4_200,
          workersBackAfterMs: 7_000,
          falseFailovers: 0,
        },
        { controlPlaneOverheadMs: 900, servingAfterMs: 3_900, workersBackAfterMs: null, falseFailovers: 0 },
      ],
      {
        medianOverheadMs: 1_100,
        medianServingAfterMs: 4_100,
        medianWorkersBackAfterMs: 8_000,
        falseFailovers: 1,
      },
    ],
    [
      'no drill',
      [],
      {
        medianOverheadMs: null,
        medianServingAfterMs: null,
        medianWorkersBackAfterMs: null,
        falseFailovers: 0,
      },
    ],
  ])('%s', (_, results, expected) => {
    expect(failoverBenchSummary(results)).toEqual(expected);
  });
});

describe('queryLogFigures (query-log drill)', () => {
  it.each([
    [
      'all 4 found',
      4,
      [120, 80, 300, 95],
      { queriesRun: 4, documentsFound: 4, missing: 0, lagP99Ms: 300, lagMedianMs: 95 },
    ],
    [
      '2 of 5 missing',
      5,
      [200, 100, 150],
      { queriesRun: 5, documentsFound: 3, missing: 2, lagP99Ms: 200, lagMedianMs: 150 },
    ],
    [
      'nothing found',
      3,
      [],
      { queriesRun: 3, documentsFound: 0, missing: 3, lagP99Ms: null, lagMedianMs: null },
    ],
  ])('%s', (_, queriesRun, lags, expected) => {
    expect(queryLogFigures(queriesRun, lags)).toEqual(expected);
  });
});

describe('tailFigure', () => {
  it.each([
    [[], { p50: null, p90: null, max: null, measured: 0, missing: 0 }],
    [[null, null], { p50: null, p90: null, max: null, measured: 0, missing: 2 }],
    [[10, 20, null, 40], { p50: 20, p90: 40, max: 40, measured: 3, missing: 1 }],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { p50: 5, p90: 9, max: 10, measured: 10, missing: 0 }],
  ])('of %j', (values, expected) => {
    expect(tailFigure(values)).toEqual(expected);
  });
});

describe('failoverTailSummary', () => {
  const run = {
    outcome: 'FAILED_OVER',
    falseFailovers: 0,
    enisAttached: 1,
    detectedAfterMs: 14_000,
    servingAfterMs: 18_000,
    workersBackAfterMs: 25_000,
    eniAttachedAfterMs: 17_000,
    replacementReadyAfterMs: 90_000,
  };

  it('gives each figure from the hang, workers back also from the ENI attach, and the counts', () => {
    const summary = failoverTailSummary([
      run,
      {
        ...run,
        detectedAfterMs: 19_000,
        servingAfterMs: 23_000,
        workersBackAfterMs: 27_000,
        eniAttachedAfterMs: 22_000,
      },
      { ...run, outcome: 'DEGRADED', falseFailovers: 1, enisAttached: 2, workersBackAfterMs: null },
    ]);
    expect(summary).toMatchObject({ failedOver: 2, falseFailovers: 1, eniMovesPerRun: [1, 1, 2] });
    expect(summary.summary.detectedAfterMs).toEqual({
      p50: 14_000,
      p90: 19_000,
      max: 19_000,
      measured: 3,
      missing: 0,
    });
    expect(summary.summary.servingAfterMs).toMatchObject({ p50: 18_000, max: 23_000 });
    expect(summary.summary.workersBackAfterMs).toEqual({
      p50: 25_000,
      p90: 27_000,
      max: 27_000,
      measured: 2,
      missing: 1,
    });
    expect(summary.summary.workersBackAfterMoveMs).toEqual({
      p50: 5_000,
      p90: 8_000,
      max: 8_000,
      measured: 2,
      missing: 1,
    });
    expect(summary.summary.replacementReadyAfterMs).toMatchObject({ p50: 90_000, measured: 3 });
  });

  it('leaves a run out of workersBackAfterMoveMs when the ENI move was not seen', () => {
    const summary = failoverTailSummary([{ ...run, eniAttachedAfterMs: null }]);
    expect(summary.summary.workersBackAfterMoveMs).toMatchObject({ p50: null, missing: 1 });
  });
});

describe('schedulePhaseMs and waitForPhaseMs', () => {
  it.each([
    [125_000, 60_000, 5_000],
    [60_000, 60_000, 0],
    [59_000, 60_000, 59_000],
    [0, 90_000, 30_000],
  ])('%i ms is %i ms into its minute (scheduled at %i)', (atMs, scheduledAtMs, expected) => {
    expect(schedulePhaseMs(atMs, scheduledAtMs, 60_000)).toBe(expected);
  });

  it.each([
    [125_000, 2_000, 57_000],
    [125_000, 5_000, 0],
    [125_000, 59_999, 54_999],
  ])('from %i ms, waits until phase %i ms: %i ms', (nowMs, target, expected) => {
    const wait = waitForPhaseMs(nowMs, 60_000, 60_000, target);
    expect(wait).toBe(expected);
    expect(schedulePhaseMs(nowMs + wait, 60_000, 60_000)).toBe(target);
  });
});
