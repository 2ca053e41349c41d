/**
 * EC2 adapter for the coordinator ENI and the coordinator instances: describe, detach, attach, fence, tags. AWS
 * errors are translated into our contract (throttling → {@link AwsThrottledError}, which the failover state machine
 * retries with backoff). Source: Amazon EC2 API reference — DescribeNetworkInterfaces, DetachNetworkInterface,
 * AttachNetworkInterface, DescribeInstances, DescribeInstanceStatus, StopInstances, CreateTags; Amazon EC2 Auto
 * Scaling API reference — TerminateInstanceInAutoScalingGroup, DescribeAutoScalingInstances.
 *
 * @module
 */
import {
  type AutoScalingClient,
  DescribeAutoScalingInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  AttachNetworkInterfaceCommand,
  CreateTagsCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  type EC2Client,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { AwsError } from '../errors.ts';
import { sdkErrorName, toAwsError } from './sdk-errors.ts';

/** Tag keys of the control plane. */
export const TAG_CLUSTER = 'trino-sentinel:cluster';
/** `coordinator` (the active one), `standby` or `worker`. */
export const TAG_ROLE = 'trino-sentinel:role';

/** The ENI as the failover sees it. */
export interface EniState {
  readonly networkInterfaceId: string;
  /** `available` | `in-use` | `attaching` | `detaching` | `associated`. */
  readonly status: string;
  readonly availabilityZone?: string;
  readonly privateIpAddress?: string;
  readonly attachment?: {
    readonly attachmentId: string;
    readonly instanceId?: string;
    /** `attaching` | `attached` | `detaching` | `detached`. */
    readonly status: string;
    readonly deviceIndex?: number;
  };
}

/**
 * `DescribeNetworkInterfaces` for one ENI.
 * @throws AwsThrottledError | AwsError (also when the ENI does not exist).
 */
export async function describeEni(ec2: EC2Client, networkInterfaceId: string): Promise<EniState> {
  let found: EniState | undefined;
  try {
    const out = await ec2.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [networkInterfaceId] }),
    );
    const eni = out.NetworkInterfaces?.[0];
    if (eni) {
      const a = eni.Attachment;
      found = {
        networkInterfaceId,
        status: eni.Status ?? 'unknown',
        ...(eni.AvailabilityZone ? { availabilityZone: eni.AvailabilityZone } : {}),
        ...(eni.PrivateIpAddress ? { privateIpAddress: eni.PrivateIpAddress } : {}),
        ...(a?.AttachmentId
          ? {
              attachment: {
                attachmentId: a.AttachmentId,
                ...(a.InstanceId ? { instanceId: a.InstanceId } : {}),
                status: a.Status ?? 'unknown',
                ...(a.DeviceIndex === undefined ? {} : { deviceIndex: a.DeviceIndex }),
              },
            }
          : {}),
      };
    }
  } catch (cause) {
    throw toAwsError('EC2 DescribeNetworkInterfaces', cause, { networkInterfaceId });
  }
  if (found === undefined) {
    throw new AwsError(`ENI ${networkInterfaceId} does not exist`, { context: { networkInterfaceId } });
  }
  return found;
}

/**
 * `DetachNetworkInterface` of one attachment.
 * @returns `false` when the attachment no longer exists (already detached: idempotent), else `true`.
 * @throws AwsThrottledError | AwsError
 */
export async function detachEni(ec2: EC2Client, attachmentId: string, force: boolean): Promise<boolean> {
  try {
    await ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: attachmentId, Force: force }));
    return true;
  } catch (cause) {
    if (sdkErrorName(cause) === 'InvalidAttachmentID.NotFound') return false;
    throw toAwsError('EC2 DetachNetworkInterface', cause, { attachmentId, force });
  }
}

/**
 * `AttachNetworkInterface`.
 * @returns The new attachment id.
 * @throws AwsThrottledError | AwsError (e.g. `InvalidParameterValue` when the ENI is attached elsewhere).
 */
export async function attachEni(
  ec2: EC2Client,
  networkInterfaceId: string,
  instanceId: string,
  deviceIndex: number,
): Promise<string | undefined> {
  try {
    const out = await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: networkInterfaceId,
        InstanceId: instanceId,
        DeviceIndex: deviceIndex,
      }),
    );
    return out.AttachmentId;
  } catch (cause) {
    throw toAwsError('EC2 AttachNetworkInterface', cause, { networkInterfaceId, instanceId, deviceIndex });
  }
}

/** A coordinator-side instance (`trino-sentinel:role` coordinator or standby). */
export interface CoordinatorInstance {
  readonly instanceId: string;
  readonly state: string;
  readonly privateIpAddress?: string;
  readonly availabilityZone?: string;
  readonly launchTimeMs: number;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * Lists the cluster's coordinator and standby instances that are not terminated.
 * @throws AwsThrottledError | AwsError
 */
export async function listCoordinatorInstances(
  ec2: EC2Client,
  clusterName: string,
): Promise<CoordinatorInstance[]> {
  try {
    const out = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${TAG_CLUSTER}`, Values: [clusterName] },
          { Name: `tag:${TAG_ROLE}`, Values: ['coordinator', 'standby'] },
          { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
        ],
      }),
    );
    return (out.Reservations ?? []).flatMap((r) =>
      (r.Instances ?? []).flatMap((i) =>
        i.InstanceId === undefined
          ? []
          : [
              {
                instanceId: i.InstanceId,
                state: i.State?.Name ?? 'unknown',
                ...(i.PrivateIpAddress ? { privateIpAddress: i.PrivateIpAddress } : {}),
                ...(i.Placement?.AvailabilityZone ? { availabilityZone: i.Placement.AvailabilityZone } : {}),
                launchTimeMs: i.LaunchTime?.getTime() ?? 0,
                tags: Object.fromEntries(
                  (i.Tags ?? []).flatMap((t) =>
                    t.Key !== undefined && t.Value !== undefined ? [[t.Key, t.Value]] : [],
                  ),
                ),
              },
            ],
      ),
    );
  } catch (cause) {
    throw toAwsError('EC2 DescribeInstances', cause, { clusterName });
  }
}

/**
 * Whether either EC2 status check of the instance is `impaired` (`DescribeInstanceStatus`).
 * @returns `impaired`, `ok`, or `undefined` when EC2 has no status (e.g. stopped, or not yet known).
 * @throws AwsThrottledError | AwsError
 */
export async function instanceStatus(ec2: EC2Client, instanceId: string): Promise<string | undefined> {
  try {
    const out = await ec2.send(
      new DescribeInstanceStatusCommand({ InstanceIds: [instanceId], IncludeAllInstances: true }),
    );
    const s = out.InstanceStatuses?.[0];
    if (s === undefined) return undefined;
    return s.InstanceStatus?.Status === 'impaired' || s.SystemStatus?.Status === 'impaired'
      ? 'impaired'
      : 'ok';
  } catch (cause) {
    if (sdkErrorName(cause).startsWith('InvalidInstanceID')) return undefined;
    throw toAwsError('EC2 DescribeInstanceStatus', cause, { instanceId });
  }
}

/**
 * The Auto Scaling group of an instance, if any (`DescribeAutoScalingInstances`).
 * @throws AwsThrottledError | AwsError
 */
export async function autoScalingGroupOf(
  autoscaling: AutoScalingClient,
  instanceId: string,
): Promise<string | undefined> {
  try {
    const out = await autoscaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
    );
    return out.AutoScalingInstances?.[0]?.AutoScalingGroupName;
  } catch (cause) {
    throw toAwsError('Auto Scaling DescribeAutoScalingInstances', cause, { instanceId });
  }
}

/**
 * Fences the failed instance: `TERMINATE` through its Auto Scaling group (capacity kept, so the group launches a
 * replacement standby) or directly; `STOP` with `StopInstances` (force when it is impaired).
 * @throws AwsThrottledError | AwsError. An instance that no longer exists counts as fenced.
 */
export async function fenceInstance(
  ec2: EC2Client,
  autoscaling: AutoScalingClient,
  instanceId: string,
  action: 'TERMINATE' | 'STOP',
  options: { readonly inAutoScalingGroup: boolean; readonly force: boolean },
): Promise<void> {
  try {
    if (action === 'TERMINATE' && options.inAutoScalingGroup) {
      await autoscaling.send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: instanceId,
          ShouldDecrementDesiredCapacity: false,
        }),
      );
    } else if (action === 'TERMINATE') {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    } else {
      await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId], Force: options.force }));
    }
  } catch (cause) {
    const name = sdkErrorName(cause);
    if (name.startsWith('InvalidInstanceID')) return;
    throw toAwsError(action === 'STOP' ? 'EC2 StopInstances' : 'EC2 TerminateInstances', cause, {
      instanceId,
    });
  }
}

/**
 * Sets the `trino-sentinel:role` tag of instances (`CreateTags` overwrites).
 * @throws AwsThrottledError | AwsError
 */
export async function setRole(
  ec2: EC2Client,
  instanceIds: readonly string[],
  role: 'coordinator' | 'standby' | 'failed',
): Promise<void> {
  if (instanceIds.length === 0) return;
  try {
    await ec2.send(
      new CreateTagsCommand({ Resources: [...instanceIds], Tags: [{ Key: TAG_ROLE, Value: role }] }),
    );
  } catch (cause) {
    throw toAwsError('EC2 CreateTags', cause, { instanceIds, role });
  }
}
