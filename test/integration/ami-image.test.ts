/**
 * The AMI as built: packer/files/install-trino.sh runs (harness/cloud/ami.ts) against an image root on this host,
 * then nodes boot from that image root, each in a network namespace and a private mount namespace of its own, the
 * way an instance boots (user data → trino-render.service → trino.service; test/helpers/image-node.ts).
 *
 * The cluster runs the deployed model: the coordinator serves clients over HTTPS on 8443 with password
 * authentication and a certificate for the ENI address and the name <ClusterName>; coordinator and worker talk
 * plain HTTP on 8080 with the internal shared secret; the worker's access control lets `sentinel` request a
 * graceful shutdown. Configuration comes from EXTRA_CONFIG_DIR with the S3 layout (common/, coordinator/, worker/).
 */
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  buildImageRoot,
  defaultPlugins,
  type ImageRoot,
  readArtifactPins,
  readUnit,
} from '../../harness/cloud/ami.ts';
import { REPO_ROOT, waitUntil } from '../../harness/moto.ts';
import {
  bootImageNode,
  createTestNetwork,
  curlInNetns,
  exec,
  type ImageNode,
  queryInNetns,
  removeDir,
  type TestNetwork,
  tailFile,
} from '../helpers/image-node.ts';

const VERSION = '476';
const CLUSTER = 'ami-it';
const COORDINATOR_IP = '10.42.1.10';
const WORKER_IP = '10.42.1.21';

/** `/opt/trino/ARTIFACTS` of an image root: pinned files and where each plugin came from. */
async function artifacts(image: ImageRoot) {
  const top = image.distribution === 'server' ? `trino-server-${VERSION}` : `trino-server-core-${VERSION}`;
  const home = path.join(image.root, 'opt/trino-server', top);
  const lines = (await readFile(path.join(home, 'ARTIFACTS'), 'utf8')).trim().split('\n');
  const files = new Map<string, string>();
  const plugins = new Map<string, string>();
  for (const line of lines) {
    const [kind, a, b] = line.split(' ');
    if (kind === 'artifact' && a && b) files.set(a, b);
    if (kind === 'plugin' && a && b) plugins.set(a, b);
  }
  return { home, files, plugins };
}

/** Files of a plugin directory (recursive), relative, sorted. */
async function pluginFiles(home: string, plugin: string): Promise<string[]> {
  const dir = path.join(home, 'plugin', plugin);
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Password file line of Trino's file authenticator (PBKDF2WithHmacSHA1; Trino 476 EncryptionUtil). */
function passwordLine(user: string, password: string): string {
  const salt = randomBytes(16);
  return `${user}:1000:${salt.toString('hex')}:${pbkdf2Sync(password, salt, 1000, 32, 'sha1').toString('hex')}\n`;
}

describe('AMI image root (install-trino.sh on this host)', () => {
  let image: ImageRoot;
  let defaultSet: readonly string[] = [];
  beforeAll(async () => {
    image = await buildImageRoot({ trinoVersion: VERSION });
    defaultSet = await defaultPlugins();
  });

  it('has a default plugin set with the connectors, the listener and password authentication (issue 12 item 1)', () => {
    expect(defaultSet).toEqual(
      expect.arrayContaining([
        'tpch',
        'hive',
        'iceberg',
        'delta-lake',
        'memory',
        'jmx',
        'http-event-listener',
        'password-authenticators',
      ]),
    );
  });

  it('installs the default plugin set, each plugin from the pinned trino-server tarball', async () => {
    expect(image.distribution).toBe('server');
    const { home, files, plugins } = await artifacts(image);
    const pins = await readArtifactPins();
    const tarball = `trino-server-${VERSION}.tar.gz`;
    expect(files.get(tarball)).toBe(pins.get(tarball));
    expect((await readdir(path.join(home, 'plugin'))).sort()).toEqual([...defaultSet].sort());
    expect([...plugins.keys()].sort()).toEqual([...defaultSet].sort());
    // Each plugin directory holds exactly its members of the pinned tarball (read from the mirror's copy).
    const listing = await exec(
      'tar',
      ['-tzf', path.join(image.mavenMirror, 'io/trino/trino-server', VERSION, tarball)],
      {
        timeoutMs: 120_000,
      },
    );
    expect(listing.code).toBe(0);
    for (const plugin of defaultSet) {
      expect(plugins.get(plugin)).toBe(tarball);
      const prefix = `trino-server-${VERSION}/plugin/${plugin}/`;
      const members = listing.stdout
        .split('\n')
        .filter((m) => m.startsWith(prefix) && !m.endsWith('/'))
        .map((m) => m.slice(prefix.length))
        .sort();
      expect(await pluginFiles(home, plugin)).toEqual(members);
    }
    expect(await readFile(path.join(home, 'TRINO_VERSION'), 'utf8')).toBe(`${VERSION}\n`);
    expect(await readlink(path.join(image.root, 'opt/trino'))).toBe(
      `/opt/trino-server/trino-server-${VERSION}`,
    );
  });

  it('installs the units, the renderer, the graceful stop and the trino user', async () => {
    const system = path.join(image.root, 'etc/systemd/system');
    for (const unit of ['trino.service', 'trino-render.service']) {
      expect(await readFile(path.join(system, unit), 'utf8')).toBe(
        await readFile(path.join(REPO_ROOT, 'packer/files/systemd', unit), 'utf8'),
      );
      expect(await readlink(path.join(system, 'multi-user.target.wants', unit))).toBe(
        `/etc/systemd/system/${unit}`,
      );
    }
    const trino = await readUnit(image.root, 'trino.service');
    expect(trino.service('ExecStop')).toEqual(['/usr/local/bin/trino-graceful-stop']);
    expect(trino.service('User')).toEqual(['trino']);
    const render = await readUnit(image.root, 'trino-render.service');
    expect(render.service('Environment')).toContain(
      'CLOUDWATCH_AGENT_CONFIG=/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json',
    );
    for (const [installed, source] of [
      ['trino-render-config', 'render-config.sh'],
      ['trino-graceful-stop', 'graceful-stop.sh'],
      ['trino-prepare-instance-storage', 'prepare-instance-storage.sh'],
    ]) {
      const file = path.join(image.root, 'usr/local/bin', installed ?? '');
      expect(await readFile(file, 'utf8')).toBe(
        await readFile(path.join(REPO_ROOT, 'packer/files', source ?? ''), 'utf8'),
      );
      expect((await stat(file)).mode & 0o777).toBe(0o755);
    }
    expect(await readFile(path.join(image.root, 'etc/passwd'), 'utf8')).toContain(
      `trino:x:${image.trinoUid}:${image.trinoGid}::/var/lib/trino:/sbin/nologin`,
    );
    expect((await stat(path.join(image.root, 'var/lib/trino/data'))).uid).toBe(image.trinoUid);
    expect(await readFile(path.join(image.root, 'etc/sysctl.d/90-trino.conf'), 'utf8')).toContain(
      'vm.max_map_count=262144',
    );
    // What this host substituted for AL2023 (docs/harness.md lists the same).
    expect(image.substitutions.join('\n')).toMatch(
      /java-24-amazon-corretto-headless -> \/usr\/local\/bin\/java/,
    );
    expect(image.substitutions.join('\n')).toContain('enable amazon-cloudwatch-agent.service -> absent');
  });

  describe('a coordinator and a worker booted from the image', () => {
    let dir = '';
    let network: TestNetwork | undefined;
    const nodes: ImageNode[] = [];
    let coordinator: ImageNode;
    let worker: ImageNode;
    const password = randomBytes(12).toString('hex');
    let caFile = '';

    const client = () => ({
      url: `https://${CLUSTER}:8443`,
      user: 'sentinel',
      password,
      caFile,
      resolve: [`${CLUSTER}:8443:${COORDINATOR_IP}`],
    });
    const fatal = async () => {
      const dead = nodes.find((n) => n.exited());
      return dead ? `${dead.name} exited:\n${await tailFile(dead.journal)}` : undefined;
    };

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'trino-sentinel-ami-'));
      await chmod(dir, 0o755); // the nodes' trino user reads the keystore from here
      network = await createTestNetwork({ coord: COORDINATOR_IP, worker: WORKER_IP }, dir);

      // TLS: a CA of the cluster and a certificate for the ENI address and the name <ClusterName>.
      const openssl = async (...args: string[]) => {
        const out = await exec('openssl', args);
        if (out.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${out.stderr}`);
      };
      caFile = path.join(dir, 'ca.pem');
      const f = (name: string) => path.join(dir, name);
      await openssl(
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        f('ca.key'),
        '-out',
        caFile,
        '-days',
        '2',
        '-subj',
        '/CN=ami-it CA',
      );
      await writeFile(
        f('san.ext'),
        `subjectAltName=IP:${COORDINATOR_IP},DNS:${CLUSTER}\nbasicConstraints=CA:FALSE\n`,
      );
      await openssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        f('server.key'),
        '-out',
        f('server.csr'),
        '-subj',
        `/CN=${CLUSTER}`,
      );
      await openssl(
        'x509',
        '-req',
        '-in',
        f('server.csr'),
        '-CA',
        caFile,
        '-CAkey',
        f('ca.key'),
        '-CAcreateserial',
        '-out',
        f('server.crt'),
        '-days',
        '2',
        '-extfile',
        f('san.ext'),
      );
      const keystore = f('keystore.pem');
      await writeFile(
        keystore,
        `${await readFile(f('server.key'), 'utf8')}${await readFile(f('server.crt'), 'utf8')}`,
      );
      await chmod(keystore, 0o644);

      // Configuration with the S3 layout.
      const extra = f('config');
      const put = async (rel: string, text: string) => {
        await mkdir(path.dirname(path.join(extra, rel)), { recursive: true });
        await writeFile(path.join(extra, rel), text);
      };
      await put('common/catalog/tpch.properties', 'connector.name=tpch\n');
      await put(
        'common/access-control.properties',
        'access-control.name=file\nsecurity.config-file=/etc/trino/rules.json\n',
      );
      await put(
        'common/rules.json',
        JSON.stringify({
          catalogs: [{ allow: 'all' }],
          queries: [{ allow: ['execute', 'kill', 'view'] }],
          system_information: [{ user: 'sentinel', allow: ['read', 'write'] }],
        }),
      );
      await put(
        'coordinator/password-authenticator.properties',
        'password-authenticator.name=file\nfile.password-file=/etc/trino/password.db\n',
      );
      await put('coordinator/password.db', passwordLine('sentinel', password));
      await put('coordinator/config-extra.properties', 'http-server.authentication.type=PASSWORD\n');

      const common = {
        CLUSTER_NAME: CLUSTER,
        TRINO_VERSION: VERSION,
        COORDINATOR_ADDRESS: COORDINATOR_IP,
        TRINO_HTTP_SCHEME: 'https',
        TRINO_HTTP_PORT: '8443',
        INTERNAL_HTTP_PORT: '8080',
        EXTRA_CONFIG_DIR: extra,
        INTERNAL_SHARED_SECRET: sha256(password),
        TRINO_HEAP: '768M',
        QUERY_MAX_MEMORY: '256MB',
        SHUTDOWN_GRACE_PERIOD: '5s',
      };
      const nets = network.nodes;
      coordinator = await bootImageNode({
        image,
        name: 'coordinator',
        netns: nets.coord?.netns ?? '',
        stateDir: f('coordinator'),
        bootEnv: { ...common, NODE_ROLE: 'coordinator', NODE_ID: 'coordinator', TLS_KEYSTORE_PATH: keystore },
      });
      nodes.push(coordinator);
      worker = await bootImageNode({
        image,
        name: 'worker',
        netns: nets.worker?.netns ?? '',
        stateDir: f('worker'),
        bootEnv: { ...common, NODE_ROLE: 'worker', NODE_ID: 'worker1', NODE_INTERNAL_ADDRESS: WORKER_IP },
      });
      nodes.push(worker);
      await waitUntil(
        'coordinator started',
        async () =>
          (await curlInNetns(coordinator.netns, [`http://${COORDINATOR_IP}:8080/v1/info`])).includes(
            '"starting":false',
          ),
        240_000,
        { intervalMs: 1000, fatal },
      );
    });

    afterAll(async () => {
      await network?.stop();
      await Promise.all(nodes.map((n) => Promise.race([n.exit, new Promise((r) => setTimeout(r, 10_000))])));
      if (dir && !process.env.KEEP_AMI_DIR) await removeDir(dir);
    });

    it('starts Trino 476, joins the worker over the internal port and answers a tpch query over HTTPS', async () => {
      await waitUntil(
        'worker active',
        async () =>
          JSON.stringify(
            await queryInNetns(
              coordinator.netns,
              client(),
              "SELECT node_id, http_uri, node_version FROM system.runtime.nodes WHERE coordinator = false AND state = 'active'",
            ),
          ) === JSON.stringify([['worker1', `http://${WORKER_IP}:8080`, VERSION]]),
        180_000,
        { intervalMs: 1000, fatal },
      );
      expect(
        await queryInNetns(coordinator.netns, client(), 'SELECT count(*) FROM tpch.tiny.nation'),
      ).toEqual([[25]]);
      // Clients: HTTPS on 8443 needs a password; plain 8080 refuses authentication.
      const denied = await exec('ip', [
        'netns',
        'exec',
        coordinator.netns,
        'curl',
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--cacert',
        caFile,
        '--resolve',
        `${CLUSTER}:8443:${COORDINATOR_IP}`,
        '-H',
        'X-Trino-User: sentinel',
        '--data-binary',
        'SELECT 1',
        `https://${CLUSTER}:8443/v1/statement`,
      ]);
      expect(denied.stdout).toBe('401');
      // The worker serves no HTTPS (internal traffic is plain HTTP on 8080).
      const workerHttps = await exec('ip', [
        'netns',
        'exec',
        coordinator.netns,
        'curl',
        '-s',
        '-m',
        '5',
        `https://${WORKER_IP}:8443/v1/info`,
      ]);
      expect(workerHttps.code).toBe(7); // connection refused
    }, 420_000);

    it('writes the server log where the CloudWatch agent configuration reads it', async () => {
      const layers = path.join(coordinator.stateDir, 'layers');
      const agent = z
        .object({
          logs: z.object({
            logs_collected: z.object({
              files: z.object({ collect_list: z.array(z.object({ file_path: z.string() })) }),
            }),
          }),
        })
        .parse(
          JSON.parse(
            await readFile(
              path.join(layers, 'opt/upper/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json'),
              'utf8',
            ),
          ),
        );
      const glob = agent.logs.logs_collected.files.collect_list[0]?.file_path ?? '';
      expect(glob).toBe('/var/lib/trino/data/var/log/server.log-*');
      // /var/lib/trino is the node's overlay: what it wrote is in its upper layer.
      const logDir = path.join(layers, 'var/lib/trino/upper/data/var/log');
      const matches = (await readdir(logDir)).filter((name) => name.startsWith('server.log-'));
      expect(matches.length).toBe(1);
      expect(await readFile(path.join(logDir, matches[0] ?? ''), 'utf8')).toContain(
        '======== SERVER STARTED ========',
      );
      expect(await readlink(path.join(logDir, 'server.log'))).toBe(matches[0]);
      // Every plugin of the image loaded.
      const serverLog = await readFile(path.join(logDir, matches[0] ?? ''), 'utf8');
      // The launcher links <data dir>/plugin to the installation's plugin/.
      for (const plugin of defaultSet)
        expect(serverLog).toContain(`-- Finished loading plugin /var/lib/trino/data/plugin/${plugin} --`);
      // Readable by the agent's user (run_as_user cwagent): directories 0755, the file 0644.
      expect((await stat(logDir)).mode & 0o777).toBe(0o755);
      expect((await stat(path.join(logDir, matches[0] ?? ''))).mode & 0o044).toBe(0o044);
    });

    it('stops a worker gracefully through its unit ExecStop: SHUTTING_DOWN, then it exits within the bound', async () => {
      const states: string[] = [];
      let polling = true;
      const poll = (async () => {
        for (let i = 0; i < 1200 && polling; i++) {
          const state = await curlInNetns(coordinator.netns, [
            `http://${WORKER_IP}:8080/v1/info/state`,
          ]).catch(() => 'unreachable');
          if (states.at(-1) !== state) states.push(state);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const stopped = await worker.stop();
      polling = false;
      await poll;
      expect(stopped.execStop.code, stopped.execStop.stderr).toBe(0);
      expect(stopped.execStop.stderr).toContain('SHUTTING_DOWN requested as sentinel');
      expect(stopped.execStop.stderr).toMatch(/Trino exited after \d+ s/);
      expect(states).toContain('"SHUTTING_DOWN"');
      expect(states.at(-1)).toBe('unreachable');
      expect(stopped.exitCode).toBe(0);
      // Two grace periods of 5 s, well inside GRACEFUL_STOP_TIMEOUT_SECONDS (600) and TimeoutStopSec (660).
      expect(stopped.elapsedMs).toBeGreaterThanOrEqual(9_000);
      expect(stopped.elapsedMs).toBeLessThan(120_000);
      // Trino's own account of it, in the server log the agent ships.
      const logDir = path.join(worker.stateDir, 'layers/var/lib/trino/upper/data/var/log');
      const serverLog = await readFile(
        path.join(logDir, await readlink(path.join(logDir, 'server.log'))),
        'utf8',
      );
      for (const line of [
        'Worker State change requested: ACTIVE -> SHUTTING_DOWN',
        'Shutdown requested',
        'Waiting for 0 active tasks to finish',
      ])
        expect(serverLog).toContain(line);
      // No exception while the worker shut down. Once the shutdown has begun, Jetty stops and closes the open
      // connections, and a response still in flight (this test polls /v1/info/state throughout) may fail with
      // Jetty's EofException, logged by Jersey around the "Stopped oejs.Server" line: that is the client's lost
      // connection, not the worker's failure (seen in 1 CI run of 3). Any other exception fails the test.
      const journal = (await tailFile(worker.journal, 400)).split('\n');
      const shutdownAt = journal.findIndex((line) => line.includes('Shutdown requested'));
      const exceptionLines = journal
        .map((line, index) => ({ line, index }))
        .filter(({ line }) => line.includes('Exception') && !/\sat [\w.$]+\(/.test(line))
        // JOL's start-up notice (Trino's memory accounting, org.openjdk.jol): "# WARNING: Unable to attach
        // Serviceability Agent … SASupportException: Sense failed." — a warning JOL prints when it cannot attach to
        // the JVM, not an exception of the worker (seen once on a loaded CI machine, 2026-12-08).
        .filter(({ line }) => !line.startsWith('# WARNING: Unable to attach Serviceability Agent'));
      expect(
        exceptionLines.filter(
          ({ line, index }) =>
            !(shutdownAt >= 0 && index > shutdownAt && line.includes('org.eclipse.jetty.io.EofException')),
        ),
      ).toEqual([]);
    }, 420_000);

    it('stops a coordinator directly (its ExecStop does not ask for a graceful shutdown)', async () => {
      const stopped = await coordinator.stop();
      expect(stopped.execStop.code).toBe(0);
      expect(stopped.execStop.stderr).toContain('role coordinator: no graceful shutdown');
      expect(stopped.elapsedMs).toBeLessThan(60_000);
    });
  });

  describe('the core distribution (trino-server-core + plugin zips)', () => {
    const plugins = [
      'tpch',
      'hive',
      'iceberg',
      'memory',
      'password-authenticators',
      'resource-group-managers',
      'session-property-managers',
      'exchange-filesystem',
    ];
    const fromZips = ['tpch', 'hive', 'iceberg', 'memory'];
    let core: ImageRoot;
    let dir = '';
    let network: TestNetwork | undefined;
    let node: ImageNode | undefined;
    beforeAll(async () => {
      core = await buildImageRoot({ trinoVersion: VERSION, distribution: 'core', plugins });
      dir = await mkdtemp(path.join(os.tmpdir(), 'trino-sentinel-ami-core-'));
    });
    afterAll(async () => {
      await network?.stop();
      if (node) await Promise.race([node.exit, new Promise((r) => setTimeout(r, 10_000))]);
      if (dir && !process.env.KEEP_AMI_DIR) await removeDir(dir);
    });

    it('installs trino-server-core and one pinned zip per plugin the core lacks', async () => {
      const { home, files, plugins: origin } = await artifacts(core);
      const pins = await readArtifactPins();
      expect([...files.keys()].sort()).toEqual(
        [`trino-server-core-${VERSION}.tar.gz`, ...fromZips.map((p) => `trino-${p}-${VERSION}.zip`)].sort(),
      );
      for (const [file, sha] of files) expect(sha).toBe(pins.get(file));
      expect((await readdir(path.join(home, 'plugin'))).sort()).toEqual([...plugins].sort());
      for (const plugin of plugins) {
        const zip = `trino-${plugin}-${VERSION}.zip`;
        expect(origin.get(plugin)).toBe(
          fromZips.includes(plugin) ? zip : `trino-server-core-${VERSION}.tar.gz`,
        );
        if (!fromZips.includes(plugin)) continue;
        const listing = await exec('unzip', [
          '-Z1',
          path.join(core.mavenMirror, 'io/trino', `trino-${plugin}`, VERSION, zip),
        ]);
        const prefix = `trino-${plugin}-${VERSION}/`;
        const members = listing.stdout
          .split('\n')
          .filter((m) => m.startsWith(prefix) && !m.endsWith('/'))
          .map((m) => m.slice(prefix.length))
          .sort();
        expect(await pluginFiles(home, plugin)).toEqual(members);
      }
    });

    it('boots a coordinator that loads the zipped plugins and runs tpch and memory queries', async () => {
      await chmod(dir, 0o755);
      network = await createTestNetwork({ solo: COORDINATOR_IP }, dir);
      const extra = path.join(dir, 'config');
      await mkdir(path.join(extra, 'common/catalog'), { recursive: true });
      await mkdir(path.join(extra, 'coordinator'), { recursive: true });
      await writeFile(path.join(extra, 'common/catalog/tpch.properties'), 'connector.name=tpch\n');
      await writeFile(path.join(extra, 'common/catalog/memory.properties'), 'connector.name=memory\n');
      // A single node: the coordinator schedules work on itself.
      await writeFile(
        path.join(extra, 'coordinator/config-extra.properties'),
        'node-scheduler.include-coordinator=true\n',
      );
      const solo = await bootImageNode({
        image: core,
        name: 'solo',
        netns: network.nodes.solo?.netns ?? '',
        stateDir: path.join(dir, 'solo'),
        bootEnv: {
          CLUSTER_NAME: CLUSTER,
          TRINO_VERSION: VERSION,
          COORDINATOR_ADDRESS: COORDINATOR_IP,
          TRINO_HTTP_SCHEME: 'http',
          TRINO_HTTP_PORT: '8080',
          EXTRA_CONFIG_DIR: extra,
          TRINO_HEAP: '768M',
          QUERY_MAX_MEMORY: '256MB',
          NODE_ROLE: 'coordinator',
          NODE_ID: 'solo',
        },
      });
      node = solo;
      const url = `http://${COORDINATOR_IP}:8080`;
      await waitUntil(
        'core coordinator started',
        async () => (await curlInNetns(solo.netns, [`${url}/v1/info`])).includes('"starting":false'),
        240_000,
        {
          intervalMs: 1000,
          fatal: async () => (solo.exited() ? `exited:\n${await tailFile(solo.journal)}` : undefined),
        },
      );
      const client = { url, user: 'sentinel' };
      // Until the coordinator has announced itself to its own discovery, there is no node to run a query on.
      await waitUntil(
        'core coordinator schedules on itself',
        async () =>
          JSON.stringify(await queryInNetns(solo.netns, client, 'SELECT count(*) FROM tpch.tiny.region')) ===
          '[[5]]',
        60_000,
        { intervalMs: 1000 },
      );
      await queryInNetns(
        solo.netns,
        client,
        'CREATE TABLE memory.default.region AS SELECT * FROM tpch.tiny.region',
      );
      expect(await queryInNetns(solo.netns, client, 'SELECT count(*) FROM memory.default.region')).toEqual([
        [5],
      ]);
      const logDir = path.join(solo.stateDir, 'layers/var/lib/trino/upper/data/var/log');
      const serverLog = await readFile(
        path.join(logDir, await readlink(path.join(logDir, 'server.log'))),
        'utf8',
      );
      // The launcher links <data dir>/plugin to the installation's plugin/.
      for (const plugin of plugins)
        expect(serverLog).toContain(`-- Finished loading plugin /var/lib/trino/data/plugin/${plugin} --`);
      const stopped = await solo.stop();
      expect(stopped.execStop.stderr).toContain('role coordinator: no graceful shutdown');
    }, 420_000);
  });
});
