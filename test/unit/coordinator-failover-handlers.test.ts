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
import { SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
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
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:prod-alarms';

function throttled(): Error {
  return Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded', $metadata: {} });
}

describe('failover state machine on the one failover function, with EC2 error paths', () => {
  let standby: TestServer;
  /** The instance holding the ENI (undefined: available) and its attachment id. */
  let holder: { instanceId: string; attachmentId: string } | undefined;
  /** The coordinator group's InService members. */
  let members: string[] = [];

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
    members = [ACTIVE, STANDBY];
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
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
              { Key: 'port', Value: id === ACTIVE ? '9' : port },
            ],
          })),
        },
      ],
    }));
    ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [] });
    autoscaling.on(DescribeAutoScalingGroupsCommand).callsFake(() => ({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'prod-coordinators',
          DesiredCapacity: 2,
          MinSize: 2,
          MaxSize: 3,
          Instances: members.map((id) => ({
            InstanceId: id,
            LifecycleState: 'InService',
            HealthStatus: 'Healthy',
            AvailabilityZone: 'us-east-1a',
          })),
        },
      ],
    }));
    autoscaling.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    cloudwatch.on(PutMetricDataCommand).resolves({});
  });

  function deps(sfn = new SFNClient({ region: 'us-east-1' })): FailoverDeps {
    const config = loadConfig(FailoverEnvSchema, {
      CLUSTER_NAME: 'prod',
      TRINO_URL: standby.url,
      COORDINATOR_ENI_ID: ENI,
      COORDINATOR_ASG_NAME: 'prod-coordinators',
      PRIMARY_URL_TEMPLATE: 'http://127.0.0.1:{tag:port}',
      PROBE_TIMEOUT_MS: '500',
      ALARM_TOPIC_ARN: TOPIC,
    });
    return {
      config,
      ec2: new EC2Client({ region: 'us-east-1' }),
      autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
      cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
      sns: new SNSClient({ region: 'us-east-1' }),
      sfn,
      coordinator: async () =>
        new TrinoClient({ baseUrl: config.TRINO_URL, user: 'sentinel', timeoutMs: 500 }),
      now: () => Date.now(),
    };
  }

  /** The state machine on local Step Functions; the tasks' SFN client answers from its executions (the lock). */
  async function machine() {
    const sfn = new SFNClient({ region: 'us-east-1' });
    const handler = makeFailoverHandler(() => deps(sfn));
    const { definition } = await loadDefinition('coordinator-failover.asl.json');
    const local = new LocalStepFunctions(
      definition,
      Object.fromEntries(FAILOVER_TASK_NAMES.map((t) => [t, handler])),
    );
    local.bridge(sfn);
    return local;
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

  it('never leaves the cluster headless: an attach that fails hard after the detach is recovered onto ANOTHER healthy standby, which serves, before the execution fails and alarms', async () => {
    members = [ACTIVE, STANDBY, OTHER];
    ec2.on(AttachNetworkInterfaceCommand).callsFake((input: { InstanceId: string }) => {
      if (input.InstanceId === STANDBY) {
        throw Object.assign(new Error('Interface count 2 exceeds the limit'), {
          name: 'AttachmentLimitExceeded',
          $metadata: { httpStatusCode: 400 },
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
    expect(execution.statesEntered.slice(-3)).toEqual(['AttachFailed', 'NotifyFailure', 'FailoverFailed']);
    // The plan chose STANDBY (first healthy by the standby rule); the recovery never re-picks it.
    expect(ec2.commandCalls(AttachNetworkInterfaceCommand).map((c) => c.args[0].input.InstanceId)).toEqual([
      STANDBY,
      OTHER,
    ]);
    expect(holder).toEqual({ instanceId: OTHER, attachmentId: 'eni-attach-3' });
    const published = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(published.map((p) => p.TopicArn)).toEqual([TOPIC]);
    expect(published[0]?.Subject).toBe('Trino coordinator failover FAILED (prod)');
    expect(published[0]?.Message).toContain(
      `the ENI is now on ${OTHER}; the coordinator answers on the ENI address`,
    );
    expect(published[0]?.Message).toContain('AttachmentLimitExceeded');
  }, 60_000);

  it('a hard attach failure with no other healthy standby leaves the ENI detached and says so: never re-picks the standby whose attach failed', async () => {
    ec2.on(AttachNetworkInterfaceCommand).rejects(
      Object.assign(new Error('Interface count 2 exceeds the limit'), {
        name: 'AttachmentLimitExceeded',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const execution = (await machine()).start('hard-failure-alone', {
      mode: 'failover',
      attachmentId: 'eni-attach-1',
    });
    await expect(execution.result).rejects.toThrow();
    expect(ec2.commandCalls(AttachNetworkInterfaceCommand).map((c) => c.args[0].input.InstanceId)).toEqual([
      STANDBY,
    ]);
    expect(holder).toBeUndefined();
    const message = sns.commandCalls(PublishCommand)[0]?.args[0].input.Message ?? '';
    expect(message).toContain('no coordinator can take it: the cluster is headless');
  }, 60_000);

  it('a failed first step (PlanFailover after its retries) still notifies, with the execution input and the error, and moves nothing', async () => {
    ec2.on(DescribeNetworkInterfacesCommand).rejects(
      Object.assign(new Error('You are not authorized to perform this operation.'), {
        name: 'UnauthorizedOperation',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const execution = (await machine()).start('plan-fails', {
      mode: 'failover',
      attachmentId: 'eni-attach-1',
    });
    await expect(execution.result).rejects.toThrow();
    expect(execution.statesEntered).toEqual(['PlanFailover', 'NotifyFailure', 'FailoverFailed']);
    const published = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(published).toHaveLength(1);
    const message = JSON.parse(published[0]?.Message ?? '{}');
    expect(message).toMatchObject({ cluster: 'prod', error: { Error: 'AwsError' } });
    expect(message.timeline.at(-1).event).toBe(
      'Recovery: not needed (the plan was never made: this execution moved nothing)',
    );
    expect(ec2.commandCalls(DetachNetworkInterfaceCommand)).toHaveLength(0);
    expect(ec2.commandCalls(AttachNetworkInterfaceCommand)).toHaveLength(0);
  }, 60_000);

  it('a notification that cannot be published (KMS refuses the data key) fails NotifyFailure loudly, never silently', async () => {
    ec2.on(DescribeNetworkInterfacesCommand).rejects(
      Object.assign(new Error('denied'), {
        name: 'UnauthorizedOperation',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    sns.on(PublishCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: kms:GenerateDataKey'), {
        name: 'KMSAccessDenied',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const execution = (await machine()).start('notify-denied', { mode: 'failover' });
    await expect(execution.result).rejects.toThrow();
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(execution.statesEntered.slice(-2)).toEqual(['NotifyFailure', 'FailoverFailed']);
  }, 60_000);

  it('takes the lock first: a second execution started while one runs stands down as LOCKED and moves nothing, whoever started it', async () => {
    let releaseDetach: () => void = () => undefined;
    const detachHeld = new Promise<void>((resolve) => {
      releaseDetach = resolve;
    });
    ec2.on(DetachNetworkInterfaceCommand).callsFake(async () => {
      await detachHeld;
      holder = undefined;
      return {};
    });
    ec2.on(AttachNetworkInterfaceCommand).callsFake((input: { InstanceId: string }) => {
      holder = { instanceId: input.InstanceId, attachmentId: 'eni-attach-2' };
      return { AttachmentId: 'eni-attach-2' };
    });
    const local = await machine();
    const first = local.start('detector', { mode: 'failover', attachmentId: 'eni-attach-1' });
    // An operator's drill by hand, named as the runbook names it, while the first one is at DetachEni.
    for (let i = 0; i < 100 && !first.statesEntered.includes('DetachEni'); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const second = local.start('failover-prod-eni-attach-1', { mode: 'drill', attachmentId: 'eni-attach-1' });
    const out2 = (await second.result) as { outcome: string; plan: { action: string; reason: string } };
    expect(out2).toMatchObject({ outcome: 'STOOD_DOWN', plan: { action: 'LOCKED' } });
    expect(out2.plan.reason).toContain(first.executionArn);
    releaseDetach();
    const out1 = (await first.result) as { outcome: string };
    expect(out1.outcome).toBe('FAILED_OVER');
    expect(ec2.commandCalls(AttachNetworkInterfaceCommand)).toHaveLength(1);
    expect(ec2.commandCalls(DetachNetworkInterfaceCommand)).toHaveLength(1);
  }, 60_000);

  it('a dry run takes no lock and is no lock: a real failover started during a dry run goes ahead', async () => {
    ec2.on(AttachNetworkInterfaceCommand).callsFake((input: { InstanceId: string }) => {
      holder = { instanceId: input.InstanceId, attachmentId: 'eni-attach-2' };
      return { AttachmentId: 'eni-attach-2' };
    });
    ec2.on(DetachNetworkInterfaceCommand).callsFake(() => {
      holder = undefined;
      return {};
    });
    const local = await machine();
    const dry = local.start('dry', { mode: 'drill', dryRun: true });
    const real = local.start('real', { mode: 'failover', attachmentId: 'eni-attach-1' });
    expect(((await dry.result) as { outcome: string }).outcome).toBe('DRY_RUN');
    expect(((await real.result) as { outcome: string }).outcome).toBe('FAILED_OVER');
    expect(ec2.commandCalls(AttachNetworkInterfaceCommand)).toHaveLength(1);
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
