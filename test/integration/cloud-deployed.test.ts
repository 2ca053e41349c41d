/**
 * The deployed topology (issue 10): what users deploy, run as one local cloud — infra/trino-cluster.yaml by
 * CloudFormation, the control plane by `osls deploy` (its zips under the Lambda runtime interface emulator, its
 * state machines and EventBridge rules as deployed), and every instance Auto Scaling launches booting the AMI's own
 * path in a network namespace with its ENIs and security groups — and the drills on it, as a user would run them:
 * query logs end to end, a scale-in with a query running, then two failovers in a row (the second of the
 * coordinator the first promoted), each through TLS with both coordinators booted from the AMI path.
 *
 * One topology for every drill (it takes minutes to come up on 2 cores); the figures are printed.
 */
import { describe, expect, it } from 'vitest';
import { runDeployed } from '../../harness/cloud/deployed.ts';
import type { DeployedDrillRecord, DeployedRunResult } from '../../harness/cloud/deployed-types.ts';

const lines: string[] = [];
const log = (line: string) => {
  lines.push(line);
  if (process.env.TRINO_SENTINEL_VERBOSE) process.stderr.write(`${line}\n`);
};

/** The record of the drill at `index` (the run's error when it did not run). */
function recordAt(result: DeployedRunResult, index: number): DeployedDrillRecord {
  const record = result.drills[index];
  if (!record) throw new Error(`drill #${index} did not run: ${result.error ?? 'no error recorded'}`);
  return record;
}

function queryLogsAt(result: DeployedRunResult, index: number) {
  const record = recordAt(result, index);
  if (record.drill !== 'query-logs') throw new Error(`drill #${index} is ${record.drill}`);
  return record.result;
}

function scaleInAt(result: DeployedRunResult, index: number) {
  const record = recordAt(result, index);
  if (record.drill !== 'scale-in') throw new Error(`drill #${index} is ${record.drill}`);
  return record.result;
}

function failoverAt(result: DeployedRunResult, index: number) {
  const record = recordAt(result, index);
  if (record.drill !== 'failover') throw new Error(`drill #${index} is ${record.drill}`);
  return record.result;
}

describe('the deployed topology', () => {
  it('ships query logs, drains a worker and fails over twice, as deployed', {
    timeout: 50 * 60_000,
  }, async () => {
    if (process.getuid?.() !== 0)
      throw new Error('the deployed topology needs root (network namespaces, mounts)');
    const result = await runDeployed({
      drills: ['query-logs', 'scale-in', 'failover', 'failover'],
      workers: 2,
      log,
    });
    process.stderr.write(`deployed topology: ${JSON.stringify(result, null, 2)}\n`);
    if (result.error) process.stderr.write(`${lines.slice(-200).join('\n')}\n`);
    expect(result.error).toBeUndefined();
    // Every node booted from the AMI path writes its server log where the CloudWatch agent reads it.
    const logs = Object.values(result.ready?.serverLogBytes ?? {});
    expect(logs.length).toBeGreaterThanOrEqual(4);
    for (const bytes of logs) expect(bytes).toBeGreaterThan(0);

    const queryLogs = queryLogsAt(result, 0);
    expect(queryLogs).toMatchObject({ missing: 0, duplicates: 0 });
    expect(queryLogs.documentsFound).toBe(queryLogs.queriesRun);

    const scaleIn = scaleInAt(result, 1);
    expect(scaleIn).toMatchObject({
      queriesFailed: 0,
      lifecycleResult: 'CONTINUE',
      completedBy: 'CompleteLifecycleAction',
      terminationPolicyAnswered: true,
      drainExecutionStatus: 'SUCCEEDED',
      workerExited: true,
      workerExitedGracefully: true,
      workersAfterRestore: 2,
    });

    const first = failoverAt(result, 2);
    const second = failoverAt(result, 3);
    for (const failover of [first, second]) {
      expect(failover).toMatchObject({
        falseFailovers: 0,
        enisAttached: 1,
        outcome: 'FAILED_OVER',
        executionStatus: 'SUCCEEDED',
        queryAfterFailover: 'OK',
      });
      expect(failover.newCoordinator).not.toBe(failover.failedCoordinator);
      expect(['terminated', 'shutting-down', undefined]).toContain(failover.failedInstanceState);
      expect(failover.workersBackAfterMs).not.toBeNull();
      expect(failover.replacementReadyAfterMs).not.toBeNull();
    }
    // The second failover moved the ENI off the coordinator the first one promoted.
    expect(second.failedCoordinator).toBe(first.newCoordinator);
  });
});
