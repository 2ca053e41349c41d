/**
 * Error paths of the failover that an emulator cannot produce (EC2 throttling), with aws-sdk-client-mock, through
 * the real state machine (statemachines/coordinator-failover.asl.json on aws-local-stepfunctions) and our handlers.
 * Trino is a local HTTP server answering recorded Trino 476 responses. Every mocked call is asserted.
 */
import { readFileSync } from 'node:fs';
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  AttachNetworkInterfaceCommand,
  CreateTagsCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  EC2Client,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeFailoverHandlers, runAttachEni } from '../../functions/coordinator-failover/handler.ts';
import { FailoverEnvSchema, type FailoverState } from '../../functions/coordinator-failover/schemas.ts';
import { LocalStepFunctions, loadDefinition } from '../../harness/local-sfn.ts';
import { loadConfig } from '../../lib/config.ts';
import { AwsThrottledError, EniAttachedElsewhereError } from '../../lib/errors.ts';
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

function throttled(): Error {
  return Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded', $metadata: {} });
}

describe('failover state machine with a throttled AttachNetworkInterface', () => {
  let standby: TestServer;
  let holder: string | undefined;

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
    holder = ACTIVE;
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
                  AttachmentId: holder === ACTIVE ? 'eni-attach-1' : 'eni-attach-2',
                  InstanceId: holder,
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
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [ACTIVE, STANDBY].map((id, index) => ({
            InstanceId: id,
            State: { Name: 'running' },
            LaunchTime: new Date(1_000 + index),
            Placement: { AvailabilityZone: 'us-east-1a' },
            Tags: [
              { Key: 'trino-sentinel:cluster', Value: 'prod' },
              { Key: 'trino-sentinel:role', Value: id === ACTIVE ? 'coordinator' : 'standby' },
              // The active coordinator's port: nothing listens (its process is gone).
              { Key: 'port', Value: id === ACTIVE ? '9' : port },
            ],
          })),
        },
      ],
    });
    ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [] });
    ec2.on(StopInstancesCommand).resolves({});
    ec2.on(CreateTagsCommand).resolves({});
    autoscaling.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
    cloudwatch.on(PutMetricDataCommand).resolves({});
  });

  function handlers() {
    const config = loadConfig(FailoverEnvSchema, {
      CLUSTER_NAME: 'prod',
      TRINO_URL: standby.url,
      COORDINATOR_ENI_ID: ENI,
      PRIMARY_URL_TEMPLATE: 'http://127.0.0.1:{tag:port}',
      PROBE_TIMEOUT_MS: '500',
    });
    return makeFailoverHandlers({
      config,
      ec2: new EC2Client({ region: 'us-east-1' }),
      autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
      cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
      sns: new SNSClient({ region: 'us-east-1' }),
      coordinator: async () =>
        new TrinoClient({ baseUrl: config.TRINO_URL, user: 'sentinel', timeoutMs: 500 }),
      now: () => Date.now(),
    });
  }

  it('retries the throttled attach with backoff (ASL Retry on AwsThrottledError) and completes with one ENI move', async () => {
    let attempts = 0;
    ec2.on(AttachNetworkInterfaceCommand).callsFake(() => {
      attempts += 1;
      if (attempts <= 2) throw throttled();
      holder = STANDBY;
      return { AttachmentId: 'eni-attach-2' };
    });
    const h = handlers();
    const { definition } = await loadDefinition('coordinator-failover.asl.json');
    const local = new LocalStepFunctions(definition, {
      PlanFailover: h.planFailover,
      DetachEni: h.detachEni,
      CheckDetach: h.checkDetach,
      FenceFailed: h.fenceFailed,
      AttachEni: h.attachEni,
      CheckAttach: h.checkAttach,
      CheckServing: h.checkServing,
      CompleteFailover: h.completeFailover,
      NotifyFailure: h.notifyFailure,
    });
    const execution = local.start('throttled', { mode: 'failover', attachmentId: 'eni-attach-1' });
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
    expect(ec2.commandCalls(StopInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [ACTIVE],
      Force: true,
    });
    expect(ec2.commandCalls(CreateTagsCommand).map((c) => c.args[0].input)).toEqual([
      { Resources: [ACTIVE], Tags: [{ Key: 'trino-sentinel:role', Value: 'failed' }] },
      { Resources: [STANDBY], Tags: [{ Key: 'trino-sentinel:role', Value: 'coordinator' }] },
    ]);
  }, 60_000);

  it('translates throttling into AwsThrottledError, the name the ASL retries on', async () => {
    ec2.on(AttachNetworkInterfaceCommand).rejects(throttled());
    holder = undefined;
    const state = planned();
    await expect(runAttachEni(state, deps())).rejects.toBeInstanceOf(AwsThrottledError);
    const definition = JSON.parse(readFileSync('statemachines/coordinator-failover.asl.json', 'utf8'));
    expect(definition.States.AttachEni.Retry[0]).toMatchObject({
      ErrorEquals: expect.arrayContaining(['AwsThrottledError']),
      BackoffRate: 2,
    });
  });

  it('refuses to attach an ENI attached elsewhere (EC2 would refuse; moto would not) without calling Attach', async () => {
    holder = ACTIVE;
    await expect(runAttachEni(planned(), deps())).rejects.toBeInstanceOf(EniAttachedElsewhereError);
    expect(ec2.commandCalls(AttachNetworkInterfaceCommand)).toHaveLength(0);
  });

  function deps() {
    return {
      config: loadConfig(FailoverEnvSchema, {
        CLUSTER_NAME: 'prod',
        TRINO_URL: standby.url,
        COORDINATOR_ENI_ID: ENI,
      }),
      ec2: new EC2Client({ region: 'us-east-1' }),
      autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
      cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
      sns: new SNSClient({ region: 'us-east-1' }),
      coordinator: async () => new TrinoClient({ baseUrl: standby.url, user: 'sentinel' }),
      now: () => Date.now(),
    };
  }

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
