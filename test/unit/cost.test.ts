import { describe, expect, it } from 'vitest';
import {
  type CostInputs,
  type CostMeasurements,
  DAYS_PER_MONTH,
  type DeploySettings,
  monthlyCost,
  PLATFORM_LOG_BYTES_PER_INVOCATION,
  usageFromMeasurements,
} from '../../bench/cost.ts';
import { HOURS_PER_MONTH, PRICES } from '../../bench/prices.ts';

const none: CostInputs = {
  functions: [],
  putMetricDataCallsPerMonth: 0,
  customMetrics: [],
  alarms: { standardMetrics: 0, highResolutionMetrics: 0 },
  dashboards: 0,
  stepFunctionsTransitionsPerMonth: 0,
  sqsRequestsPerMonth: 0,
  logRetentionDays: 30,
};
const minutes = 60 * HOURS_PER_MONTH;

describe('monthlyCost: usage × the price table', () => {
  it.each([
    // A 128 MB arm64 function running 50 s every minute: 0.125 GB × 50 s × 43,800 = 273,750 GB-s.
    [
      'probe loop 128 MB arm64, 50 s a minute',
      128,
      'arm64',
      minutes,
      50_000,
      273_750 * 0.0000133334 + minutes * 0.2e-6,
    ],
    ['same on x86_64', 128, 'x86_64', minutes, 50_000, 273_750 * 0.0000166667 + minutes * 0.2e-6],
    [
      '256 MB, 100 ms a minute',
      256,
      'arm64',
      minutes,
      100,
      0.25 * 0.1 * minutes * 0.0000133334 + minutes * 0.2e-6,
    ],
    [
      '1 million 1 ms invocations at 128 MB',
      128,
      'arm64',
      1_000_000,
      0.4,
      0.125 * 0.001 * 1e6 * 0.0000133334 + 0.2,
    ],
  ] as const)('Lambda: %s', (_, memoryMb, architecture, invocationsPerMonth, durationMs, expected) => {
    const bill = monthlyCost({
      ...none,
      functions: [
        { name: 'f', memoryMb, architecture, invocationsPerMonth, durationMs, logBytesPerInvocation: 0 },
      ],
    });
    expect(bill.lambdaUsd).toBe(Math.round(expected * 100) / 100);
    expect(bill.lambdaByFunctionUsd.f).toBeCloseTo(expected, 2);
  });

  it.each([
    // metrics × share of the month's hours with data × $0.30
    [[{ source: 'a', metrics: 10, hoursPerMonth: HOURS_PER_MONTH }], 10, 3],
    [[{ source: 'a', metrics: 3, hoursPerMonth: HOURS_PER_MONTH / 2 }], 1.5, 0.45],
    [[{ source: 'a', metrics: 2, hoursPerMonth: 10 * HOURS_PER_MONTH }], 2, 0.6], // capped at the month
    [
      [
        { source: 'a', metrics: 10, hoursPerMonth: HOURS_PER_MONTH },
        { source: 'b', metrics: 3, hoursPerMonth: 73 },
      ],
      10.3,
      3.09,
    ],
  ])('custom metrics %j → %d metric-months, $%d', (customMetrics, months, usd) => {
    const bill = monthlyCost({ ...none, customMetrics });
    expect(bill.customMetricMonths).toBe(months);
    expect(bill.customMetricsUsd).toBe(usd);
  });

  it.each([
    ['PutMetricData: 43,800 calls', { putMetricDataCallsPerMonth: 43_800 }, 'putMetricDataUsd', 0.44],
    [
      'alarms: 18 standard metrics',
      { alarms: { standardMetrics: 18, highResolutionMetrics: 0 } },
      'alarmsUsd',
      1.8,
    ],
    [
      'alarms: 2 high-resolution metrics',
      { alarms: { standardMetrics: 0, highResolutionMetrics: 2 } },
      'alarmsUsd',
      0.6,
    ],
    ['one dashboard', { dashboards: 1 }, 'dashboardUsd', 3],
    [
      'Step Functions: 18,800 transitions',
      { stepFunctionsTransitionsPerMonth: 18_800 },
      'stepFunctionsUsd',
      0.47,
    ],
    ['SQS: 1.5 million requests', { sqsRequestsPerMonth: 1_500_000 }, 'sqsUsd', 0.6],
  ] as const)('%s', (_, usage, part, usd) => {
    const bill = monthlyCost({ ...none, ...usage });
    expect(bill[part]).toBe(usd);
    expect(bill.perClusterMonthUsd).toBe(usd);
  });

  it.each([
    // 1 GiB of our log lines + the platform lines, ingested ($0.50/GB) and kept 30 days (≈ 1 GB stored × $0.03).
    [1024 ** 3 / 1_000 - PLATFORM_LOG_BYTES_PER_INVOCATION, 1_000, 30, 0.5 + 0.03 * (30 / DAYS_PER_MONTH)],
    [1024 ** 3 / 1_000 - PLATFORM_LOG_BYTES_PER_INVOCATION, 1_000, 7, 0.5 + 0.03 * (7 / DAYS_PER_MONTH)],
  ])(
    'logs: %d B × %d invocations kept %d days',
    (logBytesPerInvocation, invocationsPerMonth, logRetentionDays, usd) => {
      const bill = monthlyCost({
        ...none,
        logRetentionDays,
        functions: [
          {
            name: 'f',
            memoryMb: 128,
            architecture: 'arm64',
            invocationsPerMonth,
            durationMs: 0,
            logBytesPerInvocation,
          },
        ],
      });
      expect(bill.logsGbPerMonth).toBe(1);
      expect(bill.logsUsd).toBe(Math.round(usd * 100) / 100);
    },
  );

  it('the total is the sum of the rounded parts', () => {
    const bill = monthlyCost({
      ...none,
      putMetricDataCallsPerMonth: 43_800,
      dashboards: 1,
      alarms: { standardMetrics: 18, highResolutionMetrics: 0 },
    });
    expect(bill.perClusterMonthUsd).toBe(0.44 + 3 + 1.8);
  });

  it('prices with a given table', () => {
    const doubled = Object.fromEntries(Object.entries(PRICES).map(([k, v]) => [k, v * 2])) as typeof PRICES;
    expect(monthlyCost({ ...none, dashboards: 1 }, doubled).dashboardUsd).toBe(6);
  });
});

describe('usageFromMeasurements: measured runs × workload × deployment', () => {
  const run = (durationMs: number, metrics: number, putMetricDataCalls = 0) => ({
    durationMs,
    logBytes: 1_000,
    putMetricDataCalls,
    metrics,
  });
  const measured: CostMeasurements = {
    clusterMetrics: run(100, 10),
    coordinatorHealth: run(50_000, 1),
    nodeHealth: run(300, 1),
    queryLogIngest: run(30, 1),
    queryLogShip: run(50, 2),
    drainTaskMs: 300,
    drainTransitionsPerCheck: 3,
  };
  const deploy: DeploySettings = {
    architecture: 'arm64',
    memoryMb: {
      clusterMetrics: 256,
      coordinatorHealth: 128,
      nodeHealth: 128,
      queryLogIngest: 256,
      queryLogShip: 512,
    },
    schedulesPerMinute: { clusterMetrics: 1, coordinatorHealth: 1, nodeHealth: 1 },
    shipBatchSize: 500,
    shipBatchWindowSeconds: 5,
    drainPollSeconds: 30,
    alarms: { standardMetrics: 18, highResolutionMetrics: 0 },
    dashboards: 1,
    logRetentionDays: 30,
  };
  const params = {
    queryEventsPerDay: 10_000,
    drainsPerDay: 10,
    drainMinutes: 10,
    sqsIdleReceivesPerMinute: 15,
  };

  it('scheduled functions run every minute of the month', () => {
    const usage = usageFromMeasurements(measured, params, deploy);
    const f = (name: string) => usage.functions.find((fn) => fn.name === name);
    expect(f('coordinatorHealth')).toMatchObject({
      invocationsPerMonth: minutes,
      durationMs: 50_000,
      memoryMb: 128,
    });
    expect(f('clusterMetrics')?.invocationsPerMonth).toBe(minutes);
  });

  it.each([
    // events/day, events per shipper invocation (≥ 1, ≤ batch size: rate × 5 s window), shipper invocations/month
    [10_000, 1, 10_000 * DAYS_PER_MONTH],
    [864_000, 50, (864_000 * DAYS_PER_MONTH) / 50],
    [100_000_000, 500, (100_000_000 * DAYS_PER_MONTH) / 500],
  ])('%d query events a day → %d events a shipper invocation', (queryEventsPerDay, perShip, invocations) => {
    const usage = usageFromMeasurements(measured, { ...params, queryEventsPerDay }, deploy);
    expect(usage.functions.find((fn) => fn.name === 'queryLogIngest')?.invocationsPerMonth).toBeCloseTo(
      queryEventsPerDay * DAYS_PER_MONTH,
    );
    expect(usage.functions.find((fn) => fn.name === 'queryLogShip')?.invocationsPerMonth).toBeCloseTo(
      invocations,
    );
    // SendMessage per event + (Receive + DeleteBatch) per 10 messages of each invocation + idle long polls.
    expect(usage.sqsRequestsPerMonth).toBeCloseTo(
      queryEventsPerDay * DAYS_PER_MONTH + invocations * 2 * Math.ceil(perShip / 10) + 15 * minutes,
    );
  });

  it.each([
    // drains/day, minutes → checks per drain (30 s poll), transitions/month, drain metric hours/month
    [10, 10, 20, 10 * DAYS_PER_MONTH * (2 + 20 * 3), 10 * DAYS_PER_MONTH],
    [0, 10, 20, 0, 0],
    [48, 1, 2, 48 * DAYS_PER_MONTH * (2 + 2 * 3), 24 * DAYS_PER_MONTH],
  ])(
    '%d drains a day of %d min: %d checks each',
    (drainsPerDay, drainMinutes, checks, transitions, hours) => {
      const usage = usageFromMeasurements(measured, { ...params, drainsPerDay, drainMinutes }, deploy);
      expect(usage.stepFunctionsTransitionsPerMonth).toBeCloseTo(transitions);
      expect(usage.functions.find((fn) => fn.name === 'drainTasks')?.invocationsPerMonth).toBeCloseTo(
        drainsPerDay * DAYS_PER_MONTH * (3 + checks),
      );
      expect(usage.customMetrics.find((m) => m.source === 'drain')?.hoursPerMonth).toBeCloseTo(hours);
    },
  );

  it('PutMetricData: scheduled calls every minute, per event, per shipper invocation, one per drain', () => {
    const usage = usageFromMeasurements(
      { ...measured, clusterMetrics: run(100, 10, 1), queryLogShip: run(50, 2, 1) },
      params,
      deploy,
    );
    expect(usage.putMetricDataCallsPerMonth).toBeCloseTo(
      minutes + 10_000 * DAYS_PER_MONTH + 10 * DAYS_PER_MONTH,
    );
  });
});

describe('deploySettings (what the bill reads from serverless.yml and the files it includes)', () => {
  it('reads every function of the registry, the schedules, the alarms and the dashboard of the capabilities', async () => {
    const { deploySettings } = await import('../../bench/cost-bench.ts');
    const { FUNCTIONS } = await import('../../scripts/functions.ts');
    const settings = deploySettings();
    expect(Object.keys(settings.memoryMb).sort()).toEqual(FUNCTIONS.map((f) => f.name).sort());
    expect(settings.memoryMb.coordinatorHealth).toBe(128);
    expect(settings.schedulesPerMinute).toEqual({ clusterMetrics: 1, coordinatorHealth: 1, nodeHealth: 1 });
    expect(settings.shipBatchSize).toBeGreaterThan(0);
    expect(settings.alarms.standardMetrics).toBeGreaterThan(0);
    expect(settings.dashboards).toBe(1);
    // Importing the bench and the registry transforms many modules: seconds on a loaded 2-core machine.
  }, 30_000);
});
