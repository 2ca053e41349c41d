import { describe, expect, it } from 'vitest';
import {
  ALL_FAILED_MIN_PROBES,
  assessMember,
  decideNodeHealth,
  groupsWhereEveryProbeFailed,
  type MemberObservation,
} from '../../functions/node-health/decide.ts';

const policy = { unhealthyAfterMs: 300_000, launchGraceMs: 600_000 };
const NOW = 10_000_000;
const worker = (overrides: Partial<MemberObservation> = {}): MemberObservation => ({
  instanceId: 'i-0000000000000000a',
  group: 'worker',
  lifecycleState: 'InService',
  launchTimeMs: NOW - 3_600_000,
  announced: true,
  process: 'ACTIVE',
  ...overrides,
});
const standby = (overrides: Partial<MemberObservation> = {}): MemberObservation => ({
  instanceId: 'i-0000000000000000c',
  group: 'coordinator',
  lifecycleState: 'InService',
  launchTimeMs: NOW - 3_600_000,
  holdsEni: false,
  process: 'ANSWERS',
  ...overrides,
});

describe('assessMember', () => {
  it.each([
    ['an announced, answering worker', worker(), 'HEALTHY'],
    [
      'a worker the coordinator does not list (not announced: wrong discovery, version skew)',
      worker({ announced: false }),
      'BAD',
    ],
    ['a worker whose process does not answer', worker({ process: 'UNREACHABLE' }), 'BAD'],
    ['a worker shutting down (a drain)', worker({ process: 'SHUTTING_DOWN', announced: false }), 'SKIPPED'],
    ['a worker draining', worker({ process: 'DRAINING' }), 'SKIPPED'],
    ['a worker drained', worker({ process: 'DRAINED', announced: false }), 'SKIPPED'],
    [
      'a worker in Terminating:Wait',
      worker({ lifecycleState: 'Terminating:Wait', process: 'UNREACHABLE' }),
      'SKIPPED',
    ],
    ['a worker still launching', worker({ lifecycleState: 'Pending' }), 'SKIPPED'],
    ['a worker within its launch grace', worker({ launchTimeMs: NOW - 60_000, announced: false }), 'SKIPPED'],
    ['a worker when /v1/node could not be read', worker({ announced: 'UNKNOWN' }), 'UNKNOWN'],
    ['a worker with no announcement reading at all', worker({ announced: undefined }), 'UNKNOWN'],
    ['a worker with no address to probe', worker({ process: 'UNKNOWN' }), 'UNKNOWN'],
    ['an answering standby', standby(), 'HEALTHY'],
    ['a standby that does not answer', standby({ process: 'UNREACHABLE' }), 'BAD'],
    ['a standby with no address to probe', standby({ process: 'UNKNOWN' }), 'UNKNOWN'],
    [
      'the ENI holder, even when it does not answer',
      standby({ holdsEni: true, process: 'UNREACHABLE' }),
      'SKIPPED',
    ],
  ])('%s → %s', (_, member, verdict) => {
    expect(assessMember(member, policy, NOW).verdict).toBe(verdict);
  });
});

describe('decideNodeHealth', () => {
  it('starts counting at the first bad round and marks nothing yet', () => {
    const decision = decideNodeHealth([worker({ announced: false })], {}, policy, NOW);
    expect(decision).toEqual({
      markUnhealthy: [],
      state: { 'i-0000000000000000a': NOW },
      verdicts: { 'i-0000000000000000a': 'BAD' },
      everyProbeFailed: [],
    });
  });

  it('marks a node bad for unhealthyAfterMs in a row, and forgets it once marked', () => {
    const decision = decideNodeHealth(
      [worker({ process: 'UNREACHABLE' }), standby({ process: 'UNREACHABLE' })],
      { 'i-0000000000000000a': NOW - 300_000, 'i-0000000000000000c': NOW - 299_999 },
      policy,
      NOW,
    );
    expect(decision.markUnhealthy).toEqual([
      {
        instanceId: 'i-0000000000000000a',
        group: 'worker',
        badForMs: 300_000,
        reason: 'worker process does not answer',
      },
    ]);
    expect(decision.state).toEqual({ 'i-0000000000000000c': NOW - 299_999 });
  });

  it('clears a node that recovers, keeps the evidence through an UNKNOWN round, drops instances no longer seen', () => {
    const decision = decideNodeHealth(
      [worker(), standby({ process: 'UNKNOWN' })],
      {
        'i-0000000000000000a': NOW - 100_000,
        'i-0000000000000000c': NOW - 200_000,
        'i-0000000000000000f': NOW - 1,
      },
      policy,
      NOW,
    );
    expect(decision.state).toEqual({ 'i-0000000000000000c': NOW - 200_000 });
    expect(decision.markUnhealthy).toEqual([]);
  });

  it('never marks on UNKNOWN rounds alone, however long', () => {
    const decision = decideNodeHealth([worker({ announced: 'UNKNOWN' })], {}, policy, NOW);
    expect(decision).toEqual({
      markUnhealthy: [],
      state: {},
      verdicts: { 'i-0000000000000000a': 'UNKNOWN' },
      everyProbeFailed: [],
    });
  });

  it('does not carry a node that is skipped (a drain in progress)', () => {
    const decision = decideNodeHealth(
      [worker({ process: 'SHUTTING_DOWN' })],
      { 'i-0000000000000000a': NOW - 1_000_000 },
      policy,
      NOW,
    );
    expect(decision.state).toEqual({});
    expect(decision.markUnhealthy).toEqual([]);
  });
});

describe('every probe of a group failed (a configuration or network problem, not N sick nodes)', () => {
  const w = (n: number, overrides: Partial<MemberObservation> = {}) =>
    worker({ instanceId: `i-000000000000000a${n}`, ...overrides });
  const s = (n: number, overrides: Partial<MemberObservation> = {}) =>
    standby({ instanceId: `i-000000000000000c${n}`, ...overrides });
  const down = { process: 'UNREACHABLE' };

  it.each([
    ['every worker unreachable', [w(1, down), w(2, down), w(3, down)], ['worker']],
    ['one worker of three answers', [w(1, down), w(2, down), w(3)], []],
    ['a draining worker answered', [w(1, down), w(2, { process: 'DRAINING' })], []],
    [`a lone worker unreachable (fewer than ${ALL_FAILED_MIN_PROBES} probes cannot tell)`, [w(1, down)], []],
    [
      'the only other worker was not probed (no address: UNKNOWN)',
      [w(1, down), w(2, { process: 'UNKNOWN' })],
      [],
    ],
    ['the other worker is still in its launch grace', [w(1, down), w(2, { ...down, launchTimeMs: NOW })], []],
    ['the other worker is Pending', [w(1, down), w(2, { ...down, lifecycleState: 'Pending' })], []],
    [
      'the standby and the ENI holder (control probe) both unreachable',
      [s(1, down), s(2, { ...down, holdsEni: true })],
      ['coordinator'],
    ],
    [
      'a lone standby unreachable while the ENI holder answers on its primary address',
      [s(1, down), s(2, { holdsEni: true })],
      [],
    ],
    [
      'both groups: every worker and every coordinator unreachable',
      [w(1, down), w(2, down), s(1, down), s(2, { ...down, holdsEni: true })],
      ['worker', 'coordinator'],
    ],
  ])('%s → %j', (_, members, groups) => {
    expect(groupsWhereEveryProbeFailed(members, policy, NOW)).toEqual(groups);
  });

  it('marks none of a group whose every probe failed and keeps the evidence as it was (neither cleared nor advanced)', () => {
    const decision = decideNodeHealth(
      [w(1, down), w(2, down), s(1, down), s(2, { holdsEni: true })],
      { 'i-000000000000000a1': NOW - 900_000, 'i-000000000000000c1': NOW - 900_000 },
      policy,
      NOW,
    );
    expect(decision.everyProbeFailed).toEqual(['worker']);
    // The standby is marked: its holder answered on the same kind of address, so the template is right.
    expect(decision.markUnhealthy.map((n) => n.instanceId)).toEqual(['i-000000000000000c1']);
    expect(decision.state).toEqual({ 'i-000000000000000a1': NOW - 900_000 });
    expect(decision.verdicts).toMatchObject({
      'i-000000000000000a1': 'UNKNOWN',
      'i-000000000000000a2': 'UNKNOWN',
      'i-000000000000000c1': 'BAD',
      'i-000000000000000c2': 'SKIPPED',
    });
  });
});
