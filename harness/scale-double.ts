/**
 * **Scale double** of a Trino cluster — test infrastructure for the bench, never used in Lambda.
 *
 * A real Trino of 500 workers cannot run on this machine, so this small loopback HTTP server serves the responses
 * **recorded from a real Trino** (harness/record-scale-fixtures.ts → `test/fixtures/trino-<version>/scale-double/`)
 * multiplied to N workers: the coordinator's `GET /v1/node` lists N workers, and each worker is its own loopback
 * listener answering `GET /v1/status`, `/v1/info` and `/v1/info/state` with the recorded worker bodies. Only identities are rewritten
 * (the node list's `uri`, each worker's `nodeId`, the statement protocol's `nextUri`/`infoUri` and its rows); every
 * other value is the recorded one. Each answer waits `latencyMs` (default 2 ms), a stand-in for the network and the
 * JVM's handling time. Plain HTTP, no authentication (workers serve plain HTTP in production too; a coordinator
 * speaks HTTPS there: one keep-alive TLS session per cycle, not modelled here).
 *
 * Served paths — coordinator: `GET /v1/info`, `/v1/node`, `/v1/query`, `/v1/jmx/mbean/<ClusterMemoryManager>`,
 * `POST /v1/statement` (then `GET /scale-double/statement/<n>`: the recorded pages of the termination policy's task
 * load query, with one row per configured worker URI); workers: `GET /v1/status`, `GET /v1/info`, `GET /v1/info/state`. Anything else: 404.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { REPO_ROOT } from './moto.ts';

/** What every output of the double says it is. */
export const SCALE_DOUBLE_LABEL =
  'scale double: recorded real Trino responses multiplied to N workers on loopback (harness/scale-double.ts), not a real cluster';

/** The recorded responses, as Trino sent them. */
export interface ScaleFixtures {
  readonly trinoVersion: string;
  readonly coordinatorInfo: string;
  /** `GET /v1/node` of the recording (one entry per remote node). */
  readonly nodes: readonly Record<string, unknown>[];
  readonly queries: string;
  readonly memoryMBean: string;
  readonly workerInfo: string;
  readonly workerState: string;
  readonly workerStatus: Record<string, unknown>;
  /** Pages of `POST /v1/statement` + `GET nextUri` for the termination policy's `TASK_LOAD_SQL`. */
  readonly statementPages: readonly Record<string, unknown>[];
}

/**
 * Reads the recorded responses of one Trino version.
 * @param version - Trino version whose `test/fixtures/trino-<version>/scale-double/` to read (default 476).
 * @throws Error when a file is missing (run harness/record-scale-fixtures.ts).
 */
export function loadScaleFixtures(version = '476'): ScaleFixtures {
  const dir = path.join(REPO_ROOT, 'test', 'fixtures', `trino-${version}`, 'scale-double');
  const text = (file: string) => readFileSync(path.join(dir, file), 'utf8');
  const json = (file: string): unknown => JSON.parse(text(file));
  return {
    trinoVersion: version,
    coordinatorInfo: text('coordinator-v1-info.json'),
    nodes: asRecords(json('coordinator-v1-node.json'), 'coordinator-v1-node.json'),
    queries: text('coordinator-v1-query.json'),
    memoryMBean: text('coordinator-jmx-ClusterMemoryManager.json'),
    workerInfo: text('worker-v1-info.json'),
    workerState: text('worker-v1-info-state.json'),
    workerStatus: asRecord(json('worker-v1-status.json'), 'worker-v1-status.json'),
    statementPages: asRecords(
      json('coordinator-v1-statement-task-load.json'),
      'coordinator-v1-statement-task-load.json',
    ),
  };
}

function asRecord(value: unknown, file: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${file}: expected a JSON object`);
  }
  return Object.fromEntries(Object.entries(value));
}

function asRecords(value: unknown, file: string): Record<string, unknown>[] {
  if (!Array.isArray(value)) throw new Error(`${file}: expected a JSON array`);
  return value.map((entry) => asRecord(entry, file));
}

/**
 * The coordinator's `GET /v1/node` for N workers: the recorded first entry repeated, each with its worker's
 * heartbeat URI (`<base>/v1/status`, as Trino lists it). Pure.
 * @param recorded - The recorded node list (its first entry is the template).
 * @param workerBaseUrls - One base URL per worker (`http://127.0.0.1:<port>`).
 * @throws Error when the recording lists no node.
 */
export function scaledNodeList(
  recorded: readonly Record<string, unknown>[],
  workerBaseUrls: readonly string[],
): Record<string, unknown>[] {
  const template = recorded[0];
  if (template === undefined) throw new Error('the recorded /v1/node lists no node');
  return workerBaseUrls.map((base) => ({ ...template, uri: `${base}/v1/status` }));
}

/**
 * Worker `index`'s `GET /v1/status`: the recorded body with its own `nodeId` (`<recorded>-<index>`). Pure.
 * @param recorded - The recorded worker `/v1/status`.
 * @param index - 0-based worker index.
 */
export function scaledWorkerStatus(
  recorded: Record<string, unknown>,
  index: number,
): Record<string, unknown> {
  const nodeId = typeof recorded.nodeId === 'string' ? recorded.nodeId : 'worker';
  return { ...recorded, nodeId: `${nodeId}-${index}` };
}

/**
 * The statement protocol's pages served by the double: `nextUri` of page k points to `<baseUrl>/scale-double/statement/<k+1>`,
 * `infoUri` to the double, and the result rows are `rows` (all in the first page that carried data in the
 * recording; later pages carry none). Pure.
 * @param recorded - The recorded pages, in order.
 * @param rows - Rows to answer (e.g. one `[http_uri, tasks, splits]` per worker).
 * @param baseUrl - The double's coordinator URL.
 * @throws Error when no recorded page carried data (the recording would not say where rows go).
 */
export function scaledStatementPages(
  recorded: readonly Record<string, unknown>[],
  rows: readonly unknown[][],
  baseUrl: string,
): Record<string, unknown>[] {
  const dataPage = recorded.findIndex((page) => Array.isArray(page.data));
  if (dataPage < 0) throw new Error('no recorded statement page carries data');
  return recorded.map((page, k) => {
    const { data: _data, nextUri, infoUri: _infoUri, ...rest } = page;
    return {
      ...rest,
      infoUri: `${baseUrl}/ui/query.html?scale-double`,
      ...(nextUri === undefined ? {} : { nextUri: `${baseUrl}/scale-double/statement/${k + 1}` }),
      ...(k === dataPage ? { data: rows } : {}),
    };
  });
}

/**
 * The rows of the recorded task-load query, one per worker URI: the recorded first row's values with the worker's
 * `http_uri`. Pure.
 * @param recorded - The recorded pages.
 * @param workerUris - `http_uri` of each worker (e.g. `http://10.0.1.5:8080`).
 */
export function scaledTaskLoadRows(
  recorded: readonly Record<string, unknown>[],
  workerUris: readonly string[],
): unknown[][] {
  const page = recorded.find((p) => Array.isArray(p.data));
  const first: unknown = Array.isArray(page?.data) ? page.data[0] : undefined;
  const template = Array.isArray(first) ? first : [null, 0, 0];
  return workerUris.map((uri) => [uri, ...template.slice(1)]);
}

/** Options of {@link startScaleDouble}. */
export interface ScaleDoubleOptions {
  /** Workers listed by `/v1/node`, each a loopback listener. */
  readonly workers: number;
  /** Delay before every answer, ms (default 2). */
  readonly latencyMs?: number;
  /** Recorded responses (default {@link loadScaleFixtures}()). */
  readonly fixtures?: ScaleFixtures;
}

/** A running double. */
export interface ScaleDouble {
  readonly label: string;
  readonly trinoVersion: string;
  readonly coordinatorUrl: string;
  readonly workerUrls: readonly string[];
  readonly latencyMs: number;
  /** Requests answered, by `<node kind> <method> <path kind>` (e.g. `worker GET /v1/status`). */
  readonly requests: Readonly<Record<string, number>>;
  /** Rows the task-load query answers from now on (default: none). */
  setTaskLoadRows(rows: readonly unknown[][]): void;
  /** Resets {@link ScaleDouble.requests}. */
  resetCounts(): void;
  close(): Promise<void>;
}

async function listen(handler: http.RequestListener): Promise<http.Server> {
  const server = http.createServer({ keepAliveTimeout: 5_000 }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

function urlOf(server: http.Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Starts the double: one coordinator listener and `workers` worker listeners, all on 127.0.0.1.
 * @returns The double; close it when done.
 */
export async function startScaleDouble(options: ScaleDoubleOptions): Promise<ScaleDouble> {
  const fixtures = options.fixtures ?? loadScaleFixtures();
  const latencyMs = options.latencyMs ?? 2;
  const requests: Record<string, number> = {};
  const count = (key: string) => {
    requests[key] = (requests[key] ?? 0) + 1;
  };
  const answer = (res: http.ServerResponse, status: number, body: string) => {
    const send = () => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    if (latencyMs > 0) setTimeout(send, latencyMs);
    else send();
  };

  const workerServers: http.Server[] = [];
  for (let i = 0; i < options.workers; i += 1) {
    const status = JSON.stringify(scaledWorkerStatus(fixtures.workerStatus, i));
    workerServers.push(
      await listen((req, res) => {
        req.resume();
        const route = req.method === 'GET' ? req.url : undefined;
        if (route === '/v1/status') {
          count('worker GET /v1/status');
          answer(res, 200, status);
        } else if (route === '/v1/info') {
          count('worker GET /v1/info');
          answer(res, 200, fixtures.workerInfo);
        } else if (route === '/v1/info/state') {
          count('worker GET /v1/info/state');
          answer(res, 200, fixtures.workerState);
        } else {
          count('worker other');
          answer(res, 404, '{"error":"not served by the scale double"}');
        }
      }),
    );
  }
  const workerUrls = workerServers.map(urlOf);

  let coordinatorUrl = '';
  let nodeList = '';
  let pages: string[] = [];
  let taskLoadRows: readonly unknown[][] = [];
  const mbeanPath = `/v1/jmx/mbean/${encodeURIComponent('trino.memory:name=ClusterMemoryManager')}`;
  const coordinator = await listen((req, res) => {
    req.resume();
    const url = req.url ?? '';
    if (req.method === 'POST' && url === '/v1/statement') {
      count('coordinator POST /v1/statement');
      pages = scaledStatementPages(fixtures.statementPages, taskLoadRows, coordinatorUrl).map((p) =>
        JSON.stringify(p),
      );
      answer(res, 200, pages[0] ?? '{}');
      return;
    }
    const page = /^\/scale-double\/statement\/(\d+)$/.exec(url);
    if (req.method === 'GET' && page) {
      count('coordinator GET statement page');
      const body = pages[Number(page[1])];
      answer(res, body === undefined ? 410 : 200, body ?? '{"error":"no such page"}');
      return;
    }
    const bodies: Record<string, string> = {
      '/v1/info': fixtures.coordinatorInfo,
      '/v1/node': nodeList,
      '/v1/query': fixtures.queries,
      [mbeanPath]: fixtures.memoryMBean,
    };
    const body = req.method === 'GET' ? bodies[url] : undefined;
    count(
      body === undefined
        ? 'coordinator other'
        : `coordinator GET ${url.startsWith('/v1/jmx') ? '/v1/jmx/mbean' : url}`,
    );
    answer(res, body === undefined ? 404 : 200, body ?? '{"error":"not served by the scale double"}');
  });
  coordinatorUrl = urlOf(coordinator);
  nodeList = JSON.stringify(scaledNodeList(fixtures.nodes, workerUrls));

  const all = [coordinator, ...workerServers];
  return {
    label: SCALE_DOUBLE_LABEL,
    trinoVersion: fixtures.trinoVersion,
    coordinatorUrl,
    workerUrls,
    latencyMs,
    requests,
    setTaskLoadRows(rows) {
      taskLoadRows = rows;
    },
    resetCounts() {
      for (const key of Object.keys(requests)) delete requests[key];
    },
    async close() {
      await Promise.all(
        all.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}
