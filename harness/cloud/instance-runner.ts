/**
 * Test infrastructure for the local cloud: the "init" of one instance. Started by instance.ts as
 * `ip netns exec <instance netns> unshare --mount --uts --propagation private <node> instance-runner.ts <config>`
 * with an IPC channel; everything below happens inside the instance's network, mount and UTS namespaces:
 *
 * 1. cgroup2 is mounted privately; every unit (and the user data) runs in its own cgroup
 *    `trino-sentinel/<prefix>/<netns>/<unit>` (KillMode=control-group is real: every process of the unit is found);
 * 2. the host's `hostOverlays` (default /etc, /var) get a per-instance writable overlay (the instance never writes
 *    the host's files), then each of `imagePaths` is an overlay whose lower layer is the image root's directory
 *    (upper/work per instance); /etc/hosts (with `extraHosts`), /etc/hostname, users/groups the image added, a
 *    private /run, and a `systemctl` that talks to this runner;
 * 3. the user data runs as cloud-init runs it (a `#!` script as root, output in /var/log/cloud-init-output.log);
 * 4. the image's enabled units start in dependency order, as their unit files say (systemd-units.ts);
 * 5. it serves `systemctl` and the parent's commands (stop, kill, status) until told to stop; if the parent goes
 *    away it kills every unit (SIGKILL through cgroup.kill) and exits.
 *
 * Not a systemd: no D-Bus, no sd_notify (Type=notify/forking/dbus are refused with a clear message), no sockets,
 * timers or journald; the journal is a file (`<stateDir>/journal.log`).
 *
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import * as z from 'zod';
import {
  type ExecCommand,
  enabledUnits,
  expandCommand,
  loadServiceUnit,
  type OutputTarget,
  parseEnvironmentFile,
  planStart,
  type ServiceUnit,
} from './systemd-units.ts';

/** Configuration written by instance.ts. */
export const RunnerConfig = z.object({
  instanceId: z.string(),
  prefix: z.string(),
  netns: z.string(),
  hostname: z.string(),
  privateIp: z.string(),
  imageRoot: z.string(),
  stateDir: z.string(),
  hostOverlays: z.array(z.string()),
  imagePaths: z.array(z.string()),
  extraHosts: z.array(z.object({ host: z.string(), address: z.string() })),
  environment: z.record(z.string(), z.string()),
  userData: z.string().optional(),
  units: z.array(z.string()).optional(),
  userDataTimeoutMs: z.number(),
  nodePath: z.string(),
  systemctlShim: z.string(),
  /** Files bound read-only over paths of the instance (e.g. a trust store that also holds the run's CA). */
  fileBinds: z.array(z.object({ source: z.string(), target: z.string() })).default([]),
});
/** Configuration of one instance's runner. */
export type RunnerConfig = z.infer<typeof RunnerConfig>;

/** A unit's state as `systemctl is-active` names it. */
export type ActiveState = 'inactive' | 'activating' | 'active' | 'deactivating' | 'failed';

/** Status of one unit (runner → parent). */
export const UnitStatus = z.object({
  name: z.string(),
  state: z.enum(['inactive', 'activating', 'active', 'deactivating', 'failed']),
  mainPid: z.number().optional(),
  result: z.string(),
  conditionFailed: z.boolean(),
  restarts: z.number(),
  user: z.string().optional(),
});
/** Status of one unit. */
export type UnitStatus = z.infer<typeof UnitStatus>;

/** Messages from the parent. */
export const ParentMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('stop') }),
  z.object({ type: z.literal('status'), id: z.number() }),
  z.object({ type: z.literal('kill'), id: z.number(), unit: z.string(), signal: z.string() }),
]);

/** Messages to the parent. */
export const RunnerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('log'), line: z.string() }),
  z.object({ type: z.literal('booted'), pid: z.number(), units: z.array(UnitStatus) }),
  z.object({ type: z.literal('boot-failed'), error: z.string() }),
  z.object({
    type: z.literal('reply'),
    id: z.number(),
    units: z.array(UnitStatus),
    error: z.string().optional(),
  }),
  z.object({ type: z.literal('unit'), status: UnitStatus }),
  z.object({ type: z.literal('stopped') }),
]);
type RunnerMessage = z.infer<typeof RunnerMessage>;

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const CLEAN_SIGNALS = new Set(['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE']);

function send(message: RunnerMessage): void {
  if (process.connected) process.send?.(message);
}

function log(line: string): void {
  send({ type: 'log', line });
}

function runSync(argv: readonly string[]): Promise<void> {
  const [cmd, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd ?? 'false', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} failed (${code}): ${stderr.trim()}`)),
    );
  });
}

/** A group of processes: a cgroup2 directory, or (without cgroup2) the process groups of the unit's children. */
interface ProcessGroup {
  readonly cgroup: string | undefined;
  readonly pgids: Set<number>;
}

let cgroupRoot: string | undefined;

function pidsOf(group: ProcessGroup): number[] {
  if (group.cgroup) {
    try {
      return readFileSync(path.join(group.cgroup, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map(Number);
    } catch {
      return [];
    }
  }
  const alive: number[] = [];
  for (const pgid of group.pgids) {
    try {
      process.kill(-pgid, 0);
      alive.push(pgid);
    } catch {
      group.pgids.delete(pgid);
    }
  }
  return alive;
}

function signalGroup(group: ProcessGroup, signal: NodeJS.Signals): void {
  if (group.cgroup && signal === 'SIGKILL' && existsSync(path.join(group.cgroup, 'cgroup.kill'))) {
    try {
      writeFileSync(path.join(group.cgroup, 'cgroup.kill'), '1');
      return;
    } catch {
      // fall through to per-process signals
    }
  }
  if (group.cgroup) {
    for (const pid of pidsOf(group)) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone
      }
    }
    return;
  }
  for (const pgid of group.pgids) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // gone
    }
  }
}

async function waitEmpty(group: ProcessGroup, timeoutMs: number | undefined): Promise<boolean> {
  const deadline = Date.now() + (timeoutMs ?? 24 * 3_600_000);
  while (pidsOf(group).length > 0) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

function makeGroup(name: string): ProcessGroup {
  if (!cgroupRoot) return { cgroup: undefined, pgids: new Set() };
  const dir = path.join(cgroupRoot, name.replace(/[^A-Za-z0-9_.@-]/g, '_'));
  mkdirSync(dir, { recursive: true });
  return { cgroup: dir, pgids: new Set() };
}

interface Account {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

function lookupUser(name: string): Account {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name || f[2] === name)
      return {
        name: f[0] ?? name,
        uid: Number(f[2]),
        gid: Number(f[3]),
        home: f[5] ?? '/',
        shell: f[6] ?? '/bin/sh',
      };
  }
  throw new Error(`user ${name} does not exist in the instance's /etc/passwd`);
}

function groupExists(name: string): boolean {
  return readFileSync('/etc/group', 'utf8')
    .split('\n')
    .some((line) => {
      const f = line.split(':');
      return f[0] === name || f[2] === name;
    });
}

interface Runtime {
  readonly unit: ServiceUnit;
  state: ActiveState;
  result: string;
  conditionFailed: boolean;
  main?: ChildProcess;
  mainPid?: number;
  stopping: boolean;
  restarts: number;
  startTimes: number[];
  restartTimer?: NodeJS.Timeout;
  readonly group: ProcessGroup;
}

/** The runner itself (exported for the tests of its pieces; the entry point is at the bottom). */
export async function main(configPath: string): Promise<void> {
  const config = RunnerConfig.parse(JSON.parse(readFileSync(configPath, 'utf8')));
  const journal = path.join(config.stateDir, 'journal.log');
  const journalWrite = (unit: string, pid: number | undefined, text: string) => {
    const stamp = new Date().toISOString();
    const lines = text.split('\n').filter((l) => l.length > 0);
    appendFileSync(
      journal,
      lines.map((l) => `${stamp} ${config.hostname} ${unit}[${pid ?? '-'}]: ${l}\n`).join(''),
    );
  };
  const runtimes = new Map<string, Runtime>();
  let startOrder: string[] = [];
  let shuttingDown = false;

  // ------------------------------------------------------------------ 1. cgroups
  try {
    const mnt = '/sys/fs/cgroup';
    await runSync(['mount', '-t', 'cgroup2', 'none', mnt]);
    cgroupRoot = path.join(mnt, 'trino-sentinel', config.prefix, config.netns);
    mkdirSync(cgroupRoot, { recursive: true });
  } catch (error) {
    cgroupRoot = undefined;
    log(`cgroup2 unavailable (${String(error)}): units are tracked by process group`);
  }

  // ------------------------------------------------------------------ 2. file system
  const inside = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);
  const hidden = config.hostOverlays.find((dir) => inside(config.stateDir, dir));
  if (hidden)
    throw new Error(
      `state directory ${config.stateDir} is under ${hidden}, which gets an overlay: use another one`,
    );
  await runSync(['hostname', config.hostname]);
  const overlayDir = (target: string) => {
    const base = path.join(
      config.stateDir,
      'overlay',
      target.replace(/^\//, '').replace(/\//g, '_') || 'root',
    );
    mkdirSync(path.join(base, 'upper'), { recursive: true });
    mkdirSync(path.join(base, 'work'), { recursive: true });
    return base;
  };
  for (const dir of config.hostOverlays) {
    const base = overlayDir(`host${dir}`);
    await runSync([
      'mount',
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${dir},upperdir=${base}/upper,workdir=${base}/work`,
      dir,
    ]);
  }
  const underHostOverlay = (p: string) => config.hostOverlays.some((d) => p === d || p.startsWith(`${d}/`));
  const empty = path.join(config.stateDir, 'empty');
  mkdirSync(empty, { recursive: true });
  for (const target of [...config.imagePaths].sort((a, b) => a.split('/').length - b.split('/').length)) {
    const lowerInImage = path.join(config.imageRoot, target);
    const lower = existsSync(lowerInImage) && statSync(lowerInImage).isDirectory() ? lowerInImage : empty;
    if (!existsSync(target)) {
      if (
        !underHostOverlay(path.dirname(target)) &&
        !config.imagePaths.some((p) => target.startsWith(`${p}/`))
      )
        throw new Error(
          `cannot create mount point ${target}: its parent is not under a per-instance overlay`,
        );
      mkdirSync(target, { recursive: true });
    }
    const base = overlayDir(`image${target}`);
    await runSync([
      'mount',
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${lower},upperdir=${base}/upper,workdir=${base}/work`,
      target,
    ]);
  }
  await runSync(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', '/run']);
  const hostsText = [
    '127.0.0.1   localhost localhost.localdomain',
    '::1         localhost6 localhost6.localdomain6',
    `${config.privateIp}  ${config.hostname}.ec2.internal ${config.hostname}`,
    ...config.extraHosts.map((h) => `${h.address}  ${h.host}`),
    '',
  ].join('\n');
  const writeEtc = async (file: string, text: string) => {
    if (underHostOverlay(file)) {
      writeFileSync(file, text);
    } else {
      const copy = path.join(config.stateDir, path.basename(file));
      writeFileSync(copy, text);
      await runSync(['mount', '--bind', copy, file]);
    }
  };
  await writeEtc('/etc/hosts', hostsText);
  await writeEtc('/etc/hostname', `${config.hostname}\n`);
  // Users and groups the image added (its Packer provisioner's useradd) join the instance's account files.
  for (const file of ['passwd', 'group']) {
    const fromImage = path.join(config.imageRoot, 'etc', file);
    if (!existsSync(fromImage) || !underHostOverlay('/etc')) continue;
    const have = new Set(
      readFileSync(`/etc/${file}`, 'utf8')
        .split('\n')
        .map((l) => l.split(':')[0]),
    );
    const extra = readFileSync(fromImage, 'utf8')
      .split('\n')
      .filter((l) => l.includes(':') && !have.has(l.split(':')[0]));
    if (extra.length > 0) appendFileSync(`/etc/${file}`, `${extra.join('\n')}\n`);
  }
  for (const systemctl of ['/usr/bin/systemctl', '/bin/systemctl']) {
    if (existsSync(systemctl)) {
      await runSync(['mount', '--bind', config.systemctlShim, systemctl]);
      break;
    }
  }
  for (const bind of config.fileBinds) {
    await runSync(['mount', '--bind', bind.source, bind.target]);
    await runSync(['mount', '-o', 'remount,bind,ro', bind.target]);
  }
  log(
    `mounted: ${[...config.hostOverlays.map((d) => `${d} (host, private upper)`), ...config.imagePaths, ...config.fileBinds.map((b) => `${b.target} (file, read-only)`)].join(', ')}; ` +
      `/etc/hosts with ${config.extraHosts.length} extra host(s); hostname ${config.hostname}`,
  );

  // ------------------------------------------------------------------ process helpers
  const baseEnv: Record<string, string> = { PATH: SYSTEM_PATH, LANG: 'C.UTF-8', ...config.environment };

  function outputFd(target: OutputTarget): 'pipe' | 'ignore' | number {
    if (target.kind === 'null') return 'ignore';
    if (target.kind === 'file') {
      mkdirSync(path.dirname(target.path), { recursive: true });
      return openSync(target.path, target.mode === 'append' ? 'a' : target.mode === 'truncate' ? 'w' : 'r+');
    }
    return 'pipe';
  }

  /** Spawns one command of a unit in its process group, as its user unless privileged. */
  function spawnIn(
    unitName: string,
    group: ProcessGroup,
    argv: readonly string[],
    options: {
      env: Record<string, string>;
      account?: Account;
      groupName?: string;
      cwd: string;
      stdout: OutputTarget;
      stderr: OutputTarget;
      limits: string[];
    },
  ): ChildProcess {
    const [exe, ...args] = argv;
    if (!exe) throw new Error(`${unitName}: empty command`);
    const resolved = exe.startsWith('/')
      ? exe
      : SYSTEM_PATH.split(':')
          .map((d) => path.join(d, exe))
          .find((p) => existsSync(p));
    if (!resolved) throw new Error(`${unitName}: executable ${exe} not found in ${SYSTEM_PATH}`);
    const drop = options.account
      ? [
          'setpriv',
          `--reuid=${options.account.uid}`,
          `--regid=${options.groupName ?? options.account.gid}`,
          '--init-groups',
          '--',
        ]
      : [];
    const prlimit = options.limits.length > 0 ? ['prlimit', ...options.limits, '--'] : [];
    // The shell moves itself into the unit's cgroup, then execs the command (the pid stays the same).
    const enter = group.cgroup ? `echo $$ > "${group.cgroup}/cgroup.procs" && ` : '';
    const out = outputFd(options.stdout);
    const err = options.stderr.kind === 'inherit' ? out : outputFd(options.stderr);
    const child = spawn('sh', ['-c', `${enter}exec "$@"`, unitName, ...prlimit, ...drop, resolved, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', out, err],
      detached: true,
    });
    for (const fd of [out, err]) if (typeof fd === 'number') child.once('spawn', () => closeOnce(fd));
    if (child.pid !== undefined) group.pgids.add(child.pid);
    const pid = child.pid;
    child.stdout?.on('data', (c: Buffer) => journalWrite(unitName, pid, c.toString()));
    child.stderr?.on('data', (c: Buffer) => journalWrite(unitName, pid, c.toString()));
    return child;
  }
  const closed = new Set<number>();
  function closeOnce(fd: number) {
    if (closed.has(fd)) return;
    closed.add(fd);
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }

  function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (child.exitCode !== null || child.signalCode !== null)
      return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
    return new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: 127, signal: null }));
    });
  }

  // ------------------------------------------------------------------ 3. user data
  if (config.userData !== undefined) {
    const data = config.userData;
    mkdirSync('/var/lib/cloud/instance/scripts', { recursive: true });
    writeFileSync('/var/lib/cloud/instance/user-data.txt', data);
    if (data.startsWith('#!')) {
      const script = '/var/lib/cloud/instance/scripts/part-001';
      writeFileSync(script, data);
      chmodSync(script, 0o700);
      const group = makeGroup('cloud-final.service');
      const started = Date.now();
      const child = spawnIn('cloud-final.service', group, [script], {
        env: { ...baseEnv, HOME: '/root', USER: 'root' },
        cwd: '/',
        stdout: { kind: 'file', path: '/var/log/cloud-init-output.log', mode: 'append' },
        stderr: { kind: 'inherit' },
        limits: [],
      });
      const timer = setTimeout(() => signalGroup(group, 'SIGKILL'), config.userDataTimeoutMs);
      const { code, signal } = await exitOf(child);
      clearTimeout(timer);
      signalGroup(group, 'SIGKILL');
      log(
        `user data (${data.length} bytes) ran as root in ${Date.now() - started} ms: exit ${code ?? signal}`,
      );
    } else {
      log('user data is not a #! script: not run (only shell-script user data is supported here)');
    }
  } else {
    log('no user data');
  }

  // ------------------------------------------------------------------ 4. units
  const unitDir = '/etc/systemd/system';
  const statusOf = (rt: Runtime): UnitStatus => ({
    name: rt.unit.name,
    state: rt.state,
    ...(rt.mainPid !== undefined && rt.state !== 'inactive' && rt.state !== 'failed'
      ? { mainPid: rt.mainPid }
      : {}),
    result: rt.result,
    conditionFailed: rt.conditionFailed,
    restarts: rt.restarts,
    ...(rt.unit.user ? { user: rt.unit.user } : {}),
  });
  const setState = (rt: Runtime, state: ActiveState) => {
    rt.state = state;
    send({ type: 'unit', status: statusOf(rt) });
  };

  function runtimeFor(unit: ServiceUnit): Runtime {
    const existing = runtimes.get(unit.name);
    if (existing) return existing;
    const rt: Runtime = {
      unit,
      state: 'inactive',
      result: 'success',
      conditionFailed: false,
      stopping: false,
      restarts: 0,
      startTimes: [],
      group: makeGroup(unit.name),
    };
    runtimes.set(unit.name, rt);
    return rt;
  }

  function unitEnvironment(rt: Runtime, extra: Record<string, string> = {}): Record<string, string> {
    const env: Record<string, string> = { ...baseEnv, INVOCATION_ID: cryptoId() };
    if (rt.unit.user) {
      const account = lookupUser(rt.unit.user);
      Object.assign(env, {
        USER: account.name,
        LOGNAME: account.name,
        HOME: account.home,
        SHELL: account.shell,
      });
    }
    for (const [k, v] of rt.unit.environment) env[k] = v;
    for (const file of rt.unit.environmentFiles) {
      if (!existsSync(file.path)) {
        if (file.optional) continue;
        throw new Error(`EnvironmentFile ${file.path} does not exist`);
      }
      for (const [k, v] of parseEnvironmentFile(readFileSync(file.path, 'utf8'))) env[k] = v;
    }
    return { ...env, ...extra };
  }

  // A LimitNOFILE/LimitNPROC above this host's hard limit cannot be set without CAP_SYS_RESOURCE in the init user
  // namespace (prlimit: "failed to set the NOFILE resource limit: Operation not permitted"); an EC2 instance's
  // systemd can. The documented substitution: the unit gets the host's hard limit, said once per unit and limit.
  const hardLimits = {
    LimitNOFILE: Number(execFileSync('bash', ['-c', 'ulimit -Hn']).toString().trim()),
    LimitNPROC: Number(execFileSync('bash', ['-c', 'ulimit -Hu']).toString().trim()),
  };
  const capped = new Set<string>();
  function capLimit(unit: string, key: keyof typeof hardLimits, value: string): string {
    const hard = hardLimits[key];
    const wanted = value === 'infinity' ? Number.POSITIVE_INFINITY : Number(value.split(':').at(-1));
    if (!Number.isFinite(hard) || !(wanted > hard)) return value;
    if (!capped.has(`${unit}:${key}`)) {
      capped.add(`${unit}:${key}`);
      journalWrite(
        unit,
        undefined,
        `${key}=${value} is above this host's hard limit: ${hard} (harness substitution)`,
      );
    }
    return String(hard);
  }

  function spawnCommand(rt: Runtime, exec: ExecCommand, env: Record<string, string>): ChildProcess {
    const argv = expandCommand(exec, env, { unit: rt.unit.name, hostname: config.hostname });
    const account = rt.unit.user && !exec.privileged ? lookupUser(rt.unit.user) : undefined;
    if (rt.unit.group && !exec.privileged && !groupExists(rt.unit.group))
      throw new Error(`group ${rt.unit.group} does not exist in the instance's /etc/group`);
    const limits = [
      ...(rt.unit.limitNofile
        ? [`--nofile=${capLimit(rt.unit.name, 'LimitNOFILE', rt.unit.limitNofile)}`]
        : []),
      ...(rt.unit.limitNproc ? [`--nproc=${capLimit(rt.unit.name, 'LimitNPROC', rt.unit.limitNproc)}`] : []),
    ];
    const cwd =
      rt.unit.workingDirectory === '~'
        ? (account?.home ?? '/root')
        : (rt.unit.workingDirectory?.replace(/^-/, '') ?? '/');
    return spawnIn(rt.unit.name, rt.group, argv, {
      env,
      ...(account ? { account } : {}),
      ...(rt.unit.group && !exec.privileged ? { groupName: rt.unit.group } : {}),
      cwd,
      stdout: rt.unit.standardOutput,
      stderr: rt.unit.standardError,
      limits,
    });
  }

  /** Runs control commands one after the other; false when one fails (and is not `-`) or times out. */
  async function runControl(
    rt: Runtime,
    commands: readonly ExecCommand[],
    env: Record<string, string>,
    timeoutMs: number | undefined,
    what: string,
  ): Promise<boolean> {
    for (const exec of commands) {
      let child: ChildProcess;
      try {
        child = spawnCommand(rt, exec, env);
      } catch (error) {
        journalWrite(rt.unit.name, undefined, `${what} failed: ${String(error)}`);
        if (exec.ignoreFailure) continue;
        return false;
      }
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const { code, signal } = await exitOf(child);
      if (timer) clearTimeout(timer);
      if (code !== 0) {
        journalWrite(
          rt.unit.name,
          child.pid,
          `${what} ${exec.command}: exit ${code ?? signal}${exec.ignoreFailure ? ' (ignored)' : ''}`,
        );
        if (!exec.ignoreFailure) return false;
      }
    }
    return true;
  }

  function conditionsHold(unit: ServiceUnit): boolean {
    return unit.conditionPathExists.every((c) => existsSync(c.path) !== c.negate);
  }

  async function startUnit(rt: Runtime): Promise<boolean> {
    if (rt.state === 'active' || rt.state === 'activating') return true;
    const unit = rt.unit;
    if (!conditionsHold(unit)) {
      rt.conditionFailed = true;
      setState(rt, 'inactive');
      log(
        `${unit.name}: condition failed (${unit.conditionPathExists.map((c) => `${c.negate ? '!' : ''}${c.path}`).join(', ')}); skipped`,
      );
      return true;
    }
    rt.conditionFailed = false;
    if (!['simple', 'exec', 'oneshot'].includes(unit.type)) {
      rt.result = 'resources';
      setState(rt, 'failed');
      log(`${unit.name}: Type=${unit.type} is not supported by this runner (simple, exec, oneshot are)`);
      return false;
    }
    const now = Date.now();
    rt.startTimes = rt.startTimes.filter((t) => now - t < unit.startLimitIntervalMs);
    if (unit.startLimitIntervalMs > 0 && rt.startTimes.length >= unit.startLimitBurst) {
      rt.result = 'start-limit-hit';
      setState(rt, 'failed');
      log(`${unit.name}: start request repeated too quickly (StartLimitBurst=${unit.startLimitBurst})`);
      return false;
    }
    rt.startTimes.push(now);
    rt.stopping = false;
    setState(rt, 'activating');
    let env: Record<string, string>;
    try {
      env = unitEnvironment(rt);
    } catch (error) {
      rt.result = 'resources';
      setState(rt, 'failed');
      log(`${unit.name}: ${String(error)}`);
      return false;
    }
    const deadline = unit.timeoutStartMs === undefined ? undefined : Date.now() + unit.timeoutStartMs;
    const left = () => (deadline === undefined ? undefined : Math.max(1, deadline - Date.now()));
    const fail = async (result: string) => {
      rt.result = result;
      signalGroup(rt.group, 'SIGKILL');
      await waitEmpty(rt.group, 5_000);
      await runControl(rt, unit.execStopPost, env, unit.timeoutStopMs, 'ExecStopPost');
      setState(rt, 'failed');
      log(`${unit.name}: failed (${result})`);
      scheduleRestart(rt, false, false);
      return false;
    };
    if (!(await runControl(rt, unit.execStartPre, env, left(), 'ExecStartPre'))) return fail('exit-code');
    if (unit.type === 'oneshot') {
      if (!(await runControl(rt, unit.execStart, env, left(), 'ExecStart'))) return fail('exit-code');
      if (!(await runControl(rt, unit.execStartPost, env, left(), 'ExecStartPost'))) return fail('exit-code');
      rt.result = 'success';
      if (unit.remainAfterExit) {
        setState(rt, 'active');
      } else {
        setState(rt, 'inactive');
      }
      log(`${unit.name}: ${unit.remainAfterExit ? 'active (exited)' : 'finished'}`);
      return true;
    }
    const first = unit.execStart[0];
    if (!first) return fail('resources');
    let child: ChildProcess;
    try {
      child = spawnCommand(rt, first, env);
    } catch (error) {
      log(`${unit.name}: ${String(error)}`);
      return fail('resources');
    }
    rt.main = child;
    rt.mainPid = child.pid;
    exitOf(child).then(({ code, signal }) => onMainExit(rt, child, code, signal, env));
    if (
      !(await runControl(
        rt,
        unit.execStartPost,
        { ...env, MAINPID: String(child.pid ?? '') },
        left(),
        'ExecStartPost',
      ))
    ) {
      rt.stopping = true;
      return fail('exit-code');
    }
    rt.result = 'success';
    setState(rt, 'active');
    log(`${unit.name}: active (running), main pid ${child.pid}${unit.user ? `, user ${unit.user}` : ''}`);
    return true;
  }

  async function onMainExit(
    rt: Runtime,
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
    env: Record<string, string>,
  ): Promise<void> {
    if (rt.main !== child) return;
    rt.main = undefined;
    const clean =
      (code !== null && (code === 0 || rt.unit.successExitStatus.includes(code))) ||
      (signal !== null && CLEAN_SIGNALS.has(signal));
    journalWrite(
      rt.unit.name,
      child.pid,
      `main process exited, ${signal ? `signal ${signal}` : `code ${code}`}`,
    );
    if (rt.stopping) return; // stopUnit() finishes the job
    // The stop operation runs even when the main process ended on its own (systemd.service(5), ExecStop=).
    setState(rt, 'deactivating');
    await runControl(rt, rt.unit.execStop, { ...env, MAINPID: '' }, rt.unit.timeoutStopMs, 'ExecStop');
    signalGroup(rt.group, rt.unit.killSignal);
    if (!(await waitEmpty(rt.group, rt.unit.timeoutStopMs))) signalGroup(rt.group, 'SIGKILL');
    await runControl(rt, rt.unit.execStopPost, env, rt.unit.timeoutStopMs, 'ExecStopPost');
    rt.result = clean ? 'success' : signal ? 'signal' : 'exit-code';
    setState(rt, clean ? 'inactive' : 'failed');
    log(`${rt.unit.name}: main process ${child.pid} exited (${signal ?? `code ${code}`}): ${rt.state}`);
    scheduleRestart(rt, clean, signal !== null && !CLEAN_SIGNALS.has(signal));
  }

  function scheduleRestart(rt: Runtime, clean: boolean, uncleanSignal: boolean): void {
    if (shuttingDown || rt.stopping) return;
    const policy = rt.unit.restart;
    const restart =
      policy === 'always' ||
      (policy === 'on-success' && clean) ||
      (policy === 'on-failure' && !clean) ||
      (policy === 'on-abnormal' && uncleanSignal) ||
      (policy === 'on-abort' && uncleanSignal);
    if (!restart) return;
    log(`${rt.unit.name}: Restart=${policy}: restarting in ${rt.unit.restartMs} ms`);
    rt.restartTimer = setTimeout(() => {
      rt.restartTimer = undefined;
      if (shuttingDown || rt.stopping) return;
      rt.restarts++;
      rt.state = 'inactive';
      void startUnit(rt);
    }, rt.unit.restartMs);
  }

  async function stopUnit(rt: Runtime): Promise<void> {
    if (rt.restartTimer) {
      clearTimeout(rt.restartTimer);
      rt.restartTimer = undefined;
    }
    rt.stopping = true;
    if (rt.state === 'inactive' || rt.state === 'failed') {
      signalGroup(rt.group, 'SIGKILL');
      return;
    }
    setState(rt, 'deactivating');
    const unit = rt.unit;
    let env: Record<string, string>;
    try {
      env = unitEnvironment(rt, { MAINPID: rt.main?.pid !== undefined ? String(rt.main.pid) : '' });
    } catch {
      env = { ...baseEnv };
    }
    const started = Date.now();
    const stopOk = await runControl(rt, unit.execStop, env, unit.timeoutStopMs, 'ExecStop');
    if (!stopOk) journalWrite(unit.name, undefined, 'ExecStop failed or timed out');
    if (pidsOf(rt.group).length > 0 && unit.killMode !== 'none') {
      if (unit.killMode === 'control-group') signalGroup(rt.group, unit.killSignal);
      else if (rt.main?.pid !== undefined) process.kill(rt.main.pid, unit.killSignal);
      if (!(await waitEmpty(rt.group, unit.timeoutStopMs))) {
        journalWrite(unit.name, rt.mainPid, `State 'stop-sigterm' timed out. Killing.`);
        signalGroup(rt.group, 'SIGKILL');
        await waitEmpty(rt.group, 5_000);
        rt.result = 'timeout';
      }
    }
    if (unit.killMode !== 'control-group') signalGroup(rt.group, 'SIGKILL');
    await runControl(rt, unit.execStopPost, env, unit.timeoutStopMs, 'ExecStopPost');
    rt.main = undefined;
    setState(rt, 'inactive');
    log(`${unit.name}: stopped in ${Date.now() - started} ms (${rt.result})`);
  }

  const load = (name: string) => loadServiceUnit(unitDir, name);
  const requested = config.units ?? enabledUnits(unitDir);
  const plan = planStart(requested, load);
  for (const name of plan.missing) log(`${name}: no unit file in ${unitDir}; not started`);
  startOrder = plan.order.map((u) => u.name);
  log(`units to start, in order: ${startOrder.join(', ') || '(none)'}`);
  for (const unit of plan.order) {
    const rt = runtimeFor(unit);
    // Requires=: a unit whose required unit failed (not: was skipped by a condition) does not start.
    const failedDep = unit.requires.find((r) => runtimes.get(r)?.state === 'failed');
    if (failedDep) {
      rt.result = 'dependency';
      setState(rt, 'failed');
      log(`${unit.name}: dependency failed (${failedDep}); not started`);
      continue;
    }
    await startUnit(rt);
  }

  // ------------------------------------------------------------------ 5. serve
  const statuses = () => [...runtimes.values()].map(statusOf);
  async function shutdown(): Promise<void> {
    if (shuttingDown) return;
    shuttingDown = true;
    for (const name of [...runtimes.keys()].reverse()) {
      const rt = runtimes.get(name);
      if (rt) await stopUnit(rt);
    }
    cleanupCgroups();
  }
  function cleanupCgroups() {
    for (const rt of runtimes.values()) {
      signalGroup(rt.group, 'SIGKILL');
      if (rt.group.cgroup) {
        try {
          rmdirSync(rt.group.cgroup);
        } catch {
          // still populated for a moment; cleanup-run.sh removes it
        }
      }
    }
    if (cgroupRoot) {
      const cloudFinal = path.join(cgroupRoot, 'cloud-final.service');
      for (const dir of [cloudFinal, cgroupRoot]) {
        try {
          rmdirSync(dir);
        } catch {
          // not there or still populated
        }
      }
    }
  }

  // systemctl inside the instance: one JSON request a connection, one JSON reply.
  const shimRequest = z.object({ args: z.array(z.string()) });
  const socketPath = path.join(config.stateDir, 'systemctl.sock');
  const shimServer = createServer((socket: Socket) => {
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      if (!buffer.includes('\n')) return;
      const parsed = shimRequest.safeParse(JSON.parse(buffer.split('\n')[0] ?? '{}'));
      const reply = parsed.success
        ? systemctl(parsed.data.args)
        : Promise.resolve({ code: 1, stdout: '', stderr: 'bad request\n' });
      reply.then((r) => socket.end(`${JSON.stringify(r)}\n`));
    });
    socket.on('error', () => {});
  });
  shimServer.listen(socketPath);

  async function systemctl(
    args: readonly string[],
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const flags = args.filter((a) => a.startsWith('-'));
    const [verb = 'list-units', ...names] = args.filter((a) => !a.startsWith('-'));
    const quiet = flags.includes('-q') || flags.includes('--quiet');
    const signalFlag = flags.find((f) => f.startsWith('--signal='))?.slice('--signal='.length);
    const full = (n: string) => (n.includes('.') ? n : `${n}.service`);
    const find = (n: string): Runtime | undefined => {
      const existing = runtimes.get(full(n));
      if (existing) return existing;
      const unit = load(full(n));
      return unit ? runtimeFor(unit) : undefined;
    };
    log(`systemctl ${args.join(' ')}`);
    let stdout = '';
    let stderr = '';
    let code = 0;
    switch (verb) {
      case 'daemon-reload':
      case 'enable':
      case 'disable':
      case 'reset-failed':
        return { code: 0, stdout: '', stderr: '' };
      case 'start':
      case 'restart':
      case 'try-restart':
      case 'reload-or-restart':
      case 'condrestart':
      case 'stop':
      case 'kill':
        for (const n of names) {
          const rt = find(n);
          if (!rt) {
            stderr += `Failed to ${verb} ${full(n)}: Unit ${full(n)} ${verb === 'stop' ? 'not loaded' : 'not found'}.\n`;
            code = 5;
            continue;
          }
          if (verb === 'stop') await stopUnit(rt);
          else if (verb === 'kill') {
            if (rt.main?.pid !== undefined)
              process.kill(
                rt.main.pid,
                signalFlag ? (signalFlag.startsWith('SIG') ? signalFlag : `SIG${signalFlag}`) : 'SIGTERM',
              );
          } else {
            const active = rt.state === 'active' || rt.state === 'activating';
            if ((verb === 'try-restart' || verb === 'condrestart') && !active) continue;
            if (verb !== 'start') await stopUnit(rt);
            if (!(await startUnit(rt))) {
              stderr += `Job for ${rt.unit.name} failed because the control process exited with error code.\n`;
              code = 1;
            }
          }
        }
        return { code, stdout, stderr };
      case 'is-active':
      case 'is-failed':
        for (const n of names) {
          const state = find(n)?.state ?? 'inactive';
          stdout += quiet ? '' : `${state}\n`;
          if (verb === 'is-active' ? state !== 'active' : state !== 'failed')
            code = verb === 'is-active' ? 3 : 1;
        }
        return { code, stdout, stderr };
      case 'is-enabled':
        for (const n of names) {
          const enabled = enabledUnits(unitDir).includes(full(n));
          stdout += quiet ? '' : `${enabled ? 'enabled' : 'disabled'}\n`;
          if (!enabled) code = 1;
        }
        return { code, stdout, stderr };
      case 'show':
      case 'status':
        for (const n of names) {
          const rt = find(n);
          if (!rt) {
            stderr += `Unit ${full(n)} could not be found.\n`;
            code = 4;
            continue;
          }
          stdout +=
            verb === 'show'
              ? `Id=${rt.unit.name}\nActiveState=${rt.state}\nResult=${rt.result}\nMainPID=${rt.main?.pid ?? 0}\nNRestarts=${rt.restarts}\n`
              : `● ${rt.unit.name} - ${rt.unit.description}\n     Active: ${rt.state}\n   Main PID: ${rt.main?.pid ?? '-'}\n`;
          if (verb === 'status' && rt.state !== 'active') code = 3;
        }
        return { code, stdout, stderr };
      case 'list-units':
        return {
          code: 0,
          stdout: `${statuses()
            .map((s) => `${s.name} ${s.state}`)
            .join('\n')}\n`,
          stderr: '',
        };
      default:
        return { code: 1, stdout: '', stderr: `Unknown command verb ${verb}.\n` };
    }
  }

  process.on('message', (raw: unknown) => {
    const parsed = ParentMessage.safeParse(raw);
    if (!parsed.success) return;
    const message = parsed.data;
    if (message.type === 'stop') {
      void shutdown().then(() => {
        send({ type: 'stopped' });
        shimServer.close();
        setTimeout(() => process.exit(0), 50);
      });
    } else if (message.type === 'status') {
      send({ type: 'reply', id: message.id, units: statuses() });
    } else {
      const rt = runtimes.get(message.unit);
      const pid = rt?.main?.pid;
      let error: string | undefined;
      if (pid === undefined) error = `${message.unit} has no main process`;
      else {
        try {
          process.kill(pid, message.signal);
        } catch (e) {
          error = String(e);
        }
      }
      send({ type: 'reply', id: message.id, units: statuses(), ...(error ? { error } : {}) });
    }
  });
  process.on('disconnect', () => {
    // The parent is gone: nothing of this instance may outlive it.
    shuttingDown = true;
    cleanupCgroups();
    for (const rt of runtimes.values())
      for (const pgid of rt.group.pgids) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    process.exit(1);
  });
  send({ type: 'booted', pid: process.pid, units: statuses() });
}

function cryptoId(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const configArg = process.argv[2];
if (process.argv[1]?.endsWith('instance-runner.ts') && configArg) {
  main(configArg).catch((error: unknown) => {
    send({
      type: 'boot-failed',
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    setTimeout(() => process.exit(2), 50);
  });
}
