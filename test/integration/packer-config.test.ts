/**
 * Packer smoke test: the AMI's boot-time rendering (packer/files/render-config.sh with packer/files/templates/)
 * produces a configuration that a real Trino 476 accepts. A coordinator and a worker are rendered exactly as on
 * an instance (NO_IMDS=1 stands in for the instance metadata service, values from the environment instead of
 * SSM), started with the distribution's own `bin/launcher run` like the systemd unit, and must form a cluster
 * that answers a query.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT, waitUntil } from '../../harness/moto.ts';
import { ensureTrino, launchRenderedNode, logTail, type TrinoNode } from '../../harness/trino.ts';
import { TrinoClient } from '../../lib/trino/client.ts';

const run = promisify(execFile);

describe('Packer boot-time config rendering', () => {
  const nodes: TrinoNode[] = [];
  let dir = '';
  afterAll(async () => {
    for (const node of nodes) {
      if (!node.exited()) {
        node.kill('SIGTERM');
        await Promise.race([node.exit, new Promise((r) => setTimeout(r, 10_000))]);
        node.kill('SIGKILL');
      }
    }
    if (dir && !process.env.KEEP_SMOKE_DIR) await rm(dir, { recursive: true, force: true });
  });

  it('renders a coordinator and a worker that start with bin/launcher and run a query', async () => {
    const install = await ensureTrino('newest');
    dir = await mkdtemp(path.join(os.tmpdir(), 'trino-sentinel-packer-'));
    const extra = path.join(dir, 'extra');
    await mkdir(path.join(extra, 'catalog'), { recursive: true });
    await writeFile(path.join(extra, 'catalog', 'tpch.properties'), 'connector.name=tpch\n');
    const coordinatorPort = await freePort();
    const workerPort = await freePort();
    const render = async (nodeName: string, role: string, plainPort: number) => {
      const etc = path.join(dir, nodeName, 'etc');
      const data = path.join(dir, nodeName, 'data');
      const { stderr } = await run('bash', [path.join(REPO_ROOT, 'packer/files/render-config.sh')], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          NO_IMDS: '1',
          BOOT_ENV_FILE: '/dev/null',
          CLUSTER_NAME: 'packer-smoke',
          NODE_ID: nodeName,
          NODE_ROLE: role,
          COORDINATOR_ADDRESS: '127.0.0.1',
          NODE_INTERNAL_ADDRESS: '127.0.0.1',
          TRINO_HTTP_PORT: String(coordinatorPort),
          TRINO_PLAIN_HTTP_PORT: String(plainPort),
          TRINO_ETC_DIR: etc,
          TRINO_DATA_DIR: data,
          TEMPLATE_DIR: path.join(REPO_ROOT, 'packer/files/templates'),
          EXTRA_CONFIG_DIR: extra,
          TRINO_HEAP: '768M',
          QUERY_MAX_MEMORY: '256MB',
          SHUTDOWN_GRACE_PERIOD: '5s',
          INTERNAL_SHARED_SECRET: 'packer-smoke-shared-secret-0123456789abcdef',
        },
      });
      expect(stderr).toContain(`role=${role}`);
      const config = await readFile(path.join(etc, 'config.properties'), 'utf8');
      expect(config).toContain(`discovery.uri=http://127.0.0.1:${coordinatorPort}`);
      return { etc, data };
    };
    const c = await render('coordinator', 'coordinator', coordinatorPort);
    const w = await render('worker1', 'worker', workerPort);
    nodes.push(launchRenderedNode(install, 'coordinator', c.etc, c.data, coordinatorPort));
    nodes.push(launchRenderedNode(install, 'worker1', w.etc, w.data, workerPort));

    const client = new TrinoClient({
      baseUrl: `http://127.0.0.1:${coordinatorPort}`,
      user: 'smoke',
      timeoutMs: 10_000,
    });
    const fatal = async () => {
      const dead = nodes.find((n) => n.exited());
      return dead ? `${dead.name} exited:\n${await logTail(dead)}` : undefined;
    };
    await waitUntil(
      'rendered coordinator',
      async () => (await client.getInfo()).starting === false,
      180_000,
      { intervalMs: 500, fatal },
    );
    await waitUntil(
      'rendered worker registered',
      async () =>
        (
          await client.query(
            "SELECT count(*) FROM system.runtime.nodes WHERE coordinator = false AND state = 'active'",
          )
        ).rows[0]?.[0] === 1,
      120_000,
      { intervalMs: 500, fatal },
    );
    expect((await client.query('SELECT count(*) FROM tpch.tiny.nation')).rows).toEqual([[25]]);
    client.close();
  });
});
