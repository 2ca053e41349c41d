/**
 * Test infrastructure: builds, in moto, the AWS side of a cluster as infra/ would in a real account: a VPC and
 * subnet, a worker launch template, a worker Auto Scaling group with the termination lifecycle hook, and one
 * instance per harness Trino worker, tagged like production instances plus `trino-sentinel:http-port`, the
 * worker's loopback port (the sandbox's `WORKER_URL_TEMPLATE` is `http://127.0.0.1:{tag:trino-sentinel:http-port}`).
 *
 * @module
 */
import {
  AttachInstancesCommand,
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  PutLifecycleHookCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  AttachNetworkInterfaceCommand,
  CreateLaunchTemplateCommand,
  CreateNetworkInterfaceCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { EmulatorClientConfig } from './moto.ts';

/** The emulator's first AMI, per endpoint: moto lists thousands (seconds per DescribeImages), the same after a reset. */
const imageIds = new Map<string, string | undefined>();

/** An AMI id the emulator knows (the first it lists), looked up once per endpoint. */
async function emulatorImageId(aws: EmulatorClientConfig, ec2: EC2Client): Promise<string | undefined> {
  if (!imageIds.has(aws.endpoint)) {
    imageIds.set(aws.endpoint, (await ec2.send(new DescribeImagesCommand({}))).Images?.[0]?.ImageId);
  }
  return imageIds.get(aws.endpoint);
}

/** The worker group as created. */
export interface WorkerGroup {
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  /** One per requested worker port, in order. */
  readonly instances: readonly { readonly instanceId: string; readonly port: number }[];
}

/**
 * Creates the worker group in moto.
 * @param aws - `MotoServer.clientConfig`.
 * @param clusterName - Value of the `trino-sentinel:cluster` tag.
 * @param workerPorts - One instance is mapped to each port.
 * @param heartbeatTimeoutSeconds - The lifecycle hook's HeartbeatTimeout (AWS: 30–7200).
 */
export async function createWorkerGroup(
  aws: EmulatorClientConfig,
  clusterName: string,
  workerPorts: readonly number[],
  heartbeatTimeoutSeconds: number,
): Promise<WorkerGroup> {
  const ec2 = new EC2Client(aws);
  const autoscaling = new AutoScalingClient(aws);
  try {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }));
    const subnet = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpc.Vpc?.VpcId,
        CidrBlock: '10.40.1.0/24',
        AvailabilityZone: `${aws.region}a`,
      }),
    );
    const imageId = await emulatorImageId(aws, ec2);
    if (imageId === undefined) throw new Error('moto offers no AMI');
    const templateName = `${clusterName}-worker`;
    await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: templateName,
        LaunchTemplateData: { ImageId: imageId, InstanceType: 'r6i.xlarge' },
      }),
    );
    const autoScalingGroupName = `${clusterName}-workers`;
    const lifecycleHookName = `${clusterName}-worker-drain`;
    await autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: autoScalingGroupName,
        LaunchTemplate: { LaunchTemplateName: templateName, Version: '$Latest' },
        MinSize: 0,
        MaxSize: workerPorts.length + 2,
        DesiredCapacity: workerPorts.length,
        VPCZoneIdentifier: subnet.Subnet?.SubnetId,
        Tags: [
          { Key: 'trino-sentinel:cluster', Value: clusterName, PropagateAtLaunch: true },
          { Key: 'trino-sentinel:role', Value: 'worker', PropagateAtLaunch: true },
        ],
      }),
    );
    await autoscaling.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: autoScalingGroupName,
        LifecycleHookName: lifecycleHookName,
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: heartbeatTimeoutSeconds,
        DefaultResult: 'CONTINUE',
      }),
    );
    const groups = await autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [autoScalingGroupName] }),
    );
    const instanceIds = (groups.AutoScalingGroups?.[0]?.Instances ?? []).flatMap((i) =>
      i.InstanceId ? [i.InstanceId] : [],
    );
    if (instanceIds.length !== workerPorts.length) {
      throw new Error(`moto launched ${instanceIds.length} instances, expected ${workerPorts.length}`);
    }
    const instances = instanceIds.map((instanceId, index) => ({ instanceId, port: workerPorts[index] ?? 0 }));
    for (const { instanceId, port } of instances) {
      await ec2.send(
        new CreateTagsCommand({
          Resources: [instanceId],
          Tags: [{ Key: 'trino-sentinel:http-port', Value: String(port) }],
        }),
      );
    }
    return { autoScalingGroupName, lifecycleHookName, instances };
  } finally {
    ec2.destroy();
    autoscaling.destroy();
  }
}

/** The coordinator side as created by {@link createCoordinatorEni}. */
export interface CoordinatorEni {
  readonly instanceId: string;
  readonly networkInterfaceId: string;
  readonly attachmentId: string;
}

/**
 * Creates, in moto, the active coordinator's instance (tagged like production plus `trino-sentinel:http-port`)
 * and the coordinator ENI attached to it at device index 1, as infra/ does in an account.
 * @param coordinatorHttpPort - The harness coordinator's loopback port (the sandbox's
 *   `PRIMARY_URL_TEMPLATE` is `http://127.0.0.1:{tag:trino-sentinel:http-port}`).
 */
export async function createCoordinatorEni(
  aws: EmulatorClientConfig,
  clusterName: string,
  coordinatorHttpPort: number,
): Promise<CoordinatorEni> {
  const set = await createCoordinatorSet(aws, clusterName, 0);
  await tagPorts(aws, set.activeInstanceId, { http: coordinatorHttpPort });
  return {
    instanceId: set.activeInstanceId,
    networkInterfaceId: set.networkInterfaceId,
    attachmentId: set.attachmentId,
  };
}

/** The coordinator side of an HA cluster as created by {@link createCoordinatorSet}. */
export interface CoordinatorSet {
  readonly networkInterfaceId: string;
  readonly attachmentId: string;
  /** The active coordinator's instance (holds the ENI), then the standbys', in launch order. */
  readonly activeInstanceId: string;
  readonly standbyInstanceIds: readonly string[];
  readonly subnetId: string;
  /** Coordinator Auto Scaling group: the active coordinator and every standby are its members (AttachInstances). */
  readonly coordinatorGroupName: string;
}

/**
 * Creates, in moto, the instances of an HA coordinator set (one active and `standbys` more, all tagged like
 * infra/'s launch template: `trino-sentinel:role=coordinator` of `clusterName`), the coordinator ENI attached to the
 * active one at device index 1, and the coordinator Auto Scaling group with every one of them attached as members
 * (room for one more: the no-standby path scales it out). Ports are tagged later with {@link tagPorts}, once the
 * local coordinators are running.
 */
export async function createCoordinatorSet(
  aws: EmulatorClientConfig,
  clusterName: string,
  standbys: number,
): Promise<CoordinatorSet> {
  const ec2 = new EC2Client(aws);
  const autoscaling = new AutoScalingClient(aws);
  try {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.60.0.0/16' }));
    const subnet = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpc.Vpc?.VpcId,
        CidrBlock: '10.60.1.0/24',
        AvailabilityZone: `${aws.region}a`,
      }),
    );
    const subnetId = subnet.Subnet?.SubnetId ?? '';
    const image = await emulatorImageId(aws, ec2);
    const templateName = `${clusterName}-coordinator`;
    await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: templateName,
        LaunchTemplateData: { ImageId: image, InstanceType: 'r6i.xlarge' },
      }),
    );
    const coordinatorGroupName = `${clusterName}-coordinators`;
    await autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: coordinatorGroupName,
        LaunchTemplate: { LaunchTemplateName: templateName, Version: '$Latest' },
        MinSize: 0,
        MaxSize: standbys + 4,
        DesiredCapacity: 0,
        VPCZoneIdentifier: subnetId,
      }),
    );
    const launch = () => launchCoordinatorInstance(aws, clusterName, subnetId, coordinatorGroupName);
    const activeInstanceId = await launch();
    const standbyInstanceIds: string[] = [];
    for (let i = 0; i < standbys; i += 1) standbyInstanceIds.push(await launch());
    const eni = await ec2.send(
      new CreateNetworkInterfaceCommand({ SubnetId: subnetId, PrivateIpAddress: '10.60.1.100' }),
    );
    const networkInterfaceId = eni.NetworkInterface?.NetworkInterfaceId;
    if (networkInterfaceId === undefined) throw new Error('moto created no ENI');
    const attached = await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: networkInterfaceId,
        InstanceId: activeInstanceId,
        DeviceIndex: 1,
      }),
    );
    return {
      networkInterfaceId,
      attachmentId: attached.AttachmentId ?? '',
      activeInstanceId,
      standbyInstanceIds,
      subnetId,
      coordinatorGroupName,
    };
  } finally {
    ec2.destroy();
    autoscaling.destroy();
  }
}

/**
 * Tags an instance with the loopback ports of the local process playing it (`trino-sentinel:http-port`,
 * `trino-sentinel:https-port`): the sandbox's URL templates read them.
 */
export async function tagPorts(
  aws: EmulatorClientConfig,
  instanceId: string,
  ports: { readonly http?: number; readonly https?: number },
): Promise<void> {
  const ec2 = new EC2Client(aws);
  try {
    await ec2.send(
      new CreateTagsCommand({
        Resources: [instanceId],
        Tags: [
          ...(ports.http === undefined
            ? []
            : [{ Key: 'trino-sentinel:http-port', Value: String(ports.http) }]),
          ...(ports.https === undefined
            ? []
            : [{ Key: 'trino-sentinel:https-port', Value: String(ports.https) }]),
        ],
      }),
    );
  } finally {
    ec2.destroy();
  }
}

/**
 * Launches one more coordinator-group instance in moto (e.g. the replacement standby the coordinator group would
 * launch), tagged like infra/'s launch template, in `subnetId`, and attaches it to the coordinator group.
 * @returns Its instance id.
 */
export async function launchCoordinatorInstance(
  aws: EmulatorClientConfig,
  clusterName: string,
  subnetId: string,
  coordinatorGroupName: string,
): Promise<string> {
  const ec2 = new EC2Client(aws);
  const autoscaling = new AutoScalingClient(aws);
  try {
    const image = await emulatorImageId(aws, ec2);
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: image,
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnetId,
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'trino-sentinel:cluster', Value: clusterName },
              { Key: 'trino-sentinel:role', Value: 'coordinator' },
            ],
          },
        ],
      }),
    );
    const id = run.Instances?.[0]?.InstanceId;
    if (id === undefined) throw new Error('moto launched no instance');
    await autoscaling.send(
      new AttachInstancesCommand({ AutoScalingGroupName: coordinatorGroupName, InstanceIds: [id] }),
    );
    return id;
  } finally {
    ec2.destroy();
    autoscaling.destroy();
  }
}
