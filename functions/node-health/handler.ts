/**
 * node-health: scheduled every minute. Reads the worker and coordinator groups, the coordinator's `/v1/node`, each
 * worker's `GET /v1/info/state` and each coordinator-group member's primary address (the ENI holder's only as a
 * control, never marked); decides ({@link decideNodeHealth}) which instances have been broken long enough; marks
 * those `Unhealthy` (`SetInstanceHealth`, respecting the group's grace period) so Auto Scaling replaces them — a
 * worker through its drain lifecycle hook. Publishes `UnhealthyNodes` every round, `WorkersMarkedUnhealthy` +
 * `CoordinatorsMarkedUnhealthy` in rounds that mark something, and `NodeGroupsAllProbesFailed` in rounds where every
 * probe of a group failed (a configuration or network problem: nothing of that group is marked) — both alarmed,
 * missing = 0 — through `METRICS_SINK` (EMF by default).
 * The carried state ("bad since") lives in an SSM String parameter: nothing is decided on one observation.
 * Source: Trino `GET /v1/node` (io.trino.server.NodeResource), `GET /v1/info/state` and `GET /v1/info`
 * (io.trino.server.ServerInfoResource); Auto Scaling SetInstanceHealth.
 *
 * @module
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import pLimit from 'p-limit';
import { describeGroup, type GroupView, markInstanceUnhealthy } from '../../lib/aws/autoscaling.ts';
import { type AwsCall, describeEni, describeInstances, type InstanceView } from '../../lib/aws/ec2.ts';
import { getJsonParameter, putParameterValue } from '../../lib/aws/ssm.ts';
import { scheduledHandler } from '../../lib/handler.ts';
import { instanceUrl } from '../../lib/instance-url.ts';
import { logger } from '../../lib/logger.ts';
import { publishMetricSet } from '../../lib/metrics-sink.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import { type CoordinatorDeps, coordinatorDeps } from '../../lib/trino/connect.ts';
import { observeWorkerState } from '../worker-drain/worker.ts';
import {
  decideNodeHealth,
  type HealthState,
  type MemberObservation,
  type NodeHealthDecision,
} from './decide.ts';
import { HealthStateSchema, type NodeHealthConfig, NodeHealthEnvSchema } from './schemas.ts';

/** The AWS SDK clients of node-health (dependency name → client class). */
const AWS = { ec2: EC2Client, autoscaling: AutoScalingClient, ssm: SSMClient, cloudwatch: CloudWatchClient };

/** Dependencies; injectable for tests. */
export type NodeHealthDeps = CoordinatorDeps<NodeHealthConfig, typeof AWS>;

const PROBES_AT_ONCE = 16;

function parameterName(config: NodeHealthConfig): string {
  return config.NODE_HEALTH_SSM_PARAMETER ?? `/trino-sentinel/${config.CLUSTER_NAME}/node-health`;
}

async function readState(deps: NodeHealthDeps, call: AwsCall): Promise<HealthState> {
  const read = await getJsonParameter(deps.ssm, parameterName(deps.config), HealthStateSchema, call);
  if (read.found && !read.ok) logger.warn('Node-health state unreadable: starting afresh');
  return read.found && read.ok ? read.value : {};
}

/** Hosts (host:port) the coordinator lists in `/v1/node`, or `UNKNOWN`. */
async function announcedHosts(
  coordinator: TrinoClient,
  timeoutMs: number,
  call: AwsCall,
): Promise<Set<string> | 'UNKNOWN'> {
  try {
    const nodes = await coordinator.getNodes({ timeoutMs, ...(call.signal ? { signal: call.signal } : {}) });
    return new Set(nodes.map((n) => new URL(n.uri).host));
  } catch (error) {
    logger.warn('Could not read /v1/node: no worker is judged by its announcement this round', {
      error: String(error),
    });
    return 'UNKNOWN';
  }
}

async function observeMembers(deps: NodeHealthDeps, call: AwsCall): Promise<MemberObservation[]> {
  const { config } = deps;
  const [workers, coordinators, eni] = await Promise.all([
    describeGroup(deps.autoscaling, config.WORKER_ASG_NAME, call),
    describeGroup(deps.autoscaling, config.COORDINATOR_ASG_NAME, call),
    describeEni(deps.ec2, config.COORDINATOR_ENI_ID, call),
  ]);
  const members = (group: GroupView | undefined) => group?.instances ?? [];
  const ids = [...members(workers), ...members(coordinators)].map((m) => m.instanceId);
  const { instances } = await describeInstances(deps.ec2, ids, call);
  const coordinator = await deps.coordinator();
  const announced = await announcedHosts(coordinator, config.PROBE_TIMEOUT_MS, call);
  const limit = pLimit(PROBES_AT_ONCE);
  const holder = eni.attachment?.status === 'detached' ? undefined : eni.attachment?.instanceId;
  const url = (template: string, instance: InstanceView | undefined): URL | undefined => {
    if (instance === undefined) return undefined;
    try {
      return new URL(instanceUrl(template, instance));
    } catch {
      return undefined;
    }
  };
  const workerObservations = members(workers).map((m) =>
    limit(async (): Promise<MemberObservation> => {
      const instance = instances.get(m.instanceId);
      const target = url(config.WORKER_URL_TEMPLATE, instance);
      const process =
        target === undefined
          ? 'UNKNOWN'
          : await coordinator.withNode(target.origin, (worker) =>
              observeWorkerState(worker).catch(() => 'UNKNOWN'),
            );
      return {
        instanceId: m.instanceId,
        group: 'worker',
        lifecycleState: m.lifecycleState,
        launchTimeMs: instance?.launchTimeMs ?? 0,
        announced: announced === 'UNKNOWN' || target === undefined ? 'UNKNOWN' : announced.has(target.host),
        process,
      };
    }),
  );
  const coordinatorObservations = members(coordinators).map((m) =>
    limit(async (): Promise<MemberObservation> => {
      const instance = instances.get(m.instanceId);
      const target = url(config.PRIMARY_URL_TEMPLATE, instance);
      // The ENI holder is probed too, as a control for the all-probes-failed guard; it is never marked here.
      const process =
        target === undefined
          ? 'UNKNOWN'
          : await coordinator.withNode(target.origin, (node) =>
              node.getInfo({ timeoutMs: config.PROBE_TIMEOUT_MS }).then(
                (info) => (!info.starting && info.coordinator ? 'ANSWERS' : 'UNREACHABLE'),
                () => 'UNREACHABLE',
              ),
            );
      return {
        instanceId: m.instanceId,
        group: 'coordinator',
        lifecycleState: m.lifecycleState,
        launchTimeMs: instance?.launchTimeMs ?? 0,
        holdsEni: m.instanceId === holder,
        process,
      };
    }),
  );
  return Promise.all([...workerObservations, ...coordinatorObservations]);
}

/**
 * One round: gather → decide → mark → carry the state → publish.
 * @throws AwsThrottledError | AwsError when a group, the ENI or the state cannot be read (nothing is marked then).
 */
export async function runNodeHealth(deps: NodeHealthDeps, call: AwsCall = {}): Promise<NodeHealthDecision> {
  const { config } = deps;
  const [members, previous] = await Promise.all([observeMembers(deps, call), readState(deps, call)]);
  const now = deps.now();
  const decision = decideNodeHealth(
    members,
    previous,
    {
      unhealthyAfterMs: config.UNHEALTHY_AFTER_SECONDS * 1_000,
      launchGraceMs: config.LAUNCH_GRACE_SECONDS * 1_000,
    },
    now,
  );
  if (decision.everyProbeFailed.length > 0) {
    logger.error(
      'Every probe of a group failed: a configuration or network problem, nothing of it is replaced',
      {
        groups: decision.everyProbeFailed,
        workerUrlTemplate: config.WORKER_URL_TEMPLATE,
        primaryUrlTemplate: config.PRIMARY_URL_TEMPLATE,
      },
    );
  }
  // Each mark on its own: one that fails keeps its node's evidence in the carried state (retried next round), the
  // ones sent leave it, and the state is written whatever happened, so no node is marked twice for one episode.
  const carried: Record<string, number> = { ...decision.state };
  const sent: NodeHealthDecision['markUnhealthy'][number][] = [];
  for (const node of decision.markUnhealthy) {
    logger.error('Marking instance Unhealthy: its group replaces it', { ...node });
    try {
      await markInstanceUnhealthy(deps.autoscaling, node.instanceId, true, call);
      sent.push(node);
    } catch (error) {
      if (call.signal?.aborted) throw error;
      logger.warn('Could not mark the instance Unhealthy: retried next round', {
        instanceId: node.instanceId,
        error: String(error),
      });
      carried[node.instanceId] = now - node.badForMs;
    }
  }
  await putParameterValue(deps.ssm, parameterName(config), JSON.stringify(carried), call);
  const marked = (group: string) => sent.filter((n) => n.group === group).length;
  // The two "marked" counters only when something was marked (both together: the alarm adds them): a metric with
  // no data point in an hour costs nothing, and the alarm treats missing data as not breaching.
  const markedCounters =
    sent.length === 0
      ? []
      : [
          { name: 'WorkersMarkedUnhealthy', unit: 'Count' as const, value: marked('worker') },
          { name: 'CoordinatorsMarkedUnhealthy', unit: 'Count' as const, value: marked('coordinator') },
        ];
  await publishMetricSet(
    deps.cloudwatch,
    [
      ...markedCounters,
      // Only in a round where every probe of a group failed (value: how many groups, 1 or 2). Alarmed by
      // NodeProbesAllFailedAlarm (serverless/node-health.yml); missing = not breaching.
      ...(decision.everyProbeFailed.length === 0
        ? []
        : [
            {
              name: 'NodeGroupsAllProbesFailed',
              unit: 'Count' as const,
              value: decision.everyProbeFailed.length,
            },
          ]),
      {
        name: 'UnhealthyNodes',
        unit: 'Count',
        value: Object.keys(decision.state).length + decision.markUnhealthy.length,
      },
    ],
    {
      sink: config.METRICS_SINK,
      namespace: config.METRICS_NAMESPACE,
      clusterName: config.CLUSTER_NAME,
      timestamp: new Date(now),
    },
    call,
  ).catch((error: unknown) => logger.warn('Could not publish node-health metrics', { error: String(error) }));
  logger.info('Node health', {
    verdicts: decision.verdicts,
    bad: carried,
    marked: sent,
    everyProbeFailed: decision.everyProbeFailed,
  });
  return { ...decision, markUnhealthy: sent, state: carried };
}

/** Default dependencies, built once per container. */
export const getDefaultNodeHealthDeps: () => NodeHealthDeps = coordinatorDeps(NodeHealthEnvSchema, AWS);

/** Builds the handler over the given dependencies. */
export function makeNodeHealthHandler(deps: () => NodeHealthDeps = getDefaultNodeHealthDeps) {
  return scheduledHandler(deps, runNodeHealth);
}

/** Lambda entry point (serverless.yml: `nodeHealth`). */
export const handler = makeNodeHealthHandler();
