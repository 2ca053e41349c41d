/**
 * Bench figure `cost`: the control plane's AWS bill per cluster-month at the deployed defaults for a 20-worker
 * cluster. Measures, with the real handlers against moto and the scale double (harness/scale-double.ts, recorded
 * Trino 476 responses for 20 workers, 2 ms a request):
 *
 * - one `clusterMetrics` cycle, one `coordinatorHealth` probe loop (the whole default `LOOP_DURATION_MS`, real
 *   time), one `nodeHealth` round (moto worker and coordinator groups), one `queryLogIngest` event (moto SQS and
 *   SSM), one `queryLogShip` invocation (moto SQS; the search engine is a loopback stub answering `_bulk` after
 *   `searchLatencyMs`, or the sandbox's measured throughput when given): duration, bytes logged at INFO (EMF lines
 *   included), PutMetricData calls (counted on the client) and custom metrics published;
 *
 * reads memory sizes, architecture, schedules, the shipper's batching, alarms, dashboards and log retention from
 * serverless.yml; and prices it all with bench/prices.ts through bench/cost.ts. The workload parameters (query
 * events and drains a day, drain length) and the two assumed figures (drain task duration, idle SQS polls) are
 * printed with the result.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { parse } from 'yaml';
import { makeHandler as makeMetricsHandler } from '../functions/cluster-metrics/handler.ts';
import { MetricsEnvSchema } from '../functions/cluster-metrics/schemas.ts';
import { makeHealthHandler } from '../functions/coordinator-health/handler.ts';
import { HealthEnvSchema } from '../functions/coordinator-health/schemas.ts';
import { makeNodeHealthHandler } from '../functions/node-health/handler.ts';
import { NodeHealthEnvSchema } from '../functions/node-health/schemas.ts';
import {
  cachedSharedSecret,
  makeHandler as makeIngestHandler,
} from '../functions/query-log-ingest/handler.ts';
import { QueryLogIngestEnvSchema } from '../functions/query-log-ingest/schemas.ts';
import { runShip } from '../functions/query-log-ship/handler.ts';
import { QueryLogShipEnvSchema } from '../functions/query-log-ship/schemas.ts';
import { createCoordinatorEni, createWorkerGroup } from '../harness/aws-fixtures.ts';
import { toFunctionUrlEvent } from '../harness/function-url.ts';
import { localContext, scheduledEvent } from '../harness/invoke.ts';
import { type MotoServer, REPO_ROOT } from '../harness/moto.ts';
import { startScaleDouble } from '../harness/scale-double.ts';
import { loadConfig } from '../lib/config.ts';
import { logger } from '../lib/logger.ts';
import type { QueryLogSink } from '../lib/search/query-log-sink.ts';
import { lazyTrinoClient } from '../lib/trino/connect.ts';
import { countCalls } from './aws-calls.ts';
import {
  type CostBreakdown,
  type CostInputs,
  type CostMeasurements,
  type DeploySettings,
  type MeasuredRun,
  monthlyCost,
  usageFromMeasurements,
  type WorkloadParameters,
} from './cost.ts';
import { median } from './figures.ts';
import { PRICE_REGION, PRICES, PRICES_AS_OF } from './prices.ts';

/** Defaults of the workload parameters (docs/cost.md). */
export const DEFAULT_WORKLOAD: WorkloadParameters = {
  queryEventsPerDay: 10_000,
  drainsPerDay: 10,
  drainMinutes: 10,
  // The event source mapping's pollers: 5 long polls of 20 s (AWS Lambda Developer Guide, SQS event sources).
  sqsIdleReceivesPerMinute: 15,
};
/** Assumed, not measured: one drain task invocation (a Trino read or PUT and an Auto Scaling call), ms. */
export const ASSUMED_DRAIN_TASK_MS = 300;
/** Transitions per drain check from statemachines/worker-drain.asl.json: WaitForDrain, CheckDrain, IsDrainDone. */
export const ASL_DRAIN_TRANSITIONS_PER_CHECK = 3;

/** Result of {@link costBench}. */
export interface CostFigures extends CostBreakdown {
  readonly goalUsd: 10;
  readonly workers: number;
  readonly prices: { readonly asOf: string; readonly region: string };
  readonly parameters: WorkloadParameters;
  readonly measured: CostMeasurements;
  /** Where each measured input came from. */
  readonly sources: Readonly<Record<string, string>>;
  readonly deploy: DeploySettings;
  readonly usage: CostInputs;
}

// ---------------------------------------------------------------- serverless.yml

type Yaml = Record<string, unknown>;
const isRecord = (v: unknown): v is Yaml => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Resolves osls's `${file(<path>)}` / `${file(<path>):<key>}` include (path relative to `root`, where serverless.yml
 * is); any other value is returned as is.
 * @throws Error when the included file cannot be read or parsed.
 */
function resolveFileInclude(value: unknown, root: string): unknown {
  if (typeof value !== 'string') return value;
  const match = /^\$\{file\(([^)]+)\)(?::([A-Za-z0-9]+))?\}$/.exec(value.trim());
  if (!match?.[1]) return value;
  const included: unknown = parse(readFileSync(path.join(root, match[1]), 'utf8'), {
    merge: true,
    maxAliasCount: -1,
  });
  return match[2] === undefined ? included : isRecord(included) ? included[match[2]] : undefined;
}

/**
 * The settings the bill depends on, from serverless.yml and the files it includes (serverless/functions.yml, the
 * capabilities' serverless/*.yml) (`${param:x}` resolved from `params.default`).
 * @throws Error naming what it could not find (the file's layout changed: update this reader).
 */
export function deploySettings(file = path.join(REPO_ROOT, 'serverless.yml')): DeploySettings {
  const doc: unknown = parse(readFileSync(file, 'utf8'), { merge: true, maxAliasCount: -1 });
  if (!isRecord(doc)) throw new Error(`${file}: not a mapping`);
  const params = isRecord(doc.params) && isRecord(doc.params.default) ? doc.params.default : {};
  const resolve = (value: unknown): unknown =>
    typeof value === 'string'
      ? value.replace(/\$\{param:([A-Za-z0-9]+)\}/g, (_, name: string) => String(params[name] ?? ''))
      : value;
  const provider = isRecord(doc.provider) ? doc.provider : {};
  const included = resolveFileInclude(doc.functions, path.dirname(file));
  const functions = isRecord(included) ? included : {};
  if (Object.keys(functions).length === 0) throw new Error(`${file}: no functions found`);
  const defaultMemory = Number(provider.memorySize ?? 1024);
  const memoryMb: Record<string, number> = {};
  const schedulesPerMinute: Record<string, number> = {};
  let shipBatchSize = 10;
  let shipBatchWindowSeconds = 0;
  for (const [name, spec] of Object.entries(functions)) {
    if (!isRecord(spec)) continue;
    memoryMb[name] = Number(spec.memorySize ?? defaultMemory);
    for (const event of Array.isArray(spec.events) ? spec.events : []) {
      if (!isRecord(event)) continue;
      if (isRecord(event.schedule)) {
        const rate = String(resolve(event.schedule.rate));
        const enabled = String(resolve(event.schedule.enabled ?? true)) !== 'false';
        const minutes = /^rate\((\d+) minutes?\)$/.exec(rate);
        if (enabled && minutes) schedulesPerMinute[name] = 1 / Number(minutes[1]);
      }
      if (isRecord(event.sqs) && name === 'queryLogShip') {
        shipBatchSize = Number(event.sqs.batchSize ?? 10);
        shipBatchWindowSeconds = Number(event.sqs.maximumBatchingWindow ?? 0);
      }
    }
  }
  // `resources` is a list (serverless.yml's own block, then one `${file(serverless/<capability>.yml)}` each) or a
  // single block; osls merges their `Resources`.
  const resourceBlocks = (Array.isArray(doc.resources) ? doc.resources : [doc.resources]).map((block) =>
    resolveFileInclude(block, path.dirname(file)),
  );
  const resources: Yaml = {};
  for (const block of resourceBlocks) {
    if (isRecord(block) && isRecord(block.Resources)) Object.assign(resources, block.Resources);
  }
  let standardMetrics = 0;
  let highResolutionMetrics = 0;
  let dashboards = 0;
  for (const resource of Object.values(resources)) {
    if (!isRecord(resource)) continue;
    if (resource.Type === 'AWS::CloudWatch::Dashboard') dashboards += 1;
    if (resource.Type !== 'AWS::CloudWatch::Alarm' || !isRecord(resource.Properties)) continue;
    const props = resource.Properties;
    const stats = Array.isArray(props.Metrics)
      ? props.Metrics.filter((m): m is Yaml => isRecord(m) && isRecord(m.MetricStat))
      : [];
    const periods =
      stats.length > 0
        ? stats.map((m) => Number(isRecord(m.MetricStat) ? m.MetricStat.Period : 60))
        : [Number(props.Period ?? 60)];
    const count = Math.max(1, stats.length);
    if (Math.min(...periods) < 60) highResolutionMetrics += count;
    else standardMetrics += count;
  }
  const drainPollSeconds = Number(params.drainPollSeconds ?? 30);
  return {
    architecture: provider.architecture === 'arm64' ? 'arm64' : 'x86_64',
    memoryMb,
    schedulesPerMinute,
    shipBatchSize,
    shipBatchWindowSeconds,
    drainPollSeconds,
    alarms: { standardMetrics, highResolutionMetrics },
    dashboards,
    logRetentionDays: Number(params.logRetentionDays ?? 30),
  };
}

// ---------------------------------------------------------------- measuring

/**
 * Runs `fn` with the shared logger at INFO (the deployed level) and stdout captured; returns what it wrote.
 * The bench process runs with POWERTOOLS_LOG_LEVEL=SILENT, and Powertools' middleware resets the level to that
 * initial one on every warm invocation (`refreshSampleRateCalculation`): that reset is held off meanwhile.
 */
async function captured<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string[]; ms: number }> {
  const lines: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return true;
  }) as typeof process.stdout.write;
  const refresh = Object.getOwnPropertyDescriptor(logger, 'refreshSampleRateCalculation');
  Object.defineProperty(logger, 'refreshSampleRateCalculation', {
    value: () => undefined,
    configurable: true,
  });
  logger.setLogLevel('INFO');
  const start = performance.now();
  try {
    const value = await fn();
    return { value, lines, ms: performance.now() - start };
  } finally {
    logger.setLogLevel('SILENT');
    if (refresh === undefined) Reflect.deleteProperty(logger, 'refreshSampleRateCalculation');
    else Object.defineProperty(logger, 'refreshSampleRateCalculation', refresh);
    process.stdout.write = original;
  }
}

/** Distinct metrics (name + dimension values) declared by the EMF lines among `lines`. */
function emfMetrics(lines: readonly string[]): number {
  const seen = new Set<string>();
  for (const text of lines.join('').split('\n')) {
    if (!text.startsWith('{') || !text.includes('"_aws"')) continue;
    const doc: unknown = JSON.parse(text);
    if (!isRecord(doc) || !isRecord(doc._aws) || !Array.isArray(doc._aws.CloudWatchMetrics)) continue;
    for (const directive of doc._aws.CloudWatchMetrics) {
      if (!isRecord(directive) || !Array.isArray(directive.Metrics)) continue;
      const dims = (Array.isArray(directive.Dimensions) ? directive.Dimensions.flat() : []).map(
        (d) => `${String(d)}=${String(doc[String(d)])}`,
      );
      for (const metric of directive.Metrics) {
        if (isRecord(metric)) seen.add(`${String(metric.Name)}|${dims.join(',')}`);
      }
    }
  }
  return seen.size;
}

const bytesOf = (lines: readonly string[]) => lines.reduce((sum, l) => sum + Buffer.byteLength(l), 0);

async function measure(
  runs: number,
  once: () => Promise<{ putMetricDataCalls: number }>,
): Promise<MeasuredRun> {
  await captured(once); // warm-up: container init, connections, caches (its output is dropped)
  const samples: { ms: number; bytes: number; calls: number; metrics: number }[] = [];
  for (let i = 0; i < runs; i += 1) {
    const { value, lines, ms } = await captured(once);
    samples.push({ ms, bytes: bytesOf(lines), calls: value.putMetricDataCalls, metrics: emfMetrics(lines) });
  }
  return {
    durationMs: median(samples.map((s) => s.ms)),
    logBytes: Math.round(median(samples.map((s) => s.bytes))),
    putMetricDataCalls: median(samples.map((s) => s.calls)),
    metrics: Math.max(...samples.map((s) => s.metrics)),
  };
}

/**
 * Measures and prices.
 * @param moto - A running moto.
 * @param options.sandbox - Figures from the sandbox, when it ran: the shipper's events/s against a real
 *   OpenSearch (bench/query-logs.ts) and the drain's transitions per check (bench/drain.ts).
 */
export async function costBench(
  moto: MotoServer,
  log: (line: string) => void,
  options: {
    workers?: number;
    parameters?: WorkloadParameters;
    searchLatencyMs?: number;
    sandbox?: { shipperEventsPerSecond?: number; drainTransitionsPerCheck?: number };
  } = {},
): Promise<CostFigures> {
  const workers = options.workers ?? 20;
  const parameters = options.parameters ?? DEFAULT_WORKLOAD;
  const deploy = deploySettings();
  const sources: Record<string, string> = {};
  const double = await startScaleDouble({ workers });
  const aws = moto.clientConfig;
  try {
    // clusterMetrics: deployed defaults (EMF, standard set, no per-user metrics).
    const metricsConfig = loadConfig(MetricsEnvSchema, {
      CLUSTER_NAME: 'bench-cost',
      TRINO_URL: double.coordinatorUrl,
    });
    const metricsCloudwatch = new CloudWatchClient(aws);
    const metricsCalls = countCalls(metricsCloudwatch);
    const metricsHandler = makeMetricsHandler(() => ({
      config: metricsConfig,
      cloudwatch: metricsCloudwatch,
      trino: lazyTrinoClient(metricsConfig),
      now: () => Date.now(),
    }));
    const clusterMetrics = await measure(5, async () => {
      const before = metricsCalls.PutMetricDataCommand ?? 0;
      await metricsHandler(scheduledEvent('bench-cost'), localContext('clusterMetrics'));
      return { putMetricDataCalls: (metricsCalls.PutMetricDataCommand ?? 0) - before };
    });
    sources.clusterMetrics = `measured: median of 5 cycles, ${workers} workers on the scale double, moto`;
    log(
      `cost: clusterMetrics cycle ${clusterMetrics.durationMs} ms, ${clusterMetrics.metrics} metrics, ${clusterMetrics.putMetricDataCalls} PutMetricData, ${clusterMetrics.logBytes} B logged`,
    );

    // nodeHealth: moto groups whose instances point at the double's workers and coordinator.
    const group = await createWorkerGroup(
      aws,
      'bench-cost',
      double.workerUrls.map((u) => Number(new URL(u).port)),
      3600,
    );
    const eni = await createCoordinatorEni(aws, 'bench-cost', Number(new URL(double.coordinatorUrl).port));
    const nodeConfig = loadConfig(NodeHealthEnvSchema, {
      CLUSTER_NAME: 'bench-cost',
      TRINO_URL: double.coordinatorUrl,
      WORKER_ASG_NAME: group.autoScalingGroupName,
      COORDINATOR_ASG_NAME: 'bench-cost-coordinators',
      COORDINATOR_ENI_ID: eni.networkInterfaceId,
      WORKER_URL_TEMPLATE: 'http://127.0.0.1:{tag:trino-sentinel:http-port}',
      PRIMARY_URL_TEMPLATE: 'http://127.0.0.1:{tag:trino-sentinel:http-port}',
      NODE_HEALTH_SSM_PARAMETER: '/trino-sentinel/bench-cost/node-health',
    });
    const nodeCloudwatch = new CloudWatchClient(aws);
    const nodeCalls = countCalls(nodeCloudwatch);
    const nodeHandler = makeNodeHealthHandler(() => ({
      config: nodeConfig,
      ec2: new EC2Client(aws),
      autoscaling: new AutoScalingClient(aws),
      ssm: new SSMClient(aws),
      cloudwatch: nodeCloudwatch,
      coordinator: lazyTrinoClient(nodeConfig),
      now: () => Date.now(),
    }));
    const nodeHealth = await measure(3, async () => {
      const before = nodeCalls.PutMetricDataCommand ?? 0;
      await nodeHandler(scheduledEvent('bench-cost'), localContext('nodeHealth'));
      return { putMetricDataCalls: (nodeCalls.PutMetricDataCommand ?? 0) - before };
    });
    sources.nodeHealth = `measured: median of 3 rounds, ${workers} workers (moto groups + scale double)`;
    log(
      `cost: nodeHealth round ${nodeHealth.durationMs} ms, ${nodeHealth.metrics} metrics, ${nodeHealth.logBytes} B logged`,
    );

    // queryLogIngest: one recorded Trino 476 QueryCompletedEvent through the Function URL handler.
    const queue = await new SQSClient(aws).send(
      new CreateQueueCommand({ QueueName: 'bench-cost-query-events' }),
    );
    await new SSMClient(aws).send(
      new PutParameterCommand({
        Name: '/bench-cost/query-log-secret',
        Value: 'bench-secret',
        Type: 'SecureString',
        Overwrite: true,
      }),
    );
    const ingestConfig = loadConfig(QueryLogIngestEnvSchema, {
      QUERY_LOG_QUEUE_URL: queue.QueueUrl ?? '',
      QUERY_LOG_SECRET_SSM_PARAMETER: '/bench-cost/query-log-secret',
    });
    const ingestHandler = makeIngestHandler({
      config: ingestConfig,
      sqs: new SQSClient(aws),
      secret: cachedSharedSecret(ingestConfig, async () => ({
        ssm: new SSMProvider({ awsSdkV3Client: new SSMClient(aws) }),
        secrets: new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(aws) }),
      })),
      metrics: new Metrics({ namespace: 'Trino', serviceName: 'trino-sentinel' }),
    });
    const eventBody = readFileSync(
      path.join(REPO_ROOT, 'test/fixtures/trino-476/http-event-listener-query-completed-finished.json'),
    );
    const queryLogIngest = await measure(5, async () => {
      const result = await ingestHandler(
        toFunctionUrlEvent({
          method: 'POST',
          url: '/',
          headers: { 'content-type': 'application/json', 'x-trino-sentinel-secret': 'bench-secret' },
          body: eventBody,
          sourceIp: '127.0.0.1',
        }),
        localContext('queryLogIngest'),
      );
      if (result.statusCode !== 200 && result.statusCode !== 202) {
        throw new Error(`ingest answered ${result.statusCode}: ${String(result.body)}`);
      }
      return { putMetricDataCalls: 0 };
    });
    sources.queryLogIngest = 'measured: median of 5 recorded Trino 476 events, moto SQS and SSM';
    log(
      `cost: queryLogIngest ${queryLogIngest.durationMs} ms/event, ${queryLogIngest.metrics} metrics, ${queryLogIngest.logBytes} B logged`,
    );

    // queryLogShip: as many events per invocation as the deployed batching gives at the parameters.
    const eventsPerShip = Math.max(
      1,
      Math.round(
        Math.min(
          deploy.shipBatchSize,
          (parameters.queryEventsPerDay / 86_400) * deploy.shipBatchWindowSeconds,
        ),
      ),
    );
    const searchLatencyMs = options.searchLatencyMs ?? 20;
    const stubSink: QueryLogSink = {
      flavor: 'opensearch',
      ensureSetup: async () => undefined,
      bulkIndex: async (documents) => {
        await new Promise((r) => setTimeout(r, searchLatencyMs));
        return documents.map(() => ({ status: 201, ok: true, retryable: false }));
      },
      getDocument: async () => undefined,
    };
    const shipConfig = loadConfig(QueryLogShipEnvSchema, {
      CLUSTER_NAME: 'bench-cost',
      SEARCH_ENGINE: 'opensearch',
      SEARCH_ENDPOINT: 'http://127.0.0.1:9',
      QUERY_LOG_DLQ_URL: queue.QueueUrl ?? '',
    });
    const shipCloudwatch = new CloudWatchClient(aws);
    const shipCalls = countCalls(shipCloudwatch);
    const body = eventBody.toString();
    let sequence = 0;
    const queryLogShipMeasured = await measure(5, async () => {
      const before = shipCalls.PutMetricDataCommand ?? 0;
      await runShip(
        {
          Records: Array.from({ length: eventsPerShip }, () => {
            sequence += 1;
            return { messageId: `m${sequence}`, body, attributes: { ApproximateReceiveCount: '1' } };
          }),
        },
        {
          config: shipConfig,
          sqs: new SQSClient(aws),
          cloudwatch: shipCloudwatch,
          sink: async () => stubSink,
          now: () => Date.now(),
        },
      );
      return { putMetricDataCalls: (shipCalls.PutMetricDataCommand ?? 0) - before };
    });
    const shipperEventsPerSecond = options.sandbox?.shipperEventsPerSecond;
    const queryLogShip: MeasuredRun =
      shipperEventsPerSecond !== undefined && shipperEventsPerSecond > 0
        ? {
            ...queryLogShipMeasured,
            // Three concurrent shippers reached that throughput in bench/query-logs.ts.
            durationMs: Math.max(
              queryLogShipMeasured.durationMs,
              (eventsPerShip / shipperEventsPerSecond) * 3 * 1000,
            ),
          }
        : queryLogShipMeasured;
    sources.queryLogShip =
      shipperEventsPerSecond !== undefined
        ? `measured: ${eventsPerShip} event(s) an invocation; duration from the sandbox's real-OpenSearch throughput (${shipperEventsPerSecond}/s over 3 shippers) or the stub run, whichever is longer`
        : `measured: median of 5 invocations of ${eventsPerShip} event(s), moto SQS, search engine = loopback stub answering _bulk after ${searchLatencyMs} ms (assumed latency)`;
    log(
      `cost: queryLogShip ${queryLogShip.durationMs} ms/invocation of ${eventsPerShip} event(s), ${queryLogShip.metrics} metrics`,
    );

    // coordinatorHealth: one whole probe loop at the deployed defaults, in real time (≈ 55 s).
    const healthConfig = loadConfig(HealthEnvSchema, {
      CLUSTER_NAME: 'bench-cost',
      TRINO_URL: double.coordinatorUrl,
      COORDINATOR_ENI_ID: eni.networkInterfaceId,
      FAILOVER_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:bench-cost-failover',
    });
    const healthCloudwatch = new CloudWatchClient(aws);
    const healthCalls = countCalls(healthCloudwatch);
    const healthHandler = makeHealthHandler(() => ({
      config: healthConfig,
      ec2: new EC2Client(aws),
      cloudwatch: healthCloudwatch,
      sfn: new SFNClient(aws),
      sns: new SNSClient(aws),
      ssm: new SSMClient(aws),
      coordinator: lazyTrinoClient(healthConfig),
      now: () => Date.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    }));
    log(
      `cost: coordinatorHealth probe loop (${healthConfig.LOOP_DURATION_MS} ms at ${healthConfig.PROBE_INTERVAL_MS} ms), real time…`,
    );
    const {
      value: healthCallsMade,
      lines: healthLines,
      ms: healthMs,
    } = await captured(async () => {
      await healthHandler(scheduledEvent('bench-cost'), localContext('coordinatorHealth', 65_000));
      return healthCalls.PutMetricDataCommand ?? 0;
    });
    const coordinatorHealth: MeasuredRun = {
      durationMs: Math.round(healthMs),
      logBytes: bytesOf(healthLines),
      putMetricDataCalls: healthCallsMade,
      metrics: emfMetrics(healthLines),
    };
    sources.coordinatorHealth = 'measured: one whole invocation at the defaults (coordinator = scale double)';
    log(
      `cost: coordinatorHealth ${coordinatorHealth.durationMs} ms an invocation, ${coordinatorHealth.metrics} metric(s)`,
    );

    const measured: CostMeasurements = {
      clusterMetrics,
      coordinatorHealth,
      nodeHealth,
      queryLogIngest,
      queryLogShip,
      drainTaskMs: ASSUMED_DRAIN_TASK_MS,
      drainTransitionsPerCheck: options.sandbox?.drainTransitionsPerCheck ?? ASL_DRAIN_TRANSITIONS_PER_CHECK,
    };
    sources.drainTaskMs = `assumed: ${ASSUMED_DRAIN_TASK_MS} ms an invocation`;
    sources.drainTransitionsPerCheck =
      options.sandbox?.drainTransitionsPerCheck !== undefined
        ? 'measured: the sandbox scale-in drill (bench/drain.ts)'
        : 'statemachines/worker-drain.asl.json: WaitForDrain, CheckDrain, IsDrainDone';
    sources.sqsIdleReceivesPerMinute = 'assumed: 5 pollers × one 20-s long poll (AWS Lambda Developer Guide)';
    const usage = usageFromMeasurements(measured, parameters, deploy);
    const bill = monthlyCost(usage, PRICES);
    log(
      `cost                 $${bill.perClusterMonthUsd} per cluster-month (goal ≤ $10): lambda ${bill.lambdaUsd}, ` +
        `custom metrics ${bill.customMetricsUsd} (${bill.customMetricMonths}), alarms ${bill.alarmsUsd}, dashboard ${bill.dashboardUsd}, ` +
        `PutMetricData ${bill.putMetricDataUsd}, SQS ${bill.sqsUsd}, logs ${bill.logsUsd}, Step Functions ${bill.stepFunctionsUsd} ` +
        `[${PRICE_REGION} list prices of ${PRICES_AS_OF}]`,
    );
    return {
      ...bill,
      goalUsd: 10,
      workers,
      prices: { asOf: PRICES_AS_OF, region: PRICE_REGION },
      parameters,
      measured,
      sources,
      deploy,
      usage,
    };
  } finally {
    await double.close();
  }
}
