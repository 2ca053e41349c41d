/**
 * Test infrastructure for the local cloud: boots an instance from its image root — its own mount namespace with the
 * image's directories overlaid on the paths the AMI uses, its user data run as cloud-init runs it, then the image's
 * enabled systemd units as their unit files say (instance-runner.ts, systemd-units.ts).
 *
 * The one addition to what ships: `AWS_ENDPOINT_URL` is in the environment of the user data and of every unit (as
 * if `DefaultEnvironment=AWS_ENDPOINT_URL=…` were in /etc/systemd/system.conf and cloud-init's environment); it
 * stands for AWS's regional endpoints, which the AWS CLI and SDKs on the node would otherwise resolve by name.
 * Credentials come from the instance's metadata service (imds.ts), as on EC2.
 *
 * The runner and the `systemctl` client inside the instance are TypeScript files run by this process's Node binary
 * (`process.execPath`) through Node's own type stripping (Node >= 22.18; the project's Node is 22.23), so they need
 * no loader flags inside the namespaces.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DescribeInstanceAttributeCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { EmulatorClientConfig } from '../moto.ts';
import { REPO_ROOT } from '../moto.ts';
import { type RunnerConfig, RunnerMessage, type UnitStatus } from './instance-runner.ts';
import { CLOUD_STATE_ROOT, type LogLine, netnsPids, runCommand } from './netns.ts';

/** The absolute paths the AMI installs into (packer/files/install-trino.sh), each an overlay of the image root. */
export const DEFAULT_IMAGE_PATHS = [
  '/opt',
  '/etc/trino',
  '/etc/trino-sentinel',
  '/var/lib/trino',
  '/var/log',
  '/usr/local/bin',
  '/etc/systemd/system',
  '/mnt',
] as const;

/** Host directories given a private writable layer per instance, so nothing an instance writes reaches the host. */
export const DEFAULT_HOST_OVERLAYS = ['/etc', '/var'] as const;

/** Options of {@link bootInstance}. */
export interface BootInstanceOptions {
  readonly instanceId: string;
  /** The instance's network namespace (from network.ts). */
  readonly netns: string;
  /** The AMI's image root (a directory tree: opt/, etc/, usr/local/bin/ …), shared read-only by every instance. */
  readonly imageRoot: string;
  /** How this process reaches the emulator (user data, private IP). */
  readonly aws: EmulatorClientConfig;
  /** `AWS_ENDPOINT_URL` inside the instance (e.g. `http://10.42.250.2:443`). */
  readonly awsEndpointUrl: string;
  /** Extra /etc/hosts entries (e.g. a Function URL host → an endpoint address). */
  readonly extraHosts?: readonly { readonly host: string; readonly address: string }[];
  /** Paths overlaid from the image root (default {@link DEFAULT_IMAGE_PATHS}). */
  readonly imagePaths?: readonly string[];
  /** Host paths with a per-instance writable layer (default {@link DEFAULT_HOST_OVERLAYS}). */
  readonly hostOverlays?: readonly string[];
  /** Units to start (default: those enabled in the image, `/etc/systemd/system/multi-user.target.wants/`). */
  readonly units?: readonly string[];
  /**
   * Host files bound read-only over paths inside the instance (documented additions only: e.g. the JDK's trust
   * store with the run's CA added, standing for the public CAs that sign AWS's endpoints).
   */
  readonly fileBinds?: readonly { readonly source: string; readonly target: string }[];
  /** More environment for user data and units (documented additions only, e.g. `AWS_DEFAULT_REGION`). */
  readonly environment?: Readonly<Record<string, string>>;
  /** Deadline for mounts + user data + unit starts, in ms (default 600 000). */
  readonly bootTimeoutMs?: number;
  /** Deadline for the user data script, in ms (default 300 000). */
  readonly userDataTimeoutMs?: number;
  /** Per-instance state (overlay upper dirs, journal); default `<tmp>/trino-sentinel-cloud/<prefix>/<instance id>`. */
  readonly stateDir?: string;
  readonly log?: LogLine;
}

/** Result of {@link BootedInstance.exec}. */
export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A booted instance. */
export interface BootedInstance {
  readonly instanceId: string;
  readonly netns: string;
  /** Pid of the runner (the instance's init: its mount, UTS and network namespaces). */
  readonly pid: number;
  readonly stateDir: string;
  /** Units' output that goes to the journal (`<stateDir>/journal.log`). */
  readonly journalFile: string;
  /** Units' states now. */
  units(): Promise<UnitStatus[]>;
  /**
   * Waits until a unit's status satisfies `check`.
   * @throws Error with the last status after `timeoutMs` (default 60 000).
   */
  waitForUnit(unit: string, check: (status: UnitStatus) => boolean, timeoutMs?: number): Promise<UnitStatus>;
  /**
   * Runs a command inside the instance (its network, mount and UTS namespaces), as root or as `user`.
   * @returns Exit code and output (never throws for a non-zero exit).
   */
  exec(argv: readonly string[], options?: { user?: string; timeoutMs?: number }): Promise<ExecResult>;
  /**
   * Sends a signal to a unit's main process (a crash when SIGKILL); the unit's Restart= applies.
   * @param unit - Default: the last unit of the start order with a main process (e.g. `trino.service`).
   * @throws Error when the unit has no main process.
   */
  kill(signal?: NodeJS.Signals, unit?: string): Promise<void>;
  /**
   * Stops the instance as a shutdown does: every unit in reverse start order with systemctl stop semantics
   * (ExecStop, then KillSignal to the unit's processes, SIGKILL after TimeoutStopSec, ExecStopPost), then the
   * runner exits; past `timeoutMs` (default 300 000) every process in the namespace is SIGKILLed.
   */
  stop(timeoutMs?: number): Promise<void>;
  /** Resolves with the runner's exit code once it has exited. */
  readonly exited: Promise<number | null>;
}

/**
 * Boots an instance in its network namespace: reads its user data and private IP from the emulator, starts the
 * runner (`ip netns exec <netns> unshare --mount --uts --propagation private node instance-runner.ts`) and waits
 * until the mounts are made, the user data has run and the enabled units were started.
 * @returns The booted instance.
 * @throws Error when the instance is unknown to the emulator, the runner fails to boot (its error), or the boot
 *   deadline passes (the runner and everything in the namespace is then killed).
 * @example const node = await bootInstance({ instanceId, netns, imageRoot, aws: moto.clientConfig,
 *   awsEndpointUrl: 'http://10.42.250.2:443', log });
 * Source: cloud-init (user data scripts run once, as root, output in /var/log/cloud-init-output.log); systemd
 *   (see systemd-units.ts).
 */
export async function bootInstance(options: BootInstanceOptions): Promise<BootedInstance> {
  const log = options.log ?? (() => {});
  const { instanceId, netns } = options;
  const prefix = netns.split('-')[0] ?? 'ts0000';
  const stateDir = options.stateDir ?? path.join(CLOUD_STATE_ROOT, prefix, instanceId);
  await mkdir(stateDir, { recursive: true });
  const ec2 = new EC2Client({ ...options.aws, maxAttempts: 2 });
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = described.Reservations?.[0]?.Instances?.[0];
  if (!instance?.PrivateIpAddress) throw new Error(`instance ${instanceId} is unknown to the emulator`);
  const attribute = await ec2.send(
    new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }),
  );
  const encoded = attribute.UserData?.Value;
  const userData = encoded ? Buffer.from(encoded, 'base64').toString('utf8') : undefined;
  const privateIp = instance.PrivateIpAddress;
  const hostname = `ip-${privateIp.replace(/\./g, '-')}`;

  const shimScript = path.join(stateDir, 'systemctl');
  const socketPath = path.join(stateDir, 'systemctl.sock');
  await writeFile(
    shimScript,
    `#!/bin/sh\nexec '${process.execPath}' '${path.join(REPO_ROOT, 'harness/cloud/systemctl-shim.ts')}' '${socketPath}' "$@"\n`,
  );
  await chmod(shimScript, 0o755);
  const config: RunnerConfig = {
    instanceId,
    prefix,
    netns,
    hostname,
    privateIp,
    imageRoot: path.resolve(options.imageRoot),
    stateDir,
    hostOverlays: [...(options.hostOverlays ?? DEFAULT_HOST_OVERLAYS)],
    imagePaths: [...(options.imagePaths ?? DEFAULT_IMAGE_PATHS)],
    extraHosts: (options.extraHosts ?? []).map((h) => ({ host: h.host, address: h.address })),
    environment: { ...options.environment, AWS_ENDPOINT_URL: options.awsEndpointUrl },
    ...(userData === undefined ? {} : { userData }),
    ...(options.units ? { units: [...options.units] } : {}),
    userDataTimeoutMs: options.userDataTimeoutMs ?? 300_000,
    nodePath: process.execPath,
    systemctlShim: shimScript,
    fileBinds: (options.fileBinds ?? []).map((b) => ({ source: b.source, target: b.target })),
  };
  if (!existsSync(config.imageRoot)) throw new Error(`image root ${config.imageRoot} does not exist`);
  const configPath = path.join(stateDir, 'runner.json');
  await writeFile(configPath, JSON.stringify(config, null, 2));

  const child: ChildProcess = spawn(
    'ip',
    [
      'netns',
      'exec',
      netns,
      'unshare',
      '--mount',
      '--uts',
      '--propagation',
      'private',
      process.execPath,
      path.join(REPO_ROOT, 'harness/cloud/instance-runner.ts'),
      configPath,
    ],
    { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const statusListeners = new Set<(status: UnitStatus) => void>();
  const pending = new Map<number, (reply: { units: UnitStatus[]; error?: string }) => void>();
  let nextId = 1;
  let stopped: (() => void) | undefined;
  const latest = new Map<string, UnitStatus>();
  let startOrder: string[] = [];

  const booted = new Promise<{ pid: number; units: UnitStatus[] }>((resolve, reject) => {
    child.on('message', (raw: unknown) => {
      const parsed = RunnerMessage.safeParse(raw);
      if (!parsed.success) return;
      const message = parsed.data;
      switch (message.type) {
        case 'log':
          log(`${instanceId}: ${message.line}`);
          break;
        case 'booted':
          resolve({ pid: message.pid, units: message.units });
          break;
        case 'boot-failed':
          reject(new Error(`instance ${instanceId} failed to boot: ${message.error}`));
          break;
        case 'unit':
          latest.set(message.status.name, message.status);
          if (!startOrder.includes(message.status.name)) startOrder = [...startOrder, message.status.name];
          for (const listener of statusListeners) listener(message.status);
          break;
        case 'reply':
          pending.get(message.id)?.({
            units: message.units,
            ...(message.error ? { error: message.error } : {}),
          });
          pending.delete(message.id);
          break;
        case 'stopped':
          stopped?.();
          break;
      }
    });
    exited.then((code) =>
      reject(new Error(`instance ${instanceId}: runner exited (${code}) during boot: ${output}`)),
    );
  });

  const killEverything = async () => {
    child.kill('SIGKILL');
    for (const pid of await netnsPids(netns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  const bootTimeoutMs = options.bootTimeoutMs ?? 600_000;
  let bootTimer: NodeJS.Timeout | undefined;
  const started = Date.now();
  const result = await Promise.race([
    booted,
    new Promise<never>((_, reject) => {
      bootTimer = setTimeout(
        () => reject(new Error(`instance ${instanceId} not booted after ${bootTimeoutMs} ms`)),
        bootTimeoutMs,
      );
    }),
  ]).catch(async (error: unknown) => {
    await killEverything();
    throw error;
  });
  clearTimeout(bootTimer);
  for (const status of result.units) latest.set(status.name, status);
  log(
    `${instanceId}: booted in ${Date.now() - started} ms (${result.units.map((u) => `${u.name}=${u.state}`).join(', ') || 'no units'})`,
  );

  const request = (message: { type: 'status' } | { type: 'kill'; unit: string; signal: string }) =>
    new Promise<{ units: UnitStatus[]; error?: string }>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`instance ${instanceId}: runner is not running`));
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ ...message, id });
      setTimeout(() => {
        if (pending.delete(id))
          reject(new Error(`instance ${instanceId}: no reply from the runner in 10000 ms`));
      }, 10_000);
    });

  const booted_: BootedInstance = {
    instanceId,
    netns,
    pid: result.pid,
    stateDir,
    journalFile: path.join(stateDir, 'journal.log'),
    async units() {
      return (await request({ type: 'status' })).units;
    },
    async waitForUnit(unit, check, timeoutMs = 60_000) {
      const now = (await request({ type: 'status' })).units.find((u) => u.name === unit);
      if (now && check(now)) return now;
      return new Promise<UnitStatus>((resolve, reject) => {
        const listener = (status: UnitStatus) => {
          if (status.name !== unit || !check(status)) return;
          clearTimeout(timer);
          statusListeners.delete(listener);
          resolve(status);
        };
        const timer = setTimeout(() => {
          statusListeners.delete(listener);
          reject(
            new Error(
              `${instanceId} ${unit}: condition not met after ${timeoutMs} ms (last: ${JSON.stringify(latest.get(unit))})`,
            ),
          );
        }, timeoutMs);
        statusListeners.add(listener);
      });
    },
    async exec(argv, execOptions = {}) {
      let drop: string[] = [];
      if (execOptions.user) {
        const id = await runCommand([
          'nsenter',
          '-t',
          String(result.pid),
          '-m',
          '-u',
          '-n',
          '--',
          'id',
          execOptions.user,
        ]);
        const uid = /uid=(\d+)/.exec(id)?.[1];
        const gid = /gid=(\d+)/.exec(id)?.[1];
        if (!uid || !gid) throw new Error(`user ${execOptions.user} unknown in ${instanceId}: ${id}`);
        drop = ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--'];
      }
      return new Promise<ExecResult>((resolve) => {
        const proc = spawn('nsenter', ['-t', String(result.pid), '-m', '-u', '-n', '--', ...drop, ...argv], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        proc.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
        });
        proc.stderr.on('data', (c: Buffer) => {
          stderr += c.toString();
        });
        const timer = setTimeout(() => proc.kill('SIGKILL'), execOptions.timeoutMs ?? 30_000);
        proc.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    },
    async kill(signal = 'SIGKILL', unit) {
      const units = (await request({ type: 'status' })).units;
      const target =
        unit ?? [...units].reverse().find((u) => u.mainPid !== undefined && u.state === 'active')?.name;
      if (!target) throw new Error(`${instanceId}: no unit with a main process`);
      const reply = await request({ type: 'kill', unit: target, signal });
      if (reply.error) throw new Error(`${instanceId}: kill ${signal} ${target}: ${reply.error}`);
      log(`${instanceId}: sent ${signal} to the main process of ${target}`);
    },
    async stop(timeoutMs = 300_000) {
      if (child.exitCode !== null || child.signalCode !== null || !child.connected) {
        await killEverything();
        return;
      }
      const done = new Promise<void>((resolve) => {
        stopped = resolve;
      });
      child.send({ type: 'stop' });
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([
        done.then(() => exited).then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (!ok) log(`${instanceId}: not stopped after ${timeoutMs} ms; killing every process in ${netns}`);
      await killEverything();
      log(`${instanceId}: stopped`);
    },
    exited,
  };
  return booted_;
}

/**
 * Reads the tail of an instance's journal (units' output that goes to the journal).
 * @returns The last `maxBytes` (default 8 000) of the file, or '' when there is none yet.
 */
export async function journalTail(instance: BootedInstance, maxBytes = 8_000): Promise<string> {
  const text = await readFile(instance.journalFile, 'utf8').catch(() => '');
  return text.slice(-maxBytes);
}
