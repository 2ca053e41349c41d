/**
 * terminationPolicy: Auto Scaling's custom termination policy → least-loaded workers first, from the coordinator's
 * view (`system.runtime.tasks` joined to `system.runtime.nodes`) and ONE `DescribeInstances` call per 1,000
 * candidates. It always answers, in the documented shape `{ InstanceIDs }`, within its own deadline
 * ({@link terminationBudgetMs}: Auto Scaling's 2-s limit or the Lambda's remaining time, whichever is nearer): each
 * read runs under that budget's AbortSignal, and a read not done when the budget runs out (or failed) is `UNKNOWN`.
 * What is unknown is never taken for idle ({@link decideTerminationOrder}): with nothing known the answer is the
 * order Auto Scaling gave. An event it cannot parse is answered in Auto Scaling's order too.
 * Source: Amazon EC2 Auto Scaling User Guide, "Create a custom termination policy with Lambda".
 *
 * @module
 */
import { type AwsCall, describeInstances } from '../../lib/aws/ec2.ts';
import { SentinelError } from '../../lib/errors.ts';
import { defineHandler, HANDLER_STOP_MARGIN_MS } from '../../lib/handler.ts';
import { instanceUrl } from '../../lib/instance-url.ts';
import { logger } from '../../lib/logger.ts';
import {
  AUTO_SCALING_POLICY_MAX_RUN_MS,
  type CandidateLoad,
  decideTerminationOrder,
  inputOrder,
  TERMINATION_ANSWER_MARGIN_MS,
  type TerminationCandidate,
  terminationBudgetMs,
} from './decide.ts';
import { type DrainDeps, getDefaultDrainDeps } from './deps.ts';
import { type TerminationPolicyInput, TerminationPolicyInputSchema } from './schemas.ts';

/** Tasks and splits per worker, by the worker's HTTP URI. Source: Trino `system.runtime.tasks`, `system.runtime.nodes`. */
export const TASK_LOAD_SQL = `SELECT n.http_uri,
  count(t.task_id) FILTER (WHERE t.state NOT IN ('FINISHED', 'FAILED', 'ABORTED', 'CANCELED')),
  coalesce(sum(t.running_splits + t.queued_splits), 0)
FROM system.runtime.nodes n LEFT JOIN system.runtime.tasks t ON t.node_id = n.node_id
WHERE n.coordinator = false
GROUP BY n.http_uri`;

/** What the policy answers (Auto Scaling reads only `InstanceIDs`). */
export interface TerminationAnswer {
  readonly InstanceIDs: string[];
}

/** The invocation's abort signal and the reads' budget. */
export interface TerminationCall extends AwsCall {
  /**
   * How long the reads may take, ms ({@link terminationBudgetMs}); default: Auto Scaling's limit less the answer
   * margin.
   */
  readonly budgetMs?: number;
}

/** A read not settled when the budget runs out. */
const UNKNOWN = 'UNKNOWN';

function describeError(error: unknown) {
  return error instanceof SentinelError || error instanceof Error
    ? { name: error.name, message: error.message }
    : String(error);
}

/**
 * Settles with the read's value, or {@link UNKNOWN} when the read fails or `signal` aborts first — whether or not
 * the read itself stops on the signal, so the answer never waits for it.
 */
function withinBudget<T>(what: string, read: Promise<T>, signal: AbortSignal): Promise<T | typeof UNKNOWN> {
  return new Promise((resolve) => {
    const onAbort = () => {
      logger.warn(`Termination policy: ${what} not read within the budget`);
      resolve(UNKNOWN);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    read.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (!signal.aborted)
          logger.warn(`Termination policy: ${what} failed`, { error: describeError(error) });
        resolve(UNKNOWN);
      },
    );
  });
}

/**
 * Orders the candidates least-loaded first, within the budget.
 * @param call.budgetMs - How long the coordinator and EC2 reads may take, ms.
 * @param call.signal - The invocation's signal (lib/handler.ts): aborts the reads too.
 * @returns `{ InstanceIDs }` as Auto Scaling expects: every candidate, once; Auto Scaling's order when nothing is known.
 */
export async function runTerminationPolicy(
  input: TerminationPolicyInput,
  deps: DrainDeps,
  call: TerminationCall = {},
): Promise<TerminationAnswer> {
  const startedAt = performance.now();
  const ids = input.Instances.map((i) => i.InstanceId);
  const budgetMs = call.budgetMs ?? AUTO_SCALING_POLICY_MAX_RUN_MS - TERMINATION_ANSWER_MARGIN_MS;
  const deadline = AbortSignal.timeout(Math.max(1, budgetMs));
  const signal = call.signal ? AbortSignal.any([deadline, call.signal]) : deadline;
  const [load, described] = await Promise.all([
    withinBudget(
      'the coordinator’s task load',
      deps
        .coordinator()
        .then((coordinator) => coordinator.query(TASK_LOAD_SQL, { signal, timeoutMs: budgetMs })),
      signal,
    ),
    withinBudget('DescribeInstances', describeInstances(deps.ec2, ids, { signal }), signal),
  ]);
  const byUrl = new Map<string, { tasks: number; splits: number }>();
  if (load !== UNKNOWN) {
    for (const [uri, tasks, splits] of load.rows) {
      if (
        typeof uri === 'string' &&
        typeof tasks === 'number' &&
        typeof splits === 'number' &&
        URL.canParse(uri)
      ) {
        byUrl.set(new URL(uri).origin, { tasks, splits });
      }
    }
  }
  const loadOf = (instanceId: string): CandidateLoad => {
    if (load === UNKNOWN || described === UNKNOWN) return 'UNKNOWN';
    const instance = described.instances.get(instanceId);
    if (instance === undefined) return 'UNKNOWN';
    let origin: string;
    try {
      origin = new URL(instanceUrl(deps.config.WORKER_URL_TEMPLATE, instance)).origin;
    } catch {
      return 'UNKNOWN';
    }
    return byUrl.get(origin) ?? 'NOT_A_WORKER';
  };
  const candidates: TerminationCandidate[] = ids.map((instanceId) => ({
    instanceId,
    load: loadOf(instanceId),
  }));
  const order = decideTerminationOrder(candidates);
  logger.info('Termination order', {
    candidates: candidates.length,
    basis: order.basis,
    unknown: order.unknown.length,
    budgetMs,
    tookMs: Math.round(performance.now() - startedAt),
    ...(described === UNKNOWN ? {} : { describeInstancesCalls: described.calls }),
    ordered: order.instanceIds.slice(0, 20),
  });
  return { InstanceIDs: order.instanceIds };
}

/** Builds the handler over the given dependencies. */
export function makeTerminationPolicyHandler(deps: () => DrainDeps = getDefaultDrainDeps) {
  return defineHandler(
    {
      schema: TerminationPolicyInputSchema,
      source: 'custom termination policy input',
      run: (input, d: DrainDeps, { signal, context }) =>
        runTerminationPolicy(input, d, {
          signal,
          budgetMs: terminationBudgetMs(context.getRemainingTimeInMillis(), HANDLER_STOP_MARGIN_MS),
        }).catch((error: unknown): TerminationAnswer => {
          // Not expected (every read is already bounded): still an answer, never none.
          logger.error('Termination policy fell back to the default order', { error: describeError(error) });
          return { InstanceIDs: input.Instances.map((i) => i.InstanceId) };
        }),
      onInvalid: (event): TerminationAnswer => ({ InstanceIDs: inputOrder(event) }),
    },
    deps,
  );
}

/** Lambda entry point (serverless.yml: `terminationPolicy`). */
export const handler = makeTerminationPolicyHandler();
