/**
 * Records the PrestoDB responses the unit tests parse (test/fixtures/prestodb-0.287/) from a real secure
 * PrestoDB cluster of the harness (coordinator over HTTPS with the file password authenticator, one worker):
 *
 *   npx tsx harness/record-prestodb-fixtures.ts [outputDir]
 *
 * JSON bodies are stored as PrestoDB sent them (pretty-printed); a non-JSON or failed answer is stored as
 * `{ "request", "status", "contentType", "body" }` (the body cut to 400 characters: a Java stack trace
 * otherwise). Nothing is edited by hand; volatile values (ids, times, ports) are what this run saw.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, fetch } from 'undici';
import { ENGINE_NAMES } from '../lib/trino/flavor.ts';
import { REPO_ROOT } from './moto.ts';
import { startPrestoCluster } from './prestodb.ts';

const outDir = path.resolve(process.argv[2] ?? path.join(REPO_ROOT, 'test/fixtures/prestodb-0.287'));
const cluster = await startPrestoCluster({ workers: 1, secure: true, name: 'fixtures' });
const agent = new Agent({ connect: { ca: cluster.caPem ?? '' } });
const basic = (user: string) =>
  `Basic ${Buffer.from(`${user}:${cluster.passwordOf(user) ?? ''}`).toString('base64')}`;
const sentinel = { 'X-Presto-User': cluster.user, Authorization: basic(cluster.user) };

interface Call {
  readonly method?: 'GET' | 'PUT' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

async function call(url: string, options: Call = {}) {
  const response = await fetch(url, {
    method: options.method ?? 'GET',
    headers: { ...(options.headers ?? {}), ...(options.body ? { 'Content-Type': 'application/json' } : {}) },
    ...(options.body === undefined ? {} : { body: options.body }),
    dispatcher: agent,
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: await response.text(),
  };
}

/** Records `url`'s answer as `name`: the JSON body when it is a 2xx JSON answer, else the status envelope. */
async function record(name: string, url: string, options: Call = {}): Promise<unknown> {
  const { status, contentType, text } = await call(url, options);
  const target = new URL(url);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const content =
    status >= 200 && status < 300 && json !== undefined
      ? json
      : {
          request: `${options.method ?? 'GET'} ${target.pathname}${options.body ? ` ${options.body}` : ''}`,
          headers: Object.keys(options.headers ?? {}),
          status,
          contentType,
          body: text.slice(0, 400),
        };
  await writeFile(path.join(outDir, name), `${JSON.stringify(content, null, 2)}\n`);
  process.stderr.write(`recorded ${name} (${status})\n`);
  return json;
}

try {
  await mkdir(outDir, { recursive: true });
  const coordinator = cluster.coordinatorUrl;
  const worker = cluster.workerUrls[0] ?? '';
  await record('v1-info.json', `${coordinator}/v1/info`, { headers: sentinel });
  await record('v1-info-state.json', `${coordinator}/v1/info/state`, { headers: sentinel });
  await record('v1-status.json', `${coordinator}/v1/status`, { headers: sentinel });
  await record('v1-node.json', `${coordinator}/v1/node`, { headers: sentinel });
  await record('v1-cluster.json', `${coordinator}/v1/cluster`, { headers: sentinel });
  await record(
    'jmx-ClusterMemoryManager.json',
    `${coordinator}/v1/jmx/mbean/${encodeURIComponent(ENGINE_NAMES.presto.clusterMemoryMBean)}`,
    { headers: sentinel },
  );
  await record(
    'jmx-trino-name-not-found.json',
    `${coordinator}/v1/jmx/mbean/${encodeURIComponent(ENGINE_NAMES.trino.clusterMemoryMBean)}`,
    { headers: sentinel },
  );
  await record('worker-v1-info.json', `${worker}/v1/info`);
  await record('worker-v1-info-state.json', `${worker}/v1/info/state`);
  await record('worker-v1-status.json', `${worker}/v1/status`);
  // The headers: PrestoDB needs X-Presto-User; X-Trino-User is not read.
  await record('statement-queued.json', `${coordinator}/v1/statement`, {
    method: 'POST',
    headers: { ...sentinel, 'Content-Type': 'text/plain' },
    body: 'SELECT count(*) FROM tpch.tiny.nation',
  });
  await record('statement-with-x-trino-user.json', `${coordinator}/v1/statement`, {
    method: 'POST',
    headers: { 'X-Trino-User': cluster.user, Authorization: basic(cluster.user) },
    body: 'SELECT 1',
  });
  await record('v1-query-no-credentials.json', `${coordinator}/v1/query`, {
    headers: { 'X-Presto-User': cluster.user },
  });
  // What PUT /v1/info/state does on a worker: a state 0.287 does not know, and another user's request.
  await record('worker-put-state-draining.json', `${worker}/v1/info/state`, {
    method: 'PUT',
    headers: { 'X-Presto-User': cluster.user },
    body: '"DRAINING"',
  });
  await record('worker-put-state-active-by-analyst.json', `${worker}/v1/info/state`, {
    method: 'PUT',
    headers: { 'X-Presto-User': cluster.otherUser.user },
    body: '"ACTIVE"',
  });
  // Queries in three states for GET /v1/query and GET /v1/query/{id}: finished, failed, and the one running.
  const client = cluster.client();
  await client.query('SELECT count(*) FROM tpch.tiny.lineitem');
  await client.query('SELECT * FROM tpch.tiny.no_such_table').catch(() => undefined);
  const analyst = cluster.client(cluster.otherUser.user);
  const running = analyst.query("SELECT count(*) FROM tpch.sf1.lineitem WHERE comment LIKE '%fixture%'");
  for (let i = 0; i < 120; i += 1) {
    const queries = await client.getQueries();
    if (queries.some((q) => q.state === 'RUNNING')) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const queries = await record('v1-query.json', `${coordinator}/v1/query`, { headers: sentinel });
  const list = Array.isArray(queries) ? queries : [];
  const idOf = (state: string) =>
    list.find((q): q is { queryId: string } => typeof q === 'object' && q !== null && q.state === state)
      ?.queryId;
  const finishedId = idOf('FINISHED');
  const failedId = idOf('FAILED');
  if (finishedId)
    await record('v1-query-info-finished.json', `${coordinator}/v1/query/${finishedId}`, {
      headers: sentinel,
    });
  if (failedId)
    await record('v1-query-info-failed.json', `${coordinator}/v1/query/${failedId}`, { headers: sentinel });
  await running;
  client.close();
  analyst.close();
} finally {
  await agent.close();
  await cluster.stop();
}
