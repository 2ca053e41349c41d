/**
 * Records the real Trino responses the scale double (harness/scale-double.ts) multiplies to N workers:
 *
 *   npx tsx harness/record-scale-fixtures.ts [--line newest|older]
 *
 * Starts a secure harness cluster (coordinator + 1 worker, HTTPS, password, file access control), runs two queries
 * as two users so `GET /v1/query` is not empty, then writes each response body **as Trino sent it** (no reformatting)
 * to `test/fixtures/trino-<version>/scale-double/`:
 *
 * | File | Request (node, security level) |
 * |---|---|
 * | `coordinator-v1-info.json` | `GET /v1/info` (coordinator, PUBLIC) |
 * | `coordinator-v1-node.json` | `GET /v1/node` (coordinator, MANAGEMENT_READ) |
 * | `coordinator-v1-query.json` | `GET /v1/query` (coordinator, AUTHENTICATED_USER) |
 * | `coordinator-jmx-ClusterMemoryManager.json` | `GET /v1/jmx/mbean/trino.memory:name=ClusterMemoryManager` |
 * | `worker-v1-info.json`, `worker-v1-status.json`, `worker-v1-info-state.json` | `GET /v1/info`, `/v1/status`, `/v1/info/state` (worker, PUBLIC) |
 * | `coordinator-v1-statement-task-load.json` | every page of `POST /v1/statement` + `GET nextUri` of the termination policy's `TASK_LOAD_SQL` |
 *
 * plus `recording.json` (version, date, cluster shape, the request of each file). Test infrastructure only.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { CLUSTER_MEMORY_MBEAN } from '../functions/cluster-metrics/handler.ts';
import { TASK_LOAD_SQL } from '../functions/worker-drain/termination-policy.ts';
import { REPO_ROOT } from './moto.ts';
import { runQuery, startTrinoCluster, type TrinoLine } from './trino.ts';

const lineArg = process.argv.indexOf('--line');
const line: TrinoLine = process.argv[lineArg + 1] === 'older' && lineArg >= 0 ? 'older' : 'newest';

const cluster = await startTrinoCluster({ line, workers: 1, secure: true, name: 'record' });
try {
  const dir = path.join(REPO_ROOT, 'test', 'fixtures', `trino-${cluster.version}`, 'scale-double');
  await mkdir(dir, { recursive: true });
  const agent = new Agent({ connect: cluster.caPem ? { ca: cluster.caPem } : {} });
  const password = cluster.passwordOf(cluster.user);
  const headers = {
    'X-Trino-User': cluster.user,
    ...(password === undefined
      ? {}
      : { Authorization: `Basic ${Buffer.from(`${cluster.user}:${password}`).toString('base64')}` }),
  };
  const get = async (url: string, auth = true): Promise<string> => {
    const response = await undiciFetch(url, {
      headers: auth ? headers : { 'X-Trino-User': cluster.user },
      dispatcher: agent,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status} ${text.slice(0, 200)}`);
    return text;
  };

  // Two users' queries, so /v1/query lists more than the control plane's own.
  await runQuery(cluster, 'SELECT count(*) FROM tpch.tiny.orders');
  await runQuery(cluster, 'SELECT count(*) FROM tpch.tiny.lineitem', { user: cluster.otherUser.user });

  const coordinator = cluster.coordinatorUrl;
  const worker = cluster.workerUrls[0] ?? '';
  const files: Record<string, string> = {
    'coordinator-v1-info.json': `GET ${coordinator}/v1/info`,
    'coordinator-v1-node.json': `GET ${coordinator}/v1/node`,
    'coordinator-v1-query.json': `GET ${coordinator}/v1/query`,
    'coordinator-jmx-ClusterMemoryManager.json': `GET ${coordinator}/v1/jmx/mbean/${CLUSTER_MEMORY_MBEAN}`,
    'worker-v1-info.json': `GET ${worker}/v1/info`,
    'worker-v1-status.json': `GET ${worker}/v1/status`,
    'worker-v1-info-state.json': `GET ${worker}/v1/info/state`,
  };
  for (const [file, request] of Object.entries(files)) {
    const url = request.slice('GET '.length);
    // Credentials travel over HTTPS only; a worker's PUBLIC endpoints on its plain-HTTP port need just the user.
    const body = await get(
      url.replace(CLUSTER_MEMORY_MBEAN, encodeURIComponent(CLUSTER_MEMORY_MBEAN)),
      url.startsWith('https:'),
    );
    await writeFile(path.join(dir, file), body);
  }

  // The statement protocol as the termination policy sees it: every page, in order.
  const pages: unknown[] = [];
  let response = await undiciFetch(`${coordinator}/v1/statement`, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'text/plain' },
    body: TASK_LOAD_SQL,
    dispatcher: agent,
  });
  for (;;) {
    const text = await response.text();
    if (!response.ok) throw new Error(`statement: HTTP ${response.status} ${text.slice(0, 200)}`);
    const page = JSON.parse(text) as { nextUri?: string };
    pages.push(page);
    if (page.nextUri === undefined) break;
    response = await undiciFetch(page.nextUri, { headers, dispatcher: agent });
  }
  await writeFile(path.join(dir, 'coordinator-v1-statement-task-load.json'), `${JSON.stringify(pages)}\n`);
  files['coordinator-v1-statement-task-load.json'] =
    `POST ${coordinator}/v1/statement (TASK_LOAD_SQL), then GET each nextUri; the pages as a JSON array`;

  await writeFile(
    path.join(dir, 'recording.json'),
    `${JSON.stringify(
      {
        source: 'harness/record-scale-fixtures.ts',
        trinoVersion: cluster.version,
        line: cluster.line,
        recordedAt: new Date().toISOString(),
        cluster: 'secure (HTTPS, password, file access control), coordinator + 1 worker',
        queriesBefore: [
          'sentinel: SELECT count(*) FROM tpch.tiny.orders',
          'analyst: SELECT count(*) FROM tpch.tiny.lineitem',
        ],
        files,
      },
      null,
      2,
    )}\n`,
  );
  process.stderr.write(
    `recorded ${Object.keys(files).length} responses of Trino ${cluster.version} in ${dir}\n`,
  );
  await agent.close();
} finally {
  await cluster.stop();
}
