/**
 * Test infrastructure: the scale-in drill. Runs the real drain path end to end on one machine and measures it:
 *
 * 1. moto holds the worker Auto Scaling group with its termination lifecycle hook (one instance per harness
 *    worker, tagged with the worker's port);
 * 2. a long tpch query runs on the real Trino cluster;
 * 3. our custom termination policy picks the instance; the drill emits the `EC2 Instance-terminate Lifecycle
 *    Action` event AWS would emit (moto removes instances at once and emits no event) to our `startDrain`
 *    handler, whose StartExecution is bridged to statemachines/worker-drain.asl.json running locally with our
 *    handlers (aws-local-stepfunctions);
 * 4. CompleteLifecycleAction/RecordLifecycleActionHeartbeat go to the recording double (moto lacks them);
 * 5. once completed with CONTINUE, the drill terminates the instance in moto, as AWS would.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { AutoScalingClient, TerminateInstanceInAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import type { DrainDeps } from '../../functions/worker-drain/deps.ts';
import { DrainEnvSchema, type LifecycleActionEvent } from '../../functions/worker-drain/schemas.ts';
import { makeStartDrainHandler } from '../../functions/worker-drain/start.ts';
import { makeDrainTaskHandlers } from '../../functions/worker-drain/tasks.ts';
import { makeTerminationPolicyHandler } from '../../functions/worker-drain/termination-policy.ts';
import { loadConfig } from '../../lib/config.ts';
import { TrinoClient } from '../../lib/trino/client.ts';
import { resolveTrinoClient } from '../../lib/trino/connect.ts';
import { createWorkerGroup } from '../aws-fixtures.ts';
import { flavorOf, type HarnessCluster, type HarnessLine, startCluster } from '../cluster.ts';
import { controlPlaneEnv } from '../control-plane-env.ts';
import { localContext } from '../invoke.ts';
import { type RecordedLifecycleCall, recordLifecycleActions } from '../lifecycle-recorder.ts';
import { LocalStepFunctions, loadDefinition } from '../local-sfn.ts';
import { type EmulatorClientConfig, startMoto } from '../moto.ts';
import { drainTimeFigures } from './figures.ts';

/** Options of {@link runScaleInDrill}. */
export interface ScaleInDrillOptions {
  readonly aws: EmulatorClientConfig;
  /** A running cluster with at least two workers (any line: Trino or PrestoDB). */
  readonly cluster: HarnessCluster;
  readonly clusterName?: string;
  /** The query that must survive the drain (default: a ~1 min tpch scan). */
  readonly sql?: string;
  /** Lifecycle hook HeartbeatTimeout, s (default 30, AWS's minimum). */
  readonly heartbeatTimeoutSeconds?: number;
  /** DRAIN_POLL_SECONDS (default 5). */
  readonly pollSeconds?: number;
  readonly log?: (line: string) => void;
}

/** What the drill measured. */
export interface ScaleInDrillResult {
  readonly queriesFailed: number;
  readonly lifecycleResult: string;
  readonly outcome: string;
  readonly heartbeats: number;
  readonly drainSeconds: number;
  readonly instanceId: string;
  readonly workerExited: boolean;
  /** ms from the worker reporting DRAINED (its last task done) to CompleteLifecycleAction; null if never seen. */
  readonly lastTaskToCompleteMs: number | null;
  /** Largest gap between the lifecycle action start, each heartbeat and the completion, in seconds. */
  readonly maxHeartbeatGapSeconds: number;
  readonly stateTransitions: number;
  readonly duplicateStartIgnored: boolean;
  readonly lifecycleCalls: readonly RecordedLifecycleCall[];
  readonly queryError?: string;
}

const DrainResult = z.object({
  lifecycleResult: z.string(),
  outcome: z.string(),
  heartbeats: z.number(),
  drainSeconds: z.number(),
});

/** Runs the drill; see the module comment. */
export async function runScaleInDrill(options: ScaleInDrillOptions): Promise<ScaleInDrillResult> {
  const log = options.log ?? (() => undefined);
  const clusterName = options.clusterName ?? 'drill';
  const cluster = options.cluster;
  if (cluster.workers.length < 2) throw new Error('the scale-in drill needs at least two workers');
  const heartbeatTimeoutSeconds = options.heartbeatTimeoutSeconds ?? 30;

  const group = await createWorkerGroup(
    options.aws,
    clusterName,
    cluster.workers.map((w) => w.httpPort),
    heartbeatTimeoutSeconds,
  );
  const env = {
    ...(await controlPlaneEnv(options.aws, cluster, clusterName)),
    WORKER_URL_TEMPLATE: 'http://127.0.0.1:{tag:trino-sentinel:http-port}',
    DRAIN_POLL_SECONDS: String(options.pollSeconds ?? 5),
    HEARTBEAT_MARGIN_SECONDS: '10',
    DRAIN_TIMEOUT_SECONDS: '1800',
    DRAIN_STATE_MACHINE_ARN: `arn:aws:states:${options.aws.region}:123456789012:stateMachine:${clusterName}-worker-drain`,
  };
  const config = loadConfig(DrainEnvSchema, env);
  const autoscaling = new AutoScalingClient(options.aws);
  const lifecycleCalls = recordLifecycleActions(autoscaling);
  const sfn = new SFNClient(options.aws);
  const secrets = {
    ssm: new SSMProvider({ awsSdkV3Client: new SSMClient(options.aws) }),
    secrets: new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(options.aws) }),
  };
  const drainDeps: DrainDeps = {
    config,
    autoscaling,
    ec2: new EC2Client(options.aws),
    sfn,
    cloudwatch: new CloudWatchClient(options.aws),
    sns: new SNSClient(options.aws),
    coordinator: () => resolveTrinoClient(config, secrets),
    now: () => Date.now(),
  };
  const handlers = {
    ...makeDrainTaskHandlers(() => drainDeps),
    startDrain: makeStartDrainHandler(() => drainDeps),
    terminationPolicy: makeTerminationPolicyHandler(() => drainDeps),
  };
  const { definition } = await loadDefinition('worker-drain.asl.json');
  const local = new LocalStepFunctions(definition, {
    BeginDrain: handlers.beginDrain,
    CheckDrain: handlers.checkDrain,
    CompleteLifecycleAction: handlers.completeDrain,
  });
  local.bridge(sfn);

  const observer = cluster.client();
  const sql = options.sql ?? "SELECT count(*) FROM tpch.sf30.lineitem WHERE comment LIKE '%sentinel%'";
  const marker = `scale-in-drill-${randomUUID()}`;
  const query = observer.query(`/* ${marker} */ ${sql}`, { timeoutMs: 60_000 }).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  try {
    // Wait until the query has tasks running on the workers.
    for (let i = 0; ; i += 1) {
      const running = (await observer.getQueries()).find((q) => q.query.includes(marker));
      if (running?.state === 'RUNNING' && (running.queryStats.runningDrivers ?? 0) > 0) break;
      if (i > 240) throw new Error('the drill query did not start running');
      await new Promise((r) => setTimeout(r, 250));
    }
    log('drill: query running; asking the termination policy which instance to scale in');

    const order = await handlers.terminationPolicy(
      {
        AutoScalingGroupARN: `arn:aws:autoscaling:${options.aws.region}:123456789012:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${group.autoScalingGroupName}`,
        AutoScalingGroupName: group.autoScalingGroupName,
        CapacityToTerminate: [
          { AvailabilityZone: `${options.aws.region}a`, Capacity: 1, InstanceMarketOption: 'on-demand' },
        ],
        Instances: group.instances.map((i) => ({
          AvailabilityZone: `${options.aws.region}a`,
          InstanceId: i.instanceId,
          InstanceType: 'r6i.xlarge',
          InstanceMarketOption: 'on-demand',
        })),
        Cause: 'SCALE_IN',
      },
      localContext('terminationPolicy'),
    );
    const instanceId = order.InstanceIDs[0];
    const target = group.instances.find((i) => i.instanceId === instanceId);
    const worker = cluster.workers.find((w) => w.httpPort === target?.port);
    if (instanceId === undefined || worker === undefined)
      throw new Error('termination policy returned no known instance');

    const lifecycleEvent: LifecycleActionEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'EC2 Instance-terminate Lifecycle Action',
      source: 'aws.autoscaling',
      account: '123456789012',
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: options.aws.region,
      resources: [
        `arn:aws:autoscaling:${options.aws.region}:123456789012:autoScalingGroup:x:autoScalingGroupName/${group.autoScalingGroupName}`,
      ],
      detail: {
        LifecycleActionToken: randomUUID(),
        AutoScalingGroupName: group.autoScalingGroupName,
        LifecycleHookName: group.lifecycleHookName,
        EC2InstanceId: instanceId,
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      },
    };
    const lifecycleStartMs = Date.parse(lifecycleEvent.time);
    log(`drill: scale-in of ${instanceId} (worker ${worker.httpUrl}); lifecycle action started`);
    const started = await handlers.startDrain(lifecycleEvent, localContext('startDrain'));
    const duplicate = await handlers.startDrain(lifecycleEvent, localContext('startDrain'));
    const execution = local.executions.get(started.executionName);
    if (execution === undefined) throw new Error('startDrain did not start an execution');

    // Watch the worker: when does it report DRAINED (its last task done)?
    let drainedAtMs: number | null = null;
    const workerClient = new TrinoClient({
      baseUrl: worker.httpUrl,
      user: cluster.user,
      flavor: flavorOf(cluster),
      timeoutMs: 2_000,
    });
    let watching = true;
    const watcher = (async () => {
      while (watching && drainedAtMs === null) {
        const state = await workerClient.getState().catch(() => 'UNREACHABLE');
        if (state === 'DRAINED' || state === 'UNREACHABLE') drainedAtMs = Date.now();
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    const output = DrainResult.parse(await execution.result);
    watching = false;
    await watcher;
    workerClient.close();
    const queryError = await query;
    log(
      `drill: drain ended ${output.outcome} with ${output.lifecycleResult}; query ${queryError ? `failed: ${queryError}` : 'finished'}`,
    );

    await autoscaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: instanceId,
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    const figures = drainTimeFigures({ lifecycleStartMs, drainedAtMs, lifecycleCalls });
    await Promise.race([worker.exit, new Promise((r) => setTimeout(r, 15_000))]);
    return {
      queriesFailed: queryError === undefined ? 0 : 1,
      lifecycleResult: output.lifecycleResult,
      outcome: output.outcome,
      heartbeats: output.heartbeats,
      drainSeconds: output.drainSeconds,
      instanceId,
      workerExited: worker.exited(),
      lastTaskToCompleteMs: figures.lastTaskToCompleteMs,
      maxHeartbeatGapSeconds: figures.maxHeartbeatGapSeconds,
      stateTransitions: execution.statesEntered.length,
      duplicateStartIgnored: duplicate.duplicate === true && local.executions.size === 1,
      lifecycleCalls,
      ...(queryError === undefined ? {} : { queryError }),
    };
  } finally {
    observer.close();
    autoscaling.destroy();
    sfn.destroy();
  }
}

/**
 * The drill in a sandbox of its own: starts moto and a secure cluster of `line` (default the newest Trino; or
 * `prestodb`) with two workers (5 s shutdown grace), runs {@link runScaleInDrill}, and stops everything.
 */
export async function runScaleInDrillInSandbox(
  options: Omit<ScaleInDrillOptions, 'aws' | 'cluster'> & {
    readonly name?: string;
    readonly line?: HarnessLine;
  },
): Promise<ScaleInDrillResult & { readonly trinoVersion: string; readonly line: HarnessLine }> {
  const moto = await startMoto();
  try {
    const cluster = await startCluster({
      line: options.line ?? 'newest',
      workers: 2,
      secure: true,
      name: options.name ?? 'drill',
      shutdownGracePeriod: '5s',
    });
    try {
      return {
        ...(await runScaleInDrill({ ...options, aws: moto.clientConfig, cluster })),
        trinoVersion: cluster.version,
        line: cluster.line,
      };
    } finally {
      await cluster.stop();
    }
  } finally {
    await moto.stop();
  }
}
