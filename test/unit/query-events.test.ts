/**
 * The QueryCompletedEvent schema and its mapping to the indexed document, over payloads captured from a real
 * secure Trino 476 cluster's HTTP event listener (test/fixtures/trino-476/http-event-listener-*.json), plus the
 * SQL literal redaction's tricky cases.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BULKY_EVENT_FIELDS,
  QueryCompletedEventSchema,
  shrinkEventJson,
  toQueryLogDocument,
} from '../../lib/trino/query-events.ts';
import { redactSqlLiterals } from '../../lib/trino/sql-redact.ts';

const raw = (name: 'finished' | 'failed-syntax' | 'cancelled') =>
  readFileSync(`test/fixtures/trino-476/http-event-listener-query-completed-${name}.json`, 'utf8');
const event = (name: 'finished' | 'failed-syntax' | 'cancelled') =>
  QueryCompletedEventSchema.parse(JSON.parse(raw(name)));
const options = { sqlMaxLength: 10_000, redactSql: false };

describe('QueryCompletedEventSchema over real Trino 476 payloads', () => {
  it.each([
    ['finished', 'FINISHED'],
    ['failed-syntax', 'FAILED'],
    ['cancelled', 'FAILED'],
  ] as const)('parses the %s event (state %s)', (name, state) => {
    const parsed = event(name);
    expect(parsed.metadata.queryState).toBe(state);
    expect(parsed.metadata.queryId).toMatch(/^\d{8}_\d{6}_\d{5}_[a-z0-9]{5}$/);
    expect(parsed.context.serverVersion).toBe('476');
  });

  it('keeps fields it does not know (loose objects)', () => {
    const parsed = event('finished');
    expect(parsed.statistics).toHaveProperty('operatorSummaries');
    expect(parsed.context).toHaveProperty('originalRoles');
  });

  it.each([
    ['metadata.queryId', (e: Record<string, Record<string, unknown>>) => delete e.metadata?.queryId],
    ['context.user', (e: Record<string, Record<string, unknown>>) => delete e.context?.user],
    ['statistics.cpuTime', (e: Record<string, Record<string, unknown>>) => delete e.statistics?.cpuTime],
    ['endTime', (e: Record<string, unknown>) => delete e.endTime],
  ])('rejects an event without %s and names the path', (path, mutate) => {
    const body = JSON.parse(raw('finished'));
    mutate(body);
    const result = QueryCompletedEventSchema.safeParse(body);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('rejects a Duration rendered as a string (the airlift "1.75s" form is not what 476 sends)', () => {
    const body = JSON.parse(raw('finished'));
    body.statistics.wallTime = '5.97s';
    expect(QueryCompletedEventSchema.safeParse(body).success).toBe(false);
  });
});

describe('toQueryLogDocument', () => {
  it('maps the finished query: ids, context, times in UTC, durations in ms, bytes, tables read', () => {
    const doc = toQueryLogDocument(event('finished'), options);
    expect(doc).toMatchObject({
      queryId: '20261123_071323_00001_j3ux5',
      query: 'SELECT count(*) FROM tpch.tiny.orders',
      queryTruncated: false,
      queryRedacted: false,
      queryLength: 37,
      queryState: 'FINISHED',
      user: 'sentinel',
      principal: 'sentinel',
      source: 'trino-sentinel-harness',
      remoteClientAddress: '127.0.0.1',
      userAgent: 'undici',
      serverVersion: '476',
      environment: 'qlcap',
      resourceGroupId: 'global',
      queryType: 'SELECT',
      retryPolicy: 'NONE',
      createTime: '2026-11-23T07:13:23.863Z',
      tablesRead: ['tpch.tiny.orders'],
      outputRows: 1,
      physicalInputRows: 15_000,
      completedSplits: 5,
      warningCount: 0,
    });
    expect(doc['@timestamp']).toBe(doc.endTime);
    const s = event('finished').statistics;
    expect(doc.cpuTimeMs).toBe(Math.round(s.cpuTime * 1000));
    expect(doc.wallTimeMs).toBe(Math.round(s.wallTime * 1000));
    expect(doc.queuedTimeMs).toBe(Math.round(s.queuedTime * 1000));
    expect(doc.planningTimeMs).toBeGreaterThan(0);
    expect(doc.executionTimeMs).toBeGreaterThan(0);
    expect(doc.peakUserMemoryBytes).toBe(s.peakUserMemoryBytes);
    expect(doc.peakTotalMemoryBytes).toBeUndefined(); // 476 no longer sends peakTotalNonRevocableMemoryBytes
    expect(doc.peakTaskTotalMemoryBytes).toBe(s.peakTaskTotalMemory);
    expect(doc.errorCode).toBeUndefined();
    expect(doc.catalog).toBeUndefined(); // Optional.empty() is absent from the JSON, not null
    expect(JSON.stringify(doc)).not.toContain('null');
  });

  it('maps the syntax error: error name, number, type, failure class and message; no analysis time', () => {
    const doc = toQueryLogDocument(event('failed-syntax'), options);
    expect(doc).toMatchObject({
      queryState: 'FAILED',
      query: 'SELEC 1',
      errorCode: 'SYNTAX_ERROR',
      errorCodeNumber: 1,
      errorType: 'USER_ERROR',
      failureType: 'io.trino.sql.parser.ParsingException',
      tablesRead: [],
      wallTimeMs: 0,
    });
    expect(doc.failureMessage).toMatch(/^line 1:1: mismatched input 'SELEC'/);
    expect(doc.analysisTimeMs).toBeUndefined();
    expect(doc.resourceGroupId).toBeUndefined();
  });

  it('maps the cancelled query as FAILED with USER_CANCELED and its table', () => {
    const doc = toQueryLogDocument(event('cancelled'), options);
    expect(doc).toMatchObject({
      queryState: 'FAILED',
      errorCode: 'USER_CANCELED',
      errorCodeNumber: 3,
      errorType: 'USER_ERROR',
      failureMessage: 'Query was canceled',
      tablesRead: ['tpch.sf15.lineitem'],
    });
    expect(doc.cpuTimeMs).toBeGreaterThan(0);
  });

  it('truncates the SQL at sqlMaxLength and flags it; queryLength keeps the original length', () => {
    const doc = toQueryLogDocument(event('finished'), { sqlMaxLength: 6, redactSql: false });
    expect(doc).toMatchObject({ query: 'SELECT', queryTruncated: true, queryLength: 37 });
  });

  it('does not split a surrogate pair when truncating', () => {
    const e = event('finished');
    const doc = toQueryLogDocument(
      { ...e, metadata: { ...e.metadata, query: "SELECT '😀'" } },
      { sqlMaxLength: 9, redactSql: false },
    );
    expect(doc.query).toBe("SELECT '");
  });

  it('redacts literals before truncating when asked', () => {
    const e = event('cancelled');
    const doc = toQueryLogDocument(e, { sqlMaxLength: 1000, redactSql: true });
    expect(doc.query).toBe('SELECT count(*) FROM tpch.sf15.lineitem WHERE comment LIKE ?');
    expect(doc.queryRedacted).toBe(true);
    expect(doc.queryTruncated).toBe(false);
  });

  it('joins resource group segments, dedupes inputs and names the written table', () => {
    const e = event('finished');
    const input = { catalogName: 'hive', schema: 's', table: 't' };
    const doc = toQueryLogDocument(
      {
        ...e,
        context: { ...e.context, resourceGroupId: ['global', 'etl', 'nightly'] },
        ioMetadata: { inputs: [input, input], output: { catalogName: 'iceberg', schema: 'x', table: 'y' } },
        warnings: [{ warningCode: { code: 1, name: 'W' }, message: 'm' }],
      },
      options,
    );
    expect(doc).toMatchObject({
      resourceGroupId: 'global.etl.nightly',
      tablesRead: ['hive.s.t'],
      tableWritten: 'iceberg.x.y',
      warningCount: 1,
    });
  });

  it('keeps client tags when the client sent some, and none when the list is empty', () => {
    const e = event('finished');
    const tagged = toQueryLogDocument(
      { ...e, context: { ...e.context, clientTags: ['etl', 'nightly'] } },
      options,
    );
    expect(tagged.clientTags).toEqual(['etl', 'nightly']);
    const untagged = toQueryLogDocument({ ...e, context: { ...e.context, clientTags: [] } }, options);
    expect(untagged.clientTags).toBeUndefined();
  });

  it('uses peakTotalNonRevocableMemoryBytes as peakTotalMemoryBytes where Trino sends it', () => {
    const e = event('finished');
    const doc = toQueryLogDocument(
      { ...e, statistics: { ...e.statistics, peakTotalNonRevocableMemoryBytes: 4096 } },
      options,
    );
    expect(doc.peakTotalMemoryBytes).toBe(4096);
  });

  it('normalises an offset timestamp to UTC', () => {
    const e = event('finished');
    const doc = toQueryLogDocument({ ...e, endTime: '2026-11-23T08:13:31+01:00' }, options);
    expect(doc.endTime).toBe('2026-11-23T07:13:31.000Z');
  });

  it('refuses a negative sqlMaxLength', () => {
    expect(() => toQueryLogDocument(event('finished'), { sqlMaxLength: -1, redactSql: false })).toThrow(
      RangeError,
    );
  });
});

describe('shrinkEventJson', () => {
  it('returns the original text untouched when it fits', () => {
    const text = raw('finished');
    const result = shrinkEventJson(text, 1_048_576);
    expect(result).toMatchObject({ json: text, droppedFields: [], fits: true });
    expect(result.bytes).toBe(Buffer.byteLength(text));
  });

  it('drops the output stage payload first and keeps everything the document needs', () => {
    const text = raw('finished');
    const result = shrinkEventJson(text, 60_000);
    expect(result.fits).toBe(true);
    expect(result.droppedFields[0]).toBe('metadata.payload');
    const reparsed = QueryCompletedEventSchema.parse(JSON.parse(result.json));
    expect(toQueryLogDocument(reparsed, options)).toEqual(toQueryLogDocument(event('finished'), options));
  });

  it('drops every bulky field and reports it does not fit when the SQL alone is too large', () => {
    const body = JSON.parse(raw('finished'));
    body.metadata.query = `SELECT '${'x'.repeat(200_000)}'`;
    const result = shrinkEventJson(JSON.stringify(body), 100_000);
    expect(result.fits).toBe(false);
    expect(result.droppedFields.length).toBeGreaterThan(5);
    expect(BULKY_EVENT_FIELDS).toEqual(expect.arrayContaining([...result.droppedFields]));
  });

  it('does not claim a non-object JSON fits', () => {
    expect(shrinkEventJson(`"${'x'.repeat(50)}"`, 10)).toMatchObject({ fits: false, droppedFields: [] });
  });
});

describe('redactSqlLiterals', () => {
  it.each([
    ["SELECT * FROM t WHERE name = 'it''s'", 'SELECT * FROM t WHERE name = ?'],
    ["SELECT E'it\\'s', e'a\\\\'", 'SELECT ?, ?'],
    ["SELECT X'0AFF', U&'\\0041'", 'SELECT ?, ?'],
    ["SELECT DATE '2024-01-01', INTERVAL '1' DAY", 'SELECT DATE ?, INTERVAL ? DAY'],
    ['SELECT 42, -5, 3.14, .5, 1e10, 1.5E-3, 0x1F, 1_000_000', 'SELECT ?, -?, ?, ?, ?, ?, ?, ?'],
    ['SELECT t1.col_2, x1e5, a2b FROM s3.t4', 'SELECT t1.col_2, x1e5, a2b FROM s3.t4'],
    ['SELECT "it\'s 42", "a""b" FROM "t 1"', 'SELECT "it\'s 42", "a""b" FROM "t 1"'],
    ['SELECT `weird 7` FROM t', 'SELECT `weird 7` FROM t'],
    ["SELECT 1 -- it's 2\nFROM t", "SELECT ? -- it's 2\nFROM t"],
    ["SELECT /* it's 3 */ 'x'", "SELECT /* it's 3 */ ?"],
    ['SELECT a FROM t WHERE b = ? AND c IN (1, 2)', 'SELECT a FROM t WHERE b = ? AND c IN (?, ?)'],
    ["SELECT 'unterminated", 'SELECT ?'],
    ['SELECT 1abc FROM t', 'SELECT 1abc FROM t'],
    ['SELECT "unterminated', 'SELECT "unterminated'],
    ['/* unterminated comment 1', '/* unterminated comment 1'],
    ["SELECT 'ünï' || 'c😀de', café FROM t", 'SELECT ? || ?, café FROM t'],
    ['SELECT a[1], b..c', 'SELECT a[?], b..c'],
    ['SELECT 0b101, 0o17', 'SELECT ?, ?'],
    ['SELECT 3.14_15, 1_000.000_5e2', 'SELECT ?, ?'],
    // An exponent with no digits is no number: the text is left as it is.
    ['SELECT 1e', 'SELECT 1e'],
    ['SELECT 2E+', 'SELECT 2E+'],
  ])('%s', (input, expected) => {
    expect(redactSqlLiterals(input).sql).toBe(expected);
  });

  it('counts the literals it replaced', () => {
    expect(redactSqlLiterals("SELECT 'a', 1, \"b\" -- 'c'").redacted).toBe(2);
  });
});
