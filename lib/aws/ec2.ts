/**
 * EC2 adapter: instances, the coordinator ENI, status checks, stop/terminate. Every EC2 command the control plane
 * sends is here; AWS errors are translated into our contract ({@link AwsThrottledError}, which the state machines
 * retry; {@link InstanceGoneError}; {@link AwsError}).
 * Source: Amazon EC2 API reference — DescribeInstances, DescribeInstanceStatus, DescribeNetworkInterfaces,
 * AttachNetworkInterface, DetachNetworkInterface, StopInstances, TerminateInstances.
 *
 * @module
 */
import {
  AttachNetworkInterfaceCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  type EC2Client,
  type Instance,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { AwsError, InstanceGoneError } from '../errors.ts';
import { sdkErrorMessage, sdkErrorName, toAwsError } from './sdk-errors.ts';
import { type AwsCall, sendAws } from './send.ts';

/** Per-call options (the handler's abort signal); defined in ./send.ts, exported here too for the callers. */
export type { AwsCall } from './send.ts';

/** Tag keys of the control plane. */
export const TAG_CLUSTER = 'trino-sentinel:cluster';
/** Launch-template tag: `coordinator` (every instance of the coordinator group) or `worker`. */
export const TAG_ROLE = 'trino-sentinel:role';

/** What we read of an instance. */
export interface InstanceView {
  readonly instanceId: string;
  /** `pending | running | shutting-down | terminated | stopping | stopped`. */
  readonly state: string;
  readonly privateIpAddress?: string;
  readonly availabilityZone?: string;
  /** Launch time, epoch ms (0 when EC2 did not say). */
  readonly launchTimeMs: number;
  readonly tags: Readonly<Record<string, string>>;
}

function toView(instance: Instance & { InstanceId: string }): InstanceView {
  return {
    instanceId: instance.InstanceId,
    state: instance.State?.Name ?? 'unknown',
    ...(instance.PrivateIpAddress ? { privateIpAddress: instance.PrivateIpAddress } : {}),
    ...(instance.Placement?.AvailabilityZone
      ? { availabilityZone: instance.Placement.AvailabilityZone }
      : {}),
    launchTimeMs: instance.LaunchTime?.getTime() ?? 0,
    tags: Object.fromEntries(
      (instance.Tags ?? []).flatMap((t) =>
        t.Key !== undefined && t.Value !== undefined ? [[t.Key, t.Value]] : [],
      ),
    ),
  };
}

/** `InvalidInstanceID.NotFound` / `.Malformed`: EC2 does not know (some of) the instances named. */
function isInstanceIdError(cause: unknown): boolean {
  return sdkErrorName(cause).startsWith('InvalidInstanceID');
}

/** The ids an `InvalidInstanceID.*` failure names; empty for any other failure. */
function missingIds(cause: unknown): ReadonlySet<string> {
  return new Set(isInstanceIdError(cause) ? idsInNotFoundMessage(sdkErrorMessage(cause)) : []);
}

/** Instance ids EC2 may take in one `DescribeInstances` call. */
export const DESCRIBE_INSTANCES_BATCH = 1_000;

/** Ids named in an `InvalidInstanceID.NotFound` / `.Malformed` message ("The instance IDs 'i-1, i-2' do not exist"). */
export function idsInNotFoundMessage(message: string): string[] {
  return [...message.matchAll(/i-[0-9a-f]{8,17}/g)].map((m) => m[0]);
}

/**
 * Describes many instances with as few calls as EC2 allows: {@link DESCRIBE_INSTANCES_BATCH} ids per call; when
 * EC2 refuses a batch because some ids do not exist, it repeats the call once without them.
 * @returns Instance id → view, for the instances EC2 knows (terminated ones included: check `state`).
 * @throws AwsThrottledError | AwsError
 */
export async function describeInstances(
  ec2: EC2Client,
  instanceIds: readonly string[],
  call: AwsCall = {},
): Promise<{ instances: Map<string, InstanceView>; calls: number }> {
  const instances = new Map<string, InstanceView>();
  let calls = 0;
  const unique = [...new Set(instanceIds)];
  for (let start = 0; start < unique.length; start += DESCRIBE_INSTANCES_BATCH) {
    let batch = unique.slice(start, start + DESCRIBE_INSTANCES_BATCH);
    for (let attempt = 0; batch.length > 0; attempt += 1) {
      calls += 1;
      const ids = batch;
      const out = await sendAws(
        {
          operation: 'EC2 DescribeInstances',
          context: { instances: ids.length },
          // Some ids do not exist: the first time, ask again without them.
          answer: {
            when: (cause) => attempt === 0 && missingIds(cause).size > 0,
            value: (cause) => ({ missing: missingIds(cause) }),
          },
        },
        (options) => ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }), options),
        call,
      );
      if ('missing' in out) {
        batch = batch.filter((id) => !out.missing.has(id));
        continue;
      }
      for (const instance of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        const id = instance.InstanceId;
        if (id !== undefined) instances.set(id, toView({ ...instance, InstanceId: id }));
      }
      break;
    }
  }
  return { instances, calls };
}

/**
 * Describes one instance.
 * @throws InstanceGoneError when EC2 does not know it or it is terminated; AwsThrottledError | AwsError otherwise.
 */
export async function describeInstance(
  ec2: EC2Client,
  instanceId: string,
  call: AwsCall = {},
): Promise<InstanceView> {
  const operation = 'EC2 DescribeInstances';
  const out = await sendAws(
    {
      operation,
      translate: (cause) =>
        isInstanceIdError(cause)
          ? new InstanceGoneError(`EC2 instance ${instanceId} does not exist`, {
              cause,
              context: { instanceId, sdkError: sdkErrorName(cause) },
            })
          : toAwsError(operation, cause, { instanceId }),
    },
    (options) => ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }), options),
    call,
  );
  const instance = (out.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .find((i) => i.InstanceId === instanceId);
  const found = instance ? toView({ ...instance, InstanceId: instanceId }) : undefined;
  if (found === undefined || found.state === 'terminated') {
    throw new InstanceGoneError(`EC2 instance ${instanceId} is gone`, {
      context: { instanceId, state: found?.state },
    });
  }
  return found;
}

/**
 * Whether either EC2 status check of the instance is `impaired` (`DescribeInstanceStatus`).
 * @returns `impaired`, `ok`, or `not-reported` when EC2 has no status for it (stopped, gone, or not yet known).
 * @throws AwsThrottledError | AwsError
 */
export async function instanceStatus(
  ec2: EC2Client,
  instanceId: string,
  call: AwsCall = {},
): Promise<'ok' | 'impaired' | 'not-reported'> {
  const describe = new DescribeInstanceStatusCommand({
    InstanceIds: [instanceId],
    IncludeAllInstances: true,
  });
  const out = await sendAws(
    {
      operation: 'EC2 DescribeInstanceStatus',
      context: { instanceId },
      answer: { when: isInstanceIdError, value: () => undefined },
    },
    (options) => ec2.send(describe, options),
    call,
  );
  const s = out?.InstanceStatuses?.[0];
  if (s === undefined) return 'not-reported';
  return s.InstanceStatus?.Status === 'impaired' || s.SystemStatus?.Status === 'impaired' ? 'impaired' : 'ok';
}

/** The ENI as the control plane sees it. */
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
export async function describeEni(
  ec2: EC2Client,
  networkInterfaceId: string,
  call: AwsCall = {},
): Promise<EniState> {
  const describe = new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [networkInterfaceId] });
  const out = await sendAws(
    { operation: 'EC2 DescribeNetworkInterfaces', context: { networkInterfaceId } },
    (options) => ec2.send(describe, options),
    call,
  );
  const eni = out.NetworkInterfaces?.[0];
  if (eni === undefined) {
    throw new AwsError(`ENI ${networkInterfaceId} does not exist`, { context: { networkInterfaceId } });
  }
  const a = eni.Attachment;
  return {
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

/**
 * `DetachNetworkInterface` of one attachment.
 * @returns `false` when the attachment no longer exists (already detached: idempotent), else `true`.
 * @throws AwsThrottledError | AwsError
 */
export async function detachEni(
  ec2: EC2Client,
  attachmentId: string,
  force: boolean,
  call: AwsCall = {},
): Promise<boolean> {
  const detach = new DetachNetworkInterfaceCommand({ AttachmentId: attachmentId, Force: force });
  const out = await sendAws(
    {
      operation: 'EC2 DetachNetworkInterface',
      context: { attachmentId, force },
      answer: {
        when: (cause) => sdkErrorName(cause) === 'InvalidAttachmentID.NotFound',
        value: () => 'GONE' as const,
      },
    },
    (options) => ec2.send(detach, options),
    call,
  );
  return out !== 'GONE';
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
  call: AwsCall = {},
): Promise<string | undefined> {
  const attach = new AttachNetworkInterfaceCommand({
    NetworkInterfaceId: networkInterfaceId,
    InstanceId: instanceId,
    DeviceIndex: deviceIndex,
  });
  const out = await sendAws(
    { operation: 'EC2 AttachNetworkInterface', context: { networkInterfaceId, instanceId, deviceIndex } },
    (options) => ec2.send(attach, options),
    call,
  );
  return out.AttachmentId;
}

/**
 * `StopInstances` (with `Force` when the instance is impaired) or `TerminateInstances`.
 * An instance that no longer exists counts as done.
 * @throws AwsThrottledError | AwsError
 */
export async function stopOrTerminateInstance(
  ec2: EC2Client,
  instanceId: string,
  action: 'STOP' | 'TERMINATE',
  options: { readonly force: boolean },
  call: AwsCall = {},
): Promise<void> {
  await sendAws(
    {
      operation: action === 'STOP' ? 'EC2 StopInstances' : 'EC2 TerminateInstances',
      context: { instanceId },
      // An instance that no longer exists: done.
      answer: { when: isInstanceIdError, value: () => undefined },
    },
    (send) =>
      action === 'TERMINATE'
        ? ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }), send)
        : ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId], Force: options.force }), send),
    call,
  );
}
