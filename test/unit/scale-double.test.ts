import { describe, expect, it } from 'vitest';
import {
  loadScaleFixtures,
  scaledNodeList,
  scaledStatementPages,
  scaledTaskLoadRows,
  scaledWorkerStatus,
} from '../../harness/scale-double.ts';
import { NodeHeartbeatListSchema, NodeStatusSchema, QueryResultsSchema } from '../../lib/trino/schemas.ts';

const fixtures = loadScaleFixtures('476');
const bases = (n: number) => Array.from({ length: n }, (_, i) => `http://127.0.0.1:${20_000 + i}`);

describe('scale double: recorded Trino 476 responses multiplied to N workers', () => {
  it.each([0, 1, 50, 500])('GET /v1/node lists %i workers, each with its own heartbeat URI', (n) => {
    const list = scaledNodeList(fixtures.nodes, bases(n));
    expect(list).toHaveLength(n);
    expect(new Set(list.map((node) => node.uri)).size).toBe(n);
    list.forEach((node, i) => {
      expect(node.uri).toBe(`http://127.0.0.1:${20_000 + i}/v1/status`);
      // Everything but the identity is the recorded entry.
      expect({ ...node, uri: undefined }).toEqual({ ...fixtures.nodes[0], uri: undefined });
    });
    // What the client parses.
    expect(NodeHeartbeatListSchema.parse(list)).toHaveLength(n);
  });

  it('refuses a recording without any node', () => {
    expect(() => scaledNodeList([], bases(3))).toThrow(/lists no node/);
  });

  it.each([
    [0, '-0'],
    [7, '-7'],
    [499, '-499'],
  ])('worker %i answers the recorded /v1/status with its own nodeId', (index, suffix) => {
    const status = scaledWorkerStatus(fixtures.workerStatus, index);
    expect(status.nodeId).toBe(`${String(fixtures.workerStatus.nodeId)}${suffix}`);
    expect({ ...status, nodeId: undefined }).toEqual({ ...fixtures.workerStatus, nodeId: undefined });
    expect(NodeStatusSchema.parse(status).coordinator).toBe(false);
  });

  it.each([0, 1, 1000])('the task-load query answers %i rows through the recorded pages', (n) => {
    const rows = scaledTaskLoadRows(
      fixtures.statementPages,
      Array.from({ length: n }, (_, i) => `http://10.0.${Math.floor(i / 250)}.${i % 250}:8080`),
    );
    expect(rows).toHaveLength(n);
    const pages = scaledStatementPages(fixtures.statementPages, rows, 'http://127.0.0.1:9');
    expect(pages).toHaveLength(fixtures.statementPages.length);
    const parsed = pages.map((page) => QueryResultsSchema.parse(page));
    // Rows appear once, in the page that carried data in the recording.
    expect(parsed.flatMap((page) => page.data ?? [])).toEqual(rows);
    // Every nextUri leads to the double, in order; the last page has none.
    parsed.forEach((page, k) => {
      if (k < parsed.length - 1)
        expect(page.nextUri).toBe(`http://127.0.0.1:9/scale-double/statement/${k + 1}`);
      else expect(page.nextUri).toBeUndefined();
    });
  });

  it('keeps the recorded load values of a row, replacing only the worker URI', () => {
    const recorded = fixtures.statementPages.find((p) => Array.isArray(p.data))?.data;
    const [row] = scaledTaskLoadRows(fixtures.statementPages, ['http://10.1.2.3:8080']);
    expect(Array.isArray(recorded)).toBe(true);
    expect(row?.slice(1)).toEqual((recorded as unknown[][])[0]?.slice(1));
    expect(row?.[0]).toBe('http://10.1.2.3:8080');
  });

  it('refuses a statement recording whose pages carry no data', () => {
    expect(() => scaledStatementPages([{ id: 'q', stats: { state: 'FINISHED' } }], [], 'http://x')).toThrow(
      /carries data/,
    );
  });
});
