/**
 * Drain handlers: validation at every entry point, idempotent start, and the AWS error paths an emulator cannot
 * produce (throttling, "No active Lifecycle Action found"), with aws-sdk-client-mock asserting exactly what was
 * sent. Trino is a real local HTTP server playing coordinator and worker.
 */
import {
  AutoScalingClient,
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AUTO_SCALING_POLICY_MAX_RUN_MS } from '../../functions/worker-drain/decide.ts';
import { type DrainDeps, drainExecutionName } from '../../functions/worker-drain/deps.ts';
import {
  DrainEnvSchema,
  type DrainState,
  type DrainTaskInput,
  type LifecycleActionEvent,
} from '../../functions/worker-drain/schemas.ts';
import { makeSpotInterruptionHandler } from '../../functions/worker-drain/spot.ts';
import { makeStartDrainHandler } from '../../functions/worker-drain/start.ts';
import { makeDrainTaskHandlers } from '../../functions/worker-drain/tasks.ts';
import { makeTerminationPolicyHandler } from '../../functions/worker-drain/termination-policy.ts';
import { localContext } from '../../harness/invoke.ts';
import { loadConfig } from '../../lib/config.ts';
import { AwsThrottledError, LifecycleActionGoneError, ValidationError } from '../../lib/errors.ts';
import { TrinoClient } from '../../lib/trino/client.ts';
import { startTestServer, type TestServer } from '../helpers/http-server.ts';

const TOKEN = 'c1b2a3d4-token-never-logged-5e6f';
const INSTANCE = 'i-0123456789abcdef0';
const NOW = Date.parse('2026-11-23T04:10:00Z');

const autoscaling = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
const sfn = mockClient(SFNClient);
const cloudwatch = mockClient(CloudWatchClient);

let trino: TestServer;
function makeHandlers(deps: () => DrainDeps) {
  return {
    ...makeDrainTaskHandlers(deps),
    startDrain: makeStartDrainHandler(deps),
    spotInterruption: makeSpotInterruptionHandler(deps),
    terminationPolicy: makeTerminationPolicyHandler(deps),
  };
}
let handlers: ReturnType<typeof makeHandlers>;
let deployedPolicy: ReturnType<typeof makeTerminationPolicyHandler>;

const lifecycleEvent = (): LifecycleActionEvent => ({
  version: '0',
  id: 'e-1',
  'detail-type': 'EC2 Instance-terminate Lifecycle Action',
  source: 'aws.autoscaling',
  account: '123456789012',
  time: '2026-11-23T04:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: {
    LifecycleActionToken: TOKEN,
    AutoScalingGroupName: 'prod-workers',
    LifecycleHookName: 'prod-worker-drain',
    EC2InstanceId: INSTANCE,
    LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
  },
});

const lifecycle = {
  autoScalingGroupName: 'prod-workers',
  lifecycleHookName: 'prod-worker-drain',
  instanceId: INSTANCE,
  lifecycleActionToken: TOKEN,
};

function drainState(overrides: Partial<DrainState> = {}): DrainState {
  return {
    workerUrl: trino.url,
    requested: 'DRAINING',
    heartbeatTimeoutMs: 300_000,
    schedule: {
      startedAtMs: Date.parse('2026-11-23T04:00:00Z'),
      deadlineAtMs: Date.parse('2026-11-23T10:00:00Z'),
      pollIntervalSeconds: 30,
    },
    progress: {
      lastHeartbeatAtMs: Date.parse('2026-11-23T04:00:00Z'),
      heartbeats: 0,
      consecutiveUnreachable: 0,
      polls: 3,
    },
    done: false,
    waitSeconds: 30,
    ...overrides,
  };
}
const taskInput = (drain: DrainState): DrainTaskInput => ({
  lifecycle,
  startedAt: '2026-11-23T04:00:00Z',
  drain,
});

function instance(
  tags: Record<string, string> = { 'trino-sentinel:cluster': 'prod', 'trino-sentinel:role': 'worker' },
) {
  const port = new URL(trino.url).port;
  return {
    Reservations: [
      {
        Instances: [
          {
            InstanceId: INSTANCE,
            State: { Name: 'running' as const },
            PrivateIpAddress: '10.0.3.17',
            Tags: Object.entries({ ...tags, 'trino-sentinel:http-port': port }).map(([Key, Value]) => ({
              Key,
              Value,
            })),
          },
        ],
      },
    ],
  };
}

const sdkError = (name: string, message: string) =>
  new AutoScalingServiceException({ name, $fault: 'client', message, $metadata: { httpStatusCode: 400 } });

beforeAll(async () => {
  trino = await startTestServer();
  const config = loadConfig(DrainEnvSchema, {
    CLUSTER_NAME: 'prod',
    TRINO_URL: trino.url,
    DRAIN_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:prod-worker-drain',
    WORKER_URL_TEMPLATE: 'http://127.0.0.1:{tag:trino-sentinel:http-port}',
  });
  const deps: DrainDeps = {
    config,
    autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
    ec2: new EC2Client({ region: 'us-east-1' }),
    sfn: new SFNClient({ region: 'us-east-1' }),
    cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
    sns: new SNSClient({ region: 'us-east-1' }),
    coordinator: async () => new TrinoClient({ baseUrl: trino.url, user: 'sentinel', timeoutMs: 1_000 }),
    now: () => NOW,
  };
  handlers = makeHandlers(() => deps);
  // As deployed: the coordinator client's per-request timeout is serverless.yml's trinoTimeoutMs (5 s).
  const deployedTimeouts: DrainDeps = {
    ...deps,
    coordinator: async () => new TrinoClient({ baseUrl: trino.url, user: 'sentinel', timeoutMs: 5_000 }),
  };
  deployedPolicy = makeTerminationPolicyHandler(() => deployedTimeouts);
});
afterAll(() => trino.close());
beforeEach(() => {
  for (const mock of [autoscaling, ec2, sfn, cloudwatch]) mock.reset();
  trino.received.length = 0;
  trino.respond(() => ({ status: 404 }));
});

const nothingSent = () => {
  for (const mock of [autoscaling, ec2, sfn, cloudwatch]) expect(mock.calls()).toHaveLength(0);
  expect(trino.received).toHaveLength(0);
};

describe('every entry point rejects a malformed event and starts nothing', () => {
  const cases: [string, (h: typeof handlers) => Promise<unknown>, RegExp][] = [
    [
      'startDrain (token missing)',
      (h) =>
        h.startDrain(
          {
            ...lifecycleEvent(),
            detail: { ...lifecycleEvent().detail, LifecycleActionToken: undefined },
          } as never,
          localContext('x'),
        ),
      /detail\.LifecycleActionToken/,
    ],
    [
      'startDrain (launching transition)',
      (h) =>
        h.startDrain(
          { ...lifecycleEvent(), 'detail-type': 'EC2 Instance-launch Lifecycle Action' } as never,
          localContext('x'),
        ),
      /detail-type/,
    ],
    [
      'beginDrain (bad instance id)',
      (h) =>
        h.beginDrain(
          { lifecycle: { ...lifecycle, instanceId: 'web-1' }, startedAt: '2026-11-23T04:00:00Z' } as never,
          localContext('x'),
        ),
      /lifecycle\.instanceId/,
    ],
    [
      'checkDrain (no drain state)',
      (h) => h.checkDrain({ lifecycle, startedAt: '2026-11-23T04:00:00Z' } as never, localContext('x')),
      /drain/,
    ],
    [
      'completeDrain (not a date)',
      (h) =>
        h.completeDrain({ ...taskInput(drainState()), startedAt: 'yesterday' } as never, localContext('x')),
      /startedAt/,
    ],
    [
      'spotInterruption (no instance id)',
      (h) =>
        h.spotInterruption(
          {
            ...lifecycleEvent(),
            'detail-type': 'EC2 Spot Instance Interruption Warning',
            source: 'aws.ec2',
            detail: {},
          } as never,
          localContext('x'),
        ),
      /instance-id/,
    ],
  ];
  it.each(cases)('%s', async (_, call, field) => {
    const error = await call(handlers).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(String(error)).toMatch(field);
    nothingSent();
  });
});

describe('startDrain', () => {
  it('starts one execution named after the instance and a hash of the token, never the token itself', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x', startDate: new Date() });
    const result = await handlers.startDrain(lifecycleEvent(), localContext('startDrain'));
    const name = drainExecutionName(INSTANCE, TOKEN);
    expect(result).toMatchObject({ started: true, duplicate: false, executionName: name });
    expect(name).toMatch(/^drain-i-0123456789abcdef0-[0-9a-f]{24}$/);
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name).not.toContain(TOKEN);
    const sent = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(sent?.name).toBe(name);
    expect(sent?.stateMachineArn).toBe(
      'arn:aws:states:us-east-1:123456789012:stateMachine:prod-worker-drain',
    );
    expect(JSON.parse(sent?.input ?? '{}')).toEqual({ lifecycle, startedAt: '2026-11-23T04:00:00Z' });
  });

  it('treats a duplicate event (ExecutionAlreadyExists) as done, not as a failure', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    await expect(handlers.startDrain(lifecycleEvent(), localContext('startDrain'))).resolves.toMatchObject({
      started: false,
      duplicate: true,
    });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });
});

describe('beginDrain', () => {
  it("reads the hook's HeartbeatTimeout and asks the worker for DRAINING", async () => {
    autoscaling
      .on(DescribeLifecycleHooksCommand)
      .resolves({ LifecycleHooks: [{ LifecycleHookName: 'prod-worker-drain', HeartbeatTimeout: 600 }] });
    ec2.on(DescribeInstancesCommand).resolves(instance());
    trino.respond((r) =>
      r.path === '/v1/info'
        ? {
            status: 200,
            body: JSON.stringify({
              nodeVersion: { version: '476' },
              environment: 'p',
              coordinator: false,
              starting: false,
            }),
          }
        : { status: 200, body: '' },
    );
    const state = await handlers.beginDrain(
      { lifecycle, startedAt: '2026-11-23T04:00:00Z' },
      localContext('beginDrain'),
    );
    expect(state).toMatchObject({ requested: 'DRAINING', heartbeatTimeoutMs: 600_000, done: false });
    expect(trino.received.find((r) => r.method === 'PUT')).toMatchObject({
      path: '/v1/info/state',
      body: '"DRAINING"',
    });
    expect(autoscaling.commandCalls(DescribeLifecycleHooksCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: 'prod-workers',
      LifecycleHookNames: ['prod-worker-drain'],
    });
  });

  it('raises LifecycleActionGoneError (the state machine ends quietly) when the hook was deleted', async () => {
    autoscaling.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: [] });
    ec2.on(DescribeInstancesCommand).resolves(instance());
    await expect(
      handlers.beginDrain({ lifecycle, startedAt: '2026-11-23T04:00:00Z' }, localContext('beginDrain')),
    ).rejects.toThrowError(LifecycleActionGoneError);
  });
});

describe('checkDrain', () => {
  it('sends a heartbeat with exactly the group, hook, instance and token when one is due', async () => {
    ec2.on(DescribeInstancesCommand).resolves(instance());
    autoscaling.on(RecordLifecycleActionHeartbeatCommand).resolves({});
    trino.respond(() => ({ status: 200, body: '"DRAINING"' }));
    const due = drainState({
      progress: { lastHeartbeatAtMs: NOW - 290_000, heartbeats: 2, consecutiveUnreachable: 0, polls: 3 },
    });
    const next = await handlers.checkDrain(taskInput(due), localContext('checkDrain'));
    expect(next.progress).toMatchObject({ heartbeats: 3, lastHeartbeatAtMs: NOW });
    expect(
      autoscaling.commandCalls(RecordLifecycleActionHeartbeatCommand).map((c) => c.args[0].input),
    ).toEqual([
      {
        AutoScalingGroupName: 'prod-workers',
        LifecycleHookName: 'prod-worker-drain',
        InstanceId: INSTANCE,
        LifecycleActionToken: TOKEN,
      },
    ]);
  });

  it('sends no heartbeat when none is due', async () => {
    ec2.on(DescribeInstancesCommand).resolves(instance());
    trino.respond(() => ({ status: 200, body: '"DRAINING"' }));
    const next = await handlers.checkDrain(
      taskInput(
        drainState({
          progress: { lastHeartbeatAtMs: NOW - 10_000, heartbeats: 0, consecutiveUnreachable: 0, polls: 1 },
        }),
      ),
      localContext('checkDrain'),
    );
    expect(next.done).toBe(false);
    expect(autoscaling.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(0);
  });

  it('raises AwsThrottledError (retried by the state machine) when Auto Scaling throttles the heartbeat', async () => {
    ec2.on(DescribeInstancesCommand).resolves(instance());
    autoscaling.on(RecordLifecycleActionHeartbeatCommand).rejects(sdkError('Throttling', 'Rate exceeded'));
    trino.respond(() => ({ status: 200, body: '"DRAINING"' }));
    const due = drainState({
      progress: { lastHeartbeatAtMs: NOW - 290_000, heartbeats: 0, consecutiveUnreachable: 0, polls: 1 },
    });
    await expect(handlers.checkDrain(taskInput(due), localContext('checkDrain'))).rejects.toThrowError(
      AwsThrottledError,
    );
  });
});

describe('completeDrain', () => {
  it('completes with CONTINUE and publishes DrainDeadlineReached = 1 on the deadline path', async () => {
    autoscaling.on(CompleteLifecycleActionCommand).resolves({});
    cloudwatch.on(PutMetricDataCommand).resolves({});
    const result = await handlers.completeDrain(
      taskInput(drainState({ done: true, outcome: 'DEADLINE' })),
      localContext('completeDrain'),
    );
    expect(result).toMatchObject({ lifecycleResult: 'CONTINUE', outcome: 'DEADLINE', drainSeconds: 600 });
    expect(autoscaling.commandCalls(CompleteLifecycleActionCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: 'prod-workers',
      LifecycleHookName: 'prod-worker-drain',
      InstanceId: INSTANCE,
      LifecycleActionToken: TOKEN,
      LifecycleActionResult: 'CONTINUE',
    });
    const data = cloudwatch.commandCalls(PutMetricDataCommand)[0]?.args[0].input.MetricData ?? [];
    expect(data.find((d) => d.MetricName === 'DrainDeadlineReached')?.Value).toBe(1);
  });

  it('publishes DrainDeadlineReached = 0 when the worker drained', async () => {
    autoscaling.on(CompleteLifecycleActionCommand).resolves({});
    cloudwatch.on(PutMetricDataCommand).resolves({});
    await handlers.completeDrain(
      taskInput(drainState({ done: true, outcome: 'WORKER_DRAINED' })),
      localContext('completeDrain'),
    );
    const data = cloudwatch.commandCalls(PutMetricDataCommand)[0]?.args[0].input.MetricData ?? [];
    expect(data.find((d) => d.MetricName === 'DrainDeadlineReached')?.Value).toBe(0);
  });

  it('turns "No active Lifecycle Action found" into LifecycleActionGoneError whose message, context and JSON never hold the token', async () => {
    autoscaling
      .on(CompleteLifecycleActionCommand)
      .rejects(sdkError('ValidationError', `No active Lifecycle Action found with token ${TOKEN}`));
    const error = await handlers
      .completeDrain(
        taskInput(drainState({ done: true, outcome: 'WORKER_DRAINED' })),
        localContext('completeDrain'),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LifecycleActionGoneError);
    expect(error).toMatchObject({
      name: 'LifecycleActionGoneError',
      context: { sdkError: 'ValidationError', instanceId: INSTANCE },
    });
    expect(String(error)).not.toContain(TOKEN);
    expect(JSON.stringify(error)).not.toContain(TOKEN);
    expect(JSON.stringify(error instanceof LifecycleActionGoneError ? error.context : {})).toContain(
      '<token>',
    );
  });

  it('counts a lost lifecycle action (DrainLifecycleLost = 1) before the drain ends quietly, so it alarms', async () => {
    autoscaling
      .on(CompleteLifecycleActionCommand)
      .rejects(sdkError('ValidationError', `No active Lifecycle Action found with token ${TOKEN}`));
    cloudwatch.on(PutMetricDataCommand).resolves({});
    await handlers
      .completeDrain(
        taskInput(drainState({ done: true, outcome: 'WORKER_DRAINED' })),
        localContext('completeDrain'),
      )
      .catch(() => undefined);
    const sent = cloudwatch
      .commandCalls(PutMetricDataCommand)
      .flatMap((c) => c.args[0].input.MetricData ?? []);
    expect(sent.map((d) => [d.MetricName, d.Value])).toEqual([['DrainLifecycleLost', 1]]);
    expect(sent[0]?.Dimensions).toEqual([{ Name: 'ClusterName', Value: 'prod' }]);
  });
});

describe('spotInterruption', () => {
  const spotEvent = () => ({
    ...lifecycleEvent(),
    'detail-type': 'EC2 Spot Instance Interruption Warning',
    source: 'aws.ec2',
    detail: { 'instance-id': INSTANCE, 'instance-action': 'terminate' },
  });

  it('asks a worker of this cluster for SHUTTING_DOWN at once', async () => {
    ec2.on(DescribeInstancesCommand).resolves(instance());
    trino.respond(() => ({ status: 200, body: '' }));
    await expect(
      handlers.spotInterruption(spotEvent() as never, localContext('spot')),
    ).resolves.toMatchObject({ action: 'SHUTTING_DOWN' });
    expect(trino.received.map((r) => [r.method, r.path, r.body])).toEqual([
      ['PUT', '/v1/info/state', '"SHUTTING_DOWN"'],
    ]);
  });

  it.each([
    ['another cluster', { 'trino-sentinel:cluster': 'staging', 'trino-sentinel:role': 'worker' }],
    ['a coordinator', { 'trino-sentinel:cluster': 'prod', 'trino-sentinel:role': 'coordinator' }],
  ])('ignores an instance of %s', async (_, tags) => {
    ec2.on(DescribeInstancesCommand).resolves(instance(tags));
    await expect(
      handlers.spotInterruption(spotEvent() as never, localContext('spot')),
    ).resolves.toMatchObject({ action: 'none' });
    expect(trino.received).toHaveLength(0);
  });
});

describe('terminationPolicy', () => {
  const input = {
    AutoScalingGroupARN:
      'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x:autoScalingGroupName/prod-workers',
    AutoScalingGroupName: 'prod-workers',
    CapacityToTerminate: [{ AvailabilityZone: 'us-east-1a', Capacity: 1 }],
    Instances: [
      { AvailabilityZone: 'us-east-1a', InstanceId: INSTANCE },
      { AvailabilityZone: 'us-east-1a', InstanceId: 'i-0fedcba9876543210' },
    ],
    Cause: 'SCALE_IN',
  };

  it("falls back to Auto Scaling's order when the coordinator fails", async () => {
    trino.respond(() => ({ status: 500, body: 'boom' }));
    ec2.on(DescribeInstancesCommand).resolves(instance());
    await expect(handlers.terminationPolicy(input, localContext('tp'))).resolves.toEqual({
      InstanceIDs: [INSTANCE, 'i-0fedcba9876543210'],
    });
  });

  it.each([
    [
      'without Cause and CapacityToTerminate',
      { Instances: input.Instances },
      [INSTANCE, 'i-0fedcba9876543210'],
    ],
    [
      'with a malformed instance id',
      { ...input, Instances: [{ InstanceId: 'web-1' }, { InstanceId: INSTANCE }] },
      ['web-1', INSTANCE],
    ],
    ['with no instances at all', { AutoScalingGroupName: 'x' }, []],
    ['that is not an object', 'SCALE_IN', []],
  ])(
    'answers an event it cannot parse (%s) in the order Auto Scaling gave, calling nothing',
    async (_, event, ids) => {
      await expect(handlers.terminationPolicy(event as never, localContext('tp'))).resolves.toEqual({
        InstanceIDs: ids,
      });
      nothingSent();
    },
  );

  it('reads 1,000 candidates with ONE DescribeInstances call and orders them least-loaded first', async () => {
    const ids = Array.from(
      { length: 1_000 },
      (_, i) => `i-${(0x10000000 + i).toString(16).padStart(17, '0')}`,
    );
    ec2.on(DescribeInstancesCommand).callsFake((request: { InstanceIds?: string[] }) => ({
      Reservations: [
        {
          Instances: (request.InstanceIds ?? []).map((id, i) => ({
            InstanceId: id,
            State: { Name: 'running' },
            PrivateIpAddress: '127.0.0.1',
            Tags: [{ Key: 'trino-sentinel:http-port', Value: String(20_000 + i) }],
          })),
        },
      ],
    }));
    // The coordinator reports load for the first two workers only: the first is busy, the second idle.
    trino.respond((request) =>
      request.path === '/v1/statement'
        ? {
            status: 200,
            body: JSON.stringify({
              id: 'q1',
              columns: [
                { name: 'http_uri', type: 'varchar' },
                { name: 'tasks', type: 'bigint' },
                { name: 'splits', type: 'bigint' },
              ],
              data: [
                ['http://127.0.0.1:20000', 3, 40],
                ['http://127.0.0.1:20001', 0, 0],
              ],
              stats: { state: 'FINISHED' },
            }),
          }
        : { status: 404 },
    );
    const answer = (await handlers.terminationPolicy(
      { ...input, Instances: ids.map((InstanceId) => ({ AvailabilityZone: 'us-east-1a', InstanceId })) },
      localContext('tp'),
    )) as { InstanceIDs: string[] };
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(1);
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]?.args[0].input.InstanceIds).toHaveLength(1_000);
    expect(answer.InstanceIDs).toHaveLength(1_000);
    expect(answer.InstanceIDs.at(-1)).toBe(ids[0]);
    expect(answer.InstanceIDs[0]).toBe(ids[1]);
  });

  /**
   * The coordinator answers the task-load query in two pages, each `pageDelayMs` late (a slow coordinator); were
   * both read, INSTANCE would be busy and the other idle. `served` counts the pages written.
   */
  function slowTaskLoad(pageDelayMs: number | undefined) {
    const served = { pages: 0 };
    const columns = [
      { name: 'http_uri', type: 'varchar' },
      { name: 'tasks', type: 'bigint' },
      { name: 'splits', type: 'bigint' },
    ];
    trino.respond((request) => {
      const answer = (body: object) => ({
        ...(pageDelayMs === undefined ? {} : { status: 200, delayMs: pageDelayMs }),
        body: JSON.stringify(body),
        onAnswered: () => {
          served.pages += 1;
        },
      });
      if (request.method === 'POST' && request.path === '/v1/statement') {
        return answer({
          id: 'q1',
          nextUri: `${trino.url}/v1/statement/executing/q1/1`,
          stats: { state: 'RUNNING' },
        });
      }
      if (request.path === '/v1/statement/executing/q1/1') {
        return answer({
          id: 'q1',
          columns,
          data: [[trino.url, 3, 40]],
          stats: { state: 'FINISHED' },
        });
      }
      return { status: 404 };
    });
    return served;
  }

  it.each([
    ['a 10-s Lambda (as deployed), two pages 1.2 s late each', 10_000, 1_200],
    ['a 3-s Lambda, a coordinator that never answers', 3_000, undefined],
  ])(
    "answers within Auto Scaling's 2-s limit in Auto Scaling's order when the coordinator is slow: %s",
    async (_, lambdaTimeoutMs, pageDelayMs) => {
      ec2.on(DescribeInstancesCommand).resolves(instance());
      const served = slowTaskLoad(pageDelayMs);
      const started = performance.now();
      const answer = await deployedPolicy(input, localContext('tp', lambdaTimeoutMs));
      const tookMs = performance.now() - started;
      // The documented response shape, every candidate once, in the order Auto Scaling offered: the load was not
      // read in time, and an unknown load is never taken for an idle worker.
      expect(answer).toEqual({ InstanceIDs: [INSTANCE, 'i-0fedcba9876543210'] });
      expect(served.pages).toBeLessThan(2);
      expect(tookMs).toBeLessThan(AUTO_SCALING_POLICY_MAX_RUN_MS);
      // The coordinator was asked: the answer came from giving up on it, not from never asking.
      expect(trino.received.some((r) => r.path === '/v1/statement')).toBe(true);
    },
  );

  it('orders by load when the coordinator answers within the budget (the same pages, on time)', async () => {
    ec2.on(DescribeInstancesCommand).resolves(instance());
    const served = slowTaskLoad(50);
    const answer = await deployedPolicy(input, localContext('tp', 10_000));
    expect(served.pages).toBe(2);
    // INSTANCE is busy (40 splits); the other is unknown (EC2 does not describe it): unknown before busy.
    expect(answer).toEqual({ InstanceIDs: ['i-0fedcba9876543210', INSTANCE] });
  });

  it('drops ids EC2 no longer knows and repeats the call once without them', async () => {
    let calls = 0;
    ec2.on(DescribeInstancesCommand).callsFake((request: { InstanceIds?: string[] }) => {
      calls += 1;
      if (calls === 1) {
        throw Object.assign(new Error("The instance ID 'i-0fedcba9876543210' does not exist"), {
          name: 'InvalidInstanceID.NotFound',
          $metadata: {},
        });
      }
      expect(request.InstanceIds).toEqual([INSTANCE]);
      return instance();
    });
    trino.respond(() => ({
      status: 200,
      body: JSON.stringify({ id: 'q', columns: [], data: [], stats: { state: 'FINISHED' } }),
    }));
    await expect(handlers.terminationPolicy(input, localContext('tp'))).resolves.toEqual({
      InstanceIDs: [INSTANCE, 'i-0fedcba9876543210'],
    });
    expect(calls).toBe(2);
  });
});

describe('logging', () => {
  it('never writes the lifecycle action token to the logs of a whole drain', async () => {
    const written: string[] = [];
    const spies = [
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      }),
      ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
        vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
          written.push(args.map(String).join(' '));
        }),
      ),
    ];
    try {
      sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x', startDate: new Date() });
      autoscaling
        .on(DescribeLifecycleHooksCommand)
        .resolves({ LifecycleHooks: [{ LifecycleHookName: 'prod-worker-drain', HeartbeatTimeout: 300 }] });
      autoscaling.on(RecordLifecycleActionHeartbeatCommand).resolves({});
      autoscaling.on(CompleteLifecycleActionCommand).resolves({});
      cloudwatch.on(PutMetricDataCommand).resolves({});
      ec2.on(DescribeInstancesCommand).resolves(instance());
      trino.respond((r) =>
        r.path === '/v1/info'
          ? {
              status: 200,
              body: JSON.stringify({
                nodeVersion: { version: '476' },
                environment: 'p',
                coordinator: false,
                starting: false,
              }),
            }
          : r.method === 'PUT'
            ? { status: 200, body: '' }
            : { status: 200, body: '"DRAINED"' },
      );
      await handlers.startDrain(lifecycleEvent(), localContext('startDrain'));
      const begun = await handlers.beginDrain(
        { lifecycle, startedAt: '2026-11-23T04:00:00Z' },
        localContext('beginDrain'),
      );
      const checked = await handlers.checkDrain(taskInput(begun), localContext('checkDrain'));
      await handlers.completeDrain(taskInput(checked), localContext('completeDrain'));
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(written.join('\n')).toContain('Drain complete');
    expect(written.join('\n')).not.toContain(TOKEN);
  });
});
