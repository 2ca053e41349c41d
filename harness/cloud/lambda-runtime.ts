/**
 * Test infrastructure (the deployed topology, issue 10): runs one Lambda function's unzipped deployment package the
 * way the `nodejs22.x` runtime runs it — under the AWS Lambda Runtime Interface Emulator (`aws-lambda-rie`) with the
 * Node.js Runtime Interface Client (`aws-lambda-ric`) as bootstrap, the AWS SDK v3 resolved from the runtime folder
 * above the code, and Lambda's reserved environment variables. Nothing here is imported by `functions/` or `lib/`.
 *
 * One {@link LambdaRuntime} is one execution environment: RIE serves one invocation at a time, so a second concurrent
 * invocation needs a second instance (the Lambda service in `lambda-service.ts` pools them). An instance starts on
 * its first invocation and stays warm; after a timeout RIE kills the runtime process and the next invocation
 * initialises it again, as Lambda resets an environment after a timeout.
 *
 * The environment is Lambda's (Source: AWS Lambda Developer Guide, "Defined runtime environment variables"), plus ONE
 * addition standing for AWS's regional endpoints: `AWS_ENDPOINT_URL=<front endpoint>`. The SDK v3 honours it for
 * every client, so the unmodified bundles reach the local cloud's single AWS endpoint (`aws-endpoint.ts`) exactly
 * where in AWS they would reach `https://<service>.<region>.amazonaws.com`.
 *
 * What RIE answers, measured with the RIE version pinned in scripts/setup-lambda-runtime.sh (classic mode):
 * - success: 200, the handler's JSON;
 * - unhandled error (the runtime POSTed `/runtime/invocation/<id>/error`): 200 and the error document
 *   `{"errorType","errorMessage","trace"}` — with no header telling it from a success (RIE's response writer drops
 *   the `Lambda-Runtime-Function-Error-Type` header rapid sets), so it is recognised from RIE's own debug log line
 *   `(rapid) API request - POST /2018-06-01/runtime/invocation/<id>/error` between `START RequestId: <id>` and
 *   `END RequestId: <id>`;
 * - timeout: 200 and the plain text `Task timed out after <n>.00 seconds` (and the runtime is SIGKILLed);
 * - runtime exit / init failure: 502 and `{"errorType":"Runtime.ExitError",...}` (or the init error document).
 * AWS's Invoke API answers all three failures with 200, `X-Amz-Function-Error: Unhandled` and the error document;
 * for a timeout the document is `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: <id> Error: Task timed
 * out after <n>.00 seconds"}`. {@link LambdaRuntime.invoke} returns that AWS form.
 *
 * @module
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { request } from 'undici';
import * as z from 'zod';
import { freePort, REPO_ROOT, waitUntil } from '../moto.ts';

/** Where the runtime pieces are, as scripts/setup-lambda-runtime.sh installed them. */
export interface LambdaRuntimeInstall {
  /** `aws-lambda-rie` binary. */
  readonly rieBin: string;
  /** Runtime folder: `node_modules/aws-lambda-ric` and `node_modules/@aws-sdk/*`. */
  readonly runtimeDir: string;
  /** The project's Node 22 (`node_modules/node/bin/node`). */
  readonly nodeBin: string;
}

/**
 * Runs scripts/setup-lambda-runtime.sh (idempotent; instant once installed) and returns the paths it printed.
 * @param log - Receives the script's progress lines.
 * @throws Error with the script's output when the setup fails or prints no `RIE=`/`RUNTIME=` lines.
 * @example const install = await ensureLambdaRuntime(console.log);
 */
export async function ensureLambdaRuntime(
  log: (line: string) => void = () => {},
): Promise<LambdaRuntimeInstall> {
  const script = path.join(REPO_ROOT, 'scripts', 'setup-lambda-runtime.sh');
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('bash', [script], {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 15 * 60_000,
    }));
  } catch (error) {
    const detail = z.object({ stdout: z.string(), stderr: z.string() }).safeParse(error);
    throw new Error(
      `scripts/setup-lambda-runtime.sh failed${detail.success ? `:\n${detail.data.stdout}\n${detail.data.stderr}` : ''}`,
      { cause: error },
    );
  }
  for (const line of stdout.split('\n')) if (line.startsWith('setup-lambda-runtime:')) log(line);
  const rieBin = /^RIE=(.+)$/m.exec(stdout)?.[1];
  const runtimeDir = /^RUNTIME=(.+)$/m.exec(stdout)?.[1];
  if (rieBin === undefined || runtimeDir === undefined) {
    throw new Error(`scripts/setup-lambda-runtime.sh printed no RIE=/RUNTIME= lines:\n${stdout}`);
  }
  const nodeBin = path.join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(nodeBin)) throw new Error(`the project's Node 22 is missing (${nodeBin}); run npm ci`);
  return { rieBin, runtimeDir, nodeBin };
}

/** The function configuration an execution environment is built from (as the Lambda service read it). */
export interface FunctionRuntimeConfig {
  /** `FunctionName`. */
  readonly functionName: string;
  /** `FunctionArn` (unqualified). */
  readonly functionArn: string;
  /** `Handler`, e.g. `functions/cluster-metrics/handler.handler`. */
  readonly handler: string;
  /** `Timeout` in whole seconds (1–900), enforced by RIE. */
  readonly timeoutSeconds: number;
  /** `MemorySize` in MB (reported to the function; not enforced as a memory limit here). */
  readonly memorySizeMb: number;
  /** `Environment.Variables`. */
  readonly environment: Readonly<Record<string, string>>;
  /** The unzipped deployment package (`LAMBDA_TASK_ROOT`); the runtime's `node_modules` must resolve above it. */
  readonly taskRoot: string;
  /** Region of the function (`AWS_REGION`, `AWS_DEFAULT_REGION`). */
  readonly region: string;
  /** `Version`, default `$LATEST`. */
  readonly version?: string;
}

/** Temporary credentials of the function's execution role (STS `AssumeRole` result). */
export interface RuntimeCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** When they expire; the instance is recycled before that (see {@link LambdaRuntime.expired}). */
  readonly expiration?: Date;
}

/** Where an execution environment runs. */
export interface RuntimePlacement {
  /**
   * Network namespace to start RIE in (`ip netns exec <netns> …`); its loopback must be up. The runtime API stays on
   * the namespace's 127.0.0.1; the invoke API listens on {@link RuntimePlacement.listenHost}.
   */
  readonly netns?: string;
  /** Address RIE's invoke API listens on; it must be reachable from the calling process (default `127.0.0.1`). */
  readonly listenHost?: string;
}

/** Options of {@link createLambdaRuntime}. */
export interface LambdaRuntimeOptions {
  readonly install: LambdaRuntimeInstall;
  readonly fn: FunctionRuntimeConfig;
  /** Called once per start: the execution role's credentials (the Lambda service assumes the role in STS). */
  readonly credentials: () => Promise<RuntimeCredentials>;
  /** `AWS_ENDPOINT_URL` of the function: the front AWS endpoint (stands for AWS's regional endpoints). */
  readonly endpointUrl: string;
  /**
   * PEM bundle the runtime trusts besides Node's CAs (`NODE_EXTRA_CA_CERTS`, which Lambda's Node runtimes set to
   * /var/runtime/ca-cert.pem): the run's CA, which signed the endpoints' certificates for AWS's service names.
   */
  readonly caBundleFile?: string;
  readonly placement?: RuntimePlacement;
  /** Label in log lines, e.g. `clusterMetrics#2`. */
  readonly label?: string;
  /** Receives the function's own log lines and RIE's info/warning lines, prefixed by the label. */
  readonly log: (line: string) => void;
  /** Receives every output line unprefixed (what CloudWatch Logs would store), e.g. for EMF extraction. */
  readonly onOutputLine?: (line: string) => void;
}

/** What one invocation returned, in the Invoke API's terms. */
export interface RuntimeInvokeResult {
  /** The invocation's request id (`context.awsRequestId`). */
  readonly requestId: string;
  /** Response payload: the handler's result, or the error document. */
  readonly payload: Buffer;
  /** `Unhandled` when the function failed (thrown error, timeout, runtime exit): `X-Amz-Function-Error`. */
  readonly functionError?: 'Unhandled';
  /** The error document's `errorType` when the function failed (`Sandbox.Timedout` on a timeout). */
  readonly errorType?: string;
  /** Wall time of the invocation in ms (includes an initialisation on a cold start). */
  readonly durationMs: number;
  /** Whether this invocation initialised the runtime (cold start). */
  readonly coldStart: boolean;
  /** The invocation's log (START … REPORT plus the function's lines), as `X-Amz-Log-Result` carries its tail. */
  readonly log: string;
}

/** Failure of the emulator itself (not of the function): RIE missing, not answering, or answering 4xx/5xx. */
export class LambdaRuntimeError extends Error {
  override readonly name = 'LambdaRuntimeError';
}

/** One execution environment of a function. */
export interface LambdaRuntime {
  /** Label used in logs. */
  readonly label: string;
  /** True while an invocation runs. */
  readonly busy: boolean;
  /** True once RIE has been started (and not stopped). */
  readonly started: boolean;
  /** True when the role credentials expire within 5 minutes: the pool should stop this instance and start another. */
  readonly expired: boolean;
  /**
   * Invokes the function (starting RIE first if needed) and waits for the result; at most one at a time.
   * @param payload - The event bytes (JSON).
   * @param options.requestId - Request id to use (default: a new UUID-like id).
   * @param options.clientContext - `X-Amz-Client-Context` (base64), passed through.
   * @throws LambdaRuntimeError when the instance is busy, RIE cannot be started, or RIE fails (not the function).
   */
  invoke(
    payload: Buffer,
    options?: { requestId?: string; clientContext?: string },
  ): Promise<RuntimeInvokeResult>;
  /** Stops RIE (SIGTERM: RIE SIGKILLs its runtime; SIGKILL after 5 s) and its watchdog. Idempotent. */
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * A detached shell that kills RIE and its runtime process when this Node process dies without stopping them
 * (RIE puts the runtime in its own process group, so killing RIE's group would not reach it).
 */
function watchdog(riePid: number): ChildProcess {
  const script =
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
    'kids=$(cat /proc/"$2"/task/*/children 2>/dev/null); kill -TERM "$2" 2>/dev/null; sleep 1; ' +
    'kill -KILL "$2" $kids 2>/dev/null; exit 0';
  const child = spawn('sh', ['-c', script, 'lambda-runtime-watchdog', String(process.pid), String(riePid)], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return child;
}

/**
 * A free TCP port on `host`, asked of the kernel inside `netns` when given (`ip netns exec`).
 * @throws Error when the probe cannot run in the namespace.
 */
export async function freePortIn(nodeBin: string, host: string, netns?: string): Promise<number> {
  if (netns === undefined) return host === '127.0.0.1' ? freePort() : freePortOn(host);
  const probe =
    "const s=require('net').createServer();s.listen(0,process.argv[1],()=>{console.log(s.address().port);s.close()})";
  const { stdout } = await promisify(execFile)('ip', ['netns', 'exec', netns, nodeBin, '-e', probe, host], {
    timeout: 10_000,
  });
  const port = Number.parseInt(stdout.trim(), 10);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no free port in netns ${netns}: ${stdout}`);
  return port;
}

async function freePortOn(host: string): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A request id shaped like Lambda's (UUID v4). */
function newRequestId(): string {
  const b = randomBytes(16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** `2026/11/30/[$LATEST]<32 hex>`: the shape of a Lambda log stream name. */
function logStreamName(version: string): string {
  const d = new Date();
  const day = `${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}`;
  return `${day}/[${version}]${randomBytes(16).toString('hex')}`;
}

/** Reserved variables a function's own `Environment.Variables` cannot override (Lambda rejects them at create). */
const RESERVED = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
]);

/**
 * The environment of the runtime process, as Lambda sets it for `nodejs22.x`, plus `AWS_ENDPOINT_URL`.
 * Source: AWS Lambda Developer Guide, "Defined runtime environment variables"; `AWS_LAMBDA_FUNCTION_TIMEOUT` is read
 * by RIE itself (Source: aws-lambda-runtime-interface-emulator README, "How to configure").
 * @returns Variables for RIE (which passes them all to the runtime).
 */
export function runtimeEnvironment(options: {
  install: LambdaRuntimeInstall;
  fn: FunctionRuntimeConfig;
  credentials: RuntimeCredentials;
  endpointUrl: string;
  caBundleFile?: string;
}): Record<string, string> {
  const { install, fn, credentials } = options;
  const version = fn.version ?? '$LATEST';
  const own = Object.fromEntries(Object.entries(fn.environment).filter(([key]) => !RESERVED.has(key)));
  return {
    LANG: 'en_US.UTF-8',
    PATH: `${path.dirname(install.nodeBin)}:/usr/local/bin:/usr/bin:/bin`,
    TZ: ':UTC',
    ...own,
    // Like the runtime's /var/runtime/node_modules on NODE_PATH; ESM resolves @aws-sdk/* from the folder above the
    // code instead (NODE_PATH does not apply to `import`), see lambda-service.ts.
    NODE_PATH: [path.join(install.runtimeDir, 'node_modules'), install.runtimeDir, fn.taskRoot].join(':'),
    _HANDLER: fn.handler,
    LAMBDA_TASK_ROOT: fn.taskRoot,
    LAMBDA_RUNTIME_DIR: install.runtimeDir,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySizeMb),
    AWS_LAMBDA_FUNCTION_VERSION: version,
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(fn.timeoutSeconds),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: logStreamName(version),
    AWS_REGION: fn.region,
    AWS_DEFAULT_REGION: fn.region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...(credentials.sessionToken === undefined ? {} : { AWS_SESSION_TOKEN: credentials.sessionToken }),
    // The one addition: AWS's regional endpoints are the local cloud's front endpoint.
    AWS_ENDPOINT_URL: options.endpointUrl,
    ...(options.caBundleFile === undefined ? {} : { NODE_EXTRA_CA_CERTS: options.caBundleFile }),
  };
}

const TIMEOUT_TEXT = /^Task timed out after (\d+\.\d\d) seconds$/;
const ErrorDocument = z.object({ errorType: z.string(), errorMessage: z.string() }).loose();

/**
 * Creates an execution environment for one function; RIE starts on the first {@link LambdaRuntime.invoke}.
 * @example
 * const runtime = createLambdaRuntime({ install, fn, credentials: async () => creds, endpointUrl, log });
 * const result = await runtime.invoke(Buffer.from('{}'));
 * await runtime.stop();
 */
export function createLambdaRuntime(options: LambdaRuntimeOptions): LambdaRuntime {
  const label = options.label ?? options.fn.functionName;
  const listenHost = options.placement?.listenHost ?? '127.0.0.1';
  const netns = options.placement?.netns;
  let child: ChildProcess | undefined;
  let guard: ChildProcess | undefined;
  let invokeUrl: string | undefined;
  let expiresAtMs: number | undefined;
  let busy = false;
  let starting: Promise<void> | undefined;
  let initialised = false;
  let exited: string | undefined;
  /** Lines of the invocation in progress (RIE stdout+stderr, in order). */
  let capture: string[] | undefined;
  const endSeen = new Set<string>();
  const tail: string[] = [];

  const onLine = (line: string) => {
    capture?.push(line);
    const end = /^END RequestId: (\S+)/.exec(line);
    if (end?.[1]) endSeen.add(end[1]);
    tail.push(line);
    if (tail.length > 200) tail.shift();
    // RIE's debug lines are only for classification; everything else (function output, rapid info) is logged.
    if (!/\[DEBUG\] \(rapid\)/.test(line) && line.trim() !== '') options.log(`[${label}] ${line}`);
    options.onOutputLine?.(line);
  };

  const start = async () => {
    const credentials = await options.credentials();
    expiresAtMs = credentials.expiration?.getTime();
    const [port, runtimeApiPort] = [
      await freePortIn(options.install.nodeBin, listenHost, netns),
      await freePortIn(options.install.nodeBin, '127.0.0.1', netns),
    ];
    const env = runtimeEnvironment({
      install: options.install,
      fn: options.fn,
      credentials,
      endpointUrl: options.endpointUrl,
      ...(options.caBundleFile === undefined ? {} : { caBundleFile: options.caBundleFile }),
    });
    const rie = [
      options.install.rieBin,
      '--log-level',
      'debug',
      '--runtime-api-address',
      `127.0.0.1:${runtimeApiPort}`,
      '--runtime-interface-emulator-address',
      `${listenHost}:${port}`,
      options.install.nodeBin,
      path.join(options.install.runtimeDir, 'node_modules', 'aws-lambda-ric', 'index.mjs'),
    ];
    // One pipe for stdout and stderr keeps RIE's lines in order (rapid logs to stderr, START/END to stdout).
    const shell = ['sh', '-c', 'exec "$@" 2>&1', 'lambda-runtime', ...rie];
    const argv = netns === undefined ? shell : ['ip', 'netns', 'exec', netns, ...shell];
    const [command, ...args] = argv;
    if (command === undefined) throw new LambdaRuntimeError('empty command');
    exited = undefined;
    endSeen.clear();
    const proc = spawn(command, args, { cwd: options.fn.taskRoot, env, stdio: ['ignore', 'pipe', 'ignore'] });
    child = proc;
    children.add(proc);
    if (proc.pid !== undefined) guard = watchdog(proc.pid);
    proc.once('exit', (code, signal) => {
      exited = `RIE exited (${code ?? signal})`;
      children.delete(proc);
      guard?.kill('SIGKILL');
      guard = undefined;
      if (child === proc) child = undefined;
    });
    if (proc.stdout) createInterface({ input: proc.stdout }).on('line', onLine);
    invokeUrl = `http://${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${port}/2015-03-31/functions/function/invocations`;
    initialised = false;
    await waitUntil(
      `aws-lambda-rie for ${label} on ${listenHost}:${port}`,
      () => tcpOpen(listenHost, port),
      15_000,
      {
        intervalMs: 50,
        fatal: () => (exited === undefined ? undefined : `${exited}: ${tail.slice(-20).join('\n')}`),
      },
    );
    options.log(
      `[${label}] aws-lambda-rie started (pid ${proc.pid}) on ${listenHost}:${port}${netns ? ` in netns ${netns}` : ''}`,
    );
  };

  const runtime: LambdaRuntime = {
    label,
    get busy() {
      return busy;
    },
    get started() {
      return child !== undefined;
    },
    get expired() {
      return expiresAtMs !== undefined && expiresAtMs - Date.now() < 5 * 60_000;
    },
    async invoke(payload, invokeOptions = {}) {
      if (busy) throw new LambdaRuntimeError(`${label} is busy: RIE serves one invocation at a time`);
      busy = true;
      try {
        if (child === undefined) {
          starting ??= start().finally(() => {
            starting = undefined;
          });
          await starting;
        }
        const url = invokeUrl;
        if (url === undefined || child === undefined)
          throw new LambdaRuntimeError(`${label}: RIE is not running`);
        const requestId = invokeOptions.requestId ?? newRequestId();
        const coldStart = !initialised;
        const lines: string[] = [];
        capture = lines;
        const startedAt = Date.now();
        // Bounded: the function's own timeout (enforced by RIE), plus its init on a cold start, plus a margin.
        const deadlineMs = (options.fn.timeoutSeconds * 2 + 30) * 1_000;
        let status: number;
        let body: Buffer;
        try {
          const response = await request(url, {
            method: 'POST',
            body: payload,
            headers: {
              'content-type': 'application/json',
              'x-amzn-requestid': requestId,
              ...(invokeOptions.clientContext ? { 'x-amz-client-context': invokeOptions.clientContext } : {}),
            },
            headersTimeout: deadlineMs,
            bodyTimeout: deadlineMs,
          });
          status = response.statusCode;
          body = Buffer.from(await response.body.arrayBuffer());
        } catch (error) {
          throw new LambdaRuntimeError(`${label}: invoking RIE failed: ${String(error)}`, { cause: error });
        }
        // On a 200, RIE prints `END RequestId: <id>` before it writes the response (after any error line of the
        // runtime): wait until that line is read (bounded). RIE prints no END line on a 502.
        if (status === 200) {
          await waitUntil(`END line of ${requestId}`, async () => endSeen.has(requestId), 5_000, {
            intervalMs: 10,
          }).catch(() => undefined);
        }
        endSeen.delete(requestId);
        capture = undefined;
        initialised = true;
        const durationMs = Date.now() - startedAt;
        const log = lines.filter((line) => !/\(rapid\)/.test(line)).join('\n');
        const text = body.toString('utf8');
        const timedOut = TIMEOUT_TEXT.exec(text);
        if (status === 200 && timedOut) {
          initialised = false;
          const document = {
            errorType: 'Sandbox.Timedout',
            errorMessage: `RequestId: ${requestId} Error: Task timed out after ${timedOut[1]} seconds`,
          };
          return {
            requestId,
            payload: Buffer.from(JSON.stringify(document)),
            functionError: 'Unhandled',
            errorType: document.errorType,
            durationMs,
            coldStart,
            log,
          };
        }
        const postedError = lines.some((line) =>
          line.includes(`(rapid) API request - POST /2018-06-01/runtime/invocation/${requestId}/error`),
        );
        if (status === 502 || (status === 200 && postedError)) {
          if (status === 502) initialised = false;
          const document = ErrorDocument.safeParse(safeJson(text));
          return {
            requestId,
            payload: body,
            functionError: 'Unhandled',
            errorType: document.success ? document.data.errorType : 'Runtime.Unknown',
            durationMs,
            coldStart,
            log,
          };
        }
        if (status === 200) return { requestId, payload: body, durationMs, coldStart, log };
        throw new LambdaRuntimeError(`${label}: RIE answered ${status}: ${text.slice(0, 500)}`);
      } finally {
        capture = undefined;
        busy = false;
      }
    },
    async stop() {
      const proc = child;
      if (proc === undefined || proc.exitCode !== null) return;
      const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      // RIE SIGKILLs its runtime on SIGTERM; if RIE itself must be SIGKILLed, its runtime is killed by pid.
      const kids = proc.pid === undefined ? [] : await childPids(proc.pid);
      proc.kill('SIGTERM');
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        for (const pid of kids) killQuietly(pid);
      }, 5_000);
      await done;
      clearTimeout(timer);
      options.log(`[${label}] aws-lambda-rie stopped`);
    },
  };
  return runtime;
}

/** Direct children of `pid` (from /proc; empty when it is gone). */
async function childPids(pid: number): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  const pids: number[] = [];
  for (const task of tasks) {
    const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    for (const word of text.split(/\s+/)) if (/^\d+$/.test(word)) pids.push(Number(word));
  }
  return pids;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
