/**
 * Coordinator failover end to end: statemachines/coordinator-failover.asl.json executed locally
 * (aws-local-stepfunctions) with our handlers, against moto's EC2/Auto Scaling (instances, the coordinator ENI,
 * attach/detach state) and a real secure Trino 476 cluster: the active coordinator, a hot standby and a worker whose
 * discovery URI is the "ENI address" (harness/eni-proxy.ts follows moto's attachment). moto has one more
 * standby tagged in it whose coordinator never answers (an unhealthy standby). Our coordinator-health loop detects
 * and triggers, as in AWS.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { AttachNetworkInterfaceCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFailoverHandler } from '../../functions/coordinator-failover/handler.ts';
import { FAILOVER_TASK_NAMES, FailoverEnvSchema } from '../../functions/coordinator-failover/schemas.ts';
import { runAttachEni } from '../../functions/coordinator-failover/tasks/attach.ts';
import { HEALTHY } from '../../functions/coordinator-health/decide.ts';
import { runHealthLoop } from '../../functions/coordinator-health/handler.ts';
import { createCoordinatorSet, tagPorts } from '../../harness/aws-fixtures.ts';
import {
  type FailoverDrillResult,
  type HaSandbox,
  runFailoverDrill,
  startHaSandbox,
} from '../../harness/drills/failover.ts';
import { LocalStepFunctions, loadDefinition } from '../../harness/local-sfn.ts';
import { loadConfig } from '../../lib/config.ts';
import { TrinoClient } from '../../lib/trino/client.ts';
import { awsConfig, readMetrics, resetAws } from '../helpers/components.ts';

function statesOf(instances: { InstanceId?: string; State?: { Name?: string } }[]) {
  return new Map(instances.map((i) => [i.InstanceId ?? '', i.State?.Name]));
}

describe('coordinator failover on real Trino coordinators', () => {
  let ha: HaSandbox;
  let drill: FailoverDrillResult;
  const ec2 = new EC2Client(awsConfig());

  beforeAll(async () => {
    await resetAws();
    ha = await startHaSandbox({ aws: awsConfig(), clusterName: 'it-ha', standbys: 1, deadStandbys: 1 });
  });
  afterAll(async () => {
    await ha?.stop();
  });

  it('never fails over for a coordinator paused (SIGSTOP 2.5 s) for less than the grace window (3 × 1 s)', async () => {
    const loop = runHealthLoop(
      { ...ha.healthDeps, config: { ...ha.healthDeps.config, LOOP_DURATION_MS: 6_000 } },
      HEALTHY,
    );
    await new Promise((r) => setTimeout(r, 1_200));
    ha.cluster.coordinator.kill('SIGSTOP');
    // 2.5 s: at least one 1 s probe times out (800 ms), fewer than FAILURES_TO_CONFIRM (3 × 1 s) do.
    await new Promise((r) => setTimeout(r, 2_500));
    ha.cluster.coordinator.kill('SIGCONT');
    const result = await loop;
    expect(result.unhealthyRounds).toBeGreaterThanOrEqual(1);
    expect(result.failover).toBe('NONE');
    expect(ha.local.executions.size).toBe(0);
    expect(ha.attaches).toHaveLength(0);
  });

  it('dry-run drill reports the plan (the healthy standby, not the dead one) and changes nothing', async () => {
    const execution = ha.local.start('drill-dry-run', { mode: 'drill', dryRun: true });
    const output = (await execution.result) as {
      outcome: string;
      plan: { standbyInstanceId: string; steps: string[] };
    };
    const live = ha.set.standbyInstanceIds[1];
    expect(output.outcome).toBe('DRY_RUN');
    expect(output.plan.standbyInstanceId).toBe(live);
    expect(output.plan.steps[0]).toContain('detach the ENI');
    expect(ha.attaches).toHaveLength(0);
    expect(ha.proxy.holder()).toBe(ha.set.activeInstanceId);
  });

  it('fails over a killed coordinator to the healthy standby, once, and serves queries through the ENI address', async () => {
    drill = await runFailoverDrill(ha, { watchMs: 2_000 });
    const live = ha.set.standbyInstanceIds[1];
    expect(drill).toMatchObject({
      falseFailovers: 0,
      enisAttached: 1,
      outcome: 'FAILED_OVER',
      newCoordinator: live,
      queryAfterFailover: 'OK',
    });
    expect(ha.attaches).toEqual([live]);
    expect(drill.servingAfterMs).not.toBeNull();
    expect(drill.workersBackAfterMs).not.toBeNull();
    expect(drill.detectedAfterMs).toBeLessThan(drill.servingAfterMs ?? 0);
    expect(drill.timeline.map((t) => t.event).join('\n')).toMatch(
      /Planned: FAILOVER[\s\S]*DetachNetworkInterface[\s\S]*ENI detached[\s\S]*Terminated[\s\S]*AttachNetworkInterface[\s\S]*ENI attached[\s\S]*answers on the ENI address[\s\S]*re-announced/,
    );
    // The fence: the failed instance is terminated through its group (which launches a replacement); the standby
    // holds the ENI, so it is the coordinator — no tag says so, the attachment does.
    const out = await ec2.send(
      new DescribeInstancesCommand({ InstanceIds: [ha.set.activeInstanceId, live ?? ''] }),
    );
    const states = statesOf(out.Reservations?.flatMap((r) => r.Instances ?? []) ?? []);
    expect(['shutting-down', 'terminated']).toContain(states.get(ha.set.activeInstanceId));
    expect(states.get(live ?? '')).toBe('running');
    expect(ha.proxy.holder()).toBe(live);
    const metrics = await readMetrics(new CloudWatchClient(awsConfig()), 'it-ha', [
      'FailoverDurationSeconds',
      'Failovers',
    ]);
    expect(metrics.Failovers).toBe(1);
    expect(metrics.FailoverDurationSeconds).toBeGreaterThan(0);
  });

  it('a second trigger after the failover starts nothing (the new coordinator is healthy)', async () => {
    const again = await runHealthLoop(
      { ...ha.healthDeps, config: { ...ha.healthDeps.config, LOOP_DURATION_MS: 2_500 } },
      HEALTHY,
    );
    // The new coordinator is healthy through the ENI address: no failure, no second execution, no second move.
    expect(again.failover).toBe('NONE');
    expect([...ha.local.executions.keys()].filter((n) => n.startsWith('failover-'))).toHaveLength(1);
    expect(ha.attaches).toHaveLength(1);
  });

  it('a stale trigger (the old attachment) stands down: the ENI already moved', async () => {
    const stale = ha.local.start('stale-trigger', {
      mode: 'failover',
      attachmentId: ha.set.attachmentId,
      detectedAfterMs: 3_000,
    });
    const output = (await stale.result) as { outcome: string; plan: { action: string } };
    expect(output).toMatchObject({ outcome: 'STOOD_DOWN', plan: { action: 'ALREADY_MOVED' } });
    expect(ha.attaches).toHaveLength(1);
  });
  it('two detectors racing on the same failure start one failover and move the ENI once (to a replacement standby)', async () => {
    const replacement = await ha.addStandby();
    const before = ha.attaches.length;
    const holder = ha.proxy.holder();
    const active = ha.cluster.coordinators.find((n) => n.name === (holder && ha.nodeOf.get(holder)));
    expect(active).toBeDefined();
    active?.kill('SIGKILL');
    const [a, b] = await Promise.all([
      runHealthLoop(ha.healthDeps, HEALTHY),
      runHealthLoop(ha.healthDeps, HEALTHY),
    ]);
    expect([a.failover, b.failover].sort()).toEqual(['ALREADY_RUNNING', 'STARTED']);
    expect(a.executionName).toBe(b.executionName);
    const execution = ha.local.executions.get(a.executionName ?? '');
    const output = (await execution?.result) as { outcome: string; newCoordinatorInstanceId: string };
    expect(output).toMatchObject({ outcome: 'FAILED_OVER', newCoordinatorInstanceId: replacement });
    expect(ha.attaches.slice(before)).toEqual([replacement]);
  });
});

describe('coordinator failover without a standby', () => {
  it('alarms, scales the coordinator group out, waits, and fails after the configured waits; never attaches an ENI attached elsewhere', async () => {
    await resetAws();
    const aws = awsConfig();
    const set = await createCoordinatorSet(aws, 'it-nostandby', 0);
    await tagPorts(aws, set.activeInstanceId, { http: 9, https: 9 }); // the coordinator is gone
    const sns = new SNSClient(aws);
    const topic = await sns.send(new CreateTopicCommand({ Name: 'it-nostandby-alarms' }));
    const published: string[] = [];
    sns.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'PublishCommand') published.push(JSON.stringify(args.input));
        return result;
      },
      { step: 'initialize', name: 'recordPublish' },
    );
    const config = loadConfig(FailoverEnvSchema, {
      CLUSTER_NAME: 'it-nostandby',
      TRINO_URL: 'https://127.0.0.1:9',
      COORDINATOR_ENI_ID: set.networkInterfaceId,
      PRIMARY_URL_TEMPLATE: 'https://127.0.0.1:{tag:trino-sentinel:https-port}',
      COORDINATOR_ASG_NAME: set.coordinatorGroupName,
      STANDBY_WAIT_SECONDS: '1',
      STANDBY_MAX_WAITS: '2',
      PROBE_TIMEOUT_MS: '500',
      ALARM_TOPIC_ARN: topic.TopicArn ?? '',
    });
    const autoscaling = new AutoScalingClient(aws);
    const sfn = new SFNClient(aws);
    const deps = {
      config,
      ec2: new EC2Client(aws),
      autoscaling,
      cloudwatch: new CloudWatchClient(aws),
      sns,
      sfn,
      coordinator: async () =>
        new TrinoClient({ baseUrl: config.TRINO_URL, user: 'sentinel', timeoutMs: 500 }),
      now: () => Date.now(),
    };
    const handler = makeFailoverHandler(() => deps);
    const { definition } = await loadDefinition('coordinator-failover.asl.json');
    const local = new LocalStepFunctions(
      definition,
      Object.fromEntries(FAILOVER_TASK_NAMES.map((t) => [t, handler])),
    );
    local.bridge(sfn);
    const execution = local.start('no-standby', { mode: 'failover', attachmentId: set.attachmentId });
    await expect(execution.result).rejects.toThrow(/coordinator failover did not complete/);
    expect(execution.statesEntered).toEqual([
      'PlanFailover',
      'ChooseAction',
      'AwaitStandby',
      'IsStandbyWaitOver',
      'WaitForStandby',
      'PlanFailover',
      'ChooseAction',
      'AwaitStandby',
      'IsStandbyWaitOver',
      'WaitForStandby',
      'PlanFailover',
      'ChooseAction',
      'AwaitStandby',
      'IsStandbyWaitOver',
      'NoStandbyFailure',
      'NotifyFailure',
      'FailoverFailed',
    ]);
    const group = await autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [set.coordinatorGroupName] }),
    );
    expect(group.AutoScalingGroups?.[0]?.DesiredCapacity).toBeGreaterThanOrEqual(1);
    expect(published.some((p) => p.includes('No standby coordinator'))).toBe(true);
    expect(published.some((p) => p.includes('FAILED') && p.includes('FailoverTimeoutError'))).toBe(true);
    expect(published.filter((p) => p.includes('No standby coordinator'))).toHaveLength(1);

    // moto lets an attached ENI be attached elsewhere (AWS refuses): our AttachEni checks the attachment itself
    // and stands down instead of attaching.
    const other = (await new EC2Client(aws).send(new DescribeInstancesCommand({}))).Reservations?.flatMap(
      (r) => r.Instances ?? [],
    ).find((i) => i.InstanceId !== set.activeInstanceId && i.State?.Name === 'running')?.InstanceId;
    expect(other).toBeDefined();
    const state = {
      mode: 'failover' as const,
      dryRun: false,
      detectedAfterMs: 0,
      cluster: 'it-nostandby',
      failureAtMs: 0,
      startedAtMs: 0,
      plan: { action: 'FAILOVER' as const, reason: 'test', standbyInstanceId: other ?? '', steps: [] },
      baselineWorkers: 0,
      standbyWaits: 0,
      standbyWaitSeconds: 1,
      giveUp: false,
      timeline: [],
    };
    const stoodDown = await runAttachEni(state, deps, {});
    expect(stoodDown).toMatchObject({ attach: { step: 'MOVED' }, plan: { action: 'ALREADY_MOVED' } });
    const doubleAttach = await new EC2Client(aws).send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: set.networkInterfaceId,
        InstanceId: other ?? '',
        DeviceIndex: 1,
      }),
    );
    expect(doubleAttach.AttachmentId).toBeDefined(); // what moto allowed and our check refused
  });
});
