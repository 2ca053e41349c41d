import { describe, expect, it } from 'vitest';
import { dailyIndexName, decideShipment, type ItemResult } from '../../functions/query-log-ship/decide.ts';

const ok: ItemResult = { status: 201, ok: true, retryable: false };
const tooMany: ItemResult = {
  status: 429,
  ok: false,
  retryable: true,
  reason: 'es_rejected_execution_exception',
};
const badDoc: ItemResult = { status: 400, ok: false, retryable: false, reason: 'mapper_parsing_exception' };

describe('decideShipment', () => {
  it.each([
    ['stored → INDEXED', ok, 1, { kind: 'INDEXED' }],
    [
      '429 on the first attempt → RETRY',
      tooMany,
      1,
      { kind: 'RETRY', reason: '429 es_rejected_execution_exception' },
    ],
    [
      '429 on the last attempt → DEAD',
      tooMany,
      5,
      { kind: 'DEAD', reason: 'still failing after 5 attempts: 429 es_rejected_execution_exception' },
    ],
    [
      '400 (mapping) → DEAD at once, never retried',
      badDoc,
      1,
      { kind: 'DEAD', reason: 'rejected: 400 mapper_parsing_exception' },
    ],
    [
      'a failure without a reason keeps the status',
      { status: 503, ok: false, retryable: true },
      1,
      { kind: 'RETRY', reason: '503' },
    ],
  ])('%s', (_, result, receiveCount, expected) => {
    expect(decideShipment([{ messageId: 'm', receiveCount }], new Map([['m', result]]), 5)).toEqual([
      { messageId: 'm', ...expected },
    ]);
  });

  it('retries only the failed items of a mixed batch', () => {
    const outcomes = decideShipment(
      [
        { messageId: 'a', receiveCount: 1 },
        { messageId: 'b', receiveCount: 1 },
        { messageId: 'c', receiveCount: 1 },
      ],
      new Map([
        ['a', ok],
        ['b', tooMany],
        ['c', badDoc],
      ]),
      5,
    );
    expect(outcomes.map((o) => o.kind)).toEqual(['INDEXED', 'RETRY', 'DEAD']);
  });

  it('sends a message that is not a query event to the dead-letter queue without indexing it', () => {
    expect(
      decideShipment(
        [{ messageId: 'p', receiveCount: 1, parseError: 'metadata.queryId: required' }],
        new Map(),
        5,
      ),
    ).toEqual([{ messageId: 'p', kind: 'DEAD', reason: 'not a query event: metadata.queryId: required' }]);
  });

  it('retries every parsed message when the engine is unavailable, until the attempts are used up', () => {
    const outcomes = decideShipment(
      [
        { messageId: 'a', receiveCount: 1 },
        { messageId: 'b', receiveCount: 5 },
        { messageId: 'p', receiveCount: 1, parseError: 'bad json' },
      ],
      { unavailable: 'connection refused' },
      5,
    );
    expect(outcomes).toEqual([
      { messageId: 'a', kind: 'RETRY', reason: 'connection refused' },
      {
        messageId: 'b',
        kind: 'DEAD',
        reason: 'search engine unavailable after 5 attempts: connection refused',
      },
      { messageId: 'p', kind: 'DEAD', reason: 'not a query event: bad json' },
    ]);
  });

  it('retries a message the engine gave no item for, rather than lose it', () => {
    expect(decideShipment([{ messageId: 'x', receiveCount: 1 }], new Map(), 5)).toEqual([
      { messageId: 'x', kind: 'RETRY', reason: 'no bulk item result' },
    ]);
  });
});

describe('dailyIndexName', () => {
  it.each([
    ['2026-11-23T07:13:23.863Z', 'trino-queries-2026.11.23'],
    ['2026-11-23T23:59:59.999Z', 'trino-queries-2026.11.23'],
    ['2026-11-24T00:00:00.000Z', 'trino-queries-2026.11.24'],
    ['2026-11-24T01:30:00+02:00', 'trino-queries-2026.11.23'],
  ])('files a query that ended at %s under %s (UTC day)', (endTime, expected) => {
    expect(dailyIndexName('trino-queries', endTime)).toBe(expected);
  });

  it('refuses a time that is not a date', () => {
    expect(() => dailyIndexName('p', 'yesterday')).toThrow(RangeError);
  });
});
