/**
 * The fault matrix's invariants (harness/drills/fault-invariants.ts) over recorded histories: each invariant holds on
 * a clean failover and is broken by the history that breaks it, with the case, the invariant and a detail naming
 * what happened.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type CaseHistory,
  checkInvariants,
  contractErrorNames,
  inContract,
  type RecordedAwsCall,
  type RecordedExecution,
} from '../../harness/drills/fault-invariants.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENI = 'eni-0a1b2c3d4e5f60718';
const OLD = 'i-old';
const NEW = 'i-new';

let seq = 0;
function call(operation: string, rest: Partial<RecordedAwsCall> = {}): RecordedAwsCall {
  seq += 1;
  const service = operation === 'Publish' ? 'SNS' : operation.includes('Lifecycle') ? 'AutoScaling' : 'EC2';
  return { seq, service, operation, instanceIds: [], outcome: 'OK', execution: 'first', ...rest };
}

function execution(rest: Partial<RecordedExecution> = {}): RecordedExecution {
  return {
    name: 'first',
    mode: 'failover',
    startSeq: 0,
    endSeq: 1_000,
    status: 'SUCCEEDED',
    errorNames: [],
    ...rest,
  };
}

/** A clean failover: detach, terminate the old holder, attach to the standby, which serves. */
function cleanFailover(): CaseHistory {
  seq = 0;
  return {
    case: 'failover/none',
    calls: [
      call('DescribeNetworkInterfaces', { networkInterfaceId: ENI, state: 'PlanFailover' }),
      call('DetachNetworkInterface', { networkInterfaceId: ENI, state: 'DetachEni' }),
      call('TerminateInstanceInAutoScalingGroup', {
        service: 'AutoScaling',
        instanceIds: [OLD],
        state: 'FenceFailed',
      }),
      call('AttachNetworkInterface', { networkInterfaceId: ENI, instanceIds: [NEW], state: 'AttachEni' }),
    ],
    executions: [execution()],
    eni: {
      networkInterfaceId: ENI,
      originalHolder: OLD,
      deadProcesses: [],
      finalHolders: [NEW],
      serves: true,
    },
    notificationsDelivered: 0,
  };
}

const contract = new Set(['AwsError', 'AwsThrottledError', 'FailoverFailed', 'HandlerTimeoutError']);

describe('fault matrix invariants', () => {
  it('hold on a clean failover (six checked, none violated)', () => {
    const result = checkInvariants(cleanFailover(), contract);
    expect(result.violations).toEqual([]);
    expect(result.checked).toHaveLength(6);
  });

  it('eni-serves: an ENI left detached, attached twice, or on a standby that does not answer', () => {
    const base = cleanFailover();
    const eni = base.eni ?? expect.unreachable();
    for (const [finalHolders, serves, detail] of [
      [[], false, /attached to no running instance/],
      [[OLD, NEW], true, /attached to i-old and i-new/],
      [[NEW], false, /i-new, which does not answer/],
    ] as const) {
      const result = checkInvariants({ ...base, eni: { ...eni, finalHolders, serves } }, contract);
      expect(result.violations).toEqual([
        { case: 'failover/none', invariant: 'eni-serves', detail: expect.stringMatching(detail) },
      ]);
    }
  });

  it('eni-serves: left on the original holder (a stand-down) holds even when it does not answer', () => {
    const base = cleanFailover();
    const eni = base.eni ?? expect.unreachable();
    const result = checkInvariants(
      { ...base, eni: { ...eni, finalHolders: [OLD], serves: false } },
      contract,
    );
    expect(result.violations.filter((v) => v.invariant === 'eni-serves')).toEqual([]);
  });

  it('fenced-before-move: an attach elsewhere before the old holder was terminated is a violation; a failed terminate does not fence', () => {
    const base = cleanFailover();
    const calls = base.calls.map((c) =>
      c.operation === 'AttachNetworkInterface'
        ? { ...c, seq: 3 }
        : c.operation.startsWith('Terminate')
          ? { ...c, seq: 4 }
          : c,
    );
    const early = checkInvariants({ ...base, calls }, contract);
    expect(early.violations).toEqual([
      {
        case: 'failover/none',
        invariant: 'fenced-before-move',
        detail: expect.stringContaining('attached the ENI to i-new (call #3) while i-old'),
      },
    ]);
    const injected = checkInvariants(
      {
        ...base,
        calls: base.calls.map((c) =>
          c.operation.startsWith('Terminate') ? { ...c, outcome: 'INJECTED' as const } : c,
        ),
      },
      contract,
    );
    expect(injected.violations.map((v) => v.invariant)).toEqual(['fenced-before-move']);
  });

  it('fenced-before-move: a process known dead, a timeout after the effect, or a drill of a healthy holder counts as fenced', () => {
    const base = cleanFailover();
    const eni = base.eni ?? expect.unreachable();
    const noFence = base.calls.filter((c) => !c.operation.startsWith('Terminate'));
    expect(
      checkInvariants({ ...base, calls: noFence, eni: { ...eni, deadProcesses: [OLD] } }, contract)
        .violations,
    ).toEqual([]);
    const afterEffect = base.calls.map((c) =>
      c.operation.startsWith('Terminate') ? { ...c, outcome: 'INJECTED_AFTER_EFFECT' as const } : c,
    );
    expect(checkInvariants({ ...base, calls: afterEffect }, contract).violations).toEqual([]);
    expect(
      checkInvariants({ ...base, calls: noFence, executions: [execution({ mode: 'drill' })] }, contract)
        .violations,
    ).toEqual([]);
  });

  it('single-mover: a move by a second execution while the first still runs is a violation', () => {
    const base = cleanFailover();
    const calls = base.calls.map((c) =>
      c.operation === 'AttachNetworkInterface' ? { ...c, execution: 'second', state: 'AttachEni' } : c,
    );
    const result = checkInvariants(
      {
        ...base,
        calls,
        executions: [execution(), execution({ name: 'second', mode: 'drill', startSeq: 2, endSeq: 900 })],
      },
      contract,
    );
    expect(result.violations).toEqual([
      {
        case: 'failover/none',
        invariant: 'single-mover',
        detail: expect.stringContaining(
          'second (AttachEni) sent AttachNetworkInterface (call #4) while first held',
        ),
      },
    ]);
    // Once the first has ended, the second may move it.
    const after = checkInvariants(
      {
        ...base,
        calls,
        executions: [execution({ endSeq: 3 }), execution({ name: 'second', mode: 'drill', startSeq: 2 })],
      },
      contract,
    );
    expect(after.violations).toEqual([]);
  });

  it('failure-notified: a failed execution needs a Publish of its own that took effect, and a delivered message', () => {
    const base = cleanFailover();
    const failed = [
      execution({ status: 'FAILED', errorNames: [{ where: 'the execution', name: 'FailoverFailed' }] }),
    ];
    expect(checkInvariants({ ...base, executions: failed }, contract).violations).toEqual([
      {
        case: 'failover/none',
        invariant: 'failure-notified',
        detail: 'first failed (FailoverFailed) and published nothing to the alarm topic',
      },
    ]);
    const lost = [...base.calls, call('Publish', { outcome: 'INJECTED', state: 'NotifyFailure' })];
    expect(
      checkInvariants({ ...base, calls: lost, executions: failed }, contract).violations[0]?.detail,
    ).toContain('(1 Publish call(s) failed)');
    const published = [...base.calls, call('Publish', { state: 'NotifyFailure' })];
    expect(
      checkInvariants({ ...base, calls: published, executions: failed }, contract).violations.map(
        (v) => v.detail,
      ),
    ).toEqual(["1 failed execution(s) published, the topic's subscriber received 0 message(s)"]);
    expect(
      checkInvariants({ ...base, calls: published, executions: failed, notificationsDelivered: 1 }, contract)
        .violations,
    ).toEqual([]);
  });

  it('execution-finished: an execution still running at the time limit is a violation', () => {
    const running = { ...execution({ status: 'RUNNING' }) };
    const { endSeq: _end, ...open } = running;
    const result = checkInvariants({ ...cleanFailover(), executions: [open] }, contract);
    expect(result.violations.map((v) => v.invariant)).toEqual(['execution-finished']);
  });

  it('lifecycle-completed-once: zero or two completions are violations; one holds', () => {
    seq = 0;
    const drain = (completions: number, recorded: number): CaseHistory => ({
      case: 'drain/none',
      calls: Array.from({ length: completions }, () => call('CompleteLifecycleAction')),
      executions: [execution()],
      notificationsDelivered: 0,
      lifecycle: { recordedCompletions: recorded },
    });
    expect(checkInvariants(drain(1, 1), contract)).toEqual({
      checked: ['failure-notified', 'error-contract', 'execution-finished', 'lifecycle-completed-once'],
      violations: [],
    });
    expect(checkInvariants(drain(0, 0), contract).violations).toEqual([
      {
        case: 'drain/none',
        invariant: 'lifecycle-completed-once',
        detail:
          'the lifecycle action was completed 0 time(s) (0 CompleteLifecycleAction call(s) took effect)',
      },
    ]);
    expect(checkInvariants(drain(2, 1), contract).violations.map((v) => v.invariant)).toEqual([
      'lifecycle-completed-once',
    ]);
  });

  it('error-contract: a name outside lib/errors.ts and the service names is a violation', () => {
    const result = checkInvariants(
      {
        ...cleanFailover(),
        executions: [
          execution({
            errorNames: [
              { where: 'DetachEni', name: 'Sandbox.Timedout' },
              { where: 'DetachEni', name: 'States.Timeout' },
              { where: 'PlanFailover', name: 'ZodError' },
            ],
          }),
        ],
      },
      contract,
    );
    expect(result.violations).toEqual([
      {
        case: 'failover/none',
        invariant: 'error-contract',
        detail: "first: PlanFailover failed with 'ZodError', outside the error contract",
      },
    ]);
  });

  it("reads the contract from lib/errors.ts and the state machines' Fail states", async () => {
    const errors = await readFile(path.join(root, 'lib', 'errors.ts'), 'utf8');
    const failover: unknown = JSON.parse(
      await readFile(path.join(root, 'statemachines', 'coordinator-failover.asl.json'), 'utf8'),
    );
    const names = contractErrorNames(errors, [failover, null, { States: null }]);
    for (const name of ['AwsError', 'AwsThrottledError', 'HandlerTimeoutError', 'FailoverFailed']) {
      expect(names.has(name)).toBe(true);
    }
    expect(inContract('Lambda.Unknown', names)).toBe(true);
    expect(inContract('TypeError', names)).toBe(false);
  });
});
