import { describe, expect, it } from 'vitest';
import {
  type CoordinatorCandidate,
  chooseStandby,
  decideAttach,
  decideDetach,
  decideServing,
  type EniView,
  planFence,
} from '../../functions/coordinator-failover/decide.ts';
import { assessRound, HEALTHY, type ProbeRound } from '../../functions/coordinator-health/decide.ts';

const policy = { failuresToConfirm: 3 };
const T0 = 1_000_000;

function run(rounds: readonly Omit<ProbeRound, 'atMs'>[]) {
  let state = HEALTHY;
  return rounds.map((round, index) => {
    const verdict = assessRound(state, { ...round, atMs: T0 + index * 5_000 }, policy);
    state = verdict.state;
    return verdict;
  });
}

describe('assessRound (confirmed-failure detection)', () => {
  it('fails over after 3 consecutive failed probes when the primary address fails too', () => {
    const verdicts = run([
      { viaEni: 'FAILED', viaPrimary: 'FAILED' },
      { viaEni: 'FAILED', viaPrimary: 'FAILED' },
      { viaEni: 'FAILED', viaPrimary: 'FAILED' },
    ]);
    expect(verdicts.map((v) => v.confirmedFailure)).toEqual([false, false, true]);
    expect(verdicts[2]).toMatchObject({
      healthy: false,
      secondSignal: 'PRIMARY_ADDRESS_FAILED',
      failingForMs: 10_000,
    });
  });

  it('never fails over on one missed probe', () => {
    expect(
      run([{ viaEni: 'FAILED', viaPrimary: 'FAILED' }, { viaEni: 'OK' }]).some((v) => v.confirmedFailure),
    ).toBe(false);
  });

  it('does not fail over on the count alone when no independent signal agrees', () => {
    const verdicts = run(
      Array.from({ length: 6 }, () => ({
        viaEni: 'FAILED' as const,
        viaPrimary: 'OK' as const,
        instanceState: 'running',
        instanceStatus: 'ok',
      })),
    );
    expect(verdicts.every((v) => !v.confirmedFailure)).toBe(true);
    expect(verdicts.at(-1)?.state.consecutiveFailures).toBe(6);
  });

  it.each([
    [{ instanceState: 'stopped' }, 'INSTANCE_NOT_RUNNING'],
    [{ instanceState: 'running', instanceStatus: 'impaired' }, 'STATUS_IMPAIRED'],
    [{ instanceState: 'running', viaPrimary: 'FAILED' as const }, 'PRIMARY_ADDRESS_FAILED'],
  ])('accepts %o as the independent signal (%s)', (signal, name) => {
    const verdicts = run([{ viaEni: 'FAILED' }, { viaEni: 'FAILED' }, { viaEni: 'FAILED', ...signal }]);
    expect(verdicts[2]).toMatchObject({ confirmedFailure: true, secondSignal: name });
  });

  it('treats a pause shorter than the grace window as healthy: two failures, then an answer, resets the count', () => {
    const verdicts = run([
      { viaEni: 'FAILED', viaPrimary: 'FAILED' },
      { viaEni: 'FAILED', viaPrimary: 'FAILED' },
      { viaEni: 'OK' },
      { viaEni: 'FAILED', viaPrimary: 'FAILED' },
      { viaEni: 'FAILED', viaPrimary: 'FAILED' },
    ]);
    expect(verdicts.some((v) => v.confirmedFailure)).toBe(false);
    expect(verdicts[2]).toMatchObject({ healthy: true, state: HEALTHY });
  });

  it('reports a STARTING coordinator as unhealthy but alive: it never confirms a failure and resets the count', () => {
    const verdicts = run([
      { viaEni: 'FAILED', viaPrimary: 'FAILED' },
      { viaEni: 'FAILED', viaPrimary: 'FAILED' },
      { viaEni: 'STARTING' },
    ]);
    expect(verdicts[2]).toMatchObject({ healthy: false, confirmedFailure: false, state: HEALTHY });
  });
});

const candidate = (overrides: Partial<CoordinatorCandidate> = {}): CoordinatorCandidate => ({
  instanceId: 'i-standby-1',
  state: 'running',
  role: 'standby',
  cluster: 'prod',
  healthy: true,
  launchTimeMs: 100,
  availabilityZone: 'us-east-1a',
  ...overrides,
});

describe('chooseStandby', () => {
  it('chooses the longest-running healthy standby of this cluster in the ENI AZ', () => {
    expect(
      chooseStandby(
        [
          candidate({ instanceId: 'i-new', launchTimeMs: 500 }),
          candidate({ instanceId: 'i-old', launchTimeMs: 50 }),
          candidate({ instanceId: 'i-other-az', launchTimeMs: 1, availabilityZone: 'us-east-1b' }),
        ],
        'prod',
        'us-east-1a',
      ),
    ).toBe('i-old');
  });

  it.each([
    ['unhealthy', { healthy: false }],
    ['stopped', { state: 'stopped' }],
    ['the active coordinator', { role: 'coordinator' }],
    ['another cluster', { cluster: 'staging' }],
    ['untagged', { role: undefined }],
  ])('skips a standby that is %s and takes the next one', (_, overrides) => {
    expect(
      chooseStandby(
        [
          candidate({ instanceId: 'i-bad', launchTimeMs: 1, ...overrides }),
          candidate({ instanceId: 'i-good' }),
        ],
        'prod',
        'us-east-1a',
      ),
    ).toBe('i-good');
  });

  it('excludes the failed instance and returns undefined when no standby is left', () => {
    expect(
      chooseStandby([candidate({ instanceId: 'i-failed' })], 'prod', 'us-east-1a', 'i-failed'),
    ).toBeUndefined();
    expect(chooseStandby([], 'prod', undefined)).toBeUndefined();
  });

  it('breaks launch-time ties by instance id', () => {
    expect(
      chooseStandby([candidate({ instanceId: 'i-b' }), candidate({ instanceId: 'i-a' })], 'prod', undefined),
    ).toBe('i-a');
  });
});

describe('planFence', () => {
  const base = { instanceState: 'running', processAnswers: false, inAutoScalingGroup: true, drill: false };
  it.each([
    ['a hung process in an Auto Scaling group', base, { forceDetach: true, instanceAction: 'TERMINATE' }],
    [
      'a hung process outside a group',
      { ...base, inAutoScalingGroup: false },
      { forceDetach: true, instanceAction: 'STOP' },
    ],
    [
      'an impaired instance',
      { ...base, instanceStatus: 'impaired', processAnswers: true },
      { forceDetach: true, instanceAction: 'TERMINATE' },
    ],
    [
      'a stopped instance',
      { ...base, instanceState: 'stopped' },
      { forceDetach: true, instanceAction: 'TERMINATE' },
    ],
    [
      'a terminated instance',
      { ...base, instanceState: 'terminated' },
      { forceDetach: true, instanceAction: 'NONE' },
    ],
    [
      'an instance shutting down',
      { ...base, instanceState: 'shutting-down' },
      { forceDetach: true, instanceAction: 'NONE' },
    ],
    [
      'a healthy coordinator in a drill',
      { ...base, processAnswers: true, drill: true },
      { forceDetach: false, instanceAction: 'NONE' },
    ],
    [
      'a coordinator that answers but is being failed over (not a drill)',
      { ...base, processAnswers: true },
      { forceDetach: false, instanceAction: 'TERMINATE' },
    ],
  ])('fences %s', (_, input, expected) => {
    expect(planFence(input)).toEqual(expected);
  });
});

describe('decideDetach and decideAttach', () => {
  const attached: EniView = {
    status: 'in-use',
    attachment: { attachmentId: 'eni-attach-1', instanceId: 'i-old', status: 'attached', deviceIndex: 1 },
  };
  const available: EniView = { status: 'available' };
  const limits = { forceAfterMs: 20_000, giveUpAfterMs: 60_000 };

  it.each([
    ['available with no attachment', available, 0, false, 'DETACHED'],
    [
      'available with a detached attachment',
      { status: 'available', attachment: { attachmentId: 'a', status: 'detached' } },
      0,
      false,
      'DETACHED',
    ],
    ['still attached early', attached, 1_000, false, 'WAIT'],
    ['still attached after the force threshold', attached, 20_000, false, 'FORCE'],
    ['still attached after forcing', attached, 30_000, true, 'WAIT'],
    ['still attached at the give-up threshold', attached, 60_000, true, 'GIVE_UP'],
  ] as const)('detach: %s → %s', (_, eni, elapsed, forced, expected) => {
    expect(decideDetach(eni, elapsed, forced, limits)).toBe(expected);
  });

  it.each([
    ['an available ENI', available, 'ATTACH'],
    ['an ENI attached elsewhere (AWS refuses; moto would not)', attached, 'REFUSE'],
    [
      'an ENI already attached to the target',
      {
        ...attached,
        attachment: { ...attached.attachment, attachmentId: 'x', instanceId: 'i-new', status: 'attached' },
      },
      'ALREADY_ATTACHED',
    ],
    [
      'an ENI detaching from the target',
      { ...attached, attachment: { attachmentId: 'x', instanceId: 'i-new', status: 'detaching' } },
      'REFUSE',
    ],
    ['an in-use ENI with no attachment record', { status: 'in-use' }, 'REFUSE'],
  ] as const)('attach: %s → %s', (_, eni, expected) => {
    expect(decideAttach(eni, 'i-new')).toBe(expected);
  });
});

describe('decideServing', () => {
  const base = {
    answersOnEni: true,
    workers: 3,
    baselineWorkers: 3,
    minimumWorkers: 0,
    elapsedMs: 1_000,
    timeoutMs: 60_000,
  };
  it.each([
    ['all workers back', base, 'SERVING'],
    ['one worker missing, no minimum', { ...base, workers: 2 }, 'WAIT'],
    ['one worker missing, minimum 2 reached', { ...base, workers: 2, minimumWorkers: 2 }, 'SERVING'],
    ['minimum above the baseline: the baseline is enough', { ...base, minimumWorkers: 10 }, 'SERVING'],
    ['not answering on the ENI address', { ...base, answersOnEni: false }, 'WAIT'],
    ['workers missing at the timeout', { ...base, workers: 0, elapsedMs: 60_000 }, 'TIMEOUT'],
  ] as const)('%s → %s', (_, input, expected) => {
    expect(decideServing(input)).toBe(expected);
  });
});
