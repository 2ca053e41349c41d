import { describe, expect, it } from 'vitest';
import {
  type CoordinatorCandidate,
  chooseStandby,
  decideAttach,
  decideAttachWait,
  decideDetach,
  decideNoStandby,
  decideRecovery,
  decideServing,
  type EniView,
  failoverReport,
  planFailover,
  planFence,
} from '../../functions/coordinator-failover/decide.ts';
import {
  assessRound,
  failoverExecutionName,
  HEALTHY,
  type ProbeRound,
} from '../../functions/coordinator-health/decide.ts';

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
    [{ eni: 'DETACHED' }, 'ENI_DETACHED'],
    [{ eni: 'ATTACHED', instanceState: 'stopped' }, 'INSTANCE_NOT_RUNNING'],
    [{ eni: 'ATTACHED', instanceState: 'terminated' }, 'INSTANCE_NOT_RUNNING'],
    [{ eni: 'ATTACHED', instanceState: 'running', instanceStatus: 'impaired' }, 'STATUS_IMPAIRED'],
    [{ eni: 'ATTACHED', instanceState: 'running', viaPrimary: 'FAILED' }, 'PRIMARY_ADDRESS_FAILED'],
  ] as const)('accepts %o as the independent signal (%s)', (signal, name) => {
    const verdicts = run([{ viaEni: 'FAILED' }, { viaEni: 'FAILED' }, { viaEni: 'FAILED', ...signal }]);
    expect(verdicts[2]).toMatchObject({ confirmedFailure: true, secondSignal: name });
  });

  it.each([
    ['the ENI could not be read (EC2 throttled)', { eni: 'UNKNOWN' }, ['eni']],
    [
      'the instance and its status could not be read',
      { eni: 'ATTACHED', instanceState: 'UNKNOWN', instanceStatus: 'UNKNOWN' },
      ['instanceState', 'instanceStatus'],
    ],
    [
      'there was no primary address to probe',
      { eni: 'ATTACHED', instanceState: 'running', instanceStatus: 'ok', viaPrimary: 'UNKNOWN' },
      ['viaPrimary'],
    ],
  ] as const)('never confirms on an unknown: %s', (_, signals, unknownSignals) => {
    const verdicts = run(Array.from({ length: 5 }, () => ({ viaEni: 'FAILED' as const, ...signals })));
    expect(verdicts.some((v) => v.confirmedFailure)).toBe(false);
    expect(verdicts.at(-1)).toMatchObject({ healthy: false, unknownSignals });
    expect(verdicts.at(-1)?.secondSignal).toBeUndefined();
    expect(verdicts.at(-1)?.state.consecutiveFailures).toBe(5);
  });

  it('confirms on the first round whose signal is known, after unknown rounds', () => {
    const verdicts = run([
      { viaEni: 'FAILED', eni: 'UNKNOWN' },
      { viaEni: 'FAILED', eni: 'UNKNOWN' },
      { viaEni: 'FAILED', eni: 'UNKNOWN' },
      {
        viaEni: 'FAILED',
        eni: 'ATTACHED',
        instanceState: 'running',
        instanceStatus: 'ok',
        viaPrimary: 'FAILED',
      },
    ]);
    expect(verdicts.map((v) => v.confirmedFailure)).toEqual([false, false, false, true]);
    expect(verdicts[3]).toMatchObject({ secondSignal: 'PRIMARY_ADDRESS_FAILED', failingForMs: 15_000 });
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
  lifecycleState: 'InService',
  healthy: true,
  launchTimeMs: 100,
  availabilityZone: 'us-east-1a',
  ...overrides,
});

describe('chooseStandby', () => {
  it('chooses the longest-running healthy member of the coordinator group in the ENI AZ', () => {
    expect(
      chooseStandby(
        [
          candidate({ instanceId: 'i-new', launchTimeMs: 500 }),
          candidate({ instanceId: 'i-old', launchTimeMs: 50 }),
          candidate({ instanceId: 'i-other-az', launchTimeMs: 1, availabilityZone: 'us-east-1b' }),
        ],
        'us-east-1a',
      ),
    ).toBe('i-old');
  });

  it.each([
    ['unhealthy', { healthy: false }],
    ['stopped', { state: 'stopped' }],
    ['still launching', { lifecycleState: 'Pending' }],
    ['being terminated by its group', { lifecycleState: 'Terminating' }],
    ['in standby in its group', { lifecycleState: 'Standby' }],
  ])('skips a member that is %s and takes the next one', (_, overrides) => {
    expect(
      chooseStandby(
        [
          candidate({ instanceId: 'i-bad', launchTimeMs: 1, ...overrides }),
          candidate({ instanceId: 'i-good' }),
        ],
        'us-east-1a',
      ),
    ).toBe('i-good');
  });

  it('excludes the failed instance and returns undefined when no standby is left', () => {
    expect(chooseStandby([candidate({ instanceId: 'i-failed' })], 'us-east-1a', 'i-failed')).toBeUndefined();
    expect(chooseStandby([], undefined)).toBeUndefined();
  });

  it('breaks launch-time ties by instance id', () => {
    expect(
      chooseStandby([candidate({ instanceId: 'i-b' }), candidate({ instanceId: 'i-a' })], undefined),
    ).toBe('i-a');
  });
});

describe('planFence', () => {
  const base = { instanceState: 'running', processAnswers: false, inAutoScalingGroup: true, drill: false };
  it.each([
    [
      'a hung process in an Auto Scaling group',
      base,
      { forceDetach: true, instanceAction: 'TERMINATE', inAutoScalingGroup: true },
    ],
    [
      'a hung process outside a group',
      { ...base, inAutoScalingGroup: false },
      { forceDetach: true, instanceAction: 'STOP', inAutoScalingGroup: false },
    ],
    [
      'an impaired instance',
      { ...base, instanceStatus: 'impaired', processAnswers: true },
      { forceDetach: true, instanceAction: 'TERMINATE', inAutoScalingGroup: true },
    ],
    [
      'a stopped instance',
      { ...base, instanceState: 'stopped' },
      { forceDetach: true, instanceAction: 'TERMINATE', inAutoScalingGroup: true },
    ],
    [
      'a terminated instance',
      { ...base, instanceState: 'terminated' },
      { forceDetach: true, instanceAction: 'NONE', inAutoScalingGroup: true },
    ],
    [
      'an instance shutting down',
      { ...base, instanceState: 'shutting-down' },
      { forceDetach: true, instanceAction: 'NONE', inAutoScalingGroup: true },
    ],
    [
      'a healthy coordinator in a drill',
      { ...base, processAnswers: true, drill: true },
      { forceDetach: false, instanceAction: 'NONE', inAutoScalingGroup: true },
    ],
    [
      'a coordinator that answers but is being failed over (not a drill)',
      { ...base, processAnswers: true },
      { forceDetach: false, instanceAction: 'TERMINATE', inAutoScalingGroup: true },
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

  const movedTo = (instanceId: string): EniView => ({
    status: 'in-use',
    attachment: { attachmentId: 'eni-attach-2', instanceId, status: 'attached', deviceIndex: 1 },
  });

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
    [
      'attached under another attachment (a second mover promoted a coordinator)',
      movedTo('i-new'),
      20_000,
      false,
      'MOVED',
    ],
    [
      'attaching under another attachment',
      { status: 'in-use', attachment: { attachmentId: 'x', status: 'attaching' } },
      0,
      false,
      'MOVED',
    ],
  ] as const)('detach: %s → %s', (_, eni, elapsed, forced, expected) => {
    expect(decideDetach(eni, 'eni-attach-1', elapsed, forced, limits)).toBe(expected);
  });

  it('never forces a detach of an attachment it did not plan: a plan without an attachment sees any attachment as MOVED', () => {
    expect(decideDetach(attached, undefined, 30_000, false, limits)).toBe('MOVED');
  });

  it.each([
    ['an available ENI', available, 'ATTACH'],
    ['an ENI attached elsewhere (AWS refuses; moto would not): another actor moved it', attached, 'MOVED'],
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
      fence: { forceDetach: true, instanceAction: 'TERMINATE', inAutoScalingGroup: true },
    });
    expect(plan.steps).toEqual([
      'detach the ENI (attachment eni-attach-1) from i-active with force',
      'wait until EC2 reports the ENI available with no attachment',
      'terminate i-active',
      'attach the ENI to standby i-standby and wait for attached',
      'wait until the coordinator answers on the ENI address and the workers have re-announced',
      'publish FailoverDurationSeconds, notify',
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

  it('stands down as LOCKED, before anything else, when another execution holds the lock', () => {
    const plan = planFailover({
      ...base,
      lock: { holds: false, holderArn: 'arn:aws:states:us-east-1:1:execution:sm:first', reason: 'held' },
    });
    expect(plan).toEqual({ action: 'LOCKED', reason: 'held', steps: [] });
  });

  it('plans as usual when this execution holds the lock, and a dry run ignores a lock it was not given', () => {
    expect(planFailover({ ...base, lock: { holds: true, reason: 'first' } }).action).toBe('FAILOVER');
    expect(
      planFailover({
        ...base,
        mode: 'drill',
        dryRun: true,
        lock: { holds: false, holderArn: 'x', reason: 'held' },
      }).action,
    ).toBe('DRY_RUN');
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
    ['attached to another instance', eni('i-x', 'attached'), 0, 'MOVED'],
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
      { desiredCapacity: 2, maxSize: 3, pendingInstances: 0, bootingInstances: 0 },
      { giveUp: false, scaleOutTo: 3 },
    ],
    [
      'waits while an instance is launching',
      1,
      { desiredCapacity: 3, maxSize: 3, pendingInstances: 1, bootingInstances: 0 },
      { giveUp: false },
    ],
    [
      'waits at the group maximum (the group replaces terminated instances itself)',
      1,
      { desiredCapacity: 3, maxSize: 3, pendingInstances: 0, bootingInstances: 0 },
      { giveUp: false },
    ],
    [
      'waits while an InService instance is still booting (a new cluster: every coordinator starts at once)',
      0,
      { desiredCapacity: 2, maxSize: 3, pendingInstances: 0, bootingInstances: 1 },
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

describe('decideRecovery (a failed execution never leaves the ENI detached on a guess)', () => {
  const available = { status: 'available', availabilityZone: 'us-east-1a' } as const;
  const old = {
    instanceId: 'i-old',
    answers: true,
    state: 'running',
    fenceAction: 'TERMINATE' as const,
    fenced: true,
  };
  it.each([
    ['not fenced yet, running, the plan terminates it', { fenced: false }, true],
    ['not fenced yet, the plan stops it', { fenced: false, fenceAction: 'STOP' as const }, true],
    ['already fenced by this execution', {}, false],
    ['kept by a drill (fence NONE)', { fenced: false, fenceAction: 'NONE' as const }, false],
    ['already terminated', { fenced: false, state: 'terminated' }, false],
    ['already stopped', { fenced: false, state: 'stopped' }, false],
  ])(
    'fences the old holder first when it goes to another instance and the holder is %s',
    (_, change, fence) => {
      const decision = decideRecovery(available, [candidate({ instanceId: 'i-sb' })], { ...old, ...change });
      expect(decision).toMatchObject({ action: 'ATTACH', instanceId: 'i-sb', fenceFirst: fence });
      expect(decision.reason.includes('fencing i-old first')).toBe(fence);
    },
  );
  it('never fences when there was no old holder', () => {
    expect(decideRecovery(available, [candidate({ instanceId: 'i-sb' })], undefined)).toMatchObject({
      action: 'ATTACH',
      fenceFirst: false,
    });
  });
  it('reads an available ENI with a detached attachment record as detached', () => {
    expect(
      decideRecovery(
        { ...available, attachment: { attachmentId: 'a', status: 'detached' } },
        [candidate()],
        old,
      ),
    ).toMatchObject({ action: 'ATTACH', instanceId: 'i-standby-1' });
  });
  it('attaches a detached ENI to a healthy standby, never to the old holder first', () => {
    expect(
      decideRecovery(
        available,
        [candidate({ instanceId: 'i-old', launchTimeMs: 1 }), candidate({ instanceId: 'i-sb' })],
        old,
      ),
    ).toMatchObject({ action: 'ATTACH', instanceId: 'i-sb' });
  });
  it('gives the ENI back to the old holder when no standby is healthy and the old holder answers', () => {
    expect(decideRecovery(available, [candidate({ instanceId: 'i-sb', healthy: false })], old)).toMatchObject(
      {
        action: 'ATTACH',
        instanceId: 'i-old',
        fenceFirst: false,
      },
    );
  });
  it.each([
    ['the old holder does not answer', { ...old, answers: false }],
    ['the old holder is stopped', { ...old, state: 'stopped' }],
    ['there is no old holder', undefined],
  ])('reports a headless cluster when %s', (_, holder) => {
    expect(decideRecovery(available, [], holder)).toMatchObject({ action: 'NONE' });
    expect(decideRecovery(available, [], holder).reason).toContain('headless');
  });
  it.each([
    [
      'still attached',
      { status: 'in-use', attachment: { attachmentId: 'a', instanceId: 'i-x', status: 'attached' } },
    ],
    ['detaching', { status: 'detaching' }],
  ] as const)('does nothing when the ENI is %s', (_, eni) => {
    expect(decideRecovery(eni, [candidate()], old)).toMatchObject({ action: 'NONE' });
  });
});

describe('failoverExecutionName (the lock never burns: one name per minute, attachment and cluster)', () => {
  const minute = 29_000_000 * 60_000;
  it('gives two detectors confirming the same failure in the same minute the same name', () => {
    expect(failoverExecutionName('prod', 'eni-attach-0123456789abcdef0', minute + 1_000)).toBe(
      failoverExecutionName('prod', 'eni-attach-0123456789abcdef0', minute + 59_000),
    );
  });
  it('gives a later failure of the same coordinator a new name', () => {
    expect(failoverExecutionName('prod', 'eni-attach-1', minute)).not.toBe(
      failoverExecutionName('prod', 'eni-attach-1', minute + 60_000),
    );
  });
  it('names a detached ENI and keeps within 80 allowed characters', () => {
    const name = failoverExecutionName('a-very-long-cluster-name-of-forty-chars', undefined, minute);
    expect(name).toContain('detached');
    const long = failoverExecutionName(
      'a-very-long-cluster-name-of-forty-chars',
      'eni-attach-0123456789abcdef0',
      minute,
    );
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(failoverExecutionName('prod.x', 'a', minute)).toBe(`failover-${29_000_000}-prod_x-a`);
  });
});
