/**
 * Error paths of the failover that an emulator cannot produce (EC2 throttling, an attach that fails hard, an ENI
 * moved by another actor between two reads), with aws-sdk-client-mock, through the real state machine
 * (statemachines/coordinator-failover.asl.json on aws-local-stepfunctions) and the one failover function.
 * Trino is a local HTTP server answering recorded Trino 476 responses. Every mocked call is asserted.
 */
import { readFileSync } from 'node:fs';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  AttachNetworkInterfaceCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FailoverDeps } from '../../functions/coordinator-failover/deps.ts';
import { makeFailoverHandler } from '../../functions/coordinator-failover/handler.ts';
import {
  FAILOVER_TASK_NAMES,
  FailoverEnvSchema,
  type FailoverState,
} from '../../functions/coordinator-failover/schemas.ts';
import { runAttachEni } from '../../functions/coordinator-failover/tasks/attach.ts';
import { LocalStepFunctions, loadDefinition } from '../../harness/local-sfn.ts';
import { loadConfig } from '../../lib/config.ts';
import { AwsThrottledError } from '../../lib/errors.ts';
import { TrinoClient } from '../../lib/trino/client.ts';
import { startTestServer, type TestServer } from '../helpers/http-server.ts';

const ec2 = mockClient(EC2Client);
const autoscaling = mockClient(AutoScalingClient);
const cloudwatch = mockClient(CloudWatchClient);
const sns = mockClient(SNSClient);
const info = readFileSync('test/fixtures/trino-476/v1-info.json', 'utf8');

const ENI = 'eni-0123456789abcdef0';
const ACTIVE = 'i-0aaaaaaaaaaaaaaaa';
const STANDBY = 'i-0bbbbbbbbbbbbbbbb';
const OTHER = 'i-0cccccccccccccccc';

function throttled(): Error {
  return Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded', $metadata: {} });
}

describe('failover state machine on the one failover function, with EC2 error paths', () => {
  let standby: TestServer;
  /** The instance holding the ENI (undefined: available) and its attachment id. */
  let holder: { instanceId: string; attachmentId: string } | undefined;

  beforeAll(async () => {
    standby = await startTestServer();
    standby.respond((request) =>
      request.path === '/v1/info'
        ? { status: 200, body: info }
        : request.path.startsWith('/v1/node')
          ? { status: 200, body: '[]' }
          : { status: 404 },
    );
  });
  afterAll(async () => {
    await standby.close();
  });
  beforeEach(() => {
    for (const mock of [ec2, autoscaling, cloudwatch, sns]) mock.reset();
    holder = { instanceId: ACTIVE, attachmentId: 'eni-attach-1' };
    ec2.on(DescribeNetworkInterfacesCommand).callsFake(() => ({
      NetworkInterfaces: [
        {
          NetworkInterfaceId: ENI,
          AvailabilityZone: 'us-east-1a',
          Status: holder === undefined ? 'available' : 'in-use',
          ...(holder === undefined
            ? {}
            : {
                Attachment: {
                  AttachmentId: holder.attachmentId,
                  InstanceId: holder.instanceId,
                  Status: 'attached',
                  DeviceIndex: 1,
                },
              }),
        },
      ],
    }));
    ec2.on(DetachNetworkInterfaceCommand).callsFake(() => {
      holder = undefined;
      return {};
    });
    const port = new URL(standby.url).port;
    ec2.on(DescribeInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => ({
      Reservations: [
        {
          Instances: (input.InstanceIds ?? []).map((id) => ({
            InstanceId: id,
            State: { Name: 'running' },
            LaunchTime: new Date(id === STANDBY ? 1_000 : 2_000),
            Placement: { AvailabilityZone: 'us-east-1a' },
            PrivateIpAddress: '127.0.0.1',
            Tags: [
              { Key: 'trino-sentinel:cluster', Value: 'prod' },
              { Key: 'trino-sentinel:role', Value: 'coordinator' },
              // The active coordinator's port: nothing listens (its process is gone).
              { Key: 'port', Value: id === STANDBY ? port : '9' },
            ],
          })),
        },
      ],
    }));
    ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [] });
    autoscaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'prod-coordinators',
          DesiredCapacity: 2,
          MinSize: 2,
          MaxSize: 3,
          Instances: [ACTIVE, STANDBY].map((id) => ({
            InstanceId: id,
            LifecycleState: 'InService',
            HealthStatus: 'Healthy',
            AvailabilityZone: 'us-east-1a',
          })),
        },
      ],
    } as never);
    autoscaling.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    cloudwatch.on(PutMetricDataCommand).resolves({});
  });

  function deps(): FailoverDeps {
    const config = loadConfig(FailoverEnvSchema, {
      CLUSTER_NAME: 'prod',
      TRINO_URL: standby.url,
      COORDINATOR_ENI_ID: ENI,
      COORDINATOR_ASG_NAME: 'prod-coordinators',
      PRIMARY_URL_TEMPLATE: 'http://127.0.0.1:{tag:port}',
      PROBE_TIMEOUT_MS: '500',
    });
    return {
      config,
      ec2: new EC2Client({ region: 'us-east-1' }),
      autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
      cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
      sns: new SNSClient({ region: 'us-east-1' }),
      coordinator: async () =>
        new TrinoClient({ baseUrl: config.TRINO_URL, user: 'sentinel', timeoutMs: 500 }),
      now: () => Date.now(),
    };
  }

  async function machine() {
    const handler = makeFailoverHandler(deps);
    const { definition } = await loadDefinition('coordinator-failover.asl.json');
    return new LocalStepFunctions(
      definition,
      Object.fromEntries(FAILOVER_TASK_NAMES.map((t) => [t, handler])),
    );
  }

  it('retries the throttled attach with backoff (ASL Retry on AwsThrottledError) and completes with one ENI move', async () => {
    let attempts = 0;
    ec2.on(AttachNetworkInterfaceCommand).callsFake(() => {
      attempts += 1;
      if (attempts <= 2) throw throttled();
      holder = { instanceId: STANDBY, attachmentId: 'eni-attach-2' };
      return { AttachmentId: 'eni-attach-2' };
    });
    const execution = (await machine()).start('throttled', {
      mode: 'failover',
      attachmentId: 'eni-attach-1',
    });
    const output = (await execution.result) as { outcome: string; newCoordinatorInstanceId: string };
    expect(output).toMatchObject({ outcome: 'FAILED_OVER', newCoordinatorInstanceId: STANDBY });
    const calls = ec2.commandCalls(AttachNetworkInterfaceCommand);
    expect(calls).toHaveLength(3);
    for (const call of calls) {
      expect(call.args[0].input).toEqual({ NetworkInterfaceId: ENI, InstanceId: STANDBY, DeviceIndex: 1 });
    }
    expect(execution.statesEntered.filter((s) => s === 'AttachEni')).toHaveLength(1);
    expect(ec2.commandCalls(DetachNetworkInterfaceCommand)[0]?.args[0].input).toEqual({
      AttachmentId: 'eni-attach-1',
      Force: true,
    });
    expect(autoscaling.commandCalls(TerminateInstanceInAutoScalingGroupCommand)[0]?.args[0].input).toEqual({
      InstanceId: ACTIVE,
      ShouldDecrementDesiredCapacity: false,
    });
  }, 60_000);

  it('retries an EC2 InternalError (HTTP 500) right after the detach (ASL Retry on AwsTransientError) and completes with one fenced move', async () => {
    let attachCalls = 0;
    ec2.on(AttachNetworkInterfaceCommand).callsFake(() => {
      attachCalls += 1;
      if (attachCalls <= 2) {
        throw Object.assign(new Error('An internal error has occurred'), {
          name: 'InternalError',
          $metadata: { httpStatusCode: 500 },
        });
      }
      holder = { instanceId: STANDBY, attachmentId: 'eni-attach-2' };
      return { AttachmentId: 'eni-attach-2' };
    });
    const execution = (await machine()).start('internal-error', {
      mode: 'failover',
      attachmentId: 'eni-attach-1',
    });
    const output = (await execution.result) as { outcome: string; newCoordinatorInstanceId: string };
    expect(output).toMatchObject({ outcome: 'FAILED_OVER', newCoordinatorInstanceId: STANDBY });
    expect(execution.statesEntered).not.toContain('NotifyFailure');
    expect(attachCalls).toBe(3);
    expect(autoscaling.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(1);
    expect(holder).toEqual({ instanceId: STANDBY, attachmentId: 'eni-attach-2' });
  }, 60_000);

  it('stands down, never force-detaching, when another actor attached the ENI after the plan (two movers)', async () => {
    // The detach request is sent; before CheckDetach reads the ENI, a second mover has attached it to OTHER.
    ec2.on(DetachNetworkInterfaceCommand).callsFake(() => {
      holder = { instanceId: OTHER, attachmentId: 'eni-attach-9' };
      return {};
    });
    const execution = (await machine()).start('two-movers', {
      mode: 'failover',
      attachmentId: 'eni-attach-1',
    });
    const output = (await execution.result) as { outcome: string; plan: { action: string } };
    expect(output).toMatchObject({ outcome: 'STOOD_DOWN', plan: { action: 'ALREADY_MOVED' } });
    const detaches = ec2.commandCalls(DetachNetworkInterfaceCommand).map((c) => c.args[0].input);
    expect(detaches).toEqual([{ AttachmentId: 'eni-attach-1', Force: true }]);
    expect(ec2.commandCalls(AttachNetworkInterfaceCommand)).toHaveLength(0);
    expect(autoscaling.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(0);
  }, 60_000);

  it('never leaves the cluster headless: an attach that fails hard after the detach is recovered onto the standby before the execution fails', async () => {
    let attempts = 0;
    ec2.on(AttachNetworkInterfaceCommand).callsFake((input: { InstanceId: string }) => {
      attempts += 1;
      if (attempts === 1) {
        throw Object.assign(new Error('Interface count 2 exceeds the limit'), {
          name: 'AttachmentLimitExceeded',
          $metadata: {},
        });
      }
      holder = { instanceId: input.InstanceId, attachmentId: 'eni-attach-3' };
      return { AttachmentId: 'eni-attach-3' };
    });
    const execution = (await machine()).start('hard-failure', {
      mode: 'failover',
      attachmentId: 'eni-attach-1',
    });
    await expect(execution.result).rejects.toThrow();
    expect(execution.statesEntered.slice(-2)).toEqual(['NotifyFailure', 'FailoverFailed']);
    expect(ec2.commandCalls(AttachNetworkInterfaceCommand).map((c) => c.args[0].input.InstanceId)).toEqual([
      STANDBY,
      STANDBY,
    ]);
    expect(holder).toEqual({ instanceId: STANDBY, attachmentId: 'eni-attach-3' });
  }, 60_000);

  it('translates throttling into AwsThrottledError, the name the ASL retries on', async () => {
    ec2.on(AttachNetworkInterfaceCommand).rejects(throttled());
    holder = undefined;
    await expect(runAttachEni(planned(), deps(), {})).rejects.toBeInstanceOf(AwsThrottledError);
  });

  it('stands down instead of attaching an ENI another instance holds (EC2 would refuse; moto would not)', async () => {
    holder = { instanceId: ACTIVE, attachmentId: 'eni-attach-1' };
    const next = await runAttachEni(planned(), deps(), {});
    expect(next).toMatchObject({ attach: { step: 'MOVED' }, plan: { action: 'ALREADY_MOVED' } });
    expect(ec2.commandCalls(AttachNetworkInterfaceCommand)).toHaveLength(0);
  });

  function planned(): FailoverState {
    return {
      mode: 'failover',
      dryRun: false,
      detectedAfterMs: 15_000,
      cluster: 'prod',
      failureAtMs: 0,
      startedAtMs: 15_000,
      plan: { action: 'FAILOVER', reason: 'test', standbyInstanceId: STANDBY, steps: [] },
      baselineWorkers: 0,
      standbyWaits: 0,
      standbyWaitSeconds: 30,
      giveUp: false,
      timeline: [],
    };
  }
});
