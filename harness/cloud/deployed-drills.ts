/**
 * Test infrastructure: the drills on the deployed topology (issue 10). Each drill acts only as a user or AWS would —
 * a node's process hangs, the worker group is scaled in, clients run queries — and observes the outcome through
 * the coordinator ENI address, the emulator's APIs and the booted instances; the control plane (the deployed zips,
 * the state machines as deployed, the EventBridge rules as deployed) does the rest.
 *
 * @module
 */

import { readFile } from 'node:fs/promises';
import {
  AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, GetMetricDataCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { TrinoClient } from '../../lib/trino/client.ts';
import { schedulePhaseMs, waitForPhaseMs } from '../drills/figures.ts';
import type { BootedInstance } from './instance.ts';
import type { ExecutionRecord } from './states-service.ts';
import { type DeployedTopology, DRILL_USER } from './topology.ts';

/** Where the AMI's Trino writes its server log (log.path) and the CloudWatch agent reads it (packer/files). */
const SERVER_LOG = '/var/lib/trino/data/var/log/server.log';

/** A log line sink. */
type Log = (line: string) => void;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What {@link waitForCluster} found. */
export interface ClusterReady {
  /** Instance holding the coordinator ENI. */
  readonly activeInstanceId: string;
  readonly attachmentId: string;
  /** Active workers the coordinator reports. */
  readonly workers: number;
  /** Coordinator-group instances (active + standbys) running. */
  readonly coordinators: readonly string[];
  /** ms from the call to ready. */
  readonly waitedMs: number;
  /**
   * Size of each booted node's Trino server log where the CloudWatch agent reads it
   * (`/var/lib/trino/data/var/log/server.log`), bytes; `null` when it is missing.
   */
  readonly serverLogBytes: Readonly<Record<string, number | null>>;
}

/** Reads of the topology's emulator and coordinator that the drills share. */
export class TopologyProbe {
  readonly ec2: EC2Client;
  readonly autoscaling: AutoScalingClient;
  readonly cloudwatch: CloudWatchClient;
  /** The control plane's user, as the Lambdas authenticate. */
  readonly sentinel: TrinoClient;
  /** The drills' query user. */
  readonly analyst: TrinoClient;
  readonly eniId: string;
  readonly coordinatorGroup: string;
  readonly workerGroup: string;

  constructor(readonly topology: DeployedTopology) {
    const aws = topology.aws;
    this.ec2 = new EC2Client({ ...aws, maxAttempts: 2 });
    this.autoscaling = new AutoScalingClient({ ...aws, maxAttempts: 2 });
    this.cloudwatch = new CloudWatchClient({ ...aws, maxAttempts: 2 });
    const caPem = topology.stacks.account.tls.caPem;
    const common = { baseUrl: topology.coordinatorUrl, caPem, timeoutMs: 3_000 };
    this.sentinel = new TrinoClient({
      ...common,
      user: 'sentinel',
      auth: { type: 'basic', username: 'sentinel', password: topology.stacks.account.secrets.trinoPassword },
    });
    this.analyst = new TrinoClient({
      ...common,
      timeoutMs: 120_000,
      user: DRILL_USER,
      auth: { type: 'basic', username: DRILL_USER, password: topology.drillPassword },
    });
    const outputs = topology.stacks.infra.outputs;
    this.eniId = required(outputs.CoordinatorEniId, 'CoordinatorEniId');
    this.coordinatorGroup = required(outputs.CoordinatorGroupName, 'CoordinatorGroupName');
    this.workerGroup = required(outputs.WorkerGroupName, 'WorkerGroupName');
  }

  /** The ENI's attachment as EC2 reports it (`undefined` = detached). */
  async attachment(): Promise<{ instanceId: string; attachmentId: string; status: string } | undefined> {
    const answer = await this.ec2.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [this.eniId] }),
    );
    const attachment = answer.NetworkInterfaces?.[0]?.Attachment;
    if (!attachment?.InstanceId || !attachment.AttachmentId) return undefined;
    return {
      instanceId: attachment.InstanceId,
      attachmentId: attachment.AttachmentId,
      status: attachment.Status ?? 'unknown',
    };
  }

  /** A group as Auto Scaling reports it. */
  async group(name: string): Promise<AutoScalingGroup> {
    const answer = await this.autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
    );
    const group = answer.AutoScalingGroups?.[0];
    if (!group) throw new Error(`Auto Scaling group ${name} not found`);
    return group;
  }

  /** EC2 state name of an instance (`undefined` when EC2 no longer lists it). */
  async instanceState(instanceId: string): Promise<string | undefined> {
    const answer = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    return answer.Reservations?.[0]?.Instances?.[0]?.State?.Name;
  }

  /** Active workers the coordinator on the ENI reports (`undefined` when it does not answer). */
  async activeWorkers(): Promise<number | undefined> {
    try {
      const info = await this.sentinel.getInfo();
      if (info.starting) return undefined;
      // /v1/node: the nodes the coordinator's failure detector watches (every other node: the workers, as the
      // failover's CheckServing counts them), minus those in /v1/node/failed.
      const [nodes, failed] = await Promise.all([this.sentinel.getNodes(), this.sentinel.getFailedNodes()]);
      const failedUris = new Set(failed.map((n) => n.uri));
      return nodes.filter((n) => !failedUris.has(n.uri)).length;
    } catch {
      return undefined;
    }
  }

  /** The booted instance (waits until its namespace booted, at most `timeoutMs`). */
  async booted(instanceId: string, timeoutMs = 600_000): Promise<BootedInstance> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const instance = this.topology.instances.get(instanceId);
      if (instance) return instance;
      if (Date.now() > deadline)
        throw new Error(`instance ${instanceId} did not boot within ${timeoutMs} ms`);
      await sleep(500);
    }
  }

  /** Failover executions (the coordinator-failover state machine), oldest first. */
  failoverExecutions(): readonly ExecutionRecord[] {
    const arn = this.topology.stacks.controlPlane.outputs.CoordinatorFailoverStateMachineArn;
    return this.topology.states.executions().filter((e) => e.stateMachineArn === arn);
  }

  /**
   * Whether the coordinator-group instance answers `GET /v1/info` (not starting) on its primary address, as the
   * control plane probes it (https, the certificate's name = the cluster's name).
   */
  async answersOnPrimary(instanceId: string): Promise<boolean> {
    const answer = await this.ec2
      .send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))
      .catch(() => undefined);
    const ip = answer?.Reservations?.[0]?.Instances?.[0]?.PrivateIpAddress;
    if (!ip) return false;
    const node = new TrinoClient({
      baseUrl: `https://${ip}:8443`,
      user: 'sentinel',
      caPem: this.topology.stacks.account.tls.caPem,
      tlsServerName: this.topology.stacks.clusterName,
      timeoutMs: 2_000,
    });
    try {
      return !(await node.getInfo()).starting;
    } catch {
      return false;
    } finally {
      node.close();
    }
  }

  /** Custom metric names published so far in `namespace`. */
  async metricNames(namespace: string): Promise<Set<string>> {
    const answer = await this.cloudwatch.send(new ListMetricsCommand({ Namespace: namespace }));
    return new Set((answer.Metrics ?? []).map((m) => m.MetricName ?? ''));
  }

  close(): void {
    this.ec2.destroy();
    this.autoscaling.destroy();
    this.cloudwatch.destroy();
    this.sentinel.close();
    this.analyst.close();
  }
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new Error(`the deployed stacks have no ${what}`);
  return value;
}

/**
 * Waits until the cluster serves: the coordinator ENI attached (on a new cluster, by the control plane's first
 * failover: every coordinator boots as a standby), the coordinator answering on the ENI address with `workers`
 * active workers, and every coordinator-group instance booted with Trino started.
 * @throws Error with what is still missing after `timeoutMs` (default 15 min).
 */
export async function waitForCluster(
  probe: TopologyProbe,
  options: { readonly workers: number; readonly timeoutMs?: number; readonly log: Log },
): Promise<ClusterReady> {
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 900_000);
  let last = 'nothing read yet';
  let lastLogged = 0;
  for (;;) {
    const attachment = await probe.attachment().catch(() => undefined);
    const workers = await probe.activeWorkers();
    const group = await probe.group(probe.coordinatorGroup).catch(() => undefined);
    const coordinators = (group?.Instances ?? [])
      .filter((i) => i.LifecycleState === 'InService')
      .map((i) => i.InstanceId ?? '');
    const trinoUp = await Promise.all(coordinators.map((id) => probe.answersOnPrimary(id)));
    last =
      `ENI ${attachment ? `on ${attachment.instanceId} (${attachment.status})` : 'detached'}, ` +
      `workers ${workers ?? 'coordinator not answering'}/${options.workers}, ` +
      `coordinators answering on their primary address ${trinoUp.filter(Boolean).length}/${coordinators.length}`;
    if (
      attachment?.status === 'attached' &&
      workers !== undefined &&
      workers >= options.workers &&
      coordinators.length > 0 &&
      trinoUp.every(Boolean)
    ) {
      options.log(`drill: cluster ready after ${Math.round((Date.now() - started) / 1000)} s: ${last}`);
      const serverLogBytes: Record<string, number | null> = {};
      for (const [id, instance] of probe.topology.instances) {
        const stat = await instance
          .exec(['stat', '-L', '-c', '%s', SERVER_LOG], { timeoutMs: 10_000 })
          .catch(() => undefined);
        serverLogBytes[id] = stat?.code === 0 ? Number(stat.stdout.trim()) : null;
      }
      return {
        activeInstanceId: attachment.instanceId,
        attachmentId: attachment.attachmentId,
        workers,
        coordinators,
        waitedMs: Date.now() - started,
        serverLogBytes,
      };
    }
    if (Date.now() > deadline) throw new Error(`the cluster did not come up: ${last}`);
    if (Date.now() - lastLogged > 15_000) {
      options.log(`drill: waiting for the cluster: ${last}`);
      lastLogged = Date.now();
    }
    await sleep(1_000);
  }
}

/** Result of {@link runDeployedFailoverDrill} (the `--sandbox` drill's figures, plus what only the topology shows). */
export interface DeployedFailoverResult {
  /** Hang → the failover execution started (the detector confirmed). */
  readonly detectedAfterMs: number | null;
  /** Hang → the new coordinator answers on the ENI address. */
  readonly servingAfterMs: number | null;
  /** Hang → the coordinator on the ENI reports every worker again. */
  readonly workersBackAfterMs: number | null;
  /** Failover executions started during the healthy watch before the hang. */
  readonly falseFailovers: number;
  /** New attachments of the ENI seen during the drill (exactly 1 for one failover). */
  readonly enisAttached: number;
  /** Hang → the ENI seen attached to the new coordinator (the drill polls every 250 ms). */
  readonly eniAttachedAfterMs: number | null;
  /** Where in the health loop's minute the hang fell: ms after coordinatorHealth's last scheduled invocation. */
  readonly hangPhaseMs: number | null;
  readonly outcome: string;
  readonly failedCoordinator: string;
  readonly newCoordinator: string | undefined;
  /** EC2 state of the failed instance at the end (fenced: `terminated`/`shutting-down`). */
  readonly failedInstanceState: string | undefined;
  /** A replacement coordinator-group instance launched and booted with Trino started, ms after the hang. */
  readonly replacementReadyAfterMs: number | null;
  /** `SELECT count(*) FROM tpch.tiny.nation` through the ENI address after the failover: `OK` or the error. */
  readonly queryAfterFailover: string;
  readonly executionStatus: string | undefined;
  readonly timeline: readonly { readonly afterMs: number; readonly event: string }[];
}

/**
 * The failover drill on the deployed topology: watches the healthy cluster (no failover may start), hangs the
 * active coordinator's JVM (SIGSTOP: the instance stays `running`, its process stops answering — the failure EC2
 * does not see), then waits for the detector (the deployed coordinatorHealth zip on its schedule) and the failover
 * state machine to move the ENI to a standby, fence the hung instance, and for the group's replacement to boot as
 * a standby.
 * @throws Error when the cluster is not ready or an emulator read fails.
 */
export async function runDeployedFailoverDrill(
  probe: TopologyProbe,
  options: {
    readonly workers: number;
    readonly watchMs?: number;
    readonly timeoutMs?: number;
    /** Wait for the replacement standby to boot (needed before another failover). Default true. */
    readonly waitForReplacement?: boolean;
    /**
     * When to hang: `ready` (default) right after the healthy watch; `random` at a moment drawn uniformly over the
     * health loop's minute (from coordinatorHealth's schedule phase), after the watch.
     */
    readonly hangAt?: 'ready' | 'random';
    readonly log: Log;
  },
): Promise<DeployedFailoverResult> {
  const log = options.log;
  const ready = await waitForCluster(probe, { workers: options.workers, log });
  const executionsAtReady = probe.failoverExecutions().length;
  await sleep(options.watchMs ?? 20_000);
  if (options.hangAt === 'random') {
    const targetPhaseMs = Math.floor(Math.random() * HEALTH_SCHEDULE_PERIOD_MS);
    const scheduledAtMs = lastHealthInvocationAtMs(probe);
    const waitMs =
      scheduledAtMs === undefined
        ? targetPhaseMs
        : waitForPhaseMs(Date.now(), scheduledAtMs, HEALTH_SCHEDULE_PERIOD_MS, targetPhaseMs);
    log(`drill: hang at ${targetPhaseMs} ms into the health loop's minute: in ${waitMs} ms (still watching)`);
    await sleep(waitMs);
  }
  // Failover executions started while the cluster was healthy (the watch, and the wait for the hang's moment).
  const falseFailovers = probe.failoverExecutions().length - executionsAtReady;
  const executionsBefore = probe.failoverExecutions().length;
  const failed = ready.activeInstanceId;
  const instance = await probe.booted(failed);
  const timeline: { afterMs: number; event: string }[] = [];
  const t0 = Date.now();
  const mark = (event: string) => {
    timeline.push({ afterMs: Date.now() - t0, event });
    log(`drill: +${Date.now() - t0} ms ${event}`);
  };
  await instance.kill('SIGSTOP', 'trino.service');
  const lastInvocationAtMs = lastHealthInvocationAtMs(probe);
  const hangPhaseMs =
    lastInvocationAtMs === undefined
      ? null
      : schedulePhaseMs(t0, lastInvocationAtMs, HEALTH_SCHEDULE_PERIOD_MS);
  mark(
    `hung the JVM of the active coordinator ${failed} (SIGSTOP), ${hangPhaseMs ?? '?'} ms into the health loop's minute`,
  );

  const deadline = t0 + (options.timeoutMs ?? 600_000);
  const attachments = new Set<string>([ready.attachmentId]);
  let detectedAfterMs: number | null = null;
  let servingAfterMs: number | null = null;
  let workersBackAfterMs: number | null = null;
  let execution: ExecutionRecord | undefined;
  let newCoordinator: string | undefined;
  let eniAttachedAfterMs: number | null = null;
  while (Date.now() < deadline) {
    const started = probe.failoverExecutions().slice(executionsBefore);
    if (detectedAfterMs === null && started.length > 0) {
      detectedAfterMs = Date.now() - t0;
      mark(`failover execution ${started[0]?.name} started`);
    }
    const attachment = await probe.attachment().catch(() => undefined);
    if (attachment && !attachments.has(attachment.attachmentId)) {
      attachments.add(attachment.attachmentId);
      newCoordinator = attachment.instanceId;
      eniAttachedAfterMs ??= Date.now() - t0;
      mark(`ENI attached to ${attachment.instanceId} (${attachment.attachmentId}, ${attachment.status})`);
    }
    if (servingAfterMs === null && newCoordinator !== undefined) {
      const info = await probe.sentinel.getInfo().catch(() => undefined);
      if (info && !info.starting) {
        servingAfterMs = Date.now() - t0;
        mark('the new coordinator answers on the ENI address');
      }
    }
    if (servingAfterMs !== null && workersBackAfterMs === null) {
      const workers = await probe.activeWorkers();
      if (workers !== undefined && workers >= options.workers) {
        workersBackAfterMs = Date.now() - t0;
        mark(`${workers} workers announced to the new coordinator`);
      }
    }
    execution = started[0] ? probe.topology.states.execution(started[0].executionArn) : undefined;
    if (execution && execution.status !== 'RUNNING' && workersBackAfterMs !== null) break;
    await sleep(250);
  }
  if (execution)
    mark(`failover execution ${execution.status}${execution.error ? ` (${execution.error})` : ''}`);
  const output = execution?.output ? safeJson(execution.output) : undefined;
  const outcome = typeof output?.outcome === 'string' ? output.outcome : (execution?.status ?? 'NOT_STARTED');

  let queryAfterFailover = 'not run';
  try {
    const result = await probe.analyst.query('SELECT count(*) FROM tpch.tiny.nation');
    queryAfterFailover =
      JSON.stringify(result.rows) === '[[25]]' ? 'OK' : `unexpected rows ${JSON.stringify(result.rows)}`;
  } catch (error) {
    queryAfterFailover = String(error);
  }
  mark(`query through the ENI address: ${queryAfterFailover}`);

  let replacementReadyAfterMs: number | null = null;
  if (options.waitForReplacement ?? true) {
    const known = new Set(ready.coordinators);
    while (Date.now() < deadline) {
      const group = await probe.group(probe.coordinatorGroup).catch(() => undefined);
      const fresh = (group?.Instances ?? [])
        .map((i) => i.InstanceId ?? '')
        .filter((id) => id && !known.has(id));
      let up = false;
      for (const id of fresh) if (await probe.answersOnPrimary(id)) up = true;
      if (up) {
        replacementReadyAfterMs = Date.now() - t0;
        mark(`replacement coordinator ${fresh.join(', ')} booted (standby)`);
        break;
      }
      await sleep(1_000);
    }
  }
  const failedInstanceState = await probe.instanceState(failed).catch(() => undefined);
  return {
    detectedAfterMs,
    servingAfterMs,
    workersBackAfterMs,
    falseFailovers,
    enisAttached: attachments.size - 1,
    eniAttachedAfterMs,
    hangPhaseMs,
    outcome,
    failedCoordinator: failed,
    newCoordinator,
    failedInstanceState,
    replacementReadyAfterMs,
    queryAfterFailover,
    executionStatus: execution?.status,
    timeline,
  };
}

/** coordinatorHealth's schedule: `rate(1 minute)` (serverless/functions.yml). */
const HEALTH_SCHEDULE_PERIOD_MS = 60_000;

/** The scheduled time of coordinatorHealth's latest invocation (its rule's last firing), epoch ms. */
function lastHealthInvocationAtMs(probe: TopologyProbe): number | undefined {
  const firing = probe.topology.events.firings.filter((f) => /CoordinatorHealth/i.test(f.ruleName)).at(-1);
  return firing === undefined ? undefined : Date.parse(firing.time);
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value))
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sets the worker group's capacity as an operator scaling it by hand would: MinSize and DesiredCapacity together
 * (the group's MinSize is the stack's WorkerMinSize, which a SetDesiredCapacity below it violates).
 */
export async function setWorkerCapacity(probe: TopologyProbe, desired: number): Promise<void> {
  await probe.autoscaling.send(
    new UpdateAutoScalingGroupCommand({
      AutoScalingGroupName: probe.workerGroup,
      MinSize: desired,
      DesiredCapacity: desired,
    }),
  );
}

/** Result of {@link runDeployedScaleInDrill} (the `--sandbox` drill's figures). */
export interface DeployedScaleInResult {
  /** Client queries that failed while the worker drained (the goal: 0). */
  readonly queriesFailed: number;
  /** How the lifecycle action ended (`CONTINUE` by CompleteLifecycleAction is the goal). */
  readonly lifecycleResult: string | undefined;
  readonly completedBy: string | undefined;
  readonly heartbeats: number | undefined;
  /** Terminating:Wait → the action's end, s. */
  readonly drainSeconds: number | undefined;
  /** The worker the termination policy chose. */
  readonly instanceId: string | undefined;
  /** Whether the custom termination policy Lambda answered (not the Default fallback). */
  readonly terminationPolicyAnswered: boolean;
  /** The drain execution's status. */
  readonly drainExecutionStatus: string | undefined;
  /** The worker's instance left the topology (terminated after the action). */
  readonly workerExited: boolean;
  /**
   * Trino on the drained worker exited by itself with code 0 (the graceful shutdown: SHUTTING_DOWN, tasks done,
   * exit) and was never killed, per its instance's journal.
   */
  readonly workerExitedGracefully: boolean;
  /** The drained worker's `trino.service` journal lines from the scale-in on. */
  readonly workerJournal: readonly string[];
  /** Workers the coordinator reported after capacity was restored. */
  readonly workersAfterRestore: number | undefined;
  readonly timeline: readonly { readonly afterMs: number; readonly event: string }[];
}

/**
 * The scale-in drill on the deployed topology: a query runs, the worker group's desired capacity drops by one (as
 * a scaling policy would), Auto Scaling asks the deployed termination-policy Lambda which worker goes, the
 * termination lifecycle hook's event reaches the drain state machine through the deployed EventBridge rule, the
 * worker shuts down gracefully (SHUTTING_DOWN) with heartbeats while its tasks run, and the action completes;
 * then the capacity is restored and the new worker joins.
 * @throws Error when the cluster is not ready or an emulator call fails.
 */
export async function runDeployedScaleInDrill(
  probe: TopologyProbe,
  options: { readonly workers: number; readonly timeoutMs?: number; readonly log: Log },
): Promise<DeployedScaleInResult> {
  const log = options.log;
  await waitForCluster(probe, { workers: options.workers, log });
  const lifecycle = probe.topology.lifecycle;
  const outcomesBefore = lifecycle.outcomes.length;
  const policyCallsBefore = lifecycle.policyCalls.length;
  const drainArn = probe.topology.stacks.controlPlane.outputs.WorkerDrainStateMachineArn;
  const drainsBefore = probe.topology.states
    .executions()
    .filter((e) => e.stateMachineArn === drainArn).length;
  const timeline: { afterMs: number; event: string }[] = [];
  const t0 = Date.now();
  const mark = (event: string) => {
    timeline.push({ afterMs: Date.now() - t0, event });
    log(`drill: +${Date.now() - t0} ms ${event}`);
  };
  // A query that keeps the worker busy while it drains (tpch sf1 lineitem, 6 M rows, tens of seconds here).
  let queriesFailed = 0;
  const query = probe.analyst
    .query('SELECT count(*), sum(extendedprice) FROM tpch.sf1.lineitem')
    .then(() => mark('the query running during the drain FINISHED'))
    .catch((error: unknown) => {
      queriesFailed += 1;
      mark(`the query running during the drain FAILED: ${String(error)}`);
    });
  await sleep(3_000);
  // The workers as booted, to read the drained one's journal after it is gone.
  const workerGroup = await probe.group(probe.workerGroup);
  const workersBefore = new Map(
    (workerGroup.Instances ?? []).flatMap((i) => {
      const booted = i.InstanceId ? probe.topology.instances.get(i.InstanceId) : undefined;
      return booted && i.InstanceId ? [[i.InstanceId, booted] as const] : [];
    }),
  );
  const journalFrom = new Date().toISOString();
  await setWorkerCapacity(probe, options.workers - 1);
  mark(`worker group desired capacity ${options.workers} → ${options.workers - 1}`);

  const deadline = t0 + (options.timeoutMs ?? 600_000);
  let outcome: (typeof lifecycle.outcomes)[number] | undefined;
  while (Date.now() < deadline && outcome === undefined) {
    outcome = lifecycle.outcomes
      .slice(outcomesBefore)
      .find((o) => o.autoScalingGroupName === probe.workerGroup);
    if (!outcome) await sleep(500);
  }
  if (outcome)
    mark(`lifecycle action ${outcome.result} by ${outcome.by} after ${outcome.heartbeats} heartbeats`);
  const instanceId = outcome?.instanceId;
  let workerExited = false;
  while (instanceId && Date.now() < deadline) {
    if (!probe.topology.instances.has(instanceId)) {
      workerExited = true;
      mark(`worker ${instanceId} terminated by Auto Scaling (its instance is shutting down)`);
      break;
    }
    await sleep(500);
  }
  await query;
  const journalFile = instanceId ? workersBefore.get(instanceId)?.journalFile : undefined;
  const workerJournal = journalFile
    ? (await readFile(journalFile, 'utf8').catch(() => ''))
        .split('\n')
        .filter((line) => line.includes('trino.service') && line.slice(0, 24) >= journalFrom)
    : [];
  const workerExitedGracefully =
    workerJournal.some((line) => line.endsWith('main process exited, code 0')) &&
    !workerJournal.some((line) => /Killing|signal SIGKILL|timed out/.test(line));
  const policyCalls = lifecycle.policyCalls.slice(policyCallsBefore);
  const drain = probe.topology.states
    .executions()
    .filter((e) => e.stateMachineArn === drainArn)
    .slice(drainsBefore)
    .at(-1);
  const drainExecution = drain ? probe.topology.states.execution(drain.executionArn) : undefined;

  await setWorkerCapacity(probe, options.workers);
  mark(`worker group desired capacity restored to ${options.workers}`);
  let workersAfterRestore: number | undefined;
  while (Date.now() < deadline) {
    workersAfterRestore = await probe.activeWorkers();
    if (workersAfterRestore !== undefined && workersAfterRestore >= options.workers) {
      mark(`${workersAfterRestore} workers active again`);
      break;
    }
    await sleep(1_000);
  }
  return {
    queriesFailed,
    lifecycleResult: outcome?.result,
    completedBy: outcome?.by,
    heartbeats: outcome?.heartbeats,
    drainSeconds: outcome ? Math.round(outcome.waitedMs / 100) / 10 : undefined,
    instanceId,
    terminationPolicyAnswered: policyCalls.some((c) => c.fallbackReason === undefined && c.chosen.length > 0),
    drainExecutionStatus: drainExecution?.status,
    workerExited,
    workerExitedGracefully,
    workerJournal,
    workersAfterRestore,
    timeline,
  };
}

/** Result of {@link runDeployedQueryLogDrill} (the `--sandbox` drill's figures). */
export interface DeployedQueryLogResult {
  readonly queriesRun: number;
  readonly documentsFound: number;
  readonly missing: number;
  readonly duplicates: number;
  /** Query end → its document searchable, p99 over the queries, ms (from the document's `endTime`). */
  readonly lagP99Ms: number | null;
  /** Requests the Function URL answered, by status. */
  readonly functionUrlStatuses: Readonly<Record<string, number>>;
}

/**
 * The query-log drill on the deployed topology: runs `queries` queries through the ENI address, each with a
 * marker in its text; the coordinator's HTTP event listener (configured at boot from the control plane's
 * EVENT_LISTENER_URI and the listener secret) posts each completed query to the deployed ingest Function URL,
 * which queues it in SQS; the deployed shipper writes it to OpenSearch. Counts the marked documents by query id.
 * @throws Error when the topology runs without OpenSearch.
 */
export async function runDeployedQueryLogDrill(
  probe: TopologyProbe,
  options: {
    readonly workers: number;
    readonly queries: number;
    readonly timeoutMs?: number;
    readonly log: Log;
  },
): Promise<DeployedQueryLogResult> {
  const log = options.log;
  const search = probe.topology.search;
  if (!search) throw new Error('the query-log drill needs the topology with OpenSearch');
  await waitForCluster(probe, { workers: options.workers, log });
  const marker = `drill_${Date.now().toString(36)}`;
  const ended = new Map<string, number>();
  for (let i = 0; i < options.queries; i += 1) {
    const text = `${marker}_${i}`;
    await probe.analyst.query(`SELECT '${text}' AS marker, count(*) FROM tpch.tiny.region`);
    ended.set(text, Date.now());
  }
  log(`drill: ${options.queries} queries run with marker ${marker}; waiting for their documents`);
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  const seen = new Map<string, { ids: Set<string>; firstSeenMs: number }>();
  while (Date.now() < deadline) {
    const response = await fetch(`${search.url}/trino-queries-*/_search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ size: 1000, query: { match_phrase_prefix: { query: marker } } }),
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    if (response?.ok) {
      const body: unknown = await response.json();
      for (const hit of searchHits(body)) {
        const text = /drill_[0-9a-z]+_\d+/.exec(hit.query)?.[0];
        if (!text?.startsWith(marker)) continue;
        const entry = seen.get(text) ?? { ids: new Set<string>(), firstSeenMs: Date.now() };
        entry.ids.add(hit.id);
        seen.set(text, entry);
      }
    }
    if (seen.size >= options.queries) break;
    await sleep(1_000);
  }
  const lags = [...seen].map(([text, entry]) => entry.firstSeenMs - (ended.get(text) ?? entry.firstSeenMs));
  lags.sort((a, b) => a - b);
  const statuses: Record<string, number> = {};
  for (const request of probe.topology.functionUrls.requests)
    statuses[String(request.statusCode)] = (statuses[String(request.statusCode)] ?? 0) + 1;
  return {
    queriesRun: options.queries,
    documentsFound: [...seen.values()].reduce((n, e) => n + e.ids.size, 0),
    missing: options.queries - seen.size,
    duplicates: [...seen.values()].reduce((n, e) => n + Math.max(0, e.ids.size - 1), 0),
    lagP99Ms:
      lags.length === 0 ? null : (lags[Math.min(lags.length - 1, Math.ceil(lags.length * 0.99) - 1)] ?? null),
    functionUrlStatuses: statuses,
  };
}

/** The `_id` and `query` of each hit of an OpenSearch `_search` answer. */
function searchHits(body: unknown): { id: string; query: string }[] {
  if (typeof body !== 'object' || body === null) return [];
  const hits = Reflect.get(body, 'hits');
  const list = typeof hits === 'object' && hits !== null ? Reflect.get(hits, 'hits') : undefined;
  if (!Array.isArray(list)) return [];
  return list.flatMap((hit: unknown) => {
    if (typeof hit !== 'object' || hit === null) return [];
    const id = Reflect.get(hit, '_id');
    const source = Reflect.get(hit, '_source');
    const query = typeof source === 'object' && source !== null ? Reflect.get(source, 'query') : undefined;
    return typeof id === 'string' && typeof query === 'string' ? [{ id, query }] : [];
  });
}

/** What `npm run sandbox -- --deployed --once --json` prints: the deployed cluster as the control plane sees it. */
export interface DeployedSnapshot {
  readonly time: string;
  readonly cluster: { readonly name: string; readonly trinoVersion: string; readonly secure: true };
  readonly coordinator: {
    readonly url: string;
    readonly instanceId: string | undefined;
    readonly state: string;
    readonly starting: boolean | null;
  };
  readonly workers: readonly { readonly uri: string; readonly recentFailureRatio: number }[];
  readonly queries: { readonly running: number; readonly queued: number };
  /** Latest value of each metric the deployed clusterMetrics function published (namespace `Trino`). */
  readonly metrics: Readonly<Record<string, number>>;
  /** Every instance of both groups, with the AMI's units as booted. */
  readonly instances: readonly {
    readonly instanceId: string;
    readonly group: string;
    readonly lifecycleState: string;
    readonly units: Readonly<Record<string, string>>;
  }[];
  /** Lambda invocations so far, by function. */
  readonly invocations: Readonly<Record<string, number>>;
}

/**
 * Takes a snapshot of the deployed topology once the deployed clusterMetrics function has published (waits at most
 * `timeoutMs`, default 180 000, for its first metrics).
 */
export async function deployedSnapshot(
  probe: TopologyProbe,
  options: { readonly timeoutMs?: number; readonly log: Log },
): Promise<DeployedSnapshot> {
  const namespace = 'Trino';
  const deadline = Date.now() + (options.timeoutMs ?? 180_000);
  let names = await probe.metricNames(namespace);
  while (names.size === 0 && Date.now() < deadline) {
    await sleep(2_000);
    names = await probe.metricNames(namespace);
  }
  if (names.size === 0) options.log('drill: the clusterMetrics function has published no metric yet');
  const metrics: Record<string, number> = {};
  const cluster = probe.topology.stacks.clusterName;
  const now = new Date();
  const answer = await probe.cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(now.getTime() - 15 * 60_000),
      EndTime: now,
      MetricDataQueries: [...names].slice(0, 500).map((name, i) => ({
        Id: `m${i}`,
        Label: name,
        MetricStat: {
          Metric: {
            Namespace: namespace,
            MetricName: name,
            Dimensions: [{ Name: 'ClusterName', Value: cluster }],
          },
          Period: 60,
          Stat: 'Maximum',
        },
      })),
    }),
  );
  for (const result of answer.MetricDataResults ?? []) {
    const value = result.Values?.[0];
    if (result.Label && value !== undefined) metrics[result.Label] = value;
  }
  const info = await probe.sentinel.getInfo().catch(() => undefined);
  const state = await probe.sentinel.getState().catch(() => 'UNREACHABLE');
  const nodes = await probe.sentinel.getNodes().catch(() => []);
  const queries = await probe.sentinel.getQueries().catch(() => []);
  const attachment = await probe.attachment().catch(() => undefined);
  const instances: DeployedSnapshot['instances'][number][] = [];
  for (const name of [probe.coordinatorGroup, probe.workerGroup]) {
    const group = await probe.group(name).catch(() => undefined);
    for (const member of group?.Instances ?? []) {
      const id = member.InstanceId ?? '';
      const booted = probe.topology.instances.get(id);
      const units = booted ? await booted.units().catch(() => []) : [];
      instances.push({
        instanceId: id,
        group: name,
        lifecycleState: member.LifecycleState ?? 'unknown',
        units: Object.fromEntries(units.map((u) => [u.name, u.state])),
      });
    }
  }
  const invocations: Record<string, number> = {};
  for (const record of probe.topology.lambda.invocations()) {
    invocations[record.functionName] = (invocations[record.functionName] ?? 0) + 1;
  }
  return {
    time: now.toISOString(),
    cluster: { name: cluster, trinoVersion: info?.nodeVersion.version ?? 'unknown', secure: true },
    coordinator: {
      url: probe.topology.coordinatorUrl,
      instanceId: attachment?.instanceId,
      state: String(state),
      starting: info?.starting ?? null,
    },
    workers: nodes.map((n) => ({ uri: n.uri, recentFailureRatio: n.recentFailureRatio })),
    queries: {
      running: queries.filter((q) => q.state === 'RUNNING').length,
      queued: queries.filter((q) => q.state === 'QUEUED').length,
    },
    metrics,
    instances,
    invocations,
  };
}
