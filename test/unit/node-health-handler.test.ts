/**
 * node-health's handler, round after round: loopback HTTP servers play the coordinator (`GET /v1/node`), the
 * workers (`GET /v1/info/state`) and the coordinator-group members (`GET /v1/info` on their primary address);
 * aws-sdk-client-mock plays Auto Scaling, EC2, SSM (the carried state, kept between invocations) and CloudWatch,
 * and every call sent is asserted. Covers: a hung standby or worker marked Unhealthy once (not again in the next
 * invocation), a failed EC2/Auto Scaling read that leaves everything as is, a group whose every probe fails (nothing
 * replaced, `NodeGroupsAllProbesFailed` published), a failed mark retried without marking the others twice, and a
 * lone active coordinator (the ENI holder) never touched.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetInstanceHealthCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeNodeHealthHandler, type NodeHealthDeps } from '../../functions/node-health/handler.ts';
import { NodeHealthEnvSchema } from '../../functions/node-health/schemas.ts';
import { localContext, scheduledEvent } from '../../harness/invoke.ts';
import { loadConfig } from '../../lib/config.ts';
import { AwsThrottledError } from '../../lib/errors.ts';
import { TrinoClient } from '../../lib/trino/client.ts';
import { startTestServer, type TestServer } from '../helpers/http-server.ts';

const autoscaling = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const cloudwatch = mockClient(CloudWatchClient);

const ENI = 'eni-0123456789abcdef0';
const WORKERS = 'prod-workers';
const COORDINATORS = 'prod-coordinators';
const STATE_PARAMETER = '/trino-sentinel/prod/node-health';
const T0 = Date.parse('2026-12-08T01:00:00Z');
const LAUNCHED = T0 - 3_600_000;
const MINUTE = 60_000;

/** One node: its instance id, its group, and the loopback server that answers for it. */
interface Node {
  readonly instanceId: string;
  readonly group: 'worker' | 'coordinator';
  readonly server: TestServer;
}

let coordinator: TestServer;
let nodes: Record<'w1' | 'w2' | 'active' | 'standby', Node>;

const info = (coordinatorRole: boolean) => ({
  status: 200,
  body: JSON.stringify({
    nodeVersion: { version: '476' },
    environment: 'prod',
    coordinator: coordinatorRole,
    starting: false,
    uptime: '1.00h',
  }),
});
const heartbeat = (server: TestServer) => ({
  uri: server.url,
  recentRequests: 10,
  recentFailures: 0,
  recentSuccesses: 10,
  recentFailureRatio: 0,
});
/** A node that accepts the connection and never answers (a hung JVM). */
const hang = () => ({});

function answerHealthy(node: Node): void {
  node.server.respond((request) => {
    if (node.group === 'worker' && request.path === '/v1/info/state')
      return { status: 200, body: '"ACTIVE"' };
    if (node.group === 'coordinator' && request.path === '/v1/info') return info(true);
    return { status: 404 };
  });
}

/** The coordinator lists these workers in `GET /v1/node`. */
function announce(...workers: Node[]): void {
  coordinator.respond((request) =>
    request.path === '/v1/node'
      ? { status: 200, body: JSON.stringify(workers.map((w) => heartbeat(w.server))) }
      : { status: 404 },
  );
}

/** Auto Scaling, EC2 and SSM as they stand: the groups' members, the ENI's holder, and a parameter store. */
function world(members: { workers: Node[]; coordinators: Node[]; holder?: Node }): Map<string, string> {
  const store = new Map<string, string>();
  autoscaling
    .on(DescribeAutoScalingGroupsCommand)
    .callsFake((input: { AutoScalingGroupNames?: string[] }) => {
      const name = input.AutoScalingGroupNames?.[0];
      const group = name === WORKERS ? members.workers : name === COORDINATORS ? members.coordinators : [];
      return {
        AutoScalingGroups: [
          {
            AutoScalingGroupName: name,
            DesiredCapacity: group.length,
            MinSize: group.length,
            MaxSize: group.length + 1,
            Instances: group.map((n) => ({
              InstanceId: n.instanceId,
              LifecycleState: 'InService',
              HealthStatus: 'Healthy',
              AvailabilityZone: 'us-east-1a',
            })),
          },
        ],
      };
    });
  autoscaling.on(SetInstanceHealthCommand).resolves({});
  ec2.on(DescribeNetworkInterfacesCommand).resolves({
    NetworkInterfaces: [
      {
        NetworkInterfaceId: ENI,
        Status: members.holder ? 'in-use' : 'available',
        ...(members.holder
          ? {
              Attachment: {
                AttachmentId: 'eni-attach-0123456789abcdef0',
                InstanceId: members.holder.instanceId,
                Status: 'attached' as const,
                DeviceIndex: 1,
              },
            }
          : {}),
      },
    ],
  });
  const all = [...members.workers, ...members.coordinators];
  ec2.on(DescribeInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => ({
    Reservations: [
      {
        Instances: all
          .filter((n) => input.InstanceIds?.includes(n.instanceId))
          .map((n) => ({
            InstanceId: n.instanceId,
            State: { Name: 'running' as const },
            PrivateIpAddress: '10.0.3.17',
            LaunchTime: new Date(LAUNCHED),
            Tags: [{ Key: 'trino-sentinel:http-port', Value: new URL(n.server.url).port }],
          })),
      },
    ],
  }));
  ssm.on(GetParameterCommand).callsFake((input: { Name?: string }) => {
    const value = store.get(input.Name ?? '');
    if (value === undefined) {
      throw Object.assign(new Error('ParameterNotFound'), { name: 'ParameterNotFound', $metadata: {} });
    }
    return { Parameter: { Name: input.Name, Type: 'String', Value: value } };
  });
  ssm.on(PutParameterCommand).callsFake((input: { Name?: string; Value?: string }) => {
    store.set(input.Name ?? '', input.Value ?? '');
    return { Version: 1 };
  });
  cloudwatch.on(PutMetricDataCommand).resolves({});
  return store;
}

/** The handler as deployed, over a clock the test moves. */
function handlerAt(clock: { now: number }) {
  const config = loadConfig(NodeHealthEnvSchema, {
    CLUSTER_NAME: 'prod',
    TRINO_URL: coordinator.url,
    WORKER_ASG_NAME: WORKERS,
    COORDINATOR_ASG_NAME: COORDINATORS,
    COORDINATOR_ENI_ID: ENI,
    // Every node answers on its own loopback port, found through the instance's tag (lib/instance-url.ts).
    WORKER_URL_TEMPLATE: 'http://127.0.0.1:{tag:trino-sentinel:http-port}',
    PRIMARY_URL_TEMPLATE: 'http://127.0.0.1:{tag:trino-sentinel:http-port}',
    UNHEALTHY_AFTER_SECONDS: '300',
    LAUNCH_GRACE_SECONDS: '600',
    PROBE_TIMEOUT_MS: '300',
    METRICS_SINK: 'put-metric-data',
  });
  const deps: NodeHealthDeps = {
    config,
    ec2: new EC2Client({ region: 'us-east-1' }),
    autoscaling: new AutoScalingClient({ region: 'us-east-1' }),
    ssm: new SSMClient({ region: 'us-east-1' }),
    cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
    coordinator: async () => new TrinoClient({ baseUrl: config.TRINO_URL, user: 'sentinel', timeoutMs: 300 }),
    now: () => clock.now,
  };
  const handler = makeNodeHealthHandler(() => deps);
  return () => handler(scheduledEvent('prod-node-health', new Date(clock.now)), localContext('nodeHealth'));
}

const marked = () =>
  autoscaling.commandCalls(SetInstanceHealthCommand).map((c) => ({
    InstanceId: c.args[0].input.InstanceId,
    HealthStatus: c.args[0].input.HealthStatus,
    ShouldRespectGracePeriod: c.args[0].input.ShouldRespectGracePeriod,
  }));
const published = () =>
  cloudwatch
    .commandCalls(PutMetricDataCommand)
    .flatMap((c) => c.args[0].input.MetricData ?? [])
    .map((d) => ({ name: d.MetricName, value: d.Value }));

beforeAll(async () => {
  coordinator = await startTestServer();
  const server = () => startTestServer();
  nodes = {
    w1: { instanceId: 'i-0000000000000a001', group: 'worker', server: await server() },
    w2: { instanceId: 'i-0000000000000a002', group: 'worker', server: await server() },
    active: { instanceId: 'i-0000000000000c001', group: 'coordinator', server: await server() },
    standby: { instanceId: 'i-0000000000000c002', group: 'coordinator', server: await server() },
  };
});

afterAll(async () => {
  await Promise.all([coordinator, ...Object.values(nodes).map((n) => n.server)].map((s) => s.close()));
});

beforeEach(() => {
  for (const mock of [autoscaling, ec2, ssm, cloudwatch]) mock.reset();
  for (const node of Object.values(nodes)) answerHealthy(node);
  announce(nodes.w1, nodes.w2);
});

const cluster = () => ({
  workers: [nodes.w1, nodes.w2],
  coordinators: [nodes.active, nodes.standby],
  holder: nodes.active,
});

describe('nodeHealth handler', () => {
  it('marks a hung standby Unhealthy once: after 5 min of bad rounds, and not again in the next invocation', async () => {
    const store = world(cluster());
    nodes.standby.server.respond(hang);
    const clock = { now: T0 };
    const run = handlerAt(clock);
    await run();
    expect(marked()).toEqual([]);
    expect(JSON.parse(store.get(STATE_PARAMETER) ?? '{}')).toEqual({ [nodes.standby.instanceId]: T0 });
    clock.now = T0 + 5 * MINUTE;
    await run();
    expect(marked()).toEqual([
      { InstanceId: nodes.standby.instanceId, HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: true },
    ]);
    expect(JSON.parse(store.get(STATE_PARAMETER) ?? '{}')).toEqual({});
    // Auto Scaling has not replaced it yet: still InService and hung one minute later. Not marked again.
    clock.now = T0 + 6 * MINUTE;
    await run();
    expect(marked()).toHaveLength(1);
    expect(published().filter((m) => m.name === 'CoordinatorsMarkedUnhealthy')).toEqual([
      { name: 'CoordinatorsMarkedUnhealthy', value: 1 },
    ]);
    expect(JSON.parse(store.get(STATE_PARAMETER) ?? '{}')).toEqual({
      [nodes.standby.instanceId]: T0 + 6 * MINUTE,
    });
  });

  it('marks a hung worker Unhealthy once, likewise', async () => {
    world(cluster());
    nodes.w2.server.respond(hang);
    const clock = { now: T0 };
    const run = handlerAt(clock);
    for (const minutes of [0, 1, 5, 6, 7]) {
      clock.now = T0 + minutes * MINUTE;
      await run();
    }
    expect(marked()).toEqual([
      { InstanceId: nodes.w2.instanceId, HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: true },
    ]);
    expect(published().filter((m) => m.name === 'WorkersMarkedUnhealthy')).toEqual([
      { name: 'WorkersMarkedUnhealthy', value: 1 },
    ]);
  });

  it.each([
    ['DescribeAutoScalingGroups', () => autoscaling.on(DescribeAutoScalingGroupsCommand)],
    ['DescribeInstances', () => ec2.on(DescribeInstancesCommand)],
    ['DescribeNetworkInterfaces', () => ec2.on(DescribeNetworkInterfacesCommand)],
  ])('leaves everything as is when %s fails (unknown never remediates)', async (_, stub) => {
    const store = world(cluster());
    const evidence = JSON.stringify({ [nodes.standby.instanceId]: T0 - 10 * MINUTE });
    store.set(STATE_PARAMETER, evidence);
    nodes.standby.server.respond(hang);
    stub().rejects(
      Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }),
    );
    await expect(handlerAt({ now: T0 })()).rejects.toBeInstanceOf(AwsThrottledError);
    expect(marked()).toEqual([]);
    expect(ssm.commandCalls(PutParameterCommand)).toEqual([]);
    expect(store.get(STATE_PARAMETER)).toBe(evidence);
  });

  it('replaces no worker when every worker fails its probe (a template or network problem), and says so', async () => {
    const store = world(cluster());
    // The workers' processes answer nowhere the template points: every probe is refused.
    for (const node of [nodes.w1, nodes.w2]) node.server.respond(hang);
    const evidence = {
      [nodes.w1.instanceId]: T0 - 10 * MINUTE,
      [nodes.w2.instanceId]: T0 - 10 * MINUTE,
    };
    store.set(STATE_PARAMETER, JSON.stringify(evidence));
    const decision = await handlerAt({ now: T0 })();
    expect(marked()).toEqual([]);
    expect(decision.everyProbeFailed).toEqual(['worker']);
    expect(published()).toContainEqual({ name: 'NodeGroupsAllProbesFailed', value: 1 });
    // The evidence is kept as it was: the nodes are neither cleared nor convicted by this round.
    expect(JSON.parse(store.get(STATE_PARAMETER) ?? '{}')).toEqual(evidence);
  });

  it('replaces no standby when it and the ENI holder both fail their primary-address probe', async () => {
    world(cluster());
    nodes.standby.server.respond(hang);
    nodes.active.server.respond(hang);
    const clock = { now: T0 };
    const run = handlerAt(clock);
    for (const minutes of [0, 5, 10]) {
      clock.now = T0 + minutes * MINUTE;
      await run();
    }
    expect(marked()).toEqual([]);
    expect(published().filter((m) => m.name === 'NodeGroupsAllProbesFailed')).toHaveLength(3);
  });

  it('publishes no all-probes-failed metric in a round where some node answered', async () => {
    world(cluster());
    await handlerAt({ now: T0 })();
    expect(published().map((m) => m.name)).toEqual(['UnhealthyNodes']);
  });

  it('retries a mark Auto Scaling refused next round, without marking the other node twice', async () => {
    const store = world(cluster());
    nodes.standby.server.respond(hang);
    nodes.w2.server.respond(hang);
    store.set(
      STATE_PARAMETER,
      JSON.stringify({ [nodes.w2.instanceId]: T0 - 5 * MINUTE, [nodes.standby.instanceId]: T0 - 5 * MINUTE }),
    );
    autoscaling
      .on(SetInstanceHealthCommand, { InstanceId: nodes.w2.instanceId })
      .rejectsOnce(Object.assign(new Error('internal'), { name: 'InternalFailure', $metadata: {} }))
      .resolves({});
    const clock = { now: T0 };
    const run = handlerAt(clock);
    await run();
    expect(JSON.parse(store.get(STATE_PARAMETER) ?? '{}')).toEqual({
      [nodes.w2.instanceId]: T0 - 5 * MINUTE,
    });
    clock.now = T0 + MINUTE;
    await run();
    expect(marked().map((m) => m.InstanceId)).toEqual([
      nodes.w2.instanceId,
      nodes.standby.instanceId,
      nodes.w2.instanceId,
    ]);
    expect(JSON.parse(store.get(STATE_PARAMETER) ?? '{}')).toEqual({
      [nodes.standby.instanceId]: T0 + MINUTE,
    });
  });

  it('never touches a lone active coordinator (the ENI holder), however long it does not answer', async () => {
    world({ workers: [nodes.w1, nodes.w2], coordinators: [nodes.active], holder: nodes.active });
    nodes.active.server.respond(hang);
    const clock = { now: T0 };
    const run = handlerAt(clock);
    for (const minutes of [0, 5, 10, 30]) {
      clock.now = T0 + minutes * MINUTE;
      const decision = await run();
      expect(decision.verdicts[nodes.active.instanceId]).toBe('SKIPPED');
    }
    expect(marked()).toEqual([]);
  });
});
