/**
 * The failover lock's decision (lib/failover-lock.ts): the earliest RUNNING execution that is not a dry run holds it,
 * whoever started it; an unreadable one counts as a holder; the order is total.
 */
import { describe, expect, it } from 'vitest';
import {
  decideLock,
  type LockCandidate,
  type LockReading,
  readLockInput,
  stateMachineOf,
} from '../../lib/failover-lock.ts';

const SM = 'arn:aws:states:us-east-1:123456789012:execution:trino-sentinel-prod-coordinator-failover';
const self = { executionArn: `${SM}:b-self`, startDateMs: 2_000 };
const other = (name: string, startDateMs: number, reading: LockReading): LockCandidate => ({
  executionArn: `${SM}:${name}`,
  startDateMs,
  reading,
});

describe('decideLock', () => {
  it('holds when nothing else runs', () => {
    expect(decideLock(self, [])).toMatchObject({ holds: true });
  });

  it('skips itself in the list ListExecutions returned', () => {
    expect(decideLock(self, [{ ...self, reading: 'REAL' }])).toMatchObject({ holds: true });
  });

  it.each<[string, LockCandidate, boolean]>([
    ['a real execution started earlier holds it', other('a', 1_000, 'REAL'), false],
    [
      'an unreadable execution started earlier holds it (unknown never moves)',
      other('a', 1_000, 'UNKNOWN'),
      false,
    ],
    ['a dry run started earlier does not', other('a', 1_000, 'DRY_RUN'), true],
    ['an execution gone since the list does not', other('a', 1_000, 'GONE'), true],
    ['a real execution started later does not', other('c', 3_000, 'REAL'), true],
    ['same start: the smaller ARN holds it (a)', other('a', 2_000, 'REAL'), false],
    ['same start: the larger ARN does not (c)', other('c', 2_000, 'REAL'), true],
  ])('%s', (_label, candidate, holds) => {
    expect(decideLock(self, [candidate]).holds).toBe(holds);
  });

  it('names the earliest holder among several, and says when its input was unreadable', () => {
    const decision = decideLock(self, [
      other('late', 3_000, 'REAL'),
      other('second', 1_500, 'REAL'),
      other('first', 1_000, 'UNKNOWN'),
      other('dry', 500, 'DRY_RUN'),
    ]);
    expect(decision).toEqual({
      holds: false,
      holderArn: `${SM}:first`,
      reason: `Failover execution ${SM}:first started earlier and still runs (its input could not be read: taken as a real failover): it holds the lock`,
    });
  });

  it.each([
    ['ascending', [100, 200, 300]],
    ['descending', [300, 200, 100]],
    ['mixed', [200, 100, 300]],
  ])('finds the earliest holder whatever order ListExecutions returned (%s)', (_label, starts) => {
    const decision = decideLock(
      self,
      starts.map((ms) => other(`e${ms}`, ms, 'REAL')),
    );
    expect(decision).toMatchObject({ holds: false, holderArn: `${SM}:e100` });
  });

  it('is the same decision for every reader: exactly one of two racing executions holds it', () => {
    const a = { executionArn: `${SM}:a`, startDateMs: 5 };
    const b = { executionArn: `${SM}:b`, startDateMs: 5 };
    const aHolds = decideLock(a, [{ ...b, reading: 'REAL' }]).holds;
    const bHolds = decideLock(b, [{ ...a, reading: 'REAL' }]).holds;
    expect([aHolds, bHolds]).toEqual([true, false]);
  });
});

describe('readLockInput', () => {
  it.each<[string | undefined, LockReading]>([
    ['{"mode":"drill","dryRun":true}', 'DRY_RUN'],
    ['{"mode":"drill","dryRun":false}', 'REAL'],
    ['{"mode":"failover"}', 'REAL'],
    ['{"dryRun":"true"}', 'REAL'],
    ['null', 'REAL'],
    ['[1]', 'REAL'],
    ['not json', 'REAL'],
    [undefined, 'GONE'],
  ])('%s → %s', (input, reading) => {
    expect(readLockInput(input)).toBe(reading);
  });
});

describe('stateMachineOf', () => {
  it.each<[string, string | undefined]>([
    [
      `${SM}:name`,
      'arn:aws:states:us-east-1:123456789012:stateMachine:trino-sentinel-prod-coordinator-failover',
    ],
    ['arn:aws-cn:states:cn-north-1:1:execution:sm:n', 'arn:aws-cn:states:cn-north-1:1:stateMachine:sm'],
    ['arn:aws:states:us-east-1:1:stateMachine:sm', undefined],
    ['arn:aws:lambda:us-east-1:1:execution:sm:n', undefined],
    ['not-an-arn:aws:states:us-east-1:1:execution:sm:n', undefined],
    ['arn:aws:states', undefined],
  ])('%s → %s', (arn, machine) => {
    expect(stateMachineOf(arn)).toBe(machine);
  });
});
