/**
 * Test infrastructure, part of harness/trino.ts: Trino processes. Starts a node's JVM, keeps every process it started in one set so none outlives this Node process (on exit, on an unhandled
 * signal, and through a detached watchdog if Node itself is killed), and wraps each in a {@link TrinoNode}.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TrinoInstall } from './install.ts';

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

/** The last `lines` lines of a file ('' when it cannot be read). */
export async function tail(file: string, lines = 40): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

/**
 * Registers a started process and wraps it in a {@link TrinoNode}; its output goes to `logFile`, and its `guard`
 * (watchdog) is killed when it exits.
 */
function trackNode(
  child: ChildProcess,
  node: Pick<TrinoNode, 'name' | 'role' | 'nodeId' | 'httpPort' | 'logFile'>,
  guard?: ChildProcess,
): TrinoNode {
  const out = createWriteStream(node.logFile);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  liveProcesses.add(child);
  let exitedFlag = false;
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitedFlag = true;
      liveProcesses.delete(child);
      guard?.kill('SIGKILL');
      resolve(code);
    }),
  );
  return {
    ...node,
    httpUrl: `http://127.0.0.1:${node.httpPort}`,
    process: child,
    pid: child.pid,
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
}

/** Options of {@link startJavaNode}. */
export interface JavaNodeOptions {
  readonly name: string;
  readonly role: 'coordinator' | 'worker';
  readonly nodeId: string;
  readonly httpPort: number;
  /** The node's directory (working directory; server.log is written there). */
  readonly nodeDir: string;
  /** Its rendered etc/ (config.properties, log.properties, catalog/). */
  readonly etcDir: string;
  readonly heapMb: number;
}

/**
 * Starts one node's JVM directly (`java … -Dconfig=<etc>/config.properties` and the line's launch arguments), with a
 * watchdog that kills it if this Node process dies.
 * @returns The node, and its watchdog (also killed when the node exits).
 */
export function startJavaNode(
  install: TrinoInstall,
  options: JavaNodeOptions,
): { readonly node: TrinoNode; readonly guard: ChildProcess | undefined } {
  const configFile = path.join(options.etcDir, 'config.properties');
  const child = spawn(
    path.join(install.javaHome, 'bin', 'java'),
    [
      `-Xmx${options.heapMb}M`,
      ...JVM_FLAGS,
      `-Dconfig=${configFile}`,
      `-Dlog.levels-file=${path.join(options.etcDir, 'log.properties')}`,
      `-Dcatalog.config-dir=${path.join(options.etcDir, 'catalog')}`,
      ...install.launch,
    ],
    { cwd: options.nodeDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const guard = child.pid === undefined ? undefined : watchdog(child.pid, `-Dconfig=${configFile}`);
  const node = trackNode(
    child,
    {
      name: options.name,
      role: options.role,
      nodeId: options.nodeId,
      httpPort: options.httpPort,
      logFile: path.join(options.nodeDir, 'server.log'),
    },
    guard,
  );
  return { node, guard };
}
