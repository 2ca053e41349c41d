/**
 * Test infrastructure: `npm run sandbox` (harness/cli.ts), the main job on one machine. Starts moto and a real Trino
 * cluster (coordinator + workers; HTTPS, password authentication and file-based access control unless
 * `--insecure`; `--line prestodb`: a PrestoDB 0.287 cluster, with `TRINO_FLAVOR=presto`), stores the credentials in
 * the emulator's SSM like an operator would, creates the coordinator ENI in the emulator, and runs the control
 * plane's scheduled functions (cluster-metrics, coordinator-health) on a timer with the same handler code Lambda
 * runs.
 *
 * @module
 */

import { TrinoClient } from '../lib/trino/client.ts';
import type { EngineFlavor } from '../lib/trino/flavor.ts';
import { createCoordinatorEni } from './aws-fixtures.ts';
import { flavorOf, type HarnessCluster, type HarnessLine, startCluster } from './cluster.ts';
import { controlPlaneEnv } from './control-plane-env.ts';
import { localContext, scheduledEvent } from './invoke.ts';
import { startMoto } from './moto.ts';

/** Options of {@link runSandbox} (the CLI flags). */
export interface SandboxOptions {
  readonly once: boolean;
  readonly json: boolean;
  readonly line: HarnessLine;
  readonly insecure: boolean;
  /** Seconds between cycles in live mode. */
  readonly interval: number;
  readonly workers: number;
}

/** One status snapshot; `--once --json` prints exactly this. */
export interface SandboxSnapshot {
  readonly time: string;
  readonly cluster: {
    readonly name: string;
    /** The engine's version (`476`, `435`, or PrestoDB's `0.287`). */
    readonly trinoVersion: string;
    /** `trino` or `presto` (PrestoDB): the `TRINO_FLAVOR` the functions ran with. */
    readonly flavor: EngineFlavor;
    readonly secure: boolean;
  };
  readonly coordinator: { readonly url: string; readonly state: string; readonly starting: boolean | null };
  readonly workers: readonly { readonly uri: string; readonly state: string }[];
  readonly queries: { readonly running: number; readonly queued: number };
  readonly metrics: Readonly<Record<string, number>>;
  readonly metricsCycleMs: number;
  /** Last coordinator-health round (probe through the coordinator ENI's address). */
  readonly health: {
    readonly healthy: boolean;
    readonly consecutiveFailures: number;
    readonly failover: string;
  };
}

const CLUSTER_NAME = 'sandbox';

/**
 * Runs the sandbox until Ctrl-C (or one cycle with `once`).
 * @returns Process exit code: 0 on success, 1 when a cycle failed in `--once` mode.
 */
export async function runSandbox(options: SandboxOptions): Promise<number> {
  // stdout carries only the snapshots (machine-readable with --json); the functions' structured logs go to stderr.
  const stdout = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr);
  const say = (line: string) => {
    if (!options.json || options.once) process.stderr.write(`${line}\n`);
  };
  // Ctrl-C at any point, start-up included, ends the loop and stops everything started so far.
  let stopping = false;
  const onSignal = () => {
    stopping = true;
    process.stderr.write('sandbox: stopping…\n');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  say('sandbox: starting moto (AWS emulator)…');
  const moto = await startMoto();
  let cluster: HarnessCluster | undefined;
  const stopAll = async () => {
    await cluster?.stop().catch(() => undefined);
    await moto.stop().catch(() => undefined);
  };
  try {
    say(`sandbox: starting the ${options.line} line (${options.insecure ? 'insecure' : 'secure'})…`);
    cluster = await startCluster({
      line: options.line,
      workers: options.workers,
      secure: !options.insecure,
      name: CLUSTER_NAME,
    });
    say(`sandbox: ${engineName(cluster)} ${cluster.version} coordinator at ${cluster.coordinatorUrl}`);
    const eni = await createCoordinatorEni(moto.clientConfig, CLUSTER_NAME, cluster.coordinator.httpPort);
    Object.assign(process.env, await controlPlaneEnv(moto.clientConfig, cluster, CLUSTER_NAME), {
      COORDINATOR_ENI_ID: eni.networkInterfaceId,
      PRIMARY_URL_TEMPLATE: 'http://127.0.0.1:{tag:trino-sentinel:http-port}',
      // One probe round per sandbox cycle; notify-only like the deployed default.
      LOOP_DURATION_MS: '0',
      AUTO_FAILOVER: 'false',
    });
    // Imported after the environment is set: the handlers read their configuration once, like in Lambda.
    const metrics = await import('../functions/cluster-metrics/handler.ts');
    const health = await import('../functions/coordinator-health/handler.ts');
    const observer = new TrinoClient({
      baseUrl: cluster.coordinatorUrl,
      user: cluster.user,
      flavor: flavorOf(cluster),
      ...(cluster.password === undefined
        ? {}
        : { auth: { type: 'basic', username: cluster.user, password: cluster.password } }),
      ...(cluster.caPem === undefined ? {} : { caPem: cluster.caPem }),
    });
    const activeCluster = cluster;
    const cycle = async (): Promise<SandboxSnapshot> => {
      const started = Date.now();
      const result = await metrics.handler(
        scheduledEvent('trino-sentinel-sandbox-metrics'),
        localContext('clusterMetrics'),
      );
      const metricsCycleMs = Date.now() - started;
      const probe = await health.handler(
        scheduledEvent('trino-sentinel-sandbox-health'),
        localContext('coordinatorHealth'),
      );
      return snapshot(activeCluster, observer, result.metrics, metricsCycleMs, !options.insecure, {
        healthy: probe.verdict?.healthy ?? false,
        consecutiveFailures: probe.state.consecutiveFailures,
        failover: probe.failover,
      });
    };

    if (options.once) {
      const snap = await cycle();
      stdout(options.json ? `${JSON.stringify(snap)}\n` : render(snap));
      observer.close();
      return snap.coordinator.state === 'ACTIVE' ? 0 : 1;
    }

    while (!stopping) {
      try {
        const snap = await cycle();
        stdout(options.json ? `${JSON.stringify(snap)}\n` : `\x1b[2J\x1b[H${render(snap)}`);
      } catch (error) {
        process.stderr.write(
          `sandbox: cycle failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
      }
      for (let waited = 0; waited < options.interval * 1000 && !stopping; waited += 250) {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    observer.close();
    return 0;
  } finally {
    await stopAll();
  }
}

async function snapshot(
  cluster: HarnessCluster,
  observer: TrinoClient,
  metrics: Readonly<Record<string, number>>,
  metricsCycleMs: number,
  secure: boolean,
  health: SandboxSnapshot['health'],
): Promise<SandboxSnapshot> {
  const info = await observer.getInfo().catch(() => undefined);
  const state = info === undefined ? 'UNREACHABLE' : await observer.getState().catch(() => 'UNKNOWN');
  const nodes = await observer.getNodes().catch(() => []);
  const workers = await Promise.all(
    nodes.map(async (node) => {
      const client = observer.forNode(node.uri, { auth: { type: 'none' } });
      const workerState = await client.getState().catch(() => 'UNREACHABLE');
      client.close();
      return { uri: new URL(node.uri).origin, state: workerState };
    }),
  );
  return {
    time: new Date().toISOString(),
    cluster: { name: CLUSTER_NAME, trinoVersion: cluster.version, flavor: flavorOf(cluster), secure },
    coordinator: { url: cluster.coordinatorUrl, state, starting: info?.starting ?? null },
    workers,
    queries: { running: metrics.RunningQueries ?? 0, queued: metrics.QueuedQueries ?? 0 },
    metrics,
    metricsCycleMs,
    health,
  };
}

function engineName(cluster: HarnessCluster): string {
  return flavorOf(cluster) === 'presto' ? 'PrestoDB' : 'Trino';
}

function render(snap: SandboxSnapshot): string {
  const lines = [
    `trino-sentinel sandbox — cluster ${snap.cluster.name}, ${snap.cluster.flavor === 'presto' ? 'PrestoDB' : 'Trino'} ${snap.cluster.trinoVersion}${snap.cluster.secure ? ' (HTTPS + password)' : ''}`,
    `time         ${snap.time}`,
    `coordinator  ${snap.coordinator.url}  ${snap.coordinator.state}`,
    ...snap.workers.map((w) => `worker       ${w.uri}  ${w.state}`),
    `queries      running ${snap.queries.running}, queued ${snap.queries.queued}`,
    `health       ${snap.health.healthy ? 'healthy' : `UNHEALTHY (${snap.health.consecutiveFailures} failed probes)`}, failover ${snap.health.failover}`,
    `metrics      (cycle ${snap.metricsCycleMs} ms, namespace Trino, ClusterName=${snap.cluster.name})`,
    ...Object.entries(snap.metrics).map(([name, value]) => `  ${name.padEnd(28)} ${value}`),
    '',
    'Ctrl-C stops every process the sandbox started.',
    '',
  ];
  return lines.join('\n');
}

/**
 * `sandbox --deployed`: the deployed topology (harness/cloud/: infra/ and the control plane deployed into the AWS
 * emulator, the deployed zips under the Lambda runtime interface emulator, instances booting the AMI's path in
 * network namespaces; needs root). With `once`, prints one snapshot of the serving cluster and takes everything
 * down; otherwise prints one every `interval` seconds until Ctrl-C.
 * @returns Process exit code: 0 when the topology came up and a snapshot was taken.
 */
export async function runDeployedSandbox(options: SandboxOptions): Promise<number> {
  const stdout = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr);
  const { runDeployed } = await import('./cloud/deployed.ts');
  const print = (snapshot: unknown) =>
    stdout(options.json ? `${JSON.stringify(snapshot)}\n` : `${JSON.stringify(snapshot, null, 2)}\n`);
  const result = await runDeployed({
    drills: [],
    workers: options.workers,
    snapshot: options.once,
    ...(options.once ? {} : { live: { intervalSeconds: options.interval, onSnapshot: print } }),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  if (result.error !== undefined) {
    process.stderr.write(`sandbox --deployed: ${result.error}\n`);
    return 1;
  }
  if (options.once) {
    if (!result.snapshot) return 1;
    print(result.snapshot);
  }
  return 0;
}
