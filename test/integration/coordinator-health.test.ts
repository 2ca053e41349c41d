/**
 * Confirmed-failure detection against a real Trino 476 coordinator and moto's EC2 (an instance holding the
 * coordinator ENI): a pause shorter than the grace window never confirms a failure, also when it straddles two
 * scheduled invocations (the detector state carried through an SSM parameter in moto), while a longer one that
 * straddles them is confirmed from its first failed probe; a killed coordinator is
 * confirmed after FAILURES_TO_CONFIRM probes with the primary-address probe as the independent signal, and the
 * failover start is requested once, named after the ENI attachment. The failover state machine itself is not
 * built yet (issue 4), so Step Functions is the mocked boundary here (aws-sdk-client-mock), asserting what was sent.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEALTHY } from '../../functions/coordinator-health/decide.ts';
import { type HealthDeps, runHealthLoop } from '../../functions/coordinator-health/handler.ts';
import { HealthEnvSchema } from '../../functions/coordinator-health/schemas.ts';
import { createCoordinatorEni } from '../../harness/aws-fixtures.ts';
import { startTrinoCluster, type TrinoCluster } from '../../harness/trino.ts';
import { loadConfig } from '../../lib/config.ts';
import { TrinoClient } from '../../lib/trino/client.ts';
import { awsConfig, readMetrics, resetAws } from '../helpers/components.ts';

const sfn = mockClient(SFNClient);
const FAILOVER_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:it-health-failover';

describe('coordinator health detection on a real coordinator', () => {
  let cluster: TrinoCluster;
  let deps: HealthDeps;
  let attachmentId: string;
  const cloudwatch = new CloudWatchClient(awsConfig());

  beforeAll(async () => {
    cluster = await startTrinoCluster({ line: 'newest', workers: 0, secure: false, name: 'health' });
    await resetAws();
    const eni = await createCoordinatorEni(awsConfig(), 'it-health', cluster.coordinator.httpPort);
    attachmentId = eni.attachmentId;
    const eniId = eni.networkInterfaceId;
    const ec2 = new EC2Client(awsConfig());
    const config = loadConfig(HealthEnvSchema, {
      // moto stores PutMetricData but cannot extract EMF: this test reads CoordinatorHealthy back from it.
      METRICS_SINK: 'put-metric-data',
      CLUSTER_NAME: 'it-health',
      TRINO_URL: cluster.coordinatorUrl,
      COORDINATOR_ENI_ID: eniId,
      PRIMARY_URL_TEMPLATE: 'http://127.0.0.1:{tag:trino-sentinel:http-port}',
      PROBE_INTERVAL_MS: '1000',
      PROBE_TIMEOUT_MS: '500',
      FAILURES_TO_CONFIRM: '3',
      LOOP_DURATION_MS: '8000',
      FAILOVER_STATE_MACHINE_ARN: FAILOVER_ARN,
    });
    deps = {
      config,
      ec2,
      cloudwatch,
      sfn: new SFNClient({ region: 'us-east-1' }),
      sns: new SNSClient(awsConfig()),
      ssm: new SSMClient(awsConfig()),
      coordinator: async () => new TrinoClient({ baseUrl: cluster.coordinatorUrl, user: 'sentinel' }),
      now: () => Date.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('reports healthy rounds and publishes CoordinatorHealthy = 1', async () => {
    const result = await runHealthLoop(
      { ...deps, config: { ...deps.config, LOOP_DURATION_MS: 2_500 } },
      HEALTHY,
    );
    expect(result).toMatchObject({ unhealthyRounds: 0, failover: 'NONE' });
    expect(result.rounds).toBeGreaterThanOrEqual(2);
    expect((await readMetrics(cloudwatch, 'it-health', ['CoordinatorHealthy'])).CoordinatorHealthy).toBe(1);
  });

  it('never fails over for a stop-the-world pause shorter than the grace window (SIGSTOP 1.5 s)', async () => {
    const loop = runHealthLoop(deps, HEALTHY);
    await new Promise((r) => setTimeout(r, 1_200));
    cluster.coordinator.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 1_500));
    cluster.coordinator.kill('SIGCONT');
    const result = await loop;
    expect(result.unhealthyRounds).toBeGreaterThanOrEqual(1);
    expect(result.failover).toBe('NONE');
    expect(result.state.consecutiveFailures).toBe(0);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  /**
   * Two scheduled invocations back to back, as the 1-minute schedule runs them but on a 3 s period (I = 1 s): A
   * scheduled at T with LOOP_DURATION_MS 2.5 s (last round at T + 2.5 s), B scheduled at T + 3 s, the detector
   * state carried through the SSM parameter (moto). The coordinator is paused (SIGSTOP) from T + `fromMs` for `forMs`.
   */
  async function acrossTheBoundary(parameter: string, fromMs: number, forMs: number) {
    const T = Date.now() + 300;
    const config = { ...deps.config, LOOP_DURATION_MS: 2_500, DETECTOR_STATE_SSM_PARAMETER: parameter };
    const until = (atMs: number) => new Promise((r) => setTimeout(r, Math.max(0, atMs - Date.now())));
    const pause = (async () => {
      await until(T + fromMs);
      cluster.coordinator.kill('SIGSTOP');
      await until(T + fromMs + forMs);
      cluster.coordinator.kill('SIGCONT');
    })();
    try {
      const a = await runHealthLoop({ ...deps, config }, undefined, {}, T);
      await until(T + 3_000);
      const b = await runHealthLoop({ ...deps, config }, undefined, {}, T + 3_000);
      return { a, b };
    } finally {
      await pause;
    }
  }

  it.each([2_000, 2_400, 2_800, 3_200])(
    'never fails over for a pause shorter than the grace window straddling two invocations (SIGSTOP 1.5 s from T + %i ms)',
    async (fromMs) => {
      const { a, b } = await acrossTheBoundary(`/trino-sentinel/it-health/straddle-${fromMs}`, fromMs, 1_500);
      expect(a.unhealthyRounds + b.unhealthyRounds).toBeGreaterThanOrEqual(1);
      expect(b.carried).toBe('FRESH');
      expect([a.failover, b.failover]).toEqual(['NONE', 'NONE']);
      // Rounds never closer than the interval, across the boundary too.
      const rounds = [...a.roundsAtMs, ...b.roundsAtMs];
      for (const [i, at] of rounds.entries())
        if (i > 0) expect(at - (rounds[i - 1] ?? 0)).toBeGreaterThanOrEqual(1_000);
      expect(b.roundsAtMs[0]).toBe((a.roundsAtMs.at(-1) ?? 0) + 1_000);
      expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    },
  );

  it('continues a run of failures across the boundary: 1 failure in the first invocation, 2 in the next confirm (SIGSTOP 4 s)', async () => {
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${FAILOVER_ARN}:x`, startDate: new Date() });
    const { a, b } = await acrossTheBoundary('/trino-sentinel/it-health/straddle-hang', 2_200, 4_000);
    expect(a).toMatchObject({ failover: 'NONE', state: { consecutiveFailures: 1 } });
    expect(b).toMatchObject({
      carried: 'FRESH',
      rounds: 2,
      failover: 'STARTED',
      verdict: { confirmedFailure: true, secondSignal: 'PRIMARY_ADDRESS_FAILED' },
    });
    // Counted from the first failed probe, in the first invocation.
    expect(b.verdict?.failingForMs).toBeGreaterThanOrEqual(1_900);
    sfn.reset();
  });

  it('confirms a killed coordinator after 3 failed probes with the primary address as second signal, and starts one failover named by the minute and the attachment', async () => {
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${FAILOVER_ARN}:x`, startDate: new Date() });
    cluster.coordinator.kill('SIGKILL');
    await cluster.coordinator.exit;
    const result = await runHealthLoop(deps, HEALTHY);
    expect(result.failover).toBe('STARTED');
    expect(result.rounds).toBe(3);
    expect(result.verdict).toMatchObject({ confirmedFailure: true, secondSignal: 'PRIMARY_ADDRESS_FAILED' });
    expect(result.verdict?.failingForMs).toBeGreaterThanOrEqual(1_900);
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toMatchObject({ stateMachineArn: FAILOVER_ARN });
    expect(calls[0]?.args[0].input.name).toMatch(new RegExp(`^failover-\\d+-it-health-${attachmentId}$`));
    expect(sfn.commandCalls(ListExecutionsCommand)[0]?.args[0].input).toMatchObject({
      stateMachineArn: FAILOVER_ARN,
      statusFilter: 'RUNNING',
    });
    expect(JSON.parse(calls[0]?.args[0].input.input ?? '{}')).toMatchObject({
      mode: 'failover',
      dryRun: false,
      secondSignal: 'PRIMARY_ADDRESS_FAILED',
    });
    expect(
      (await readMetrics(cloudwatch, 'it-health', ['CoordinatorHealthy'], 'Trino', 'Minimum'))
        .CoordinatorHealthy,
    ).toBe(0);
  });
});
