/**
 * Test infrastructure: the invariants of the fault matrix (harness/drills/faults.ts), checked over what one case
 * recorded: the AWS calls in the order they were sent (through SDK middleware), the executions and their history,
 * and the state read from the emulator at the end. Pure: no I/O, no clock; the runner gathers, this judges.
 *
 * Invariants (issue 17, item 1):
 * - `eni-serves`: at the end the coordinator ENI is attached to exactly one instance, which serves (its double
 *   answers `GET /v1/info` through the ENI address), or it is left on the original holder;
 * - `fenced-before-move`: whenever the ENI is attached to another instance, the previous holder was fenced first
 *   (a `TerminateInstances`/`StopInstances`/`TerminateInstanceInAutoScalingGroup` of it took effect) or its process
 *   is known dead; a drill's own move of a healthy coordinator (kept as a standby on purpose) is exempt;
 * - `single-mover`: no ENI attach or detach by an execution while another, earlier one is still running (the
 *   execution that started first holds the cluster);
 * - `failure-notified`: every execution that did not succeed published to the alarm topic (an SNS `Publish` of its
 *   own took effect), and the topic's subscriber received at least that many messages;
 * - `lifecycle-completed-once`: every lifecycle action is completed exactly once (the calls that took effect as
 *   the middleware saw them, and the completions the Auto Scaling double recorded);
 * - `error-contract`: every error name that reaches Step Functions (a failed task's `Error`, the execution's) is
 *   one of the contract's: a `name` of lib/errors.ts, a `States.*`, `Lambda.*` or `Sandbox.*` name, or a Fail
 *   state's `Error` of the state machines;
 * - `execution-finished`: every execution ended within the case's time limit.
 *
 * @module
 */

/** How one AWS call ended, as the fault middleware saw it. */
export const CALL_OUTCOMES = ['OK', 'FAILED', 'INJECTED', 'INJECTED_AFTER_EFFECT'] as const;
/**
 * - `OK`: the service answered; `FAILED`: the service refused it (its own error);
 * - `INJECTED`: the middleware failed it before it was sent (no effect);
 * - `INJECTED_AFTER_EFFECT`: sent and answered, then failed to the caller (a timeout after the effect).
 */
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

/** One AWS call as recorded by the middleware, in send order. */
export interface RecordedAwsCall {
  /** Global order of the call's send (shared with executions' start and end marks). */
  readonly seq: number;
  /** e.g. `EC2`, `AutoScaling`, `SNS`. */
  readonly service: string;
  /** The API operation, e.g. `AttachNetworkInterface`. */
  readonly operation: string;
  /** `InstanceId`/`InstanceIds` of the request. */
  readonly instanceIds: readonly string[];
  readonly networkInterfaceId?: string;
  readonly outcome: CallOutcome;
  /** The execution and Task state whose invocation sent it (undefined: the harness itself). */
  readonly execution?: string;
  readonly state?: string;
}

/**
 * Which of two executions holds the cluster: the lock's order (start ms, then ARN) when both carry it, else the
 * order they were started in.
 */
function lockFirst(a: RecordedExecution, b: RecordedExecution): number {
  if (a.lockOrder === undefined || b.lockOrder === undefined) return a.startSeq - b.startSeq;
  if (a.lockOrder.startDateMs !== b.lockOrder.startDateMs) {
    return a.lockOrder.startDateMs - b.lockOrder.startDateMs;
  }
  return a.lockOrder.executionArn < b.lockOrder.executionArn ? -1 : 1;
}

/** One execution of the case. */
export interface RecordedExecution {
  readonly name: string;
  /** `failover`, `drill` (failover input's mode) or `drain`. */
  readonly mode: string;
  /** Order marks shared with {@link RecordedAwsCall.seq}: when it started and when its result settled. */
  readonly startSeq: number;
  /** Undefined while it runs. */
  readonly endSeq?: number;
  /**
   * The failover lock's order (lib/failover-lock.ts): the execution's start time (ms) and ARN. Two executions may
   * start within the same millisecond; the lock then goes to the smaller ARN, whichever was started first.
   */
  readonly lockOrder?: { readonly startDateMs: number; readonly executionArn: string };
  readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  /** Error names that reached Step Functions: each failed task event's and the execution's own. */
  readonly errorNames: readonly { readonly where: string; readonly name: string }[];
}

/** The coordinator ENI's part of a case (failover cases only). */
export interface EniRecord {
  readonly networkInterfaceId: string;
  /** The instance holding the ENI when the case started. */
  readonly originalHolder: string;
  /** Instances whose process the harness killed (known dead, as good as fenced). */
  readonly deadProcesses: readonly string[];
  /** Running instances that list the ENI among their interfaces at the end (moto lets two). */
  readonly finalHolders: readonly string[];
  /** Whether a coordinator answered `GET /v1/info` through the ENI address at the end. */
  readonly serves: boolean;
}

/** Everything one case recorded. */
export interface CaseHistory {
  readonly case: string;
  readonly calls: readonly RecordedAwsCall[];
  readonly executions: readonly RecordedExecution[];
  readonly eni?: EniRecord;
  /** Messages the alarm topic's subscriber (an SQS queue) received. */
  readonly notificationsDelivered: number;
  /** Lifecycle actions of the case (drain cases): completions the Auto Scaling double recorded. */
  readonly lifecycle?: { readonly recordedCompletions: number };
}

/** The invariants' names. */
export const INVARIANTS = [
  'eni-serves',
  'fenced-before-move',
  'single-mover',
  'failure-notified',
  'lifecycle-completed-once',
  'error-contract',
  'execution-finished',
] as const;
/** One invariant's name. */
export type InvariantName = (typeof INVARIANTS)[number];

/** One broken invariant. */
export interface Violation {
  readonly case: string;
  readonly invariant: InvariantName;
  readonly detail: string;
}

/** Operations that fence an instance (stop or terminate it). */
const FENCING = new Set(['TerminateInstances', 'StopInstances', 'TerminateInstanceInAutoScalingGroup']);

/** Error name prefixes Step Functions itself uses. */
const SERVICE_ERROR_PREFIXES = ['States.', 'Lambda.', 'Sandbox.'];

/** Whether the call took effect at the service. */
function tookEffect(call: RecordedAwsCall): boolean {
  return call.outcome === 'OK' || call.outcome === 'INJECTED_AFTER_EFFECT';
}

/**
 * The contract's error names: each `override readonly name … = '<Name>'` of lib/errors.ts and each Fail state's
 * `Error` of the given definitions (the `States.*`, `Lambda.*`, `Sandbox.*` names are accepted by prefix).
 * @param errorsSource - lib/errors.ts's text.
 * @param definitions - The state machines' ASL, parsed.
 */
export function contractErrorNames(errorsSource: string, definitions: readonly unknown[]): Set<string> {
  const names = new Set(
    [...errorsSource.matchAll(/readonly name(?::\s*string)?\s*=\s*'([A-Za-z0-9_.]+)'/g)].map(
      (m) => m[1] ?? '',
    ),
  );
  for (const definition of definitions) {
    const states =
      typeof definition === 'object' && definition !== null && 'States' in definition
        ? definition.States
        : undefined;
    if (typeof states !== 'object' || states === null) continue;
    for (const state of Object.values(states)) {
      if (
        typeof state === 'object' &&
        state !== null &&
        'Type' in state &&
        state.Type === 'Fail' &&
        'Error' in state &&
        typeof state.Error === 'string'
      ) {
        names.add(state.Error);
      }
    }
  }
  names.delete('');
  return names;
}

/** Whether `name` is one of the contract's (or a Step Functions service name). */
export function inContract(name: string, contract: ReadonlySet<string>): boolean {
  return contract.has(name) || SERVICE_ERROR_PREFIXES.some((prefix) => name.startsWith(prefix));
}

function eniChecks(history: CaseHistory, eni: EniRecord, violate: (i: InvariantName, d: string) => void) {
  const calls = [...history.calls].sort((a, b) => a.seq - b.seq);
  const modes = new Map(history.executions.map((e) => [e.name, e.mode]));
  const onEni = (c: RecordedAwsCall) => c.networkInterfaceId === eni.networkInterfaceId;

  // eni-serves
  const [only, ...others] = eni.finalHolders;
  if (only === undefined) {
    violate('eni-serves', 'the coordinator ENI is attached to no running instance at the end');
  } else if (others.length > 0) {
    violate('eni-serves', `the coordinator ENI is attached to ${eni.finalHolders.join(' and ')} at the end`);
  } else if (!eni.serves && only !== eni.originalHolder) {
    violate(
      'eni-serves',
      `the ENI is on ${only}, which does not answer GET /v1/info through the ENI address`,
    );
  }

  // fenced-before-move
  const fenced = new Set<string>();
  const dead = new Set(eni.deadProcesses);
  let holder = eni.originalHolder;
  for (const call of calls) {
    if (!tookEffect(call)) continue;
    if (FENCING.has(call.operation)) for (const id of call.instanceIds) fenced.add(id);
    if (call.operation !== 'AttachNetworkInterface' || !onEni(call)) continue;
    const target = call.instanceIds[0];
    if (target === undefined || target === holder) continue;
    const drill = call.execution !== undefined && modes.get(call.execution) === 'drill';
    if (!drill && !fenced.has(holder) && !dead.has(holder)) {
      violate(
        'fenced-before-move',
        `${call.execution ?? 'the harness'} (${call.state ?? '?'}) attached the ENI to ${target} (call #${call.seq}) while ${holder}, its previous holder, was neither stopped/terminated nor known dead`,
      );
    }
    holder = target;
  }

  // single-mover
  for (const call of calls) {
    if (!tookEffect(call) || !onEni(call)) continue;
    if (call.operation !== 'AttachNetworkInterface' && call.operation !== 'DetachNetworkInterface') continue;
    const holderExecution = history.executions
      .filter((e) => e.startSeq < call.seq && (e.endSeq === undefined || e.endSeq > call.seq))
      .sort(lockFirst)[0];
    if (holderExecution !== undefined && holderExecution.name !== call.execution) {
      violate(
        'single-mover',
        `${call.execution ?? 'the harness'} (${call.state ?? '?'}) sent ${call.operation} (call #${call.seq}) while ${holderExecution.name} held the cluster (started first, still running)`,
      );
    }
  }
}

/**
 * Checks every invariant over one case's history.
 * @param contract - From {@link contractErrorNames}.
 * @returns The invariants checked (those that apply to the case) and the violations found.
 */
export function checkInvariants(
  history: CaseHistory,
  contract: ReadonlySet<string>,
): { readonly checked: readonly InvariantName[]; readonly violations: readonly Violation[] } {
  const violations: Violation[] = [];
  const violate = (invariant: InvariantName, detail: string) =>
    violations.push({ case: history.case, invariant, detail });
  const checked: InvariantName[] = ['failure-notified', 'error-contract', 'execution-finished'];

  if (history.eni !== undefined) {
    checked.push('eni-serves', 'fenced-before-move', 'single-mover');
    eniChecks(history, history.eni, violate);
  }

  // failure-notified, execution-finished
  let notifiedFailures = 0;
  for (const execution of history.executions) {
    if (execution.status === 'RUNNING') {
      violate('execution-finished', `${execution.name} was still running at the case's time limit`);
      continue;
    }
    if (execution.status !== 'FAILED') continue;
    const published = history.calls.some(
      (c) =>
        c.service === 'SNS' && c.operation === 'Publish' && c.execution === execution.name && tookEffect(c),
    );
    if (published) notifiedFailures += 1;
    else {
      const tried = history.calls.filter(
        (c) => c.service === 'SNS' && c.operation === 'Publish' && c.execution === execution.name,
      ).length;
      violate(
        'failure-notified',
        `${execution.name} failed (${execution.errorNames.at(-1)?.name ?? 'no error name'}) and published nothing to the alarm topic${tried > 0 ? ` (${tried} Publish call(s) failed)` : ''}`,
      );
    }
  }
  if (history.notificationsDelivered < notifiedFailures) {
    violate(
      'failure-notified',
      `${notifiedFailures} failed execution(s) published, the topic's subscriber received ${history.notificationsDelivered} message(s)`,
    );
  }

  // lifecycle-completed-once
  if (history.lifecycle !== undefined) {
    checked.push('lifecycle-completed-once');
    const sent = history.calls.filter(
      (c) => c.operation === 'CompleteLifecycleAction' && tookEffect(c),
    ).length;
    if (sent !== 1 || history.lifecycle.recordedCompletions !== 1) {
      violate(
        'lifecycle-completed-once',
        `the lifecycle action was completed ${history.lifecycle.recordedCompletions} time(s) (${sent} CompleteLifecycleAction call(s) took effect)`,
      );
    }
  }

  // error-contract
  for (const execution of history.executions) {
    for (const { where, name } of execution.errorNames) {
      if (!inContract(name, contract)) {
        violate(
          'error-contract',
          `${execution.name}: ${where} failed with '${name}', outside the error contract`,
        );
      }
    }
  }
  return { checked, violations };
}
