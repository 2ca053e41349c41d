/**
 * EC2 adapter: instance lookups shared by drain and failover.
 * Source: Amazon EC2 API reference, DescribeInstances.
 *
 * @module
 */
import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { AwsError, AwsThrottledError, InstanceGoneError } from '../errors.ts';
import { isThrottling, sdkErrorName } from './sdk-errors.ts';

/** What we read of an instance. */
export interface InstanceView {
  readonly instanceId: string;
  /** `pending | running | shutting-down | terminated | stopping | stopped`. */
  readonly state: string;
  readonly privateIpAddress?: string;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * Describes one instance.
 * @throws InstanceGoneError when EC2 does not know it (`InvalidInstanceID.NotFound`) or it is terminated;
 *   AwsThrottledError | AwsError otherwise.
 */
export async function describeInstance(client: EC2Client, instanceId: string): Promise<InstanceView> {
  let found: InstanceView | undefined;
  try {
    const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = out.Reservations?.flatMap((r) => r.Instances ?? []).find(
      (i) => i.InstanceId === instanceId,
    );
    if (instance) {
      found = {
        instanceId,
        state: instance.State?.Name ?? 'unknown',
        ...(instance.PrivateIpAddress ? { privateIpAddress: instance.PrivateIpAddress } : {}),
        tags: Object.fromEntries(
          (instance.Tags ?? []).flatMap((t) =>
            t.Key !== undefined && t.Value !== undefined ? [[t.Key, t.Value]] : [],
          ),
        ),
      };
    }
  } catch (cause) {
    const name = sdkErrorName(cause);
    if (name.startsWith('InvalidInstanceID')) {
      throw new InstanceGoneError(`EC2 instance ${instanceId} does not exist`, {
        cause,
        context: { instanceId, sdkError: name },
      });
    }
    const ErrorClass = isThrottling(cause) ? AwsThrottledError : AwsError;
    throw new ErrorClass(`EC2 DescribeInstances failed for ${instanceId} (${name})`, {
      cause,
      context: { instanceId, sdkError: name },
    });
  }
  if (found === undefined || found.state === 'terminated') {
    throw new InstanceGoneError(`EC2 instance ${instanceId} is gone`, {
      context: { instanceId, state: found?.state },
    });
  }
  return found;
}
