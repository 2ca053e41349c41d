/**
 * coordinator-health: scheduled every minute, probes the active coordinator through the coordinator ENI's address
 * every `PROBE_INTERVAL_MS` for `LOOP_DURATION_MS` inside one invocation (cheaper than a Step Functions loop at
 * 5 s: one 128 MB invocation per minute), publishes `CoordinatorHealthy` (0/1, 1-second resolution) every round,
 * and on a *confirmed* failure ({@link assessRound}: N failed probes and an independent signal) starts the failover
 * state machine — or, with `AUTO_FAILOVER=false`, only alarms and notifies.
 *
 * The failover execution is named `failover-<cluster>-<ENI attachment id>`: a second trigger for the same failure
 * gets `ExecutionAlreadyExists` from Step Functions, so two triggers can never run two failovers (the lock).
 *
 * @module
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  DescribeInstanceStatusCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import { publishMetrics } from '../../lib/aws/cloudwatch.ts';
import { describeInstance } from '../../lib/aws/ec2.ts';
import { loadConfig } from '../../lib/config.ts';
import { instanceUrl } from '../../lib/instance-url.ts';
import { logger } from '../../lib/logger.ts';
import { validateEvent } from '../../lib/middleware.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import { lazyTrinoClient } from '../../lib/trino/connect.ts';
import { ScheduledEventSchema } from '../cluster-metrics/schemas.ts';
import {
  assessRound,
  type DetectorState,
  HEALTHY,
  type HealthVerdict,
  type ProbeResult,
  type ProbeRound,
} from './decide.ts';
import { type HealthConfig, HealthEnvSchema } from './schemas.ts';

/** Dependencies; injectable for tests. */
export interface HealthDeps {
  readonly config: HealthConfig;
  readonly ec2: EC2Client;
  readonly cloudwatch: CloudWatchClient;
  readonly sfn: SFNClient;
  readonly sns: SNSClient;
  /** Client of the coordinator through the ENI address. */
  readonly coordinator: () => Promise<TrinoClient>;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

/** Result of one invocation. */
export interface HealthRunResult {
  readonly rounds: number;
  readonly unhealthyRounds: number;
  readonly verdict: HealthVerdict | undefined;
  readonly failover: 'NONE' | 'STARTED' | 'ALREADY_RUNNING' | 'NOTIFIED_ONLY';
  readonly executionName?: string;
  readonly state: DetectorState;
}

/** Probes `GET /v1/info` once. Source: Trino `GET /v1/info`, io.trino.server.ServerInfoResource. */
export async function probe(client: TrinoClient, timeoutMs: number): Promise<ProbeResult> {
  try {
    return (await client.getInfo({ timeoutMs })).starting ? 'STARTING' : 'OK';
  } catch {
    return 'FAILED';
  }
}

interface ActiveCoordinator {
  readonly attachmentId: string;
  readonly instanceId: string;
}

async function activeCoordinator(deps: HealthDeps): Promise<ActiveCoordinator | undefined> {
  const out = await deps.ec2.send(
    new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [deps.config.COORDINATOR_ENI_ID] }),
  );
  const attachment = out.NetworkInterfaces?.[0]?.Attachment;
  return attachment?.AttachmentId && attachment.InstanceId
    ? { attachmentId: attachment.AttachmentId, instanceId: attachment.InstanceId }
    : undefined;
}

async function secondSignal(deps: HealthDeps, client: TrinoClient, active: ActiveCoordinator | undefined) {
  if (active === undefined) return { instanceState: 'detached' };
  const [instance, status] = await Promise.all([
    describeInstance(deps.ec2, active.instanceId).catch(() => undefined),
    deps.ec2
      .send(
        new DescribeInstanceStatusCommand({ InstanceIds: [active.instanceId], IncludeAllInstances: true }),
      )
      .then((out) => out.InstanceStatuses?.[0])
      .catch(() => undefined),
  ]);
  const signal: Omit<ProbeRound, 'atMs' | 'viaEni'> = {
    instanceState: instance?.state ?? status?.InstanceState?.Name ?? 'terminated',
    ...(status?.InstanceStatus?.Status === 'impaired' || status?.SystemStatus?.Status === 'impaired'
      ? { instanceStatus: 'impaired' }
      : {}),
  };
  if (instance === undefined) return signal;
  let primaryUrl: string;
  try {
    primaryUrl = instanceUrl(deps.config.PRIMARY_URL_TEMPLATE, instance);
  } catch {
    return signal;
  }
  const primary = client.forNode(primaryUrl);
  try {
    return { ...signal, viaPrimary: await probe(primary, deps.config.PROBE_TIMEOUT_MS) };
  } finally {
    primary.close();
  }
}

/** Detector state kept across invocations in a warm container (a cold start begins healthy: at worst one minute late). */
let carried: DetectorState = HEALTHY;

/**
 * Runs the probe loop of one invocation.
 * @param initial - Detector state to start from (default: the container's carried state).
 */
export async function runHealthLoop(
  deps: HealthDeps,
  initial: DetectorState = carried,
): Promise<HealthRunResult> {
  const client = await deps.coordinator();
  const start = deps.now();
  let state = initial;
  let verdict: HealthVerdict | undefined;
  let rounds = 0;
  let unhealthyRounds = 0;
  const policy = { failuresToConfirm: deps.config.FAILURES_TO_CONFIRM };
  for (;;) {
    const roundStart = deps.now();
    const viaEni = await probe(client, deps.config.PROBE_TIMEOUT_MS);
    let round: ProbeRound = { atMs: roundStart, viaEni };
    let active: ActiveCoordinator | undefined;
    if (viaEni !== 'OK') {
      active = await activeCoordinator(deps).catch(() => undefined);
      round = { ...round, ...(await secondSignal(deps, client, active)) };
    }
    verdict = assessRound(state, round, policy);
    state = verdict.state;
    rounds += 1;
    if (!verdict.healthy) unhealthyRounds += 1;
    await publishMetrics(
      deps.cloudwatch,
      [{ name: 'CoordinatorHealthy', unit: 'Count', value: verdict.healthy ? 1 : 0 }],
      {
        namespace: deps.config.METRICS_NAMESPACE,
        clusterName: deps.config.CLUSTER_NAME,
        timestamp: new Date(roundStart),
        storageResolution: 1,
      },
    ).catch((error: unknown) =>
      logger.warn('Could not publish CoordinatorHealthy', { error: String(error) }),
    );
    if (!verdict.healthy) {
      logger.warn('Coordinator probe failed', {
        round,
        consecutiveFailures: state.consecutiveFailures,
        secondSignal: verdict.secondSignal,
      });
    }
    if (verdict.confirmedFailure) {
      carried = HEALTHY;
      return {
        rounds,
        unhealthyRounds,
        verdict,
        ...(await onConfirmedFailure(deps, verdict, active)),
        state,
      };
    }
    const elapsed = deps.now() - start;
    if (elapsed + deps.config.PROBE_INTERVAL_MS > deps.config.LOOP_DURATION_MS) break;
    await deps.sleep(Math.max(0, deps.config.PROBE_INTERVAL_MS - (deps.now() - roundStart)));
  }
  carried = state;
  return { rounds, unhealthyRounds, verdict, failover: 'NONE', state };
}

async function onConfirmedFailure(
  deps: HealthDeps,
  verdict: HealthVerdict,
  active: ActiveCoordinator | undefined,
): Promise<Pick<HealthRunResult, 'failover' | 'executionName'>> {
  const detail = {
    cluster: deps.config.CLUSTER_NAME,
    failingForMs: verdict.failingForMs,
    secondSignal: verdict.secondSignal,
    instanceId: active?.instanceId,
    attachmentId: active?.attachmentId,
  };
  logger.error('Coordinator failure confirmed', detail);
  if (deps.config.ALARM_TOPIC_ARN) {
    await deps.sns
      .send(
        new PublishCommand({
          TopicArn: deps.config.ALARM_TOPIC_ARN,
          Subject: `Trino coordinator failure confirmed (${deps.config.CLUSTER_NAME})`,
          Message: JSON.stringify({ ...detail, autoFailover: deps.config.AUTO_FAILOVER }),
        }),
      )
      .catch((error: unknown) => logger.warn('Could not notify the alarm topic', { error: String(error) }));
  }
  if (!deps.config.AUTO_FAILOVER || deps.config.FAILOVER_STATE_MACHINE_ARN === undefined) {
    return { failover: 'NOTIFIED_ONLY' };
  }
  const executionName = `failover-${deps.config.CLUSTER_NAME}-${active?.attachmentId ?? 'detached'}`.slice(
    0,
    80,
  );
  try {
    await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.config.FAILOVER_STATE_MACHINE_ARN,
        name: executionName,
        input: JSON.stringify({
          mode: 'failover',
          dryRun: false,
          detectedAfterMs: verdict.failingForMs,
          ...detail,
        }),
      }),
    );
    logger.info('Failover started', { executionName });
    return { failover: 'STARTED', executionName };
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) {
      logger.info('Failover already running for this attachment', { executionName });
      return { failover: 'ALREADY_RUNNING', executionName };
    }
    throw error;
  }
}

let defaultDeps: HealthDeps | undefined;

/** Default dependencies, built once per container. */
export function getDefaultHealthDeps(): HealthDeps {
  if (defaultDeps === undefined) {
    const config = loadConfig(HealthEnvSchema);
    defaultDeps = {
      config,
      ec2: new EC2Client({}),
      cloudwatch: new CloudWatchClient({}),
      sfn: new SFNClient({}),
      sns: new SNSClient({}),
      coordinator: lazyTrinoClient(config),
      now: () => Date.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
  }
  return defaultDeps;
}

/** Builds the handler. */
export function makeHealthHandler(deps: HealthDeps | (() => HealthDeps) = getDefaultHealthDeps) {
  return middy()
    .use(injectLambdaContext(logger))
    .use(validateEvent(ScheduledEventSchema, 'EventBridge scheduled event'))
    .handler(async () => runHealthLoop(typeof deps === 'function' ? deps() : deps));
}

/** Lambda entry point. */
export const handler = makeHealthHandler();
