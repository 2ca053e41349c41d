/**
 * Test helper: boots nodes from an AMI image root (harness/cloud/ami.ts) the way an instance boots them, each in a
 * network namespace of its own and a private mount namespace over the image, on a network of namespaces linked by a
 * bridge that lives in a namespace of its own (no route, NAT or bridge to any host interface).
 *
 * A node runs what its image's units say: the user data writes /etc/trino-sentinel/boot.env; trino-render.service
 * runs its ExecStartPre/ExecStart/ExecStartPost with its Environment= (as root, output appended to
 * /var/log/trino-render.log); trino.service runs ExecStart as User=/Group= with its limits, and {@link ImageNode.stop}
 * runs ExecStop with MAINPID, then KillSignal, then SIGKILL after TimeoutStopSec, as systemd does. This is the
 * test's own small unit runner, not systemd: there is no instance metadata service (boot.env carries NODE_ID and
 * NODE_INTERNAL_ADDRESS instead) and `systemctl` lines of the units are skipped (no systemd in a namespace; the
 * CloudWatch agent is absent). The deployed topology's harness/cloud/instance.ts does this for real instances.
 *
 * Every namespace and process is removed by `stop()`, and by a detached watchdog if the Node process dies.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { type ImageRoot, imageMountScript, readUnit, type SystemdUnit } from '../../harness/cloud/ami.ts';

/** Result of a command. */
export interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command (bounded by `timeoutMs`, default 60 000: SIGKILL after it). */
export function exec(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {},
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      env: options.env ?? { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function must(command: string, args: readonly string[]): Promise<string> {
  const out = await exec(command, args);
  if (out.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${out.code}): ${out.stderr}`);
  return out.stdout;
}

/** A network of namespaces: `hub` holds the bridge; each node namespace has one veth into it. */
export interface TestNetwork {
  /** Per-run prefix (`ts` + 4 hex digits). */
  readonly prefix: string;
  /** Node name → its namespace and address. */
  readonly nodes: Readonly<Record<string, { readonly netns: string; readonly address: string }>>;
  /** Kills every process in the namespaces and deletes them. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Creates a namespace per node (`<prefix>-<name>`) with `address`/24 on `eth0`, bridged in `<prefix>-hub`.
 * @param nodes - Name (≤ 6 characters) → IPv4 address (all in one /24).
 * @param workDir - Removed by the watchdog if Node dies (the caller removes it otherwise).
 */
export async function createTestNetwork(
  nodes: Readonly<Record<string, string>>,
  workDir: string,
): Promise<TestNetwork> {
  const existing = await must('ip', ['netns', 'list']);
  let prefix = '';
  for (let i = 0; i < 10 && (prefix === '' || existing.includes(`${prefix}-`)); i++)
    prefix = `ts${randomBytes(2).toString('hex')}`;
  const hub = `${prefix}-hub`;
  const namespaces = [hub, ...Object.keys(nodes).map((name) => `${prefix}-${name}`)];
  // Watchdog: when this Node process dies, kill what runs in the namespaces and delete them.
  const cleanup = `${namespaces.map((ns) => `ip netns pids ${ns} 2>/dev/null | xargs -r kill -9; ip netns del ${ns} 2>/dev/null;`).join(' ')} rm -rf '${workDir}'`;
  const watchdog = spawn(
    'sh',
    ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${cleanup}`],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  watchdog.unref();
  const result: Record<string, { netns: string; address: string }> = {};
  await must('ip', ['netns', 'add', hub]);
  await must('ip', ['-n', hub, 'link', 'set', 'lo', 'up']);
  await must('ip', ['-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
  await must('ip', ['-n', hub, 'link', 'set', 'br0', 'up']);
  for (const [name, address] of Object.entries(nodes)) {
    const netns = `${prefix}-${name}`;
    await must('ip', ['netns', 'add', netns]);
    await must('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    await must('ip', [
      '-n',
      netns,
      'link',
      'add',
      'eth0',
      'type',
      'veth',
      'peer',
      'name',
      `v-${name}`,
      'netns',
      hub,
    ]);
    await must('ip', ['-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    await must('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    await must('ip', ['-n', hub, 'link', 'set', `v-${name}`, 'master', 'br0']);
    await must('ip', ['-n', hub, 'link', 'set', `v-${name}`, 'up']);
    result[name] = { netns, address };
  }
  let stopped = false;
  return {
    prefix,
    nodes: result,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const ns of namespaces) {
        const pids = (await exec('ip', ['netns', 'pids', ns])).stdout.split('\n').filter(Boolean);
        if (pids.length > 0) await exec('kill', ['-9', ...pids]);
        await exec('ip', ['netns', 'del', ns]);
      }
      watchdog.kill();
    },
  };
}

/** A node booted from the image. */
export interface ImageNode {
  readonly name: string;
  readonly netns: string;
  /** Directory of the node's own layers: `<image path>/upper` holds what it wrote (e.g. var/lib/trino/upper). */
  readonly stateDir: string;
  /** stdout + stderr of the boot and of Trino (what the journal would hold). */
  readonly journal: string;
  /** The unit's main process (Trino's JVM: bin/launcher execs java). */
  readonly pid: number;
  readonly exit: Promise<number | null>;
  exited(): boolean;
  /** trino.service as the image has it. */
  readonly unit: SystemdUnit;
  /**
   * `systemctl stop trino.service`: ExecStop (as the unit's user, MAINPID set), then KillSignal to what is left,
   * then SIGKILL after TimeoutStopSec.
   * @returns ExecStop's outcome and how long the stop took in ms.
   */
  stop(): Promise<{
    readonly execStop: Outcome;
    readonly elapsedMs: number;
    readonly exitCode: number | null;
  }>;
}

/** The signals a unit's KillSignal= may name here. */
const KillSignal = z.enum(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGKILL']);

const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** A unit command line as bash: `-` prefix tolerated, systemctl skipped (see the module comment). */
function commandLine(raw: string): string {
  const ignoreFailure = raw.startsWith('-');
  const command = raw.replace(/^[-@+!:]+/, '');
  if (/^(\/usr)?(\/s?bin\/)?systemctl\s/.test(command))
    return `echo ${q(`(test unit runner) skipped: ${command} (no systemd in a namespace)`)}`;
  return ignoreFailure ? `${command} || true` : command;
}

function environmentExports(unit: SystemdUnit): string {
  return unit
    .service('Environment')
    .flatMap((assignment) => assignment.split(/\s+/))
    .map((pair) => {
      const eq = pair.indexOf('=');
      return `export ${pair.slice(0, eq)}=${q(pair.slice(eq + 1))}`;
    })
    .join('\n');
}

/**
 * Boots one node from `image` in `netns`: user data, trino-render.service, then trino.service's ExecStart.
 * @param bootEnv - The lines of /etc/trino-sentinel/boot.env (what the launch template's user data writes).
 * @param stateDir - The node's own directory (layers, scratch, journal); removed by the caller.
 */
export async function bootImageNode(options: {
  readonly image: ImageRoot;
  readonly name: string;
  readonly netns: string;
  readonly bootEnv: Readonly<Record<string, string>>;
  readonly stateDir: string;
}): Promise<ImageNode> {
  const { image, name, netns, stateDir } = options;
  await mkdir(stateDir, { recursive: true });
  const render = await readUnit(image.root, 'trino-render.service');
  const trino = await readUnit(image.root, 'trino.service');
  const user = trino.service('User')[0] ?? 'root';
  const group = trino.service('Group')[0] ?? user;
  const nofile = trino.service('LimitNOFILE')[0];
  const nproc = trino.service('LimitNPROC')[0];
  const bootEnv = Object.entries(options.bootEnv)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  const script = [
    imageMountScript(
      image.root,
      { kind: 'boot', stateDir: path.join(stateDir, 'layers') },
      path.join(stateDir, 'scratch'),
    ),
    '# user data (the launch template): boot.env',
    'install -d -m 0755 /etc/trino-sentinel',
    `cat >/etc/trino-sentinel/boot.env <<'BOOTENV'\n${bootEnv}\nBOOTENV`,
    '# trino-render.service (Type=oneshot, as root)',
    '(',
    `  export PATH=${SYSTEMD_PATH}`,
    environmentExports(render),
    ...render.service('ExecStartPre').map(commandLine),
    ...render.service('ExecStart').map((c) => `${commandLine(c)} >>/var/log/trino-render.log 2>&1`),
    ...render.service('ExecStartPost').map(commandLine),
    ') || { echo "trino-render.service failed:"; cat /var/log/trino-render.log; exit 1; }',
    'cat /var/log/trino-render.log',
    '# trino.service',
    // LimitNOFILE/LimitNPROC, capped at this host's hard limits (a container may allow less than an instance).
    nofile ? `ulimit -n ${nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"` : '',
    nproc ? `ulimit -u ${nproc} 2>/dev/null || ulimit -u "$(ulimit -Hu)"` : '',
    'cd /',
    `exec setpriv --reuid=${user} --regid=${group} --init-groups env -i PATH=${SYSTEMD_PATH} ${trino.service('ExecStart').map(commandLine).join(' ')}`,
    '',
  ].join('\n');
  const journal = path.join(stateDir, 'journal.log');
  const out = createWriteStream(journal);
  // ip execs unshare, unshare execs bash, bash execs setpriv, setpriv execs env, env execs the launcher, the
  // launcher execs java: the spawned pid is the unit's main process.
  const child: ChildProcess = spawn(
    'ip',
    ['netns', 'exec', netns, 'unshare', '--mount', '--propagation', 'private', 'bash', '-c', script],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: SYSTEMD_PATH } },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  let exitedFlag = false;
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitedFlag = true;
      resolve(code);
    }),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start node ${name}`);
  const timeoutStopMs = Number(trino.service('TimeoutStopSec')[0] ?? '90') * 1000;
  return {
    name,
    netns,
    stateDir,
    journal,
    pid,
    exit,
    exited: () => exitedFlag,
    unit: trino,
    async stop() {
      const started = Date.now();
      const stopCommands = trino.service('ExecStop').map(commandLine).join('; ');
      const execStop = await exec(
        'nsenter',
        [
          '--target',
          String(pid),
          '--mount',
          '--net',
          'setpriv',
          `--reuid=${user}`,
          `--regid=${group}`,
          '--init-groups',
          'env',
          '-i',
          `PATH=${SYSTEMD_PATH}`,
          `MAINPID=${pid}`,
          'bash',
          '-c',
          stopCommands,
        ],
        { timeoutMs: timeoutStopMs },
      );
      if (!exitedFlag) {
        const signal = KillSignal.parse(trino.service('KillSignal')[0] ?? 'SIGTERM');
        child.kill(signal);
        const left = Math.max(0, timeoutStopMs - (Date.now() - started));
        const timer = setTimeout(() => child.kill('SIGKILL'), left);
        await exit;
        clearTimeout(timer);
      }
      return { execStop, elapsedMs: Date.now() - started, exitCode: await exit };
    },
  };
}

/**
 * Runs a query through Trino's client protocol with curl inside `netns` (POST /v1/statement, then nextUri until
 * done; at most 600 pages).
 * @returns The rows.
 * @throws Error with Trino's error message, or curl's.
 */
export async function queryInNetns(
  netns: string,
  options: {
    readonly url: string;
    readonly user: string;
    readonly password?: string;
    readonly caFile?: string;
    /** curl --resolve entries (`host:port:address`), to reach an https name such as the cluster's. */
    readonly resolve?: readonly string[];
  },
  sql: string,
): Promise<unknown[][]> {
  const curl = [
    'curl -sS --fail-with-body -m 60',
    `-H ${q(`X-Trino-User: ${options.user}`)}`,
    options.password === undefined ? '' : `-u ${q(`${options.user}:${options.password}`)}`,
    options.caFile === undefined ? '' : `--cacert ${q(options.caFile)}`,
    ...(options.resolve ?? []).map((r) => `--resolve ${q(r)}`),
  ].join(' ');
  const script = `set -euo pipefail
resp="$(${curl} --data-binary @- ${q(`${options.url}/v1/statement`)})"
rows='[]'
for ((page = 0; page < 600; page++)); do
  rows="$(jq -c --argjson acc "$rows" '$acc + (.data // [])' <<<"$resp")"
  error="$(jq -r '.error.message // empty' <<<"$resp")"
  if [ -n "$error" ]; then echo "$error" >&2; exit 2; fi
  next="$(jq -r '.nextUri // empty' <<<"$resp")"
  if [ -z "$next" ]; then printf '%s\\n' "$rows"; exit 0; fi
  resp="$(${curl} "$next")"
done
echo "query did not finish in 600 pages" >&2
exit 3
`;
  const out = await exec('ip', ['netns', 'exec', netns, 'bash', '--norc', '--noprofile', '-c', script], {
    input: sql,
    timeoutMs: 180_000,
  });
  if (out.code !== 0) throw new Error(`query failed (${out.code}): ${out.stderr.trim()}`);
  const rows: unknown = JSON.parse(out.stdout);
  if (!Array.isArray(rows) || !rows.every((row): row is unknown[] => Array.isArray(row)))
    throw new Error(`unexpected rows: ${out.stdout}`);
  return rows;
}

/** GET a URL with curl inside `netns`; returns the body (throws on a curl failure). */
export async function curlInNetns(netns: string, args: readonly string[]): Promise<string> {
  const out = await exec('ip', ['netns', 'exec', netns, 'curl', '-sS', '-m', '10', ...args]);
  if (out.code !== 0) throw new Error(`curl ${args.join(' ')} in ${netns}: ${out.stderr.trim()}`);
  return out.stdout;
}

/** Last lines of a file (for failure messages). */
export async function tailFile(file: string, lines = 60): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

/** Removes a directory tree (ignores a missing one). */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
