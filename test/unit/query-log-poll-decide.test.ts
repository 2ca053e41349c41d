import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { selectCompletedQueries, toCompletedEvent } from '../../functions/query-log-poll/decide.ts';
import { QueryCompletedEventSchema, toQueryLogDocument } from '../../lib/trino/query-events.ts';
import { QueryInfoSchema } from '../../lib/trino/schemas.ts';

const q = (queryId: string, state: string, endTimeMs?: number) => ({
  queryId,
  state,
  ...(endTimeMs === undefined ? {} : { endTimeMs }),
});

describe('selectCompletedQueries', () => {
  it('takes every finished or failed query on the first poll, oldest first, and skips running ones', () => {
    expect(
      selectCompletedQueries(
        [q('b', 'FINISHED', 20), q('a', 'FAILED', 10), q('r', 'RUNNING'), q('x', 'FINISHED')],
        undefined,
        100,
      ),
    ).toEqual({ selected: ['a', 'b'], next: { endTimeMs: 20, queryIdsAtEnd: ['b'] }, possibleGap: false });
  });

  it('takes only what ended after the watermark, or at it but not shipped yet', () => {
    const result = selectCompletedQueries(
      [
        q('old', 'FINISHED', 10),
        q('same-shipped', 'FINISHED', 20),
        q('same-new', 'FINISHED', 20),
        q('new', 'FAILED', 30),
      ],
      { endTimeMs: 20, queryIdsAtEnd: ['same-shipped'] },
      100,
    );
    expect(result).toEqual({
      selected: ['same-new', 'new'],
      next: { endTimeMs: 30, queryIdsAtEnd: ['new'] },
      possibleGap: false,
    });
  });

  it('keeps the ids already shipped at the same end time when the watermark does not move forward', () => {
    expect(
      selectCompletedQueries(
        [q('a', 'FINISHED', 20), q('b', 'FINISHED', 20)],
        { endTimeMs: 20, queryIdsAtEnd: ['a'] },
        100,
      ).next,
    ).toEqual({ endTimeMs: 20, queryIdsAtEnd: ['a', 'b'] });
  });

  it('orders queries that ended at the same time by id, and remembers all of them in the watermark', () => {
    expect(selectCompletedQueries([q('d', 'FINISHED', 5), q('c', 'FINISHED', 5)], undefined, 10)).toEqual({
      selected: ['c', 'd'],
      next: { endTimeMs: 5, queryIdsAtEnd: ['c', 'd'] },
      possibleGap: false,
    });
  });

  it('ships at most maxQueries per poll, the oldest first, and moves the watermark only that far', () => {
    expect(
      selectCompletedQueries(
        [q('c', 'FINISHED', 3), q('a', 'FINISHED', 1), q('b', 'FINISHED', 2)],
        undefined,
        2,
      ),
    ).toEqual({
      selected: ['a', 'b'],
      next: { endTimeMs: 2, queryIdsAtEnd: ['b'] },
      possibleGap: false,
    });
  });

  it('keeps the watermark when nothing is new', () => {
    const watermark = { endTimeMs: 20, queryIdsAtEnd: ['a'] };
    expect(selectCompletedQueries([q('a', 'FINISHED', 20)], watermark, 100)).toEqual({
      selected: [],
      next: watermark,
      possibleGap: false,
    });
  });

  it('flags a possible gap when no retained query reaches back to the watermark (queries may have expired unseen)', () => {
    expect(
      selectCompletedQueries([q('n', 'FINISHED', 50)], { endTimeMs: 20, queryIdsAtEnd: ['a'] }, 100)
        .possibleGap,
    ).toBe(true);
  });
});

describe('toCompletedEvent (recorded Trino 476 QueryInfo)', () => {
  it.each([
    ['finished', 'FINISHED', undefined],
    ['failed', 'FAILED', 'SYNTAX_ERROR'],
  ])('maps a %s query to the listener event shape the shipper indexes', (name, state, errorName) => {
    const info = QueryInfoSchema.parse(
      JSON.parse(readFileSync(`test/fixtures/trino-476/v1-query-info-${name}.json`, 'utf8')),
    );
    const event = QueryCompletedEventSchema.parse(toCompletedEvent(info));
    const doc = toQueryLogDocument(event);
    expect(doc).toMatchObject({ queryId: info.queryId, queryState: state, user: 'sentinel' });
    expect(doc.endTime).toBe(info.queryStats.endTime);
    expect(doc.errorCode).toBe(errorName);
    expect(event.sentinelSource).toBe('poller');
  });

  it('converts airlift durations to seconds and data sizes to bytes', () => {
    const info = QueryInfoSchema.parse(
      JSON.parse(readFileSync('test/fixtures/trino-476/v1-query-info-finished.json', 'utf8')),
    );
    const event = toCompletedEvent({
      ...info,
      queryStats: {
        ...info.queryStats,
        totalCpuTime: '1.50s',
        elapsedTime: '2.00m',
        peakUserMemoryReservation: '2kB',
      },
    });
    expect(event.statistics).toMatchObject({ cpuTime: 1.5, wallTime: 120, peakUserMemoryBytes: 2048 });
  });

  it('falls back to the create time for a query without execution start or end, and leaves out absent fields', () => {
    const event = toCompletedEvent({
      queryId: 'q1',
      session: { user: 'u' },
      state: 'FAILED',
      query: 'x',
      queryStats: { createTime: '2026-11-23T07:00:00.000Z' },
      errorCode: { code: 1, name: 'SYNTAX_ERROR' },
    });
    expect(event).toMatchObject({
      executionStartTime: '2026-11-23T07:00:00.000Z',
      endTime: '2026-11-23T07:00:00.000Z',
      context: { user: 'u' },
      failureInfo: { errorCode: { code: 1, name: 'SYNTAX_ERROR' } },
      statistics: { cpuTime: 0, outputRows: 0 },
    });
    expect(event.metadata).toEqual({ queryId: 'q1', query: 'x', queryState: 'FAILED' });
  });
});
