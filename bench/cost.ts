/**
 * The control plane's own AWS bill per cluster-month: pure arithmetic from what the bench measured
 * (bench/cost-bench.ts), the deployment's settings (serverless.yml) and a few workload parameters, priced with the
 * one table in bench/prices.ts. docs/cost.md explains every line. Unit-tested in test/unit/cost.test.ts.
 *
 * @module
 */
import { HOURS_PER_MONTH, PRICES, type PriceTable } from './prices.ts';

/** Days in the billing month ({@link HOURS_PER_MONTH} / 24). */
export const DAYS_PER_MONTH = HOURS_PER_MONTH / 24;
/**
 * Bytes Lambda itself writes to a function's log group per invocation (`START`, `END`, `REPORT` lines, ≈ 350 B).
 * Source: the Lambda runtime's log format (AWS Lambda Developer Guide, "Lambda function logs").
 */
export const PLATFORM_LOG_BYTES_PER_INVOCATION = 350;

/** One function's usage in a month. */
export interface FunctionUsage {
  readonly name: string;
  readonly memoryMb: number;
  readonly architecture: 'arm64' | 'x86_64';
  readonly invocationsPerMonth: number;
  /** Billed duration of one invocation, ms (Lambda rounds up to 1 ms). */
  readonly durationMs: number;
  /** Bytes the function writes to its log per invocation (our lines and EMF lines), platform lines excluded. */
  readonly logBytesPerInvocation: number;
}

/** Custom metrics of one source and how many hours a month they receive data (CloudWatch prorates by hour). */
export interface MetricStreams {
  readonly source: string;
  readonly metrics: number;
  readonly hoursPerMonth: number;
}

/** Everything that is billed, per month. */
export interface CostInputs {
  readonly functions: readonly FunctionUsage[];
  readonly putMetricDataCallsPerMonth: number;
  readonly customMetrics: readonly MetricStreams[];
  /** Metrics in alarms (a metric-math alarm counts each metric it reads). */
  readonly alarms: { readonly standardMetrics: number; readonly highResolutionMetrics: number };
  readonly dashboards: number;
  readonly stepFunctionsTransitionsPerMonth: number;
  readonly sqsRequestsPerMonth: number;
  /** Log groups' retention, days (stored bytes at steady state = monthly ingestion × retention / month). */
  readonly logRetentionDays: number;
}

/** The bill, US dollars a month, rounded to cents (`perClusterMonthUsd` is the sum of the rounded parts). */
export interface CostBreakdown {
  readonly perClusterMonthUsd: number;
  readonly lambdaUsd: number;
  readonly stepFunctionsUsd: number;
  readonly putMetricDataUsd: number;
  readonly customMetricsUsd: number;
  readonly alarmsUsd: number;
  readonly logsUsd: number;
  readonly sqsUsd: number;
  readonly dashboardUsd: number;
  /** Lambda dollars per function, unrounded to 0.001. */
  readonly lambdaByFunctionUsd: Readonly<Record<string, number>>;
  /** Custom metrics billed in a month (metric-months). */
  readonly customMetricMonths: number;
  readonly logsGbPerMonth: number;
}

const cents = (usd: number) => Math.round(usd * 100) / 100;

/**
 * Prices a month of usage. Pure.
 * @param inputs - Usage; see {@link CostInputs}.
 * @param prices - Price table (default bench/prices.ts).
 */
export function monthlyCost(inputs: CostInputs, prices: PriceTable = PRICES): CostBreakdown {
  const lambdaByFunctionUsd: Record<string, number> = {};
  let lambda = 0;
  let logBytes = 0;
  for (const f of inputs.functions) {
    const gbSecondPrice =
      f.architecture === 'arm64' ? prices.lambdaArm64GbSecondUsd : prices.lambdaX86GbSecondUsd;
    const gbSeconds = (f.memoryMb / 1024) * (Math.ceil(f.durationMs) / 1000) * f.invocationsPerMonth;
    const usd = f.invocationsPerMonth * prices.lambdaRequestUsd + gbSeconds * gbSecondPrice;
    lambdaByFunctionUsd[f.name] = Math.round(usd * 1000) / 1000;
    lambda += usd;
    logBytes += f.invocationsPerMonth * (f.logBytesPerInvocation + PLATFORM_LOG_BYTES_PER_INVOCATION);
  }
  const logsGb = logBytes / 1024 ** 3;
  const storedGb = logsGb * (inputs.logRetentionDays / DAYS_PER_MONTH);
  const customMetricMonths = inputs.customMetrics.reduce(
    (sum, m) => sum + m.metrics * Math.min(1, m.hoursPerMonth / HOURS_PER_MONTH),
    0,
  );
  const parts = {
    lambdaUsd: cents(lambda),
    stepFunctionsUsd: cents(inputs.stepFunctionsTransitionsPerMonth * prices.stepFunctionsTransitionUsd),
    putMetricDataUsd: cents(inputs.putMetricDataCallsPerMonth * prices.cloudWatchRequestUsd),
    customMetricsUsd: cents(customMetricMonths * prices.customMetricMonthUsd),
    alarmsUsd: cents(
      inputs.alarms.standardMetrics * prices.alarmStandardMetricMonthUsd +
        inputs.alarms.highResolutionMetrics * prices.alarmHighResolutionMetricMonthUsd,
    ),
    logsUsd: cents(logsGb * prices.logsIngestionGbUsd + storedGb * prices.logsStorageGbMonthUsd),
    sqsUsd: cents(inputs.sqsRequestsPerMonth * prices.sqsRequestUsd),
    dashboardUsd: cents(inputs.dashboards * prices.dashboardMonthUsd),
  };
  return {
    perClusterMonthUsd: cents(Object.values(parts).reduce((a, b) => a + b, 0)),
    ...parts,
    lambdaByFunctionUsd,
    customMetricMonths: Math.round(customMetricMonths * 100) / 100,
    logsGbPerMonth: Math.round(logsGb * 1000) / 1000,
  };
}

/** One measured function run: duration, what it logged, what it published. */
export interface MeasuredRun {
  readonly durationMs: number;
  readonly logBytes: number;
  readonly putMetricDataCalls: number;
  /** Custom metrics (distinct name + dimension values) the run published. */
  readonly metrics: number;
}

/** What the bench measured at the deployed defaults (bench/cost-bench.ts). */
export interface CostMeasurements {
  /** One metrics cycle (20 workers). */
  readonly clusterMetrics: MeasuredRun;
  /** One probe-loop invocation. */
  readonly coordinatorHealth: MeasuredRun;
  /** One node-health round (20 workers). */
  readonly nodeHealth: MeasuredRun;
  /** One query event through the ingest function. */
  readonly queryLogIngest: MeasuredRun;
  /** One shipper invocation. */
  readonly queryLogShip: MeasuredRun;
  /** One drain task invocation (beginDrain / checkDrain / completeDrain / startDrain), ms. */
  readonly drainTaskMs: number;
  /** Step Functions transitions one drain check costs (WaitForDrain, CheckDrain, IsDrainDone). */
  readonly drainTransitionsPerCheck: number;
}

/** Workload parameters (docs/cost.md, "Parameters"). */
export interface WorkloadParameters {
  readonly queryEventsPerDay: number;
  readonly drainsPerDay: number;
  /** How long one drain lasts, minutes (Trino's grace period twice plus the longest running query). */
  readonly drainMinutes: number;
  /** SQS ReceiveMessage requests a minute of the shipper's event source mapping when idle (long polls). */
  readonly sqsIdleReceivesPerMinute: number;
}

/** Deployment settings read from serverless.yml. */
export interface DeploySettings {
  readonly architecture: 'arm64' | 'x86_64';
  readonly memoryMb: Readonly<Record<string, number>>;
  readonly schedulesPerMinute: Readonly<Record<string, number>>;
  readonly shipBatchSize: number;
  readonly shipBatchWindowSeconds: number;
  readonly drainPollSeconds: number;
  readonly alarms: { readonly standardMetrics: number; readonly highResolutionMetrics: number };
  readonly dashboards: number;
  readonly logRetentionDays: number;
}

/**
 * Builds a month of usage from measurements, parameters and settings. Pure.
 *
 * - Scheduled functions: `schedulesPerMinute × 60 × 730` invocations of the measured run.
 * - Query events: one ingest invocation and one SQS `SendMessage` each; shipper invocations =
 *   events / max(1, min(batch size, events per second × batching window)); each one `ReceiveMessage` + one
 *   `DeleteMessageBatch` per 10 messages; plus the event source mapping's idle long polls.
 * - Drains: `drainMinutes × 60 / drainPollSeconds` checks each; transitions = 2 + checks × transitions per check;
 *   Lambda: startDrain + beginDrain + checks × checkDrain + completeDrain; one PutMetricData (completeDrain);
 *   its 3 metrics billed for one hour per drain (≤ 24 a day).
 * - Custom metrics of the scheduled functions all month; of the query-log pipeline for the hours with events.
 */
export function usageFromMeasurements(
  measured: CostMeasurements,
  params: WorkloadParameters,
  deploy: DeploySettings,
): CostInputs {
  const minutes = 60 * HOURS_PER_MONTH;
  const memory = (name: string) => deploy.memoryMb[name] ?? 256;
  const scheduled = (name: string, run: MeasuredRun): FunctionUsage => ({
    name,
    memoryMb: memory(name),
    architecture: deploy.architecture,
    invocationsPerMonth: (deploy.schedulesPerMinute[name] ?? 0) * minutes,
    durationMs: run.durationMs,
    logBytesPerInvocation: run.logBytes,
  });
  const events = params.queryEventsPerDay * DAYS_PER_MONTH;
  const eventsPerShip = Math.max(
    1,
    Math.min(deploy.shipBatchSize, (params.queryEventsPerDay / 86_400) * deploy.shipBatchWindowSeconds),
  );
  const shipInvocations = events / eventsPerShip;
  const drains = params.drainsPerDay * DAYS_PER_MONTH;
  const checks = Math.max(1, Math.ceil((params.drainMinutes * 60) / deploy.drainPollSeconds));
  const drainTaskCalls = drains * (3 + checks);
  const functions: FunctionUsage[] = [
    scheduled('clusterMetrics', measured.clusterMetrics),
    scheduled('coordinatorHealth', measured.coordinatorHealth),
    scheduled('nodeHealth', measured.nodeHealth),
    {
      name: 'queryLogIngest',
      memoryMb: memory('queryLogIngest'),
      architecture: deploy.architecture,
      invocationsPerMonth: events,
      durationMs: measured.queryLogIngest.durationMs,
      logBytesPerInvocation: measured.queryLogIngest.logBytes,
    },
    {
      name: 'queryLogShip',
      memoryMb: memory('queryLogShip'),
      architecture: deploy.architecture,
      invocationsPerMonth: shipInvocations,
      durationMs: measured.queryLogShip.durationMs,
      logBytesPerInvocation: measured.queryLogShip.logBytes,
    },
    {
      name: 'drainTasks',
      memoryMb: memory('checkDrain'),
      architecture: deploy.architecture,
      invocationsPerMonth: drainTaskCalls,
      durationMs: measured.drainTaskMs,
      logBytesPerInvocation: 500,
    },
  ];
  const scheduledCalls = (name: string, run: MeasuredRun) =>
    (deploy.schedulesPerMinute[name] ?? 0) * minutes * run.putMetricDataCalls;
  const eventHours = Math.min(HOURS_PER_MONTH, events);
  return {
    functions,
    putMetricDataCallsPerMonth:
      scheduledCalls('clusterMetrics', measured.clusterMetrics) +
      scheduledCalls('coordinatorHealth', measured.coordinatorHealth) +
      scheduledCalls('nodeHealth', measured.nodeHealth) +
      events * measured.queryLogIngest.putMetricDataCalls +
      shipInvocations * measured.queryLogShip.putMetricDataCalls +
      drains,
    customMetrics: [
      { source: 'clusterMetrics', metrics: measured.clusterMetrics.metrics, hoursPerMonth: HOURS_PER_MONTH },
      {
        source: 'coordinatorHealth',
        metrics: measured.coordinatorHealth.metrics,
        hoursPerMonth: HOURS_PER_MONTH,
      },
      { source: 'nodeHealth', metrics: measured.nodeHealth.metrics, hoursPerMonth: HOURS_PER_MONTH },
      { source: 'queryLogIngest', metrics: measured.queryLogIngest.metrics, hoursPerMonth: eventHours },
      { source: 'queryLogShip', metrics: measured.queryLogShip.metrics, hoursPerMonth: eventHours },
      { source: 'drain', metrics: 3, hoursPerMonth: Math.min(24, params.drainsPerDay) * DAYS_PER_MONTH },
    ],
    alarms: deploy.alarms,
    dashboards: deploy.dashboards,
    stepFunctionsTransitionsPerMonth: drains * (2 + checks * measured.drainTransitionsPerCheck),
    sqsRequestsPerMonth:
      events + // SendMessage
      shipInvocations * 2 * Math.ceil(eventsPerShip / 10) + // ReceiveMessage + DeleteMessageBatch
      params.sqsIdleReceivesPerMinute * minutes,
    logRetentionDays: deploy.logRetentionDays,
  };
}
