/**
 * Test infrastructure: the coordinator failover drill on one machine, with real parts wherever one can run here.
 *
 * - moto holds the coordinator instances (one active, N standbys, tagged like production), the coordinator ENI
 *   attached to the active one, the worker group (the baseline worker count) and a coordinator group.
 * - A real secure Trino 476 cluster (or PrestoDB 0.287 with `line: 'prestodb'`): the active coordinator, hot-standby coordinators (own discovery server each)
 *   and workers whose `discovery.uri` is the "ENI address": harness/eni-proxy.ts, a loopback proxy whose
 *   traffic follows whichever instance moto says holds the ENI. So when our failover moves the ENI in moto, the
 *   workers really re-announce to the new coordinator, and clients really reach it at the same address.
 * - Our coordinator-health loop probes the ENI address; its StartExecution goes to
 *   statemachines/coordinator-failover.asl.json executed locally (aws-local-stepfunctions) with our handlers.
 *
 * @module
 */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import type { FailoverDeps } from '../../functions/coordinator-failover/deps.ts';
import { makeFailoverHandler } from '../../functions/coordinator-failover/handler.ts';
import { FAILOVER_TASK_NAMES, FailoverEnvSchema } from '../../functions/coordinator-failover/schemas.ts';
import { HEALTHY } from '../../functions/coordinator-health/decide.ts';
import { type HealthDeps, runHealthLoop } from '../../functions/coordinator-health/handler.ts';
import { HealthEnvSchema } from '../../functions/coordinator-health/schemas.ts';
import { loadConfig } from '../../lib/config.ts';
import { TrinoClient } from '../../lib/trino/client.ts';
import { resolveTrinoClient } from '../../lib/trino/connect.ts';
import {
  type CoordinatorSet,
  createCoordinatorSet,
  createWorkerGroup,
  launchCoordinatorInstance,
  tagPorts,
} from '../aws-fixtures.ts';
import { flavorOf, type HarnessCluster, type HarnessLine, startCluster } from '../cluster.ts';
import { controlPlaneEnv } from '../control-plane-env.ts';
import { type EniProxy, startEniProxy } from '../eni-proxy.ts';
import { LocalStepFunctions, loadDefinition } from '../local-sfn.ts';
import { type EmulatorClientConfig, startMoto } from '../moto.ts';
import { failoverFigures } from './figures.ts';

/** Options of {@link startHaSandbox}. */
export interface HaSandboxOptions {
  readonly aws: EmulatorClientConfig;
  /** Release line (default the newest Trino; `prestodb` for PrestoDB 0.287). */
  readonly line?: HarnessLine;
  readonly clusterName?: string;
  /** Running hot standbys (default 1). */
  readonly standbys?: number;
  /** Extra standbys tagged in moto whose coordinator does not answer (an unhealthy standby), launched first. */
  readonly deadStandbys?: number;
  readonly workers?: number;
  /** Probe cadence of the detector (default 1000 ms) and failures to confirm (default 3). */
  readonly probeIntervalMs?: number;
  readonly failuresToConfirm?: number;
  /** Extra failover environment (e.g. `STANDBY_MAX_WAITS`). */
  readonly failoverEnv?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

/** A running HA sandbox. */
export interface HaSandbox {
  readonly cluster: HarnessCluster;
  readonly proxy: EniProxy;
  readonly set: CoordinatorSet;
  /** The "ENI address" clients use (HTTPS through the proxy). */
  readonly eniUrl: string;
  /** Instance id → harness node name (`coordinator`, `standby1`, …; dead standbys are `dead1`, …). */
  readonly nodeOf: ReadonlyMap<string, string>;
  readonly local: LocalStepFunctions;
  readonly failoverDeps: FailoverDeps;
  readonly healthDeps: HealthDeps;
  /** `AttachNetworkInterface` calls that succeeded, in order (instance ids). */
  readonly attaches: readonly string[];
  /** A client of the coordinator through the ENI address, as `sentinel`. */
  eniClient(): TrinoClient;
  /**
   * Brings up a replacement standby, as the coordinator group would after a failover: a new Trino coordinator and
   * a new moto instance tagged `standby` mapped to it.
   * @returns The new instance id.
   */
  addStandby(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts the HA sandbox on an already running moto (see the module comment).
 * @throws Error when a component does not start.
 */
export async function startHaSandbox(options: HaSandboxOptions): Promise<HaSandbox> {
  const log = options.log ?? (() => undefined);
  const aws = options.aws;
  const clusterName = options.clusterName ?? 'ha';
  const standbys = options.standbys ?? 1;
  const dead = options.deadStandbys ?? 0;
  const set = await createCoordinatorSet(aws, clusterName, dead + standbys);
  const deadIds = set.standbyInstanceIds.slice(0, dead);
  const liveIds = set.standbyInstanceIds.slice(dead);
  const ports = new Map<string, { http: number; https: number }>();
  const proxy = await startEniProxy({
    aws,
    networkInterfaceId: set.networkInterfaceId,
    routes: [
      { name: 'http', targetPort: (id) => ports.get(id)?.http },
      { name: 'https', targetPort: (id) => ports.get(id)?.https },
    ],
  });
  let cluster: HarnessCluster | undefined;
  try {
    log(
      `ha: ENI ${set.networkInterfaceId} at 127.0.0.1:${proxy.ports.http} (http) / ${proxy.ports.https} (https)`,
    );
    cluster = await startCluster({
      line: options.line ?? 'newest',
      secure: true,
      workers: options.workers ?? 1,
      standbys,
      name: clusterName,
      workerDiscoveryUri: `http://127.0.0.1:${proxy.ports.http}`,
      awaitWorkers: false,
      heapMb: 768,
    });
    const nodeOf = new Map<string, string>();
    const httpsOf = (name: string) => cluster?.httpsPorts[name] ?? 0;
    ports.set(set.activeInstanceId, { http: cluster.coordinator.httpPort, https: httpsOf('coordinator') });
    nodeOf.set(set.activeInstanceId, 'coordinator');
    for (const [index, id] of liveIds.entries()) {
      const node = cluster.standbys[index];
      if (node === undefined) throw new Error(`no standby ${index}`);
      ports.set(id, { http: node.httpPort, https: httpsOf(node.name) });
      nodeOf.set(id, node.name);
    }
    for (const [index, id] of deadIds.entries()) {
      // Nothing listens there: a standby whose coordinator is down.
      ports.set(id, { http: 9, https: 9 });
      nodeOf.set(id, `dead${index + 1}`);
    }
    for (const [id, p] of ports) await tagPorts(aws, id, p);
    const eniUrl = `https://127.0.0.1:${proxy.ports.https}`;
    const flavor = flavorOf(cluster);
    const eniClient = () =>
      new TrinoClient({
        baseUrl: eniUrl,
        user: cluster?.user ?? 'sentinel',
        flavor,
        timeoutMs: 10_000,
        auth: { type: 'basic', username: cluster?.user ?? '', password: cluster?.password ?? '' },
        ...(cluster?.caPem === undefined ? {} : { caPem: cluster.caPem }),
      });
    const waiter = eniClient();
    try {
      await cluster.waitForWorkers(180_000, waiter);
    } finally {
      waiter.close();
    }
    const workerGroup = await createWorkerGroup(
      aws,
      clusterName,
      cluster.workers.map((w) => w.httpPort),
      30,
    );
    const base = await controlPlaneEnv(
      aws,
      {
        coordinatorUrl: eniUrl,
        user: cluster.user,
        flavor,
        ...(cluster.password === undefined ? {} : { password: cluster.password }),
        ...(cluster.caPem === undefined ? {} : { caPem: cluster.caPem }),
      },
      clusterName,
    );
    const stateMachineArn = `arn:aws:states:${aws.region}:123456789012:stateMachine:${clusterName}-coordinator-failover`;
    const common = {
      ...base,
      COORDINATOR_ENI_ID: set.networkInterfaceId,
      PRIMARY_URL_TEMPLATE: 'https://127.0.0.1:{tag:trino-sentinel:https-port}',
      PROBE_TIMEOUT_MS: String(Math.min(2_000, Math.max(300, (options.probeIntervalMs ?? 1_000) - 200))),
    };
    const healthConfig = loadConfig(HealthEnvSchema, {
      ...common,
      PROBE_INTERVAL_MS: String(options.probeIntervalMs ?? 1_000),
      FAILURES_TO_CONFIRM: String(options.failuresToConfirm ?? 3),
      LOOP_DURATION_MS: '30000',
      AUTO_FAILOVER: 'true',
      FAILOVER_STATE_MACHINE_ARN: stateMachineArn,
    });
    const failoverConfig = loadConfig(FailoverEnvSchema, {
      ...common,
      WORKER_ASG_NAME: workerGroup.autoScalingGroupName,
      COORDINATOR_ASG_NAME: set.coordinatorGroupName,
      SERVING_TIMEOUT_MS: '120000',
      ...(options.failoverEnv ?? {}),
    });
    const secrets = {
      ssm: new SSMProvider({ awsSdkV3Client: new SSMClient(aws) }),
      secrets: new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(aws) }),
    };
    const ec2 = new EC2Client(aws);
    const attaches: string[] = [];
    ec2.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'AttachNetworkInterfaceCommand') {
          const input = z.object({ InstanceId: z.string() }).safeParse(args.input);
          attaches.push(input.success ? input.data.InstanceId : 'unknown');
        }
        return result;
      },
      { step: 'initialize', name: 'countAttaches' },
    );
    const coordinator = () => resolveTrinoClient(failoverConfig, secrets);
    const cloudwatch = new CloudWatchClient(aws);
    const sns = new SNSClient(aws);
    // Bridged to the local executions below (StartExecution, ListExecutions, DescribeExecution): the failover's lock.
    const sfn = new SFNClient(aws);
    const failoverDeps: FailoverDeps = {
      config: failoverConfig,
      ec2,
      autoscaling: new AutoScalingClient(aws),
      cloudwatch,
      sns,
      sfn,
      coordinator,
      now: () => Date.now(),
    };
    const handler = makeFailoverHandler(() => failoverDeps);
    const { definition } = await loadDefinition('coordinator-failover.asl.json');
    const local = new LocalStepFunctions(
      definition,
      Object.fromEntries(FAILOVER_TASK_NAMES.map((task) => [task, handler])),
    );
    local.bridge(sfn);
    const healthDeps: HealthDeps = {
      config: healthConfig,
      ec2,
      cloudwatch,
      sfn,
      sns,
      ssm: new SSMClient(aws),
      coordinator: () => resolveTrinoClient(healthConfig, secrets),
      now: () => Date.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
    const running = cluster;
    return {
      cluster: running,
      proxy,
      set,
      eniUrl,
      nodeOf,
      local,
      failoverDeps,
      healthDeps,
      attaches,
      eniClient,
      addStandby: async () => {
        const node = await running.addStandby();
        const id = await launchCoordinatorInstance(aws, clusterName, set.subnetId, set.coordinatorGroupName);
        const p = { http: node.httpPort, https: running.httpsPorts[node.name] ?? 0 };
        ports.set(id, p);
        nodeOf.set(id, node.name);
        await tagPorts(aws, id, p);
        return id;
      },
      stop: async () => {
        await running.stop();
        await proxy.stop();
        ec2.destroy();
        sfn.destroy();
      },
    };
  } catch (error) {
    await cluster?.stop();
    await proxy.stop();
    throw error;
  }
}

/** Output of a failover execution, as the drill reads it. */
const FailoverOutput = z
  .object({
    outcome: z.string(),
    failureAtMs: z.number(),
    startedAtMs: z.number(),
    newCoordinatorInstanceId: z.string().optional(),
    report: z
      .object({
        detectedAfterMs: z.number(),
        servingAfterMs: z.number().optional(),
        workersBackAfterMs: z.number().optional(),
        controlPlaneMs: z.number().optional(),
        totalMs: z.number(),
      })
      .optional(),
    timeline: z.array(z.object({ atMs: z.number(), event: z.string() })),
  })
  .loose();

/** What `drill failover` prints. All durations in ms from the moment the active coordinator was killed. */
export interface FailoverDrillResult {
  /** Kill → failure confirmed by the detector (FAILURES_TO_CONFIRM probes + second signal). */
  readonly detectedAfterMs: number;
  /** Kill → the new coordinator answers on the ENI address. */
  readonly servingAfterMs: number | null;
  /** Kill → `/v1/node` on the ENI address shows the workers again. */
  readonly workersBackAfterMs: number | null;
  /** Failovers started while the coordinator was healthy (the pre-kill watch). */
  readonly falseFailovers: number;
  /** `AttachNetworkInterface` calls made (exactly 1 for one failover). */
  readonly enisAttached: number;
  /** servingAfterMs − the configured detection window (FAILURES_TO_CONFIRM × PROBE_INTERVAL_MS). */
  readonly controlPlaneOverheadMs: number | null;
  readonly detectionWindowMs: number;
  readonly outcome: string;
  readonly newCoordinator: string | undefined;
  /** A query submitted through the ENI address after the failover succeeded. */
  readonly queryAfterFailover: 'OK' | string;
  readonly timeline: readonly { readonly afterMs: number; readonly event: string }[];
}

/**
 * Runs the drill on an HA sandbox: watches the healthy coordinator for `watchMs` (no failover may start), kills
 * the active coordinator's JVM (SIGKILL), lets the detector confirm and start the failover, waits for the
 * execution, then runs a query through the ENI address.
 */
export async function runFailoverDrill(
  ha: HaSandbox,
  options: { readonly watchMs?: number; readonly log?: (line: string) => void } = {},
): Promise<FailoverDrillResult> {
  const log = options.log ?? (() => undefined);
  const interval = ha.healthDeps.config.PROBE_INTERVAL_MS;
  const executionsBefore = ha.local.executions.size;
  const attachesBefore = ha.attaches.length;
  const watch = await runHealthLoop(
    { ...ha.healthDeps, config: { ...ha.healthDeps.config, LOOP_DURATION_MS: options.watchMs ?? 3_000 } },
    HEALTHY,
  );
  const falseFailovers = ha.local.executions.size - executionsBefore;
  log(
    `drill: ${watch.rounds} healthy rounds, ${falseFailovers} false failovers; killing the active coordinator`,
  );
  const holder = ha.proxy.holder();
  const active = ha.cluster.coordinators.find((n) => n.name === (holder && ha.nodeOf.get(holder)));
  if (active === undefined) throw new Error(`no running coordinator holds the ENI (holder ${holder})`);
  const killedAtMs = Date.now();
  active.kill('SIGKILL');
  const detection = await runHealthLoop(ha.healthDeps, HEALTHY);
  const detectedAtMs = Date.now();
  if (detection.executionName === undefined) {
    throw new Error(
      `the detector did not start a failover (${detection.failover}, ${detection.rounds} rounds)`,
    );
  }
  const execution = ha.local.executions.get(detection.executionName);
  if (execution === undefined) throw new Error('the failover execution was not started locally');
  log(`drill: failure confirmed after ${detectedAtMs - killedAtMs} ms; failover ${detection.executionName}`);
  const output = FailoverOutput.parse(await execution.result);
  const figures = failoverFigures(
    { killedAtMs, detectedAtMs },
    {
      failureAtMs: output.failureAtMs,
      servingAfterMs: output.report?.servingAfterMs,
      workersBackAfterMs: output.report?.workersBackAfterMs,
      timeline: output.timeline,
    },
    { failuresToConfirm: ha.healthDeps.config.FAILURES_TO_CONFIRM, probeIntervalMs: interval },
  );
  const client = ha.eniClient();
  let queryAfterFailover: string;
  try {
    const result = await client.query('SELECT count(*) FROM tpch.tiny.lineitem', { timeoutMs: 60_000 });
    queryAfterFailover =
      result.rows[0]?.[0] === 60175 ? 'OK' : `unexpected result ${JSON.stringify(result.rows)}`;
  } catch (error) {
    queryAfterFailover = `failed: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    client.close();
  }
  return {
    detectedAfterMs: figures.detectedAfterMs,
    servingAfterMs: figures.servingAfterMs,
    workersBackAfterMs: figures.workersBackAfterMs,
    falseFailovers,
    enisAttached: ha.attaches.length - attachesBefore,
    controlPlaneOverheadMs: figures.controlPlaneOverheadMs,
    detectionWindowMs: figures.detectionWindowMs,
    outcome: output.outcome,
    newCoordinator: output.newCoordinatorInstanceId,
    queryAfterFailover,
    timeline: figures.timeline,
  };
}

/**
 * The drill in a sandbox of its own: moto + an HA cluster of `line` (default the newest Trino; or `prestodb`;
 * 1 standby, 1 worker), then everything stopped.
 */
export async function runFailoverDrillInSandbox(
  options: {
    readonly log?: (line: string) => void;
    readonly probeIntervalMs?: number;
    readonly line?: HarnessLine;
  } = {},
): Promise<FailoverDrillResult & { readonly trinoVersion: string; readonly line: HarnessLine }> {
  const moto = await startMoto();
  try {
    const ha = await startHaSandbox({
      aws: moto.clientConfig,
      clusterName: 'drill',
      line: options.line ?? 'newest',
      ...(options.log === undefined ? {} : { log: options.log }),
      ...(options.probeIntervalMs === undefined ? {} : { probeIntervalMs: options.probeIntervalMs }),
    });
    try {
      return {
        ...(await runFailoverDrill(ha, options.log === undefined ? {} : { log: options.log })),
        trinoVersion: ha.cluster.version,
        line: ha.cluster.line,
      };
    } finally {
      await ha.stop();
    }
  } finally {
    await moto.stop();
  }
}
