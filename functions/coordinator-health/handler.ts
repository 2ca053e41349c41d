/**
 * coordinator-health: scheduled every minute, probes the active coordinator through the coordinator ENI's address
 * every `PROBE_INTERVAL_MS` for `LOOP_DURATION_MS` inside one invocation (cheaper than a Step Functions loop at
 * 5 s: one 128 MB invocation per minute), publishes `CoordinatorHealthy` (0/1 per round, sent as one statistic set
 * per invocation and on a confirmed failure: one EMF log line — or one `PutMetricData` call — a minute, not twelve), and on a *confirmed*
 * failure ({@link assessRound}: N failed probes and an independent signal, never an unknown) starts the failover
 * state machine — or, with `AUTO_FAILOVER=false`, only alarms and notifies.
 *
 * The lock ({@link startExecutionOnce}): a failover starts only when no execution of the failover state machine is
 * RUNNING; names are unique per minute ({@link failoverExecutionName}), so a closed execution never blocks the next
 * failure. A confirmed failure that starts nothing although it should (`NAME_TAKEN`, or the start failed) publishes
 * `FailoverNotStarted`, which alarms.
 *
 * @module
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import {
  type AwsCall,
  describeEni,
  describeInstance,
  type EniState,
  instanceStatus,
} from '../../lib/aws/ec2.ts';
import { type Observed, observe } from '../../lib/aws/observed.ts';
import { type StartOutcome, startExecutionOnce } from '../../lib/aws/sfn.ts';
import { publishNotification } from '../../lib/aws/sns.ts';
import { loadConfig } from '../../lib/config.ts';
import { defineHandler, type Invocation } from '../../lib/handler.ts';
import { instanceUrl } from '../../lib/instance-url.ts';
import { logger } from '../../lib/logger.ts';
import { publishMetricSet } from '../../lib/metrics-sink.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import { lazyTrinoClient } from '../../lib/trino/connect.ts';
import { ScheduledEventSchema } from '../cluster-metrics/schemas.ts';
import {
  assessRound,
  type DetectorState,
  failoverExecutionName,
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
  readonly failover: 'NONE' | 'STARTED' | 'ALREADY_RUNNING' | 'NOT_STARTED' | 'NOTIFIED_ONLY';
  readonly executionName?: string;
  readonly state: DetectorState;
}

/**
 * Probes `GET /v1/info` once. Source: Trino `GET /v1/info`, io.trino.server.ServerInfoResource.
 * @returns `OK` (`starting:false`), `STARTING`, or `FAILED` (timeout, refused, TLS, non-2xx, bad body).
 */
export async function probe(
  client: TrinoClient,
  timeoutMs: number,
  call: AwsCall = {},
): Promise<ProbeResult> {
  try {
    return (await client.getInfo({ timeoutMs, ...(call.signal ? { signal: call.signal } : {}) })).starting
      ? 'STARTING'
      : 'OK';
  } catch {
    return 'FAILED';
  }
}

interface Holder {
  readonly attachmentId: string;
  readonly instanceId: string;
}

/** The ENI's holder as observed: attached (with whom), detached, or unknown. */
function holderOf(eni: Observed<EniState>): Observed<Holder | undefined> {
  if (!eni.known) return eni;
  const a = eni.value.attachment;
  return {
    known: true,
    value:
      a?.instanceId !== undefined && a.status !== 'detached' && a.status !== 'detaching'
        ? { attachmentId: a.attachmentId, instanceId: a.instanceId }
        : undefined,
  };
}

/** Gathers the independent signals of one failed round; every failed read is UNKNOWN, never a definite value. */
async function secondSignals(
  deps: HealthDeps,
  client: TrinoClient,
  holder: Observed<Holder | undefined>,
  call: AwsCall,
): Promise<Omit<ProbeRound, 'atMs' | 'viaEni'>> {
  if (!holder.known) return { eni: 'UNKNOWN' };
  if (holder.value === undefined) return { eni: 'DETACHED' };
  const id = holder.value.instanceId;
  const [instance, status] = await Promise.all([
    observe(() => describeInstance(deps.ec2, id, call)),
    observe(() => instanceStatus(deps.ec2, id, call)),
  ]);
  const base = {
    eni: 'ATTACHED' as const,
    // describeInstance throws InstanceGoneError for a terminated or unknown instance: that is a definite reading.
    instanceState: instance.known
      ? instance.value.state
      : /InstanceGoneError/.test(instance.reason)
        ? 'terminated'
        : ('UNKNOWN' as const),
    instanceStatus: status.known ? status.value : ('UNKNOWN' as const),
  };
  if (!instance.known) return base;
  let primaryUrl: string;
  try {
    primaryUrl = instanceUrl(deps.config.PRIMARY_URL_TEMPLATE, instance.value);
  } catch {
    return { ...base, viaPrimary: 'UNKNOWN' };
  }
  const primary = client.forNode(primaryUrl);
  try {
    return { ...base, viaPrimary: await probe(primary, deps.config.PROBE_TIMEOUT_MS, call) };
  } finally {
    primary.close();
  }
}

/** Detector state kept across invocations in a warm container (a cold start begins healthy: at worst one minute late). */
let carried: DetectorState = HEALTHY;

/**
 * Runs the probe loop of one invocation: gather → {@link assessRound} → publish, until a confirmed failure or the
 * loop's duration is used up.
 * @param initial - Detector state to start from (default: the container's carried state).
 * @param call - The handler's abort signal (stops the loop before the Lambda timeout).
 */
export async function runHealthLoop(
  deps: HealthDeps,
  initial: DetectorState = carried,
  call: AwsCall = {},
): Promise<HealthRunResult> {
  const client = await deps.coordinator();
  const start = deps.now();
  let state = initial;
  let verdict: HealthVerdict | undefined;
  let rounds = 0;
  let unhealthyRounds = 0;
  const policy = { failuresToConfirm: deps.config.FAILURES_TO_CONFIRM };
  const publishHealth = () =>
    rounds === 0
      ? Promise.resolve()
      : publishMetricSet(
          deps.cloudwatch,
          [
            {
              name: 'CoordinatorHealthy',
              unit: 'Count',
              value: unhealthyRounds === 0 ? 1 : 0,
              statistics: {
                sampleCount: rounds,
                sum: rounds - unhealthyRounds,
                minimum: unhealthyRounds > 0 ? 0 : 1,
                maximum: unhealthyRounds < rounds ? 1 : 0,
              },
            },
          ],
          {
            sink: deps.config.METRICS_SINK,
            namespace: deps.config.METRICS_NAMESPACE,
            clusterName: deps.config.CLUSTER_NAME,
            timestamp: new Date(start),
          },
          call,
        ).then(
          () => undefined,
          (error: unknown) => logger.warn('Could not publish CoordinatorHealthy', { error: String(error) }),
        );
  for (;;) {
    const roundStart = deps.now();
    const viaEni = await probe(client, deps.config.PROBE_TIMEOUT_MS, call);
    let round: ProbeRound = { atMs: roundStart, viaEni };
    let holder: Observed<Holder | undefined> | undefined;
    if (viaEni !== 'OK') {
      holder = holderOf(await observe(() => describeEni(deps.ec2, deps.config.COORDINATOR_ENI_ID, call)));
      round = { ...round, ...(await secondSignals(deps, client, holder, call)) };
    }
    verdict = assessRound(state, round, policy);
    state = verdict.state;
    rounds += 1;
    if (!verdict.healthy) unhealthyRounds += 1;
    if (!verdict.healthy) {
      logger.warn('Coordinator probe failed', {
        round,
        consecutiveFailures: state.consecutiveFailures,
        secondSignal: verdict.secondSignal,
        unknownSignals: verdict.unknownSignals,
      });
    }
    if (verdict.confirmedFailure) {
      carried = HEALTHY;
      await publishHealth();
      const known = holder?.known ? holder.value : undefined;
      return {
        rounds,
        unhealthyRounds,
        verdict,
        ...(await onConfirmedFailure(deps, verdict, known, call)),
        state,
      };
    }
    const elapsed = deps.now() - start;
    if (elapsed + deps.config.PROBE_INTERVAL_MS > deps.config.LOOP_DURATION_MS || call.signal?.aborted) break;
    await deps.sleep(Math.max(0, deps.config.PROBE_INTERVAL_MS - (deps.now() - roundStart)));
  }
  carried = state;
  await publishHealth();
  return { rounds, unhealthyRounds, verdict, failover: 'NONE', state };
}

async function onConfirmedFailure(
  deps: HealthDeps,
  verdict: HealthVerdict,
  holder: Holder | undefined,
  call: AwsCall,
): Promise<Pick<HealthRunResult, 'failover' | 'executionName'>> {
  const detail = {
    cluster: deps.config.CLUSTER_NAME,
    failingForMs: verdict.failingForMs,
    secondSignal: verdict.secondSignal,
    instanceId: holder?.instanceId,
    attachmentId: holder?.attachmentId,
  };
  logger.error('Coordinator failure confirmed', detail);
  const notify = async (subject: string, extra: Record<string, unknown>) => {
    if (deps.config.ALARM_TOPIC_ARN === undefined) return;
    await publishNotification(
      deps.sns,
      deps.config.ALARM_TOPIC_ARN,
      subject,
      { ...detail, ...extra },
      call,
    ).catch((error: unknown) => logger.warn('Could not notify the alarm topic', { error: String(error) }));
  };
  if (!deps.config.AUTO_FAILOVER || deps.config.FAILOVER_STATE_MACHINE_ARN === undefined) {
    await notify(`Trino coordinator failure confirmed (${deps.config.CLUSTER_NAME})`, {
      autoFailover: false,
    });
    return { failover: 'NOTIFIED_ONLY' };
  }
  const executionName = failoverExecutionName(deps.config.CLUSTER_NAME, holder?.attachmentId, deps.now());
  let started: StartOutcome | { readonly outcome: 'START_FAILED'; readonly error: string };
  try {
    started = await startExecutionOnce(
      deps.sfn,
      {
        stateMachineArn: deps.config.FAILOVER_STATE_MACHINE_ARN,
        name: executionName,
        input: { mode: 'failover', dryRun: false, detectedAfterMs: verdict.failingForMs, ...detail },
      },
      call,
    );
  } catch (error) {
    started = { outcome: 'START_FAILED', error: String(error) };
  }
  switch (started.outcome) {
    case 'STARTED':
      logger.info('Failover started', { executionName });
      await notify(`Trino coordinator failure confirmed: failover started (${deps.config.CLUSTER_NAME})`, {
        executionName,
      });
      return { failover: 'STARTED', executionName };
    case 'ALREADY_RUNNING':
      logger.info('A failover is already running: nothing started', { running: started.running });
      return { failover: 'ALREADY_RUNNING', executionName: started.running[0] ?? executionName };
    default: {
      const reason = started.outcome === 'NAME_TAKEN' ? 'execution name already used' : started.error;
      logger.error('Confirmed coordinator failure started no failover', { executionName, reason });
      await publishMetricSet(
        deps.cloudwatch,
        [{ name: 'FailoverNotStarted', unit: 'Count', value: 1 }],
        {
          sink: deps.config.METRICS_SINK,
          namespace: deps.config.METRICS_NAMESPACE,
          clusterName: deps.config.CLUSTER_NAME,
          timestamp: new Date(),
        },
        call,
      ).catch((error: unknown) =>
        logger.warn('Could not publish FailoverNotStarted', { error: String(error) }),
      );
      await notify(`Trino coordinator failure confirmed, NO failover started (${deps.config.CLUSTER_NAME})`, {
        executionName,
        reason,
      });
      return { failover: 'NOT_STARTED', executionName };
    }
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

/** Builds the handler over the given dependencies. */
export function makeHealthHandler(deps: () => HealthDeps = getDefaultHealthDeps) {
  return defineHandler(
    {
      schema: ScheduledEventSchema,
      source: 'EventBridge scheduled event',
      run: (_event, d: HealthDeps, { signal }: Invocation) => runHealthLoop(d, carried, { signal }),
    },
    deps,
  );
}

/** Lambda entry point. */
export const handler = makeHealthHandler();
