/**
 * The detector's paths an emulator cannot produce, with aws-sdk-client-mock (every mocked call asserted): EC2
 * throttled during a real outage (unknown never confirms), and the failover lock's outcomes — a RUNNING execution
 * (nothing started), a name taken by a racing detector (counted as running), a name taken with nothing running
 * (FailoverNotStarted published and notified). The coordinator is an address where nothing listens.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  type DescribeNetworkInterfacesCommandOutput,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { HEALTHY } from '../../functions/coordinator-health/decide.ts';
import { type HealthDeps, runHealthLoop } from '../../functions/coordinator-health/handler.ts';
import { HealthEnvSchema } from '../../functions/coordinator-health/schemas.ts';
import { loadConfig } from '../../lib/config.ts';
import { TrinoClient } from '../../lib/trino/client.ts';

const ec2 = mockClient(EC2Client);
const sfn = mockClient(SFNClient);
const sns = mockClient(SNSClient);
const cloudwatch = mockClient(CloudWatchClient);
const ssm = mockClient(SSMClient);
const STATE = '/trino-sentinel/prod/coordinator-health';

const ENI = 'eni-0123456789abcdef0';
const ACTIVE = 'i-0aaaaaaaaaaaaaaaa';
const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:prod-failover';
const EXECUTIONS = 'arn:aws:states:us-east-1:123456789012:execution:prod-failover';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:prod-alarms';

function throttled(): Error {
  return Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded', $metadata: {} });
}

function deps(
  sink: 'emf' | 'put-metric-data' = 'put-metric-data',
  env: Record<string, string> = {},
): HealthDeps {
  const config = loadConfig(HealthEnvSchema, {
    METRICS_SINK: sink,
    CLUSTER_NAME: 'prod',
    TRINO_URL: 'http://127.0.0.1:9',
    COORDINATOR_ENI_ID: ENI,
    PRIMARY_URL_TEMPLATE: 'http://127.0.0.1:9',
    PROBE_INTERVAL_MS: '500',
    PROBE_TIMEOUT_MS: '200',
    FAILURES_TO_CONFIRM: '3',
    LOOP_DURATION_MS: '2400',
    FAILOVER_STATE_MACHINE_ARN: ARN,
    ALARM_TOPIC_ARN: TOPIC,
    ...env,
  });
  return {
    config,
    ec2: new EC2Client({ region: 'us-east-1' }),
    cloudwatch: new CloudWatchClient({ region: 'us-east-1' }),
    sfn: new SFNClient({ region: 'us-east-1' }),
    sns: new SNSClient({ region: 'us-east-1' }),
    ssm: new SSMClient({ region: 'us-east-1' }),
    coordinator: async () => new TrinoClient({ baseUrl: config.TRINO_URL, user: 'sentinel', timeoutMs: 200 }),
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}

const attachedEni: Partial<DescribeNetworkInterfacesCommandOutput> = {
  NetworkInterfaces: [
    {
      NetworkInterfaceId: ENI,
      Status: 'in-use',
      Attachment: { AttachmentId: 'eni-attach-1', InstanceId: ACTIVE, Status: 'attached', DeviceIndex: 1 },
    },
  ],
};

beforeEach(() => {
  for (const mock of [ec2, sfn, sns, cloudwatch, ssm]) mock.reset();
  cloudwatch.on(PutMetricDataCommand).resolves({});
  sns.on(PublishCommand).resolves({});
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      { Instances: [{ InstanceId: ACTIVE, State: { Name: 'running' }, PrivateIpAddress: '127.0.0.1' }] },
    ],
  });
  ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [] });
});

describe('runHealthLoop: unknown is never taken for down', () => {
  it('keeps failing probes unconfirmed while EC2 is throttled (ENI unreadable), and starts nothing', async () => {
    ec2.on(DescribeNetworkInterfacesCommand).rejects(throttled());
    const result = await runHealthLoop(deps(), HEALTHY);
    expect(result.rounds).toBeGreaterThanOrEqual(4);
    expect(result.unhealthyRounds).toBe(result.rounds);
    expect(result.failover).toBe('NONE');
    expect(result.verdict).toMatchObject({ confirmedFailure: false, unknownSignals: ['eni'] });
    expect(sfn.calls()).toHaveLength(0);
    const published = cloudwatch
      .commandCalls(PutMetricDataCommand)
      .flatMap((c) => c.args[0].input.MetricData ?? []);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      MetricName: 'CoordinatorHealthy',
      StatisticValues: { SampleCount: result.rounds, Sum: 0, Minimum: 0, Maximum: 0 },
    });
  });

  it('with the default EMF sink, writes CoordinatorHealthy as one EMF line with the same statistics (no API call)', async () => {
    ec2.on(DescribeNetworkInterfacesCommand).rejects(throttled());
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    let result: Awaited<ReturnType<typeof runHealthLoop>>;
    try {
      result = await runHealthLoop(deps('emf'), HEALTHY);
    } finally {
      write.mockRestore();
    }
    expect(cloudwatch.commandCalls(PutMetricDataCommand)).toHaveLength(0);
    const emf = lines.filter((line) => line.startsWith('{"_aws"')).map((line) => JSON.parse(line));
    expect(emf).toHaveLength(1);
    expect(emf[0]._aws.CloudWatchMetrics[0]).toEqual({
      Namespace: 'Trino',
      Dimensions: [['ClusterName']],
      Metrics: [{ Name: 'CoordinatorHealthy', Unit: 'Count' }],
    });
    expect(emf[0].ClusterName).toBe('prod');
    // Every round failed: as many 0 samples as rounds.
    expect(emf[0].CoordinatorHealthy).toEqual(Array.from({ length: result.rounds }, () => 0));
  });

  it('keeps failing probes unconfirmed while the instance reads are throttled', async () => {
    ec2.on(DescribeNetworkInterfacesCommand).resolves(attachedEni);
    ec2.on(DescribeInstancesCommand).rejects(throttled());
    ec2.on(DescribeInstanceStatusCommand).rejects(throttled());
    const result = await runHealthLoop(deps(), HEALTHY);
    expect(result.failover).toBe('NONE');
    expect(result.verdict?.unknownSignals).toEqual(['instanceState', 'instanceStatus']);
    expect(sfn.calls()).toHaveLength(0);
  });
});

/** A RUNNING execution as ListExecutions lists it (executionArn and startDate are always present). */
function running(name: string) {
  return {
    name,
    executionArn: `${EXECUTIONS}:${name}`,
    stateMachineArn: ARN,
    status: 'RUNNING' as const,
    startDate: new Date(1_000),
  };
}

describe('runHealthLoop: the failover lock holds only while an execution runs', () => {
  it('starts a failover when none is RUNNING (a closed execution of the same coordinator blocks nothing)', async () => {
    ec2.on(DescribeNetworkInterfacesCommand).resolves(attachedEni);
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:x`, startDate: new Date() });
    const result = await runHealthLoop(deps(), HEALTHY);
    expect(result).toMatchObject({ failover: 'STARTED', rounds: 3 });
    expect(result.executionName).toMatch(/^failover-\d+-prod-eni-attach-1$/);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('starts nothing while another failover execution is RUNNING', async () => {
    ec2.on(DescribeNetworkInterfacesCommand).resolves(attachedEni);
    sfn.on(ListExecutionsCommand).resolves({ executions: [running('failover-drill-by-hand')] });
    sfn.on(DescribeExecutionCommand).resolves({ input: '{"mode":"drill","dryRun":false}' } as never);
    const result = await runHealthLoop(deps(), HEALTHY);
    expect(result).toMatchObject({ failover: 'ALREADY_RUNNING', executionName: 'failover-drill-by-hand' });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('a dry-run drill running by hand blocks nothing: the failover starts (a dry run holds no lock)', async () => {
    ec2.on(DescribeNetworkInterfacesCommand).resolves(attachedEni);
    sfn.on(ListExecutionsCommand).resolves({ executions: [running('drill-dry-run')] });
    sfn.on(DescribeExecutionCommand).resolves({ input: '{"mode":"drill","dryRun":true}' } as never);
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:x`, startDate: new Date() });
    const result = await runHealthLoop(deps(), HEALTHY);
    expect(result).toMatchObject({ failover: 'STARTED' });
    expect(sfn.commandCalls(DescribeExecutionCommand)[0]?.args[0].input).toEqual({
      executionArn: `${EXECUTIONS}:drill-dry-run`,
    });
  });

  it('counts a name a racing detector took a moment ago as running', async () => {
    ec2.on(DescribeNetworkInterfacesCommand).resolves(attachedEni);
    sfn
      .on(ListExecutionsCommand)
      .resolvesOnce({ executions: [] })
      .resolves({ executions: [running('failover-racer')] });
    sfn.on(DescribeExecutionCommand).resolves({ input: '{"mode":"failover"}' } as never);
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    const result = await runHealthLoop(deps(), HEALTHY);
    expect(result.failover).toBe('ALREADY_RUNNING');
    expect(
      cloudwatch
        .commandCalls(PutMetricDataCommand)
        .flatMap((c) => c.args[0].input.MetricData ?? [])
        .map((d) => d.MetricName),
    ).not.toContain('FailoverNotStarted');
  });

  it('publishes FailoverNotStarted and notifies when a confirmed failure starts nothing', async () => {
    ec2.on(DescribeNetworkInterfacesCommand).resolves(attachedEni);
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    const result = await runHealthLoop(deps(), HEALTHY);
    expect(result.failover).toBe('NOT_STARTED');
    const metrics = cloudwatch
      .commandCalls(PutMetricDataCommand)
      .flatMap((c) => c.args[0].input.MetricData ?? []);
    expect(metrics.find((d) => d.MetricName === 'FailoverNotStarted')).toMatchObject({ Value: 1 });
    const subjects = sns.commandCalls(PublishCommand).map((c) => c.args[0].input.Subject);
    expect(subjects).toContain('Trino coordinator failure confirmed, NO failover started (prod)');
  });

  it('confirms on a detached ENI (a definite reading) and starts a failover named for it', async () => {
    ec2
      .on(DescribeNetworkInterfacesCommand)
      .resolves({ NetworkInterfaces: [{ NetworkInterfaceId: ENI, Status: 'available' }] });
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:x`, startDate: new Date() });
    const result = await runHealthLoop(deps(), HEALTHY);
    expect(result).toMatchObject({ failover: 'STARTED', verdict: { secondSignal: 'ENI_DETACHED' } });
    expect(result.executionName).toMatch(/-prod-detached$/);
  });
});

describe('runHealthLoop: the detector state between invocations (DETECTOR_STATE_SSM_PARAMETER)', () => {
  const withStore = () => deps('put-metric-data', { DETECTOR_STATE_SSM_PARAMETER: STATE });
  const stored = (value: object) =>
    ssm.on(GetParameterCommand).resolves({ Parameter: { Name: STATE, Value: JSON.stringify(value) } });

  it('continues a fresh stored run of 2 failures: the first failed probe of the invocation confirms', async () => {
    const now = Date.now();
    stored({ consecutiveFailures: 2, firstFailureAtMs: now - 1_000, lastProbeAtMs: now - 450 });
    ssm.on(PutParameterCommand).resolves({});
    ec2.on(DescribeNetworkInterfacesCommand).resolves(attachedEni);
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:x`, startDate: new Date() });
    const result = await runHealthLoop(withStore());
    expect(result).toMatchObject({ carried: 'FRESH', rounds: 1, failover: 'STARTED' });
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
    expect(ssm.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({ Name: STATE });
    // Reset after the confirmation: the failover takes it from here.
    const writes = ssm.commandCalls(PutParameterCommand).map((c) => c.args[0].input);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ Name: STATE, Type: 'String', Overwrite: true });
    expect(JSON.parse(writes[0]?.Value ?? '')).toEqual({
      consecutiveFailures: 0,
      lastProbeAtMs: result.roundsAtMs[0],
    });
  });

  it('discards a stale stored run, counts from zero, and writes the state once at the end', async () => {
    const now = Date.now();
    stored({ consecutiveFailures: 2, firstFailureAtMs: now - 60_000, lastProbeAtMs: now - 59_000 });
    ssm.on(PutParameterCommand).resolves({});
    ec2.on(DescribeNetworkInterfacesCommand).resolves(attachedEni);
    const result = await runHealthLoop({
      ...withStore(),
      config: { ...withStore().config, LOOP_DURATION_MS: 600 },
    });
    expect(result).toMatchObject({
      carried: 'STALE',
      rounds: 2,
      failover: 'NONE',
      state: { consecutiveFailures: 2 },
    });
    expect(sfn.calls()).toHaveLength(0);
    const writes = ssm.commandCalls(PutParameterCommand).map((c) => JSON.parse(c.args[0].input.Value ?? ''));
    expect(writes).toEqual([
      { consecutiveFailures: 2, firstFailureAtMs: expect.any(Number), lastProbeAtMs: result.roundsAtMs[1] },
    ]);
    // The run starts at this invocation's first round (its actual start, a few ms after the planned time).
    expect(writes[0].firstFailureAtMs - (result.roundsAtMs[0] ?? 0)).toBeGreaterThanOrEqual(0);
    expect(writes[0].firstFailureAtMs - (result.roundsAtMs[0] ?? 0)).toBeLessThan(200);
  });

  it('starts healthy when the stored state cannot be read (unknown never counts) or does not parse', async () => {
    ssm
      .on(GetParameterCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: {} }));
    ssm
      .on(PutParameterCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: {} }));
    ec2.on(DescribeNetworkInterfacesCommand).resolves(attachedEni);
    const config = { ...withStore().config, LOOP_DURATION_MS: 0 };
    const unread = await runHealthLoop({ ...withStore(), config });
    expect(unread).toMatchObject({ carried: 'NONE', rounds: 1, state: { consecutiveFailures: 1 } });
    ssm.reset();
    ssm
      .on(GetParameterCommand)
      .resolves({ Parameter: { Name: STATE, Value: '{"consecutiveFailures":"two"}' } });
    ssm.on(PutParameterCommand).resolves({});
    const unparsed = await runHealthLoop({ ...withStore(), config });
    expect(unparsed).toMatchObject({ carried: 'NONE', rounds: 1, state: { consecutiveFailures: 1 } });
    expect(sfn.calls()).toHaveLength(0);
  });
});
