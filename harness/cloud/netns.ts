/**
 * Test infrastructure for the local cloud (harness/cloud/DESIGN.md): helpers around iproute2 (`ip netns`, veth,
 * bridges) and nftables (`nft -f`), a per-run prefix (`ts` + 4 hex digits), a registry of the network namespaces a
 * run created, `cleanup()` that removes them (with their processes, interfaces and cgroups), and a watchdog that
 * does the same when the owning Node process dies.
 *
 * Nothing here links a namespace to a host interface: the outer namespace `<p>-cloud` has only `lo` and what
 * network.ts creates inside it (bridges, veth ends, a dummy for the endpoints subnet).
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as z from 'zod';
import { REPO_ROOT } from '../moto.ts';

/** A log sink: one line per call, no trailing newline. */
export type LogLine = (line: string) => void;

/** Root of every run's state directory (`<tmp>/trino-sentinel-cloud/<prefix>`). */
export const CLOUD_STATE_ROOT = path.join(os.tmpdir(), 'trino-sentinel-cloud');

const CLEANUP_SCRIPT = path.join(REPO_ROOT, 'harness', 'cloud', 'cleanup-run.sh');
const PREFIX_PATTERN = /^ts[0-9a-f]{4}$/;

/**
 * A new per-run prefix: `ts` + 4 random hex digits (e.g. `ts3fa9`). Every namespace, bridge and interface of a run
 * starts with it, so parallel runs never collide and a cleanup can find everything of one run.
 * @returns The prefix.
 */
export function newRunPrefix(): string {
  return `ts${randomBytes(2).toString('hex')}`;
}

/** A command exited non-zero, was killed, or ran past its deadline. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  /** The command and its arguments. */
  readonly argv: readonly string[];
  /** Exit code (null when killed by a signal or the deadline). */
  readonly exitCode: number | null;
  /** Its standard error (trimmed). */
  readonly stderr: string;
  constructor(
    argv: readonly string[],
    exitCode: number | null,
    stderr: string,
    options?: { cause?: unknown },
  ) {
    super(`${argv.join(' ')} failed (${exitCode ?? 'killed'}): ${stderr}`, options);
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** Written to the command's standard input (then closed). */
  readonly input?: string;
  /** Deadline in ms (default 15 000); the command is SIGKILLed past it. */
  readonly timeoutMs?: number;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Runs a command and returns its standard output.
 * @param argv - Command and arguments (no shell).
 * @returns Standard output.
 * @throws CommandError on a non-zero exit, a signal, or the deadline.
 * @example await runCommand(['ip', 'netns', 'list'])
 */
export function runCommand(argv: readonly string[], options: RunCommandOptions = {}): Promise<string> {
  const [command, ...args] = argv;
  if (command === undefined) return Promise.reject(new Error('runCommand: empty argv'));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new CommandError(argv, null, error.message, { cause: error }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString();
      if (code === 0) resolve(stdout);
      else reject(new CommandError(argv, code, Buffer.concat(err).toString().trim() || stdout.trim()));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Runs `ip [-n <netns>] <args>`.
 * @param netns - Target namespace, or undefined for the caller's own.
 * @throws CommandError when ip fails.
 * Source: iproute2 ip(8), `-n` = `ip netns exec <netns> ip …`.
 */
export function ip(netns: string | undefined, args: readonly string[]): Promise<string> {
  return runCommand(['ip', ...(netns ? ['-n', netns] : []), ...args]);
}

/**
 * Runs several ip commands in one process (`ip -n <netns> -batch -`), stopping at the first failure.
 * @param lines - ip commands without the leading `ip`, e.g. `link set eth0 up`.
 * @throws CommandError naming the failed line (ip reports "Command failed -:<line>").
 * Source: iproute2 ip(8) `-batch`.
 */
export async function ipBatch(netns: string | undefined, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await runCommand(['ip', ...(netns ? ['-n', netns] : []), '-batch', '-'], {
    input: `${lines.join('\n')}\n`,
  });
}

/**
 * Runs a command inside a network namespace (`ip netns exec <netns> <argv>`).
 * @throws CommandError when it fails.
 * Source: iproute2 ip-netns(8) `exec`.
 */
export function netnsExec(
  netns: string,
  argv: readonly string[],
  options: RunCommandOptions = {},
): Promise<string> {
  return runCommand(['ip', 'netns', 'exec', netns, ...argv], options);
}

/**
 * Loads an nftables ruleset into a namespace atomically (`nft -f -`: the whole file is one transaction).
 * @param ruleset - nft script text.
 * @throws CommandError with nft's diagnostics (line and column) when the ruleset is refused.
 * Source: nft(8) `-f`.
 */
export async function nftApply(netns: string, ruleset: string): Promise<void> {
  await netnsExec(netns, ['nft', '-f', '-'], { input: ruleset });
}

/**
 * Sets kernel parameters of a namespace (`sysctl -qw key=value` inside it; net.* is per network namespace).
 * @param values - e.g. `{ 'net.ipv4.ip_forward': '1' }`.
 * @throws CommandError when a key is unknown or refused.
 */
export async function netnsSysctl(netns: string, values: Readonly<Record<string, string>>): Promise<void> {
  const pairs = Object.entries(values).map(([key, value]) => `${key}=${value}`);
  if (pairs.length > 0) await netnsExec(netns, ['sysctl', '-qw', ...pairs]);
}

/**
 * Process ids of every process inside a network namespace (`ip netns pids`).
 * @returns Pids (empty when the namespace is gone).
 */
export async function netnsPids(netns: string): Promise<number[]> {
  const out = await runCommand(['ip', 'netns', 'pids', netns]).catch(() => '');
  return out
    .split(/\s+/)
    .filter((word) => /^\d+$/.test(word))
    .map(Number);
}

/**
 * Names of the network namespaces that exist now (`ip netns list`).
 * @returns Names.
 */
export async function listNamespaces(): Promise<string[]> {
  const out = await runCommand(['ip', 'netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.length > 0);
}

/**
 * Installs what the local cloud needs when it is missing (scripts/setup-cloud.sh: nftables, iproute2, ping,
 * through apt-get); a no-op when everything is there.
 * @throws CommandError with the script's output when the install fails.
 */
export async function ensureCloudTools(log: LogLine = () => {}): Promise<void> {
  const missing = ['nft', 'ip', 'unshare', 'setpriv', 'nsenter', 'ping'].filter(
    (tool) => !['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((dir) => existsSync(path.join(dir, tool))),
  );
  if (missing.length === 0) return;
  log(`installing ${missing.join(', ')} (scripts/setup-cloud.sh)`);
  await runCommand(['bash', path.join(REPO_ROOT, 'scripts', 'setup-cloud.sh')], { timeoutMs: 600_000 });
}

/** One run of the local cloud: its prefix, its namespaces and how to remove them. */
export interface CloudRun {
  /** `ts` + 4 hex digits. */
  readonly prefix: string;
  /** The outer namespace `<prefix>-cloud`. */
  readonly outer: string;
  /** This run's state directory (`<tmp>/trino-sentinel-cloud/<prefix>`): instance dirs, registry files. */
  readonly stateDir: string;
  /** Whether this object owns the whole run (created the outer namespace): its cleanup removes every namespace of
   * the prefix; otherwise only the namespaces it created itself. */
  readonly ownsRun: boolean;
  readonly log: LogLine;
  /**
   * Creates a network namespace `<prefix>-<suffix>` with `lo` up and records it (cleanup and the watchdog remove it).
   * @returns The namespace's name.
   * @throws CommandError when it exists already or ip fails.
   */
  addNamespace(suffix: string): Promise<string>;
  /**
   * Removes one namespace of this run: SIGKILLs the processes inside it, deletes its interfaces (so no open socket
   * keeps a veth alive), then the namespace.
   */
  deleteNamespace(name: string): Promise<void>;
  /** Removes everything this run object is responsible for (idempotent) and stops the watchdog. */
  cleanup(): Promise<void>;
}

/** Options of {@link createOuterNamespace} and {@link joinRun}. */
export interface CloudRunOptions {
  /** The run's prefix (default: a new one from {@link newRunPrefix}; required by {@link joinRun}). */
  readonly prefix?: string;
  readonly log?: LogLine;
}

function cleanupArgs(prefix: string, registry: string, stateDir: string): string[] {
  return [CLEANUP_SCRIPT, prefix, registry, stateDir];
}

/**
 * Starts a detached watchdog: a shell that polls the owner's pid once a second and, when it is gone, runs
 * cleanup-run.sh for the run (like harness/trino.ts's watchdog, for namespaces instead of one JVM).
 * @returns The watchdog process (killed by cleanup()).
 */
function startWatchdog(args: readonly string[]): ChildProcess {
  const script = 'owner="$1"; shift; while kill -0 "$owner" 2>/dev/null; do sleep 1; done; exec bash "$@"';
  const child = spawn('sh', ['-c', script, 'trino-sentinel-cloud-watchdog', String(process.pid), ...args], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return child;
}

async function makeRun(prefix: string, ownsRun: boolean, log: LogLine): Promise<CloudRun> {
  if (!PREFIX_PATTERN.test(prefix)) throw new Error(`run prefix '${prefix}' is not ts + 4 hex digits`);
  const stateDir = path.join(CLOUD_STATE_ROOT, prefix);
  await mkdir(stateDir, { recursive: true });
  // Registry mode (a process that joined a run) lists its own namespaces in a file the watchdog reads when it fires.
  const registry = ownsRun ? '-' : path.join(stateDir, `namespaces-${process.pid}`);
  const watchdog = startWatchdog(cleanupArgs(prefix, registry, ownsRun ? stateDir : '-'));
  const created = new Set<string>();
  let cleaned = false;
  const run: CloudRun = {
    prefix,
    outer: `${prefix}-cloud`,
    stateDir,
    ownsRun,
    log,
    async addNamespace(suffix) {
      const name = `${prefix}-${suffix}`;
      if (registry !== '-') await appendFile(registry, `${name}\n`);
      created.add(name);
      await runCommand(['ip', 'netns', 'add', name]);
      await ip(name, ['link', 'set', 'lo', 'up']);
      log(`netns ${name} created`);
      return name;
    },
    async deleteNamespace(name) {
      if (!name.startsWith(`${prefix}-`)) throw new Error(`${name} is not a namespace of run ${prefix}`);
      const own = process.pid;
      // SIGKILL everything inside, until nothing is left (a process may fork while it is being killed); bounded.
      for (let pass = 0; pass < 50; pass++) {
        const pids = (await netnsPids(name)).filter((pid) => pid !== own);
        if (pids.length === 0) break;
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const links = await ip(name, ['-o', 'link', 'show']).catch(() => '');
      for (const line of links.split('\n')) {
        const link = line.split(': ')[1]?.split('@')[0];
        if (link && link !== 'lo') await ip(name, ['link', 'del', link]).catch(() => undefined);
      }
      await runCommand(['ip', 'netns', 'del', name]).catch((error: unknown) => {
        if (!(error instanceof CommandError && /No such file/.test(error.stderr))) throw error;
      });
      created.delete(name);
      log(`netns ${name} removed`);
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      watchdog.kill('SIGKILL');
      await runCommand(
        ['bash', ...cleanupArgs(prefix, registry, ownsRun ? stateDir : '-'), String(process.pid)],
        { timeoutMs: 60_000 },
      );
      if (registry !== '-') await runCommand(['rm', '-f', registry]);
      log(
        `run ${prefix}: cleaned up (${ownsRun ? 'every namespace of the run' : [...created].join(', ') || 'nothing'})`,
      );
      created.clear();
    },
  };
  return run;
}

/**
 * Creates the outer namespace `<prefix>-cloud` (lo up, `ip_forward` on, no link to the host) and the run that owns
 * it: its cleanup (and its watchdog, if this process dies) removes every namespace whose name starts with the
 * prefix, their processes and cgroups, and the run's state directory.
 * @returns The run.
 * @throws CommandError when the namespace cannot be created (e.g. not root).
 * @example const run = await createOuterNamespace({ log: console.log }); try { … } finally { await run.cleanup(); }
 * Source: ip-netns(8).
 */
export async function createOuterNamespace(options: CloudRunOptions = {}): Promise<CloudRun> {
  const log = options.log ?? (() => {});
  await ensureCloudTools(log);
  const run = await makeRun(options.prefix ?? newRunPrefix(), true, log);
  try {
    await run.addNamespace('cloud');
    await netnsSysctl(run.outer, { 'net.ipv4.ip_forward': '1' });
  } catch (error) {
    await run.cleanup();
    throw error;
  }
  return run;
}

/**
 * Joins an existing run from a process that was started inside its outer namespace (see
 * {@link reexecInNamespace}): namespaces it creates are removed by its cleanup and by its own watchdog; the outer
 * namespace stays the owner's.
 * @param options.prefix - The run's prefix (required).
 * @throws Error when the prefix is missing or malformed.
 */
export async function joinRun(options: CloudRunOptions): Promise<CloudRun> {
  if (!options.prefix) throw new Error('joinRun needs the run prefix');
  return makeRun(options.prefix, false, options.log ?? (() => {}));
}

const HandoffMessage = z.union([z.object({ ok: z.literal(true) }), z.object({ error: z.string() })]);

/**
 * Opens a listening TCP socket inside a network namespace and hands it to this process: a helper Node process
 * started with `ip netns exec <netns>` binds `host:port` there, sends the listening handle over its IPC channel
 * and exits. Connections to it are then accepted by this process, which keeps its own network view (e.g. the
 * emulator on its loopback): the instance metadata service uses this, like the hypervisor answering
 * 169.254.169.254 outside the instance.
 * @param host - Address inside the namespace (it must exist there, e.g. 169.254.169.254 on `lo`).
 * @param port - TCP port.
 * @returns A listening `net.Server` (attach `connection` handlers or pass it to `http.Server#listen`).
 * @throws Error with the helper's message (e.g. `listen EADDRNOTAVAIL`) or when it exits without a handle within
 *   10 s.
 * Source: Node.js `subprocess.send(message, sendHandle)` (net.Server handles over IPC).
 */
export function listenInNamespace(netns: string, host: string, port: number): Promise<Server> {
  const helper =
    "const net=require('node:net');const s=net.createServer({pauseOnConnect:true});" +
    "s.on('error',(e)=>{process.send({error:e.message},()=>process.exit(1));});" +
    's.listen({host:process.argv[1],port:Number(process.argv[2])},()=>{process.send({ok:true},s,()=>process.exit(0));});';
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', helper, host, String(port)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`listen on ${host}:${port} in ${netns}: no handle after 10000 ms ${stderr}`));
    }, 10_000);
    child.on('message', (raw: unknown, handle: unknown) => {
      clearTimeout(timer);
      const message = HandoffMessage.safeParse(raw);
      if (message.success && 'ok' in message.data && handle instanceof Server) {
        resolve(handle);
      } else {
        reject(
          new Error(
            `listen on ${host}:${port} in ${netns}: ${message.success && 'error' in message.data ? message.data.error : 'no handle'}`,
          ),
        );
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0)
        reject(new Error(`listen on ${host}:${port} in ${netns}: helper exited ${code}: ${stderr}`));
    });
  });
}

/** Options of {@link reexecInNamespace}. */
export interface ReexecOptions {
  /** Extra environment variables for the child. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Runs a Node entry point inside a network namespace with this process's Node binary and flags
 * (`ip netns exec <netns> <node> <execArgv…> <script> <args…>`), standard input, output and error passed through,
 * so a CLI command can run entirely inside the outer namespace.
 * @param script - Path of the entry point (.ts runs through this process's loader flags, e.g. tsx's).
 * @returns The child's exit code (128 + signal number when it was killed).
 * @example process.exitCode = await reexecInNamespace(run.outer, fileURLToPath(import.meta.url), ['drill', '--inside'])
 */
export function reexecInNamespace(
  netns: string,
  script: string,
  args: readonly string[],
  options: ReexecOptions = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ip',
      ['netns', 'exec', netns, process.execPath, ...process.execArgv, script, ...args],
      {
        stdio: 'inherit',
        env: { ...process.env, ...options.env },
      },
    );
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0)),
    );
  });
}
