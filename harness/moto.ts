/**
 * Test infrastructure: starts moto (the AWS API emulator) in server mode on a loopback port from the project's
 * virtualenv (.venv, pinned in requirements-dev.txt, created by scripts/setup-python.sh). Handlers reach it
 * through the SDK's standard `AWS_ENDPOINT_URL`; no production code path knows about it.
 *
 * @module
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A running moto server. */
export interface MotoServer {
  /** e.g. `http://127.0.0.1:5123`. */
  readonly endpoint: string;
  /** Environment for SDK clients/child processes: `AWS_ENDPOINT_URL`, region and dummy credentials. */
  readonly env: Readonly<Record<string, string>>;
  /** Options for an SDK client constructed by test code: endpoint, region, dummy credentials. */
  readonly clientConfig: EmulatorClientConfig;
  /** Drops every resource in the emulator (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** SDK client options that reach the emulator. */
export interface EmulatorClientConfig {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** Region used against the emulator. */
export const MOTO_REGION = 'us-east-1';

/**
 * Creates/updates the virtualenv when needed (idempotent, fast when up to date).
 * @throws Error with the script's output when the install fails.
 */
export async function ensureVenv(): Promise<string> {
  const python = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  await promisify(execFile)('bash', [path.join(REPO_ROOT, 'scripts', 'setup-python.sh')], {
    cwd: REPO_ROOT,
    maxBuffer: 10 * 1024 * 1024,
  });
  if (!existsSync(python)) throw new Error(`setup-python.sh did not create ${python}`);
  return python;
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Options of {@link waitUntil}. */
export interface WaitOptions {
  /** Poll interval in ms (default 250). */
  readonly intervalMs?: number;
  /** Extra text for the timeout error (e.g. a log tail). */
  readonly detail?: () => string | Promise<string>;
  /** Checked before each probe: a returned message aborts the wait at once (e.g. "the process exited"). */
  readonly fatal?: () => string | undefined | Promise<string | undefined>;
}

/**
 * Polls `probe` until it resolves true or `deadlineMs` passes; a probe that throws counts as "not yet".
 * @throws Error `"<what> not ready after <ms> ms"` (with `detail()` appended), or the `fatal()` message.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  deadlineMs: number,
  options: WaitOptions = {},
): Promise<void> {
  const start = Date.now();
  for (;;) {
    const fatal = await options.fatal?.();
    if (fatal !== undefined) throw new Error(`${what}: ${fatal}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() - start > deadlineMs) {
      const detail = options.detail ? `\n${await options.detail()}` : '';
      throw new Error(`${what} not ready after ${deadlineMs} ms${detail}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Starts moto_server on a free loopback port and waits until it answers.
 * @param options.port - Fixed port (default: a free one).
 * @throws Error with moto's last output lines when it does not start within 30 s.
 */
export async function startMoto(options: { port?: number } = {}): Promise<MotoServer> {
  await ensureVenv();
  const port = options.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  const child = spawn(
    path.join(REPO_ROOT, '.venv', 'bin', 'moto_server'),
    ['-H', '127.0.0.1', '-p', String(port)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', () => children.delete(child));

  await waitUntil(
    `moto on ${endpoint}`,
    async () => (await fetch(`${endpoint}/moto-api/data.json`)).ok,
    30_000,
    {
      intervalMs: 200,
      detail: () => output.join('').slice(-2000),
      fatal: () =>
        child.exitCode === null
          ? undefined
          : `moto_server exited (${child.exitCode}): ${output.join('').slice(-2000)}`,
    },
  );

  return {
    endpoint,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: MOTO_REGION,
      AWS_DEFAULT_REGION: MOTO_REGION,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
    },
    clientConfig: {
      endpoint,
      region: MOTO_REGION,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    },
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`moto reset answered ${response.status}`);
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
