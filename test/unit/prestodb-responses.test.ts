/**
 * PrestoDB 0.287's real responses (test/fixtures/prestodb-0.287/, recorded by harness/record-prestodb-fixtures.ts
 * from the harness's secure PrestoDB) against our schemas, and what `TRINO_FLAVOR=presto` changes in the client
 * and the metrics cycle: the user header and the ClusterMemoryManager MBean's name.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { computeClusterMetrics } from '../../functions/cluster-metrics/decide.ts';
import { memoryFromMBean, observeCluster } from '../../functions/cluster-metrics/handler.ts';
import { requestDrain } from '../../functions/worker-drain/worker.ts';
import { TrinoHttpError } from '../../lib/errors.ts';
import { type EngineFlavor, TrinoClient } from '../../lib/trino/client.ts';
import { ENGINE_NAMES } from '../../lib/trino/flavor.ts';
import {
  BasicQueryInfoListSchema,
  MBeanSchema,
  NodeHeartbeatListSchema,
  NodeStateSchema,
  NodeStatusSchema,
  PrestoClusterStatsSchema,
  QUERY_STATES,
  QueryInfoSchema,
  QueryResultsSchema,
  ServerInfoSchema,
} from '../../lib/trino/schemas.ts';
import { startTestServer, type TestServer } from '../helpers/http-server.ts';

const text = (name: string) => readFileSync(`test/fixtures/prestodb-0.287/${name}`, 'utf8');
const json = (name: string): unknown => JSON.parse(text(name));
/** A recorded non-2xx answer: `{ request, status, contentType, body }`. */
const failure = (name: string) => {
  const recorded = json(name);
  if (typeof recorded !== 'object' || recorded === null || !('status' in recorded) || !('body' in recorded))
    throw new Error(`${name} is not a recorded failure`);
  return { status: Number(recorded.status), body: String(recorded.body) };
};

describe('recorded PrestoDB 0.287 responses parse with our schemas', () => {
  it('GET /v1/info (coordinator and worker): the build in nodeVersion, the same five fields as Trino', () => {
    expect(ServerInfoSchema.parse(json('v1-info.json'))).toMatchObject({
      nodeVersion: { version: '0.287-b8952fa' },
      coordinator: true,
      starting: false,
    });
    expect(ServerInfoSchema.parse(json('worker-v1-info.json')).coordinator).toBe(false);
  });

  it('GET /v1/info/state is a bare JSON string, ACTIVE on both nodes', () => {
    expect(NodeStateSchema.parse(json('v1-info-state.json'))).toBe('ACTIVE');
    expect(NodeStateSchema.parse(json('worker-v1-info-state.json'))).toBe('ACTIVE');
  });

  it('GET /v1/status carries the loads and heap we read (plus memoryInfo, not read)', () => {
    const worker = NodeStatusSchema.parse(json('worker-v1-status.json'));
    expect(worker.coordinator).toBe(false);
    expect(worker.heapAvailable).toBeGreaterThan(worker.heapUsed);
    expect(json('worker-v1-status.json')).toHaveProperty('memoryInfo');
    expect(NodeStatusSchema.parse(json('v1-status.json')).coordinator).toBe(true);
  });

  it('GET /v1/node lists the worker by its /v1/status URI (plus recentFailuresByType, not read)', () => {
    const nodes = NodeHeartbeatListSchema.parse(json('v1-node.json'));
    expect(nodes).toHaveLength(1);
    expect(nodes[0]?.uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/status$/);
    expect(nodes[0]?.recentFailureRatio).toBe(0);
  });

  it('GET /v1/query: running, finished and failed queries; computeClusterMetrics counts them', () => {
    const queries = BasicQueryInfoListSchema.parse(json('v1-query.json'));
    expect(queries.map((q) => q.state).sort()).toEqual(['FAILED', 'FINISHED', 'FINISHED', 'RUNNING']);
    const failed = queries.find((q) => q.state === 'FAILED');
    expect(failed?.errorCode).toMatchObject({ name: 'SYNTAX_ERROR', type: 'USER_ERROR' });
    const running = queries.find((q) => q.state === 'RUNNING');
    expect(running?.session.user).toBe('analyst');
    const latestEnd = Math.max(...queries.map((q) => Date.parse(q.queryStats.endTime ?? '') || 0));
    const metrics = Object.fromEntries(
      computeClusterMetrics(
        { coordinatorReachable: true, queries },
        { windowMs: 60_000, maxUsers: 10 },
        latestEnd + 1,
      )
        .filter((m) => m.dimensions === undefined)
        .map((m) => [m.name, m.value]),
    );
    expect(metrics).toMatchObject({
      RunningQueries: 1,
      QueuedQueries: 0,
      QueriesFinished: 2,
      QueriesFailed: 1,
    });
  });

  it('GET /v1/query/{id} (the query-log poller) parses for a finished and a failed query', () => {
    expect(QueryInfoSchema.parse(json('v1-query-info-finished.json'))).toMatchObject({ state: 'FINISHED' });
    expect(QueryInfoSchema.parse(json('v1-query-info-failed.json'))).toMatchObject({
      state: 'FAILED',
      errorCode: { name: 'SYNTAX_ERROR' },
    });
  });

  it("PrestoDB's ClusterMemoryManager MBean has Trino's attributes, under com.facebook.presto.memory", () => {
    const mbean = MBeanSchema.parse(json('jmx-ClusterMemoryManager.json'));
    expect(mbean.objectName).toBe(ENGINE_NAMES.presto.clusterMemoryMBean);
    const memory = memoryFromMBean(mbean);
    expect(memory?.totalBytes).toBeGreaterThan(0);
    expect(memory?.reservedBytes).toBeGreaterThanOrEqual(0);
  });

  it('a statement starts in WAITING_FOR_PREREQUISITES, a state only PrestoDB has', () => {
    const page = QueryResultsSchema.parse(json('statement-queued.json'));
    expect(page.stats.state).toBe('WAITING_FOR_PREREQUISITES');
    expect(QUERY_STATES).toContain(page.stats.state);
  });

  it('GET /v1/cluster (PrestoDB only) parses', () => {
    expect(PrestoClusterStatsSchema.parse(json('v1-cluster.json')).activeWorkers).toBe(1);
  });

  it('recorded refusals: X-Trino-User is not a user (400), no credentials over HTTPS (401), Trino MBean name (500)', () => {
    expect(failure('statement-with-x-trino-user.json')).toEqual({ status: 400, body: 'User must be set' });
    expect(failure('v1-query-no-credentials.json').status).toBe(401);
    const notFound = failure('jmx-trino-name-not-found.json');
    expect(notFound.status).toBe(500);
    expect(notFound.body).toMatch(/^javax\.management\.InstanceNotFoundException: trino\.memory:name=/);
  });
});

describe('TRINO_FLAVOR=presto against replayed PrestoDB responses', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    // One loopback server plays coordinator and worker: /v1/node's worker URI (a port of the recording run)
    // is pointed at it; every body is the recorded one.
    const node = text('v1-node.json').replace(/http:\/\/127\.0\.0\.1:\d+/, server.url);
    const routes: Record<string, { status: number; body: string }> = {
      '/v1/info': { status: 200, body: text('v1-info.json') },
      '/v1/query': { status: 200, body: text('v1-query.json') },
      '/v1/node': { status: 200, body: node },
      '/v1/status': { status: 200, body: text('worker-v1-status.json') },
      [`/v1/jmx/mbean/${encodeURIComponent(ENGINE_NAMES.presto.clusterMemoryMBean)}`]: {
        status: 200,
        body: text('jmx-ClusterMemoryManager.json'),
      },
      [`/v1/jmx/mbean/${encodeURIComponent(ENGINE_NAMES.trino.clusterMemoryMBean)}`]: failure(
        'jmx-trino-name-not-found.json',
      ),
      '/v1/info/state': failure('worker-put-state-draining.json'),
    };
    server.respond((request) => {
      if (request.method === 'PUT' && request.body === '"SHUTTING_DOWN"') return { status: 200, body: '' };
      return routes[request.path] ?? { status: 404, body: 'not recorded' };
    });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.received.length = 0;
  });
  const client = (flavor: EngineFlavor) =>
    new TrinoClient({ baseUrl: server.url, user: 'sentinel', flavor, timeoutMs: 2_000 });

  it('reads the com.facebook.presto.memory MBean and sends X-Presto-User', async () => {
    const presto = client('presto');
    const mbean = await presto.getClusterMemoryManager();
    presto.close();
    expect(mbean.objectName).toBe('com.facebook.presto.memory:name=ClusterMemoryManager');
    expect(server.received[0]?.path).toBe(
      '/v1/jmx/mbean/com.facebook.presto.memory%3Aname%3DClusterMemoryManager',
    );
    expect(server.received[0]?.headers['x-presto-user']).toBe('sentinel');
    expect(server.received[0]?.headers['x-trino-user']).toBeUndefined();
  });

  it('the metrics cycle observes memory and the worker with flavor presto; with flavor trino memory is lost', async () => {
    const presto = client('presto');
    const observed = await observeCluster(presto, 4);
    presto.close();
    expect(observed.coordinatorReachable).toBe(true);
    expect(observed.memory?.totalBytes).toBeGreaterThan(0);
    expect(observed.workers).toHaveLength(1);
    expect(observed.workers?.[0]?.status?.coordinator).toBe(false);
    expect(observed.queries).toHaveLength(4);

    // What the issue saw every minute before the fix: Trino's MBean name answers 500, memory omitted.
    const trino = client('trino');
    const before = await observeCluster(trino, 4);
    trino.close();
    expect(before.memory).toBeUndefined();
    await expect(client('trino').getClusterMemoryManager()).rejects.toMatchObject({ status: 500 });
  });

  it('a worker refuses DRAINING with 400 (unknown NodeState): the drain falls back to SHUTTING_DOWN', async () => {
    const worker = client('presto');
    await expect(worker.setState('DRAINING')).rejects.toBeInstanceOf(TrinoHttpError);
    expect(await requestDrain(worker, 'DRAINING')).toBe('SHUTTING_DOWN');
    worker.close();
    expect(server.received.map((r) => r.body)).toEqual(['"DRAINING"', '"DRAINING"', '"SHUTTING_DOWN"']);
  });
});
