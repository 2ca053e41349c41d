import { describe, expect, it } from 'vitest';
import {
  type CoordinatorCandidate,
  chooseStandby,
  decideAttach,
  decideAttachWait,
  decideDetach,
  decideNoStandby,
  decideServing,
  type EniView,
  failoverReport,
  planFailover,
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

describe('planFailover', () => {
  const attachedEni = {
    status: 'in-use',
    availabilityZone: 'us-east-1a',
    attachment: { attachmentId: 'eni-attach-1', instanceId: 'i-active', status: 'attached' },
  } as const;
  const deadActive = {
    instanceId: 'i-active',
    state: 'running',
    processAnswers: false,
    inAutoScalingGroup: true,
  } as const;
  const standby = candidate({ instanceId: 'i-standby', launchTimeMs: 10 });
  const base = {
    mode: 'failover' as const,
    dryRun: false,
    clusterName: 'prod',
    expectedAttachmentId: 'eni-attach-1',
    eni: attachedEni,
    active: deadActive,
    candidates: [standby],
  };

  it('moves the ENI to the healthy standby, force-detaching from a coordinator whose process is gone, terminating it in its group', () => {
    const plan = planFailover(base);
    expect(plan).toMatchObject({
      action: 'FAILOVER',
      failedInstanceId: 'i-active',
      attachmentId: 'eni-attach-1',
      standbyInstanceId: 'i-standby',
      fence: { forceDetach: true, instanceAction: 'TERMINATE' },
    });
    expect(plan.steps).toEqual([
      'detach the ENI (attachment eni-attach-1) from i-active with force',
      'wait until EC2 reports the ENI available with no attachment',
      'terminate i-active',
      'attach the ENI to standby i-standby and wait for attached',
      'wait until the coordinator answers on the ENI address and the workers have re-announced',
      'swap the role tags, publish FailoverDurationSeconds, notify',
    ]);
  });

  it('stands down when the ENI is already on another attachment (another execution moved it)', () => {
    const plan = planFailover({
      ...base,
      eni: {
        ...attachedEni,
        attachment: { attachmentId: 'eni-attach-2', instanceId: 'i-standby', status: 'attached' },
      },
    });
    expect(plan).toMatchObject({ action: 'ALREADY_MOVED', steps: [] });
    expect(plan.reason).toContain('eni-attach-2');
  });

  it('names an unknown holder when the moved attachment has no instance id', () => {
    const plan = planFailover({
      ...base,
      eni: { ...attachedEni, attachment: { attachmentId: 'eni-attach-2', status: 'attaching' } },
    });
    expect(plan.action).toBe('ALREADY_MOVED');
    expect(plan.reason).toContain('unknown');
  });

  it('stands down an automatic failover when the coordinator answers again on a healthy instance', () => {
    expect(planFailover({ ...base, active: { ...deadActive, processAnswers: true } })).toMatchObject({
      action: 'ACTIVE_HEALTHY',
      failedInstanceId: 'i-active',
    });
  });

  it.each([
    ['an impaired instance', { instanceStatus: 'impaired' }],
    ['a stopping instance', { state: 'stopping' }],
  ])('still fails over when the process answers but it is %s', (_, change) => {
    expect(planFailover({ ...base, active: { ...deadActive, processAnswers: true, ...change } }).action).toBe(
      'FAILOVER',
    );
  });

  it('moves a healthy coordinator in a drill and keeps it as a standby', () => {
    const plan = planFailover({ ...base, mode: 'drill', active: { ...deadActive, processAnswers: true } });
    expect(plan).toMatchObject({ action: 'FAILOVER', fence: { forceDetach: false, instanceAction: 'NONE' } });
    expect(plan.steps).toContain('keep i-active running (it becomes a standby)');
    expect(plan.steps[0]).toBe('detach the ENI (attachment eni-attach-1) from i-active');
  });

  it('stops an instance outside an Auto Scaling group', () => {
    const plan = planFailover({ ...base, active: { ...deadActive, inAutoScalingGroup: false } });
    expect(plan.steps).toContain('stop i-active');
  });

  it('reports a dry run with the plan and changes nothing', () => {
    const plan = planFailover({ ...base, mode: 'drill', dryRun: true });
    expect(plan).toMatchObject({ action: 'DRY_RUN', standbyInstanceId: 'i-standby' });
    expect(plan.reason).toContain('i-standby');
  });

  it('reports a dry run without a standby', () => {
    const plan = planFailover({ ...base, dryRun: true, candidates: [] });
    expect(plan.action).toBe('DRY_RUN');
    expect(plan.reason).toContain('no healthy standby');
    expect(plan.steps).toContain(
      'no healthy standby: raise the alarm, scale the coordinator group out, wait for one',
    );
  });

  it('asks for a standby when none is healthy', () => {
    expect(
      planFailover({ ...base, candidates: [candidate({ instanceId: 'i-sick', healthy: false })] }).action,
    ).toBe('NO_STANDBY');
  });

  it('attaches a detached ENI (a failover that died half-way) without a detach step or a fence', () => {
    const plan = planFailover({
      ...base,
      eni: { status: 'available', attachment: { attachmentId: 'eni-attach-1', status: 'detached' } },
    });
    const { active: _, ...withoutActive } = base;
    const unattached = planFailover({ ...withoutActive, eni: { status: 'available' } });
    for (const p of [plan, unattached]) {
      expect(p.steps[0]).toBe('the ENI is not attached: nothing to detach');
    }
    expect(unattached).toMatchObject({ action: 'FAILOVER', standbyInstanceId: 'i-standby' });
    expect(unattached.fence).toBeUndefined();
    expect(unattached.attachmentId).toBeUndefined();
  });

  it('accepts a manual start without an expected attachment, and an ENI without an AZ', () => {
    const { expectedAttachmentId: _, ...manual } = base;
    const { availabilityZone: __, ...eniNoAz } = attachedEni;
    expect(planFailover({ ...manual, eni: eniNoAz }).action).toBe('FAILOVER');
  });
});

describe('decideAttachWait', () => {
  const eni = (instanceId: string | undefined, status: string): EniView => ({
    status: 'in-use',
    ...(instanceId === undefined && status === 'none'
      ? {}
      : { attachment: { attachmentId: 'a', ...(instanceId === undefined ? {} : { instanceId }), status } }),
  });
  it.each([
    ['attached to the target', eni('i-t', 'attached'), 0, 'ATTACHED'],
    ['still attaching to the target', eni('i-t', 'attaching'), 500, 'WAIT'],
    ['attached to another instance', eni('i-x', 'attached'), 0, 'LOST'],
    ['not attached yet', eni(undefined, 'none'), 500, 'WAIT'],
    ['not attached by the deadline', eni(undefined, 'none'), 1_000, 'TIMEOUT'],
    ['attaching without an instance id past the deadline', eni(undefined, 'attaching'), 2_000, 'TIMEOUT'],
  ])('%s → %s', (_, view, elapsedMs, expected) => {
    expect(decideAttachWait(view, 'i-t', elapsedMs, 1_000)).toBe(expected);
  });
});

describe('decideNoStandby', () => {
  it.each([
    ['gives up when the waits are used up', 5, undefined, { giveUp: true }],
    ['waits when no coordinator group is configured', 0, undefined, { giveUp: false }],
    [
      'scales out by one when nothing is launching',
      0,
      { desiredCapacity: 2, maxSize: 3, pendingInstances: 0 },
      { giveUp: false, scaleOutTo: 3 },
    ],
    [
      'waits while an instance is launching',
      1,
      { desiredCapacity: 3, maxSize: 3, pendingInstances: 1 },
      { giveUp: false },
    ],
    [
      'waits at the group maximum (the group replaces terminated instances itself)',
      1,
      { desiredCapacity: 3, maxSize: 3, pendingInstances: 0 },
      { giveUp: false },
    ],
  ])('%s', (_, waits, group, expected) => {
    expect(decideNoStandby(waits, 5, group)).toEqual(expected);
  });
});

describe('failoverReport', () => {
  it('measures from the first failed probe', () => {
    expect(
      failoverReport({
        failureAtMs: 1_000,
        startedAtMs: 16_000,
        detachedAtMs: 17_000,
        attachedAtMs: 18_000,
        servingAtMs: 18_500,
        workersBackAtMs: 30_000,
        endedAtMs: 30_100,
      }),
    ).toEqual({
      detectedAfterMs: 15_000,
      servingAfterMs: 17_500,
      workersBackAfterMs: 29_000,
      controlPlaneMs: 2_500,
      totalMs: 29_100,
    });
  });

  it('leaves out what did not happen', () => {
    expect(failoverReport({ failureAtMs: 0, startedAtMs: 10, endedAtMs: 50 })).toEqual({
      detectedAfterMs: 10,
      totalMs: 50,
    });
  });
});
