/**
 * Gathering for the failover tasks: the coordinator ENI, the coordinator group's members (each probed on its own
 * primary address) and the ENI's holder. Reads only; decisions are in ./decide.ts.
 * Source: Trino `GET /v1/info` (io.trino.server.ServerInfoResource); EC2 DescribeNetworkInterfaces,
 * DescribeInstances, DescribeInstanceStatus; Auto Scaling DescribeAutoScalingGroups.
 *
 * @module
 */
import { describeGroup } from '../../lib/aws/autoscaling.ts';
import {
  type AwsCall,
  describeEni,
  describeInstances,
  type EniState,
  type InstanceView,
  instanceStatus,
} from '../../lib/aws/ec2.ts';
import { instanceUrl } from '../../lib/instance-url.ts';
import { logger } from '../../lib/logger.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import type { ActiveObservation, CoordinatorCandidate } from './decide.ts';
import type { FailoverDeps } from './deps.ts';

/**
 * `GET /v1/info` of one node answered `starting:false` (and `coordinator:true` when asked). Never throws.
 * @param timeoutMs - Per-probe timeout.
 */
export async function answers(
  client: TrinoClient,
  timeoutMs: number,
  mustBeCoordinator: boolean,
  call: AwsCall = {},
): Promise<boolean> {
  try {
    const info = await client.getInfo({ timeoutMs, ...(call.signal ? { signal: call.signal } : {}) });
    return !info.starting && (!mustBeCoordinator || info.coordinator);
  } catch {
    return false;
  }
}

/** Probes a coordinator-group instance on its primary address (`PRIMARY_URL_TEMPLATE`). Never throws. */
export async function probeInstance(
  deps: FailoverDeps,
  coordinator: TrinoClient,
  instance: InstanceView,
  call: AwsCall,
): Promise<boolean> {
  let url: string;
  try {
    url = instanceUrl(deps.config.PRIMARY_URL_TEMPLATE, instance);
  } catch (error) {
    logger.warn('Cannot build the primary URL of a coordinator instance', {
      instanceId: instance.instanceId,
      error: String(error),
    });
    return false;
  }
  const node = coordinator.forNode(url);
  try {
    return await answers(node, deps.config.PROBE_TIMEOUT_MS, true, call);
  } finally {
    node.close();
  }
}

/** Everything a plan (or a recovery) needs. */
export interface CoordinatorObservation {
  readonly eni: EniState;
  /** The coordinator group's members, probed (the holder included, marked by `holderId`). */
  readonly candidates: readonly CoordinatorCandidate[];
  /** The instance holding the ENI; undefined when the ENI is not attached. */
  readonly active?: ActiveObservation;
}

/**
 * Observes the ENI, the coordinator group and the holder.
 * @throws AwsThrottledError | AwsError when a read fails: the state machine retries the task (a plan is never
 *   made on an unknown).
 */
export async function observeCoordinators(
  deps: FailoverDeps,
  coordinator: TrinoClient,
  call: AwsCall,
): Promise<CoordinatorObservation> {
  const eni = await describeEni(deps.ec2, deps.config.COORDINATOR_ENI_ID, call);
  const holderId =
    eni.attachment === undefined || eni.attachment.status === 'detached'
      ? undefined
      : eni.attachment.instanceId;
  const group = await describeGroup(deps.autoscaling, deps.config.COORDINATOR_ASG_NAME, call);
  const members = group?.instances ?? [];
  const ids = [...members.map((m) => m.instanceId), ...(holderId === undefined ? [] : [holderId])];
  const { instances } = await describeInstances(deps.ec2, ids, call);
  const candidates = await Promise.all(
    members.map(async (member): Promise<CoordinatorCandidate> => {
      const instance = instances.get(member.instanceId);
      const healthy =
        instance !== undefined &&
        instance.state === 'running' &&
        member.instanceId !== holderId &&
        (await probeInstance(deps, coordinator, instance, call));
      return {
        instanceId: member.instanceId,
        state: instance?.state ?? 'terminated',
        lifecycleState: member.lifecycleState,
        healthy,
        launchTimeMs: instance?.launchTimeMs ?? 0,
        ...(instance?.availabilityZone ? { availabilityZone: instance.availabilityZone } : {}),
      };
    }),
  );
  if (holderId === undefined) return { eni, candidates };
  const holder = instances.get(holderId);
  const [status, processAnswers] = await Promise.all([
    instanceStatus(deps.ec2, holderId, call),
    holder === undefined || holder.state !== 'running'
      ? Promise.resolve(false)
      : probeInstance(deps, coordinator, holder, call),
  ]);
  return {
    eni,
    candidates,
    active: {
      instanceId: holderId,
      state: holder?.state ?? 'terminated',
      ...(status === 'impaired' ? { instanceStatus: 'impaired' } : {}),
      processAnswers,
      inAutoScalingGroup: members.some((m) => m.instanceId === holderId),
    },
  };
}
