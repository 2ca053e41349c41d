/**
 * Test infrastructure, part of harness/trino.ts: starts a real Trino cluster on loopback (free ports, a temporary
 * directory per cluster): the coordinator, hot standbys and workers, each rendered (./config.ts) and started
 * (./process.ts) from the installed line (./install.ts), and waits until it serves.
 *
 * Secure clusters run as production does: HTTPS with a CA made for the cluster (./tls.ts), password
 * authentication, an internal shared secret, and file-based access control on every node granting the control
 * plane's user (`sentinel`) `system_information` read and write, and nobody else write.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TrinoClient } from '../../lib/trino/client.ts';
import { freePort, waitUntil } from '../moto.ts';
import { accessRules, passwordLine, renderNodeConfig } from './config.ts';
import { ensureTrino, type TrinoFeatures, type TrinoLine } from './install.ts';
import { startJavaNode, type TrinoNode, tail } from './process.ts';
import { makeTls } from './tls.ts';

const log = (line: string) => process.stderr.write(`trino-harness: ${line}\n`);

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
    const extraProperties = role === 'coordinator' ? options.coordinatorProperties : options.workerProperties;
    const files = renderNodeConfig({
      role,
      nodeId,
      environment,
      httpPort: port,
      // A coordinator is its own discovery server (a standby too: it must not join the active one).
      discoveryUri:
        role === 'coordinator'
          ? `http://127.0.0.1:${port}`
          : (options.workerDiscoveryUri ?? `http://127.0.0.1:${coordinatorPort}`),
      pluginDir,
      heapMb,
      sharedSecret,
      rulesFile,
      jmxCatalog: install.features.jmxCatalog,
      ...(secure && tls && nodeHttpsPort
        ? { https: { port: nodeHttpsPort, keystorePath: tls.serverPem } }
        : {}),
      ...(secure ? { passwordAuthenticator: { name: install.passwordAuthenticator, passwordFile } } : {}),
      shutdownGracePeriod: options.shutdownGracePeriod ?? '5s',
      ...(extraProperties === undefined ? {} : { extraProperties }),
      ...(options.eventListener ? { eventListener: options.eventListener } : {}),
    });
    for (const [file, text] of Object.entries(files)) await writeFile(path.join(etc, file), text);
    const { node, guard } = startJavaNode(install, {
      name: nodeName,
      role,
      nodeId,
      httpPort: port,
      nodeDir,
      etcDir: etc,
      heapMb,
    });
    if (guard) watchdogs.push(guard);
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
