import {
  AutoScalingClient,
  DescribeAutoScalingInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { drainInstance } from '../../cli/drain.ts';

const autoscaling = mockClient(AutoScalingClient);
const sfn = mockClient(SFNClient);
const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:prod-worker-drain';
const clients = {
  autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
  sfn: new SFNClient({ region: 'us-east-1' }),
};

describe('trino-sentinel drain <instance-id>', () => {
  beforeEach(() => {
    autoscaling.reset();
    sfn.reset();
  });

  it('terminates through Auto Scaling, finds the drain execution by name and follows it to the end', async () => {
    autoscaling.on(DescribeAutoScalingInstancesCommand).resolves({
      AutoScalingInstances: [
        {
          InstanceId: 'i-0123456789abcdef0',
          AutoScalingGroupName: 'prod-workers',
          LifecycleState: 'InService',
          AvailabilityZone: 'a',
          HealthStatus: 'HEALTHY',
          ProtectedFromScaleIn: false,
        },
      ],
    });
    autoscaling.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    sfn
      .on(ListExecutionsCommand)
      .resolvesOnce({ executions: [] })
      .resolves({
        executions: [
          {
            name: 'drain-i-0123456789abcdef0-abc',
            executionArn: 'arn:exec',
            stateMachineArn: ARN,
            status: 'RUNNING',
            startDate: new Date(),
          },
        ],
      });
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({
        executionArn: 'arn:exec',
        stateMachineArn: ARN,
        status: 'RUNNING',
        startDate: new Date(),
      })
      .resolves({
        executionArn: 'arn:exec',
        stateMachineArn: ARN,
        status: 'SUCCEEDED',
        startDate: new Date(),
        output: '{"lifecycleResult":"CONTINUE"}',
      });
    const lines: string[] = [];
    const result = await drainInstance(clients, {
      instanceId: 'i-0123456789abcdef0',
      stateMachineArn: ARN,
      replace: false,
      pollMs: 1,
      log: (l) => lines.push(l),
    });
    expect(result).toEqual({
      executionArn: 'arn:exec',
      status: 'SUCCEEDED',
      output: { lifecycleResult: 'CONTINUE' },
    });
    expect(autoscaling.commandCalls(TerminateInstanceInAutoScalingGroupCommand)[0]?.args[0].input).toEqual({
      InstanceId: 'i-0123456789abcdef0',
      ShouldDecrementDesiredCapacity: true,
    });
    expect(lines.at(-1)).toBe('drain: SUCCEEDED');
  });

  it('refuses an instance that is not in an Auto Scaling group, terminating nothing', async () => {
    autoscaling.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
    await expect(
      drainInstance(clients, {
        instanceId: 'i-0123456789abcdef0',
        stateMachineArn: ARN,
        replace: false,
        log: () => undefined,
      }),
    ).rejects.toThrowError(/not in an Auto Scaling group/);
    expect(autoscaling.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(0);
  });

  it('explains the likely cause when no execution appears', async () => {
    autoscaling.on(DescribeAutoScalingInstancesCommand).resolves({
      AutoScalingInstances: [
        {
          InstanceId: 'i-0123456789abcdef0',
          AutoScalingGroupName: 'prod-workers',
          LifecycleState: 'InService',
          AvailabilityZone: 'a',
          HealthStatus: 'HEALTHY',
          ProtectedFromScaleIn: false,
        },
      ],
    });
    autoscaling.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    await expect(
      drainInstance(clients, {
        instanceId: 'i-0123456789abcdef0',
        stateMachineArn: ARN,
        replace: true,
        appearTimeoutMs: 5,
        pollMs: 1,
        log: () => undefined,
      }),
    ).rejects.toThrowError(/lifecycle hook and EventBridge rule/);
    expect(
      autoscaling.commandCalls(TerminateInstanceInAutoScalingGroupCommand)[0]?.args[0].input
        .ShouldDecrementDesiredCapacity,
    ).toBe(false);
  });
});
