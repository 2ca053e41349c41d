/**
 * terminationPolicy: Auto Scaling's custom termination policy → least-loaded workers first, from the coordinator's
 * view (`system.runtime.tasks` joined to `system.runtime.nodes`) and ONE `DescribeInstances` call per 1,000
 * candidates. It always answers: on an event it cannot parse, or any failure, it returns the instances in the
 * order Auto Scaling gave them (Auto Scaling then terminates as its default order would).
 * Source: Amazon EC2 Auto Scaling User Guide, "Create a custom termination policy with Lambda".
 *
 * @module
 */
import { type AwsCall, describeInstances } from '../../lib/aws/ec2.ts';
import { SentinelError } from '../../lib/errors.ts';
import { defineHandler } from '../../lib/handler.ts';
import { instanceUrl } from '../../lib/instance-url.ts';
import { logger } from '../../lib/logger.ts';
import { inputOrder, orderForTermination, type TerminationCandidate } from './decide.ts';
import { type DrainDeps, getDefaultDrainDeps } from './deps.ts';
import { type TerminationPolicyInput, TerminationPolicyInputSchema } from './schemas.ts';

/** Tasks and splits per worker, by the worker's HTTP URI. Source: Trino `system.runtime.tasks`, `system.runtime.nodes`. */
export const TASK_LOAD_SQL = `SELECT n.http_uri,
  count(t.task_id) FILTER (WHERE t.state NOT IN ('FINISHED', 'FAILED', 'ABORTED', 'CANCELED')),
  coalesce(sum(t.running_splits + t.queued_splits), 0)
FROM system.runtime.nodes n LEFT JOIN system.runtime.tasks t ON t.node_id = n.node_id
WHERE n.coordinator = false
GROUP BY n.http_uri`;

/** What the policy answers, plus what it measured (logged; Auto Scaling reads only `InstanceIDs`). */
export interface TerminationAnswer {
  readonly InstanceIDs: string[];
}

/**
 * Orders the candidates least-loaded first.
 * @returns `{ InstanceIDs }` as Auto Scaling expects; Auto Scaling's own order on any error.
 */
export async function runTerminationPolicy(
  input: TerminationPolicyInput,
  deps: DrainDeps,
  call: AwsCall = {},
): Promise<TerminationAnswer> {
  const ids = input.Instances.map((i) => i.InstanceId);
  try {
    const coordinator = await deps.coordinator();
    const [load, described] = await Promise.all([
      coordinator.query(TASK_LOAD_SQL, call.signal ? { signal: call.signal } : {}),
      describeInstances(deps.ec2, ids, call),
    ]);
    const byUrl = new Map<string, { tasks: number; splits: number }>();
    for (const [uri, tasks, splits] of load.rows) {
      if (typeof uri === 'string' && typeof tasks === 'number' && typeof splits === 'number') {
        byUrl.set(new URL(uri).origin, { tasks, splits });
      }
    }
    const candidates: TerminationCandidate[] = ids.map((instanceId) => {
      const instance = described.instances.get(instanceId);
      if (instance === undefined) return { instanceId };
      try {
        return {
          instanceId,
          ...byUrl.get(new URL(instanceUrl(deps.config.WORKER_URL_TEMPLATE, instance)).origin),
        };
      } catch {
        return { instanceId };
      }
    });
    const ordered = orderForTermination(candidates);
    logger.info('Termination order', {
      candidates: candidates.length,
      describeInstancesCalls: described.calls,
      ordered: ordered.slice(0, 20),
    });
    return { InstanceIDs: ordered };
  } catch (error) {
    logger.error('Termination policy fell back to the default order', {
      error:
        error instanceof SentinelError || error instanceof Error
          ? { name: error.name, message: error.message }
          : String(error),
    });
    return { InstanceIDs: ids };
  }
}

/** Builds the handler over the given dependencies. */
export function makeTerminationPolicyHandler(deps: () => DrainDeps = getDefaultDrainDeps) {
  return defineHandler(
    {
      schema: TerminationPolicyInputSchema,
      source: 'custom termination policy input',
      run: (input, d: DrainDeps, { signal }) => runTerminationPolicy(input, d, { signal }),
      onInvalid: (event): TerminationAnswer => ({ InstanceIDs: inputOrder(event) }),
    },
    deps,
  );
}

/** Lambda entry point (serverless.yml: `terminationPolicy`). */
export const handler = makeTerminationPolicyHandler();
