import { describe, expect, it } from 'vitest';
import {
  assessMember,
  decideNodeHealth,
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
