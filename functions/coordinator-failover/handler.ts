/**
 * coordinator-failover: the Task states of statemachines/coordinator-failover.asl.json. Each is a thin middy
 * handler: parse the execution state → gather observations → decide (./decide.ts) → act → return the state.
 *
 * - {@link planFailover}: observe the ENI, the active coordinator and the standbys; plan (or stand down, or dry-run).
 * - {@link awaitStandby}: no healthy standby: alarm, scale the coordinator group out, count the wait.
 * - {@link detachEni}, {@link checkDetach}: detach (force only when the plan says so, or when a normal detach is
 *   stuck), until EC2 reports the ENI available with no attachment.
 * - {@link fenceFailed}: stop or terminate the failed instance (kept in a drill).
 * - {@link attachEni}, {@link checkAttach}: attach to the standby only if the ENI is unattached; wait for `attached`.
 * - {@link checkServing}: the coordinator answers on the ENI address and the workers have re-announced.
 * - {@link completeFailover}: swap the role tags, publish `FailoverDurationSeconds`, log the timeline, notify.
 * - {@link notifyFailure}: a Catch target: alarm with the error and the timeline.
 *
 * The lock: the detector names the execution `failover-<cluster>-<attachment id>` (Step Functions refuses a second
 * execution with that name); a second execution that gets through anyway (a drill started by hand at the same time)
 * stands down at planning (`ALREADY_MOVED`), finds the old attachment gone at detach, and is refused at attach
 * (`decideAttach` → REFUSE) unless the ENI is already on its own target: exactly one ENI move.
 *
 * @module
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import * as z from 'zod';
import { publishMetrics } from '../../lib/aws/cloudwatch.ts';
import {
  attachEni as attachEniCall,
  autoScalingGroupOf,
  type CoordinatorInstance,
  describeEni,
  detachEni as detachEniCall,
  fenceInstance,
  instanceStatus,
  listCoordinatorInstances,
  setRole,
  TAG_CLUSTER,
  TAG_ROLE,
} from '../../lib/aws/eni.ts';
import { toAwsError } from '../../lib/aws/sdk-errors.ts';
import { loadConfig } from '../../lib/config.ts';
import { EniAttachedElsewhereError, FailoverTimeoutError } from '../../lib/errors.ts';
import { instanceUrl } from '../../lib/instance-url.ts';
import { logger } from '../../lib/logger.ts';
import { validateEvent } from '../../lib/middleware.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import { lazyTrinoClient } from '../../lib/trino/connect.ts';
import {
  type CoordinatorCandidate,
  type CoordinatorGroupView,
  decideAttach,
  decideAttachWait,
  decideDetach,
  decideNoStandby,
  decideServing,
  failoverReport,
  planFailover as plan,
} from './decide.ts';
import {
  type FailoverConfig,
  FailoverEnvSchema,
  type FailoverInput,
  FailoverInputSchema,
  type FailoverState,
  FailoverStateSchema,
} from './schemas.ts';

/** Dependencies; injectable for tests. */
export interface FailoverDeps {
  readonly config: FailoverConfig;
  readonly ec2: EC2Client;
  readonly autoscaling: AutoScalingClient;
  readonly cloudwatch: CloudWatchClient;
  readonly sns: SNSClient;
  /** Client of the coordinator through the ENI address (`TRINO_URL`), with the cluster's credentials. */
  readonly coordinator: () => Promise<TrinoClient>;
  readonly now: () => number;
}

function note(state: FailoverState, atMs: number, event: string): FailoverState {
  logger.info(event, { cluster: state.cluster, mode: state.mode, dryRun: state.dryRun });
  return { ...state, timeline: [...state.timeline, { atMs, event }] };
}

/** Probes `GET /v1/info` of one node (`starting:false` and, optionally, `coordinator:true`). Never throws. */
async function answers(client: TrinoClient, timeoutMs: number, mustBeCoordinator: boolean): Promise<boolean> {
  try {
    const info = await client.getInfo({ timeoutMs });
    return !info.starting && (!mustBeCoordinator || info.coordinator);
  } catch {
    return false;
  }
}

async function probeInstance(
  deps: FailoverDeps,
  coordinator: TrinoClient,
  instance: { instanceId: string; privateIpAddress?: string; tags: Readonly<Record<string, string>> },
): Promise<boolean> {
  let url: string;
  try {
    url = instanceUrl(deps.config.PRIMARY_URL_TEMPLATE, { ...instance, state: 'running' });
  } catch (error) {
    logger.warn('Cannot build the primary URL of a coordinator instance', {
      instanceId: instance.instanceId,
      error: String(error),
    });
    return false;
  }
  const node = coordinator.forNode(url);
  try {
    return await answers(node, deps.config.PROBE_TIMEOUT_MS, true);
  } finally {
    node.close();
  }
}

async function workerBaseline(deps: FailoverDeps): Promise<number> {
  if (deps.config.MIN_WORKERS > 0 || deps.config.WORKER_ASG_NAME === undefined)
    return deps.config.MIN_WORKERS;
  try {
    const out = await deps.autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [deps.config.WORKER_ASG_NAME] }),
    );
    return (out.AutoScalingGroups?.[0]?.Instances ?? []).filter((i) => i.LifecycleState === 'InService')
      .length;
  } catch (error) {
    logger.warn('Could not read the worker group: no worker baseline', { error: String(error) });
    return 0;
  }
}

/**
 * PlanFailover: observes the ENI, the instance holding it, and every coordinator/standby of the cluster (each
 * probed on its primary address), then plans with {@link plan}. Also the re-entry point after a standby wait.
 * @param input - The execution input on first entry ({@link FailoverInputSchema}), the state afterwards.
 * @throws AwsThrottledError (retried by the state machine) | AwsError
 */
export async function runPlanFailover(
  input: FailoverInput | FailoverState,
  deps: FailoverDeps,
): Promise<FailoverState> {
  const now = deps.now();
  const previous = FailoverStateSchema.safeParse(input);
  const base: FailoverInput = previous.success ? previous.data : FailoverInputSchema.parse(input);
  const { config } = deps;
  const coordinator = await deps.coordinator();
  const eni = await describeEni(deps.ec2, config.COORDINATOR_ENI_ID);
  const instances = await listCoordinatorInstances(deps.ec2, config.CLUSTER_NAME);
  const holderId = eni.attachment?.status === 'detached' ? undefined : eni.attachment?.instanceId;
  const holder: CoordinatorInstance | undefined = instances.find((i) => i.instanceId === holderId);
  const [healthy, active] = await Promise.all([
    Promise.all(
      instances.map(async (i) =>
        i.instanceId === holderId || i.state !== 'running' ? false : probeInstance(deps, coordinator, i),
      ),
    ),
    holderId === undefined
      ? undefined
      : (async () => ({
          instanceId: holderId,
          state: holder?.state ?? 'terminated',
          ...(await instanceStatus(deps.ec2, holderId).then((s) =>
            s === undefined ? {} : { instanceStatus: s },
          )),
          processAnswers: holder !== undefined && (await probeInstance(deps, coordinator, holder)),
          inAutoScalingGroup: (await autoScalingGroupOf(deps.autoscaling, holderId)) !== undefined,
        }))(),
  ]);
  const candidates: CoordinatorCandidate[] = instances.map((i, index) => ({
    instanceId: i.instanceId,
    state: i.state,
    launchTimeMs: i.launchTimeMs,
    healthy: healthy[index] ?? false,
    ...(i.tags[TAG_ROLE] === undefined ? {} : { role: i.tags[TAG_ROLE] }),
    ...(i.tags[TAG_CLUSTER] === undefined ? {} : { cluster: i.tags[TAG_CLUSTER] }),
    ...(i.availabilityZone === undefined ? {} : { availabilityZone: i.availabilityZone }),
  }));
  const decision = plan({
    mode: base.mode,
    dryRun: base.dryRun,
    clusterName: config.CLUSTER_NAME,
    ...(base.attachmentId === undefined ? {} : { expectedAttachmentId: base.attachmentId }),
    eni,
    ...(active === undefined ? {} : { active }),
    candidates,
  });
  logger.info('Failover plan', { plan: decision, candidates });
  const state: FailoverState = previous.success
    ? { ...previous.data, plan: decision }
    : {
        ...base,
        cluster: config.CLUSTER_NAME,
        failureAtMs: now - base.detectedAfterMs,
        startedAtMs: now,
        plan: decision,
        baselineWorkers: await workerBaseline(deps),
        standbyWaits: 0,
        standbyWaitSeconds: config.STANDBY_WAIT_SECONDS,
        giveUp: false,
        timeline: [],
      };
  return note(state, now, `Planned: ${decision.action}. ${decision.reason}`);
}

/**
 * AwaitStandby: no healthy standby. Alarms (SNS), scales the coordinator group out by one when nothing is launching,
 * and counts the wait; `giveUp` after `STANDBY_MAX_WAITS` rounds.
 */
export async function runAwaitStandby(state: FailoverState, deps: FailoverDeps): Promise<FailoverState> {
  const { config } = deps;
  let group: CoordinatorGroupView | undefined;
  if (config.COORDINATOR_ASG_NAME !== undefined) {
    const out = await deps.autoscaling
      .send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [config.COORDINATOR_ASG_NAME] }))
      .catch((cause: unknown) => {
        throw toAwsError('Auto Scaling DescribeAutoScalingGroups', cause);
      });
    const g = out.AutoScalingGroups?.[0];
    if (g) {
      group = {
        desiredCapacity: g.DesiredCapacity ?? 0,
        maxSize: g.MaxSize ?? 0,
        pendingInstances: (g.Instances ?? []).filter((i) => i.LifecycleState?.startsWith('Pending')).length,
      };
    }
  }
  const decision = decideNoStandby(state.standbyWaits, config.STANDBY_MAX_WAITS, group);
  if (decision.scaleOutTo !== undefined && config.COORDINATOR_ASG_NAME !== undefined) {
    await deps.autoscaling
      .send(
        new SetDesiredCapacityCommand({
          AutoScalingGroupName: config.COORDINATOR_ASG_NAME,
          DesiredCapacity: decision.scaleOutTo,
          HonorCooldown: false,
        }),
      )
      .catch((cause: unknown) => {
        throw toAwsError('Auto Scaling SetDesiredCapacity', cause);
      });
  }
  if (state.standbyWaits === 0) {
    await notify(deps, `No standby coordinator for ${state.cluster}`, {
      cluster: state.cluster,
      reason: state.plan.reason,
      scaledOutTo: decision.scaleOutTo,
    });
  }
  return note(
    { ...state, standbyWaits: state.standbyWaits + 1, giveUp: decision.giveUp },
    deps.now(),
    decision.giveUp
      ? `No standby after ${state.standbyWaits} waits: giving up`
      : `No standby: waiting ${state.standbyWaitSeconds} s${decision.scaleOutTo === undefined ? '' : ` (coordinator group scaled out to ${decision.scaleOutTo})`}`,
  );
}

/** DetachEni: detaches the ENI from the failed instance (force as planned). Idempotent. */
export async function runDetachEni(state: FailoverState, deps: FailoverDeps): Promise<FailoverState> {
  const now = deps.now();
  const force = state.plan.fence?.forceDetach ?? false;
  const attachmentId = state.plan.attachmentId;
  const sent = attachmentId === undefined ? false : await detachEniCall(deps.ec2, attachmentId, force);
  return note(
    { ...state, detach: { requestedAtMs: now, forced: force, step: 'WAIT' } },
    now,
    sent
      ? `DetachNetworkInterface ${attachmentId} sent (force: ${force})`
      : 'The ENI has no attachment to detach',
  );
}

/** CheckDetach: waits for EC2 to report the ENI available; escalates to a forced detach when stuck. */
export async function runCheckDetach(state: FailoverState, deps: FailoverDeps): Promise<FailoverState> {
  const now = deps.now();
  const detach = state.detach ?? { requestedAtMs: now, forced: false, step: 'WAIT' as const };
  const eni = await describeEni(deps.ec2, deps.config.COORDINATOR_ENI_ID);
  const step = decideDetach(eni, now - detach.requestedAtMs, detach.forced, {
    forceAfterMs: deps.config.DETACH_FORCE_AFTER_MS,
    giveUpAfterMs: deps.config.DETACH_GIVE_UP_AFTER_MS,
  });
  if (step === 'FORCE' && eni.attachment !== undefined) {
    await detachEniCall(deps.ec2, eni.attachment.attachmentId, true);
    return note(
      { ...state, detach: { ...detach, forced: true, step: 'WAIT' } },
      now,
      `Detach stuck after ${now - detach.requestedAtMs} ms: forced DetachNetworkInterface sent`,
    );
  }
  if (step === 'GIVE_UP') {
    throw new FailoverTimeoutError(
      `The coordinator ENI is still attached ${now - detach.requestedAtMs} ms after the detach request`,
      { context: { networkInterfaceId: deps.config.COORDINATOR_ENI_ID, eniStatus: eni.status } },
    );
  }
  const updated = {
    ...state,
    detach: { ...detach, step, ...(step === 'DETACHED' ? { detachedAtMs: now } : {}) },
  };
  return step === 'DETACHED' ? note(updated, now, 'ENI detached (available, no attachment)') : updated;
}

/** FenceFailed: stops or terminates the failed instance as planned (nothing in a drill on a healthy node). */
export async function runFenceFailed(state: FailoverState, deps: FailoverDeps): Promise<FailoverState> {
  const now = deps.now();
  const failed = state.plan.failedInstanceId;
  const action = state.plan.fence?.instanceAction ?? 'NONE';
  if (failed === undefined || action === 'NONE') {
    return note({ ...state, fenced: { instanceAction: 'NONE', atMs: now } }, now, 'Failed instance kept');
  }
  const inGroup =
    deps.config.TERMINATE_FAILED && (await autoScalingGroupOf(deps.autoscaling, failed)) !== undefined;
  const effective = action === 'TERMINATE' && !deps.config.TERMINATE_FAILED ? 'STOP' : action;
  await fenceInstance(deps.ec2, deps.autoscaling, failed, effective, {
    inAutoScalingGroup: inGroup,
    force: state.plan.fence?.forceDetach ?? false,
  });
  await setRole(deps.ec2, [failed], 'failed');
  return note(
    { ...state, fenced: { instanceAction: effective, atMs: now } },
    now,
    `${effective === 'STOP' ? 'Stopped' : 'Terminated'} ${failed}${inGroup ? ' (its group launches a replacement)' : ''}`,
  );
}

/** AttachEni: attaches the ENI to the chosen standby, only if it is unattached (moto would allow a double attach). */
export async function runAttachEni(state: FailoverState, deps: FailoverDeps): Promise<FailoverState> {
  const now = deps.now();
  const target = state.plan.standbyInstanceId;
  if (target === undefined) throw new FailoverTimeoutError('No standby in the plan at AttachEni');
  const eni = await describeEni(deps.ec2, deps.config.COORDINATOR_ENI_ID);
  const decision = decideAttach(eni, target);
  if (decision === 'REFUSE') {
    throw new EniAttachedElsewhereError(
      `The coordinator ENI is attached to ${eni.attachment?.instanceId ?? 'another instance'} (${eni.status}); refusing to attach it to ${target}`,
      { context: { networkInterfaceId: eni.networkInterfaceId, target, holder: eni.attachment?.instanceId } },
    );
  }
  const attachmentId =
    decision === 'ATTACH'
      ? await attachEniCall(deps.ec2, eni.networkInterfaceId, target, deps.config.ENI_DEVICE_INDEX)
      : eni.attachment?.attachmentId;
  return note(
    {
      ...state,
      attach: { requestedAtMs: now, step: 'WAIT', ...(attachmentId === undefined ? {} : { attachmentId }) },
    },
    now,
    decision === 'ATTACH'
      ? `AttachNetworkInterface to ${target} sent (${attachmentId ?? 'no attachment id'})`
      : `The ENI is already on ${target}`,
  );
}

/** CheckAttach: waits for the attachment to the standby to be `attached`. */
export async function runCheckAttach(state: FailoverState, deps: FailoverDeps): Promise<FailoverState> {
  const now = deps.now();
  const target = state.plan.standbyInstanceId ?? '';
  const attach = state.attach ?? { requestedAtMs: now, step: 'WAIT' as const };
  const eni = await describeEni(deps.ec2, deps.config.COORDINATOR_ENI_ID);
  const step = decideAttachWait(eni, target, now - attach.requestedAtMs, deps.config.ATTACH_TIMEOUT_MS);
  if (step === 'LOST') {
    throw new EniAttachedElsewhereError(
      `The coordinator ENI went to ${eni.attachment?.instanceId}, not ${target}: another actor moved it`,
      { context: { networkInterfaceId: eni.networkInterfaceId, target } },
    );
  }
  if (step === 'TIMEOUT') {
    throw new FailoverTimeoutError(
      `The ENI is not attached to ${target} after ${deps.config.ATTACH_TIMEOUT_MS} ms`,
      {
        context: { networkInterfaceId: eni.networkInterfaceId, target, eniStatus: eni.status },
      },
    );
  }
  const updated = {
    ...state,
    attach: { ...attach, step, ...(step === 'ATTACHED' ? { attachedAtMs: now } : {}) },
  };
  return step === 'ATTACHED' ? note(updated, now, `ENI attached to ${target}`) : updated;
}

/**
 * CheckServing: `GET /v1/info` through the ENI address (`starting:false`, `coordinator:true`) and `GET /v1/node`
 * (minus `/v1/node/failed`) for the re-announced workers. Records the first time each held.
 * Source: Trino io.trino.server.ServerInfoResource, io.trino.server.NodeResource.
 */
export async function runCheckServing(state: FailoverState, deps: FailoverDeps): Promise<FailoverState> {
  const now = deps.now();
  const serving = state.serving ?? { firstCheckAtMs: now, step: 'WAIT' as const, workers: 0 };
  const client = await deps.coordinator();
  const answersOnEni = await answers(client, deps.config.PROBE_TIMEOUT_MS, true);
  let workers = 0;
  if (answersOnEni) {
    try {
      const [nodes, failed] = await Promise.all([
        client.getNodes({ timeoutMs: deps.config.PROBE_TIMEOUT_MS }),
        client.getFailedNodes({ timeoutMs: deps.config.PROBE_TIMEOUT_MS }),
      ]);
      const failedUris = new Set(failed.map((n) => n.uri));
      workers = nodes.filter((n) => !failedUris.has(n.uri)).length;
    } catch (error) {
      logger.warn('Could not read /v1/node through the ENI address', { error: String(error) });
    }
  }
  const step = decideServing({
    answersOnEni,
    workers,
    baselineWorkers: state.baselineWorkers,
    minimumWorkers: deps.config.MIN_WORKERS,
    elapsedMs: now - serving.firstCheckAtMs,
    timeoutMs: deps.config.SERVING_TIMEOUT_MS,
  });
  let next: FailoverState = {
    ...state,
    serving: {
      ...serving,
      step,
      workers,
      ...(answersOnEni && serving.servingAtMs === undefined ? { servingAtMs: now } : {}),
      ...(step === 'SERVING' && serving.workersBackAtMs === undefined ? { workersBackAtMs: now } : {}),
    },
  };
  if (answersOnEni && serving.servingAtMs === undefined) {
    next = note(next, now, 'The coordinator answers on the ENI address');
  }
  if (step === 'SERVING') next = note(next, now, `${workers} worker(s) re-announced`);
  if (step === 'TIMEOUT') {
    next = note(
      next,
      now,
      `Serving check timed out: ${workers}/${state.baselineWorkers} workers, answers: ${answersOnEni}`,
    );
  }
  return next;
}

/** Output of the failover: the report and the timeline. */
export interface FailoverResult {
  readonly cluster: string;
  readonly mode: string;
  readonly dryRun: boolean;
  readonly outcome: 'FAILED_OVER' | 'DEGRADED' | 'DRY_RUN' | 'STOOD_DOWN';
  /** Epoch ms of the first failed probe (start − detectedAfterMs) and of the execution's start. */
  readonly failureAtMs: number;
  readonly startedAtMs: number;
  readonly plan: FailoverState['plan'];
  readonly newCoordinatorInstanceId?: string;
  readonly report?: ReturnType<typeof failoverReport>;
  readonly timeline: FailoverState['timeline'];
}

/**
 * CompleteFailover: swaps the role tags (standby → coordinator; a drill's kept coordinator → standby), publishes
 * `FailoverDurationSeconds` (first failed probe → end) and `FailoverServingSeconds`, logs the timeline, notifies.
 * Also the end of a dry run or a stand-down (nothing changed, report only).
 */
export async function runCompleteFailover(state: FailoverState, deps: FailoverDeps): Promise<FailoverResult> {
  const now = deps.now();
  const { plan: p } = state;
  const base = {
    cluster: state.cluster,
    mode: state.mode,
    dryRun: state.dryRun,
    failureAtMs: state.failureAtMs,
    startedAtMs: state.startedAtMs,
    plan: p,
  };
  if (p.action !== 'FAILOVER') {
    const outcome = p.action === 'DRY_RUN' ? 'DRY_RUN' : 'STOOD_DOWN';
    logger.info('Failover execution ended without changes', { outcome, plan: p });
    return { ...base, outcome, timeline: state.timeline };
  }
  const newCoordinator = p.standbyInstanceId ?? '';
  await setRole(deps.ec2, [newCoordinator], 'coordinator');
  if (p.failedInstanceId !== undefined && state.fenced?.instanceAction === 'NONE') {
    await setRole(deps.ec2, [p.failedInstanceId], 'standby');
  }
  const report = failoverReport({
    failureAtMs: state.failureAtMs,
    startedAtMs: state.startedAtMs,
    ...(state.detach?.detachedAtMs === undefined ? {} : { detachedAtMs: state.detach.detachedAtMs }),
    ...(state.attach?.attachedAtMs === undefined ? {} : { attachedAtMs: state.attach.attachedAtMs }),
    ...(state.serving?.servingAtMs === undefined ? {} : { servingAtMs: state.serving.servingAtMs }),
    ...(state.serving?.workersBackAtMs === undefined
      ? {}
      : { workersBackAtMs: state.serving.workersBackAtMs }),
    endedAtMs: now,
  });
  const outcome = state.serving?.step === 'SERVING' ? 'FAILED_OVER' : 'DEGRADED';
  const timeline = [
    ...state.timeline,
    { atMs: now, event: `Roles swapped: ${newCoordinator} is the coordinator` },
  ];
  await publishMetrics(
    deps.cloudwatch,
    [
      { name: 'FailoverDurationSeconds', unit: 'Seconds', value: report.totalMs / 1000 },
      ...(report.servingAfterMs === undefined
        ? []
        : [
            { name: 'FailoverServingSeconds', unit: 'Seconds' as const, value: report.servingAfterMs / 1000 },
          ]),
      { name: 'Failovers', unit: 'Count', value: 1 },
    ],
    { namespace: deps.config.METRICS_NAMESPACE, clusterName: state.cluster, timestamp: new Date(now) },
  ).catch((error: unknown) => logger.warn('Could not publish failover metrics', { error: String(error) }));
  const result: FailoverResult = {
    ...base,
    outcome,
    newCoordinatorInstanceId: newCoordinator,
    report,
    timeline,
  };
  // The structured timeline event: one log line with every step and the durations.
  logger.info('Failover timeline', { ...result });
  await notify(
    deps,
    `Trino coordinator ${outcome === 'FAILED_OVER' ? 'failed over' : 'moved, workers not all back'} (${state.cluster})`,
    result,
  );
  return result;
}

/** NotifyFailure (Catch target): alarms with the error and the timeline, then the execution fails. */
export async function runNotifyFailure(state: FailoverState, deps: FailoverDeps): Promise<FailoverState> {
  logger.error('Failover failed', { error: state.error, plan: state.plan, timeline: state.timeline });
  await notify(deps, `Trino coordinator failover FAILED (${state.cluster})`, {
    cluster: state.cluster,
    error: state.error,
    plan: state.plan,
    timeline: state.timeline,
  });
  return state;
}

async function notify(deps: FailoverDeps, subject: string, message: unknown): Promise<void> {
  if (deps.config.ALARM_TOPIC_ARN === undefined) return;
  await deps.sns
    .send(
      new PublishCommand({
        TopicArn: deps.config.ALARM_TOPIC_ARN,
        Subject: subject.slice(0, 100),
        Message: JSON.stringify(message),
      }),
    )
    .catch((error: unknown) => logger.warn('Could not notify the alarm topic', { error: String(error) }));
}

let defaultDeps: FailoverDeps | undefined;

/** Default dependencies, built once per container. */
export function getDefaultFailoverDeps(): FailoverDeps {
  if (defaultDeps === undefined) {
    const config = loadConfig(FailoverEnvSchema);
    defaultDeps = {
      config,
      ec2: new EC2Client({}),
      autoscaling: new AutoScalingClient({}),
      cloudwatch: new CloudWatchClient({}),
      sns: new SNSClient({}),
      coordinator: lazyTrinoClient(config),
      now: () => Date.now(),
    };
  }
  return defaultDeps;
}

type DepsSource = FailoverDeps | (() => FailoverDeps);
const resolveDeps = (deps: DepsSource) => (typeof deps === 'function' ? deps() : deps);

const PlanInputSchema = z.union([FailoverStateSchema, FailoverInputSchema]);

/** Builds every Task handler over the given dependencies. */
export function makeFailoverHandlers(deps: DepsSource = getDefaultFailoverDeps) {
  const wrap = <T, R>(
    schema: Parameters<typeof validateEvent>[0],
    source: string,
    fn: (input: T, d: FailoverDeps) => Promise<R>,
  ) =>
    middy<T, R>()
      .use(injectLambdaContext(logger))
      .use(validateEvent(schema, source))
      .handler(async (input: T) => fn(input, resolveDeps(deps)));
  const task = (name: string, fn: (s: FailoverState, d: FailoverDeps) => Promise<FailoverState>) =>
    wrap<FailoverState, FailoverState>(FailoverStateSchema, `${name} task input`, fn);
  return {
    planFailover: wrap<FailoverInput | FailoverState, FailoverState>(
      PlanInputSchema,
      'failover execution input',
      runPlanFailover,
    ),
    awaitStandby: task('AwaitStandby', runAwaitStandby),
    detachEni: task('DetachEni', runDetachEni),
    checkDetach: task('CheckDetach', runCheckDetach),
    fenceFailed: task('FenceFailed', runFenceFailed),
    attachEni: task('AttachEni', runAttachEni),
    checkAttach: task('CheckAttach', runCheckAttach),
    checkServing: task('CheckServing', runCheckServing),
    completeFailover: wrap<FailoverState, FailoverResult>(
      FailoverStateSchema,
      'CompleteFailover task input',
      runCompleteFailover,
    ),
    notifyFailure: task('NotifyFailure', runNotifyFailure),
  };
}

/** Lambda entry points (see serverless.yml). */
export const {
  planFailover,
  awaitStandby,
  detachEni,
  checkDetach,
  fenceFailed,
  attachEni,
  checkAttach,
  checkServing,
  completeFailover,
  notifyFailure,
} = makeFailoverHandlers();
