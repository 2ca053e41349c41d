/**
 * A lone coordinator (issue 17): the coordinator group holds only the active coordinator, the ENI's holder, and it
 * does not serve. By design nodeHealth never touches the ENI holder (test/unit/node-health-handler.test.ts: "never
 * touches a lone active coordinator"); the failover replaces it: PlanFailover finds no standby (NO_STANDBY) and
 * AwaitStandby scales the coordinator group out by one (infra/'s MaxSize leaves room for exactly that), so a new
 * coordinator boots, the next PlanFailover moves the ENI to it and FenceFailed terminates the old holder with the
 * group shrinking back. These tests pin the first half of that path with aws-sdk-client-mock, asserting what is
 * sent: the scale-out for the lone holder, and none while the new instance is launching or booting.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { FailoverDeps } from '../../functions/coordinator-failover/deps.ts';
import { FailoverEnvSchema, FailoverStateSchema } from '../../functions/coordinator-failover/schemas.ts';
import { runAwaitStandby } from '../../functions/coordinator-failover/tasks/await-standby.ts';
import { loadConfig } from '../../lib/config.ts';
import { TrinoClient } from '../../lib/trino/client.ts';

const autoscaling = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);

const GROUP = 'prod-coordinators';
const HOLDER = 'i-0000000000000c001';
const NEW = 'i-0000000000000c002';
const NOW = Date.parse('2026-12-08T01:00:00Z');

function deps(): FailoverDeps {
  const config = loadConfig(FailoverEnvSchema, {
    CLUSTER_NAME: 'prod',
    TRINO_URL: 'http://127.0.0.1:9',
    COORDINATOR_ENI_ID: 'eni-0123456789abcdef0',
    COORDINATOR_ASG_NAME: GROUP,
  });
  return {
    config,
    ec2: new EC2Client({ region: 'us-east-1' }),
    autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
    cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
    sns: new SNSClient({ region: 'us-east-1' }),
    sfn: new SFNClient({ region: 'us-east-1' }),
    coordinator: async () => new TrinoClient({ baseUrl: config.TRINO_URL, user: 'sentinel', timeoutMs: 200 }),
    now: () => NOW,
  };
}

/** The execution's state after PlanFailover found no standby for the lone holder. */
const noStandby = (standbyWaits: number) =>
  FailoverStateSchema.parse({
    mode: 'failover',
    cluster: 'prod',
    failureAtMs: NOW - 20_000,
    startedAtMs: NOW - 5_000,
    baselineWorkers: 2,
    standbyWaits,
    standbyWaitSeconds: 30,
    plan: {
      action: 'NO_STANDBY',
      reason: 'No running, healthy standby coordinator of this cluster',
      failedInstanceId: HOLDER,
      attachmentId: 'eni-attach-0123456789abcdef0',
      steps: [],
    },
  });

/** The coordinator group: CoordinatorStandbyCount 0 (infra/: MinSize = DesiredCapacity 1, MaxSize 2). */
function group(members: { id: string; lifecycleState: string; launchedMsAgo: number }[], desired: number) {
  autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: GROUP,
        MinSize: 1,
        MaxSize: 2,
        DesiredCapacity: desired,
        DefaultCooldown: 300,
        AvailabilityZones: ['us-east-1a'],
        HealthCheckType: 'EC2',
        CreatedTime: new Date(NOW - 86_400_000),
        Instances: members.map((m) => ({
          InstanceId: m.id,
          LifecycleState: m.lifecycleState as 'InService',
          HealthStatus: 'Healthy',
          AvailabilityZone: 'us-east-1a',
          ProtectedFromScaleIn: false,
        })),
      },
    ],
  });
  ec2.on(DescribeInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => ({
    Reservations: [
      {
        Instances: members
          .filter((m) => input.InstanceIds?.includes(m.id))
          .map((m) => ({
            InstanceId: m.id,
            State: { Name: 'running' as const },
            PrivateIpAddress: '10.0.1.20',
            LaunchTime: new Date(NOW - m.launchedMsAgo),
          })),
      },
    ],
  }));
  autoscaling.on(SetDesiredCapacityCommand).resolves({});
}

beforeEach(() => {
  autoscaling.reset();
  ec2.reset();
});

describe('a lone coordinator that does not serve is replaced through the failover', () => {
  it('scales the coordinator group out by one when the failed holder is its only member', async () => {
    group([{ id: HOLDER, lifecycleState: 'InService', launchedMsAgo: 3_600_000 }], 1);
    const next = await runAwaitStandby(noStandby(0), deps(), {});
    expect(autoscaling.commandCalls(SetDesiredCapacityCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: GROUP, DesiredCapacity: 2, HonorCooldown: false },
    ]);
    expect(next).toMatchObject({ scaledOutTo: 2, standbyWaits: 1, giveUp: false });
  });

  it.each([
    ['launching (Pending)', 'Pending', 30_000],
    ['booting (InService within the boot grace)', 'InService', 120_000],
  ])('waits without scaling out again while the new coordinator is %s', async (_, lifecycleState, ms) => {
    group(
      [
        { id: HOLDER, lifecycleState: 'InService', launchedMsAgo: 3_600_000 },
        { id: NEW, lifecycleState, launchedMsAgo: ms },
      ],
      2,
    );
    const next = await runAwaitStandby(noStandby(3), deps(), {});
    expect(autoscaling.commandCalls(SetDesiredCapacityCommand)).toEqual([]);
    expect(next).toMatchObject({ standbyWaits: 4, giveUp: false });
    expect(next.scaledOutTo).toBeUndefined();
  });
});
