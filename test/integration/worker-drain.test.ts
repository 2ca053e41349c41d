/**
 * The central worker-drain scenario, for real: a secure Trino 476 with two workers, moto's Auto Scaling group with
 * a real termination lifecycle hook (HeartbeatTimeout 30 s, AWS's minimum), the drain state machine executed by
 * aws-local-stepfunctions with our handlers, and a long tpch query that must survive the scale-in.
 * Only CompleteLifecycleAction and RecordLifecycleActionHeartbeat go to the recording double (moto lacks them).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runScaleInDrill, type ScaleInDrillResult } from '../../harness/drills/scale-in.ts';
import { startTrinoCluster, type TrinoCluster } from '../../harness/trino.ts';
import { awsConfig, resetAws } from '../helpers/components.ts';

describe('worker drain on scale-in', () => {
  let cluster: TrinoCluster;
  let result: ScaleInDrillResult;

  beforeAll(async () => {
    cluster = await startTrinoCluster({
      line: 'newest',
      workers: 2,
      secure: true,
      name: 'drain',
      shutdownGracePeriod: '5s',
    });
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  beforeEach(resetAws);

  it('drains a worker running a long query: the query finishes, the worker exits, the action completes with CONTINUE', async () => {
    result = await runScaleInDrill({
      aws: awsConfig(),
      cluster,
      clusterName: 'it-drain',
      heartbeatTimeoutSeconds: 30,
    });

    expect(result.queryError).toBeUndefined();
    expect(result.queriesFailed).toBe(0);
    expect(result.lifecycleResult).toBe('CONTINUE');
    // Trino 476 supports DRAINING: the action completes when the worker reports DRAINED, then the process exits.
    expect(result.outcome).toBe('WORKER_DRAINED');
    expect(result.workerExited).toBe(true);
    expect(result.duplicateStartIgnored).toBe(true);

    // Exactly what was sent for the lifecycle action: heartbeats, then one completion, all for the same action.
    const completes = result.lifecycleCalls.filter((c) => c.command === 'CompleteLifecycleAction');
    expect(completes).toHaveLength(1);
    expect(result.lifecycleCalls.at(-1)).toMatchObject({
      command: 'CompleteLifecycleAction',
      autoScalingGroupName: 'it-drain-workers',
      lifecycleHookName: 'it-drain-worker-drain',
      instanceId: result.instanceId,
      lifecycleActionResult: 'CONTINUE',
    });
    const tokens = new Set(result.lifecycleCalls.map((c) => c.lifecycleActionToken));
    expect(tokens.size).toBe(1);
    for (const call of result.lifecycleCalls) {
      expect(call).toMatchObject({ autoScalingGroupName: 'it-drain-workers', instanceId: result.instanceId });
    }
  });

  it('keeps the lifecycle action alive past its heartbeat timeout: no gap between start, heartbeats and completion exceeds 30 s', () => {
    expect(result.drainSeconds).toBeGreaterThan(30);
    expect(result.heartbeats).toBeGreaterThanOrEqual(1);
    expect(result.lifecycleCalls.filter((c) => c.command === 'RecordLifecycleActionHeartbeat')).toHaveLength(
      result.heartbeats,
    );
    expect(result.maxHeartbeatGapSeconds).toBeLessThan(30);
  });
});
