/**
 * cluster-metrics: scheduled Lambda that reads the coordinator's REST API and publishes the cluster metric set
 * (docs/metrics.md) to CloudWatch so worker Auto Scaling groups can scale on queue, memory and CPU.
 *
 * Shape: parse (scheduled event) → gather ({@link observeCluster}) → decide ({@link computeClusterMetrics},
 * {@link selectMetricSet}) → act ({@link publishMetricSet}: EMF log lines by default, or PutMetricData). A coordinator that is down or answers garbage yields `CoordinatorReachable = 0`, one
 * structured error log line, and a normal return (no retry loop).
 *
 * @module
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import pLimit from 'p-limit';
import type { AwsCall } from '../../lib/aws/ec2.ts';
import { type ContainerDeps, containerDeps, sdkClients } from '../../lib/deps.ts';
import { TrinoError } from '../../lib/errors.ts';
import { scheduledHandler } from '../../lib/handler.ts';
import { logger } from '../../lib/logger.ts';
import type { Metric } from '../../lib/metrics.ts';
import { publishMetricSet } from '../../lib/metrics-sink.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import { lazyTrinoClient } from '../../lib/trino/connect.ts';
import { ENGINE_NAMES } from '../../lib/trino/flavor.ts';
import type { MBean } from '../../lib/trino/schemas.ts';
import {
  type ClusterMemory,
  type ClusterObservation,
  computeClusterMetrics,
  selectMetricSet,
} from './decide.ts';
import { type MetricsConfig, MetricsEnvSchema } from './schemas.ts';

/**
 * Trino's name of the coordinator's cluster memory manager MBean (io.trino.memory.ClusterMemoryManager). The
 * cycle reads the name of the client's flavor (`TRINO_FLAVOR`): PrestoDB's is in lib/trino/flavor.ts.
 */
export const CLUSTER_MEMORY_MBEAN = ENGINE_NAMES.trino.clusterMemoryMBean;

/** Everything the handler needs from the outside world; injectable for tests. */
export interface MetricsDeps extends ContainerDeps<MetricsConfig> {
  readonly cloudwatch: CloudWatchClient;
  /** Returns the coordinator client (credentials resolved and cached). */
  readonly trino: () => Promise<TrinoClient>;
}

/** Result of one cycle (also what the sandbox prints). */
export interface MetricsCycleResult {
  readonly coordinatorReachable: boolean;
  /** Every computed metric without dimensions other than ClusterName (published or log-only), name → value. */
  readonly metrics: Readonly<Record<string, number>>;
  /** Metrics published to CloudWatch (the rest of `metrics` went to the log only, see `METRICS_SET`). */
  readonly published: number;
  readonly putMetricDataCalls: number;
  /** EMF log lines written (sink `emf`). */
  readonly emfDocuments: number;
}

/**
 * Reads everything the metric set needs. Only `GET /v1/info` is mandatory; the other reads degrade to
 * "unknown" (metric omitted) with a warning naming the cause, e.g. a missing `system_information` read right.
 * @param client - Coordinator client.
 * @param concurrency - Parallel worker `/v1/status` calls.
 * @returns The observation; `coordinatorReachable: false` when `/v1/info` failed or still says `starting`.
 */
export async function observeCluster(client: TrinoClient, concurrency: number): Promise<ClusterObservation> {
  try {
    const info = await client.getInfo();
    if (info.starting) {
      logger.error('Coordinator is still starting', { coordinator: client.baseUrl });
      return { coordinatorReachable: false, queries: [] };
    }
  } catch (error) {
    logger.error('Coordinator unreachable', { coordinator: client.baseUrl, error: describe(error) });
    return { coordinatorReachable: false, queries: [] };
  }

  const [queries, workers, memory] = await Promise.all([
    client.getQueries().catch((error: unknown) => {
      logger.warn('Could not read GET /v1/query; query metrics are zero this cycle', {
        error: describe(error),
      });
      return [];
    }),
    readWorkers(client, concurrency).catch((error: unknown) => {
      logger.warn('Could not read GET /v1/node; worker metrics omitted', { error: describe(error) });
      return undefined;
    }),
    client
      .getClusterMemoryManager()
      .then(memoryFromMBean)
      .catch((error: unknown) => {
        logger.warn('Could not read the cluster memory MBean; memory metrics omitted', {
          mbean: ENGINE_NAMES[client.flavor].clusterMemoryMBean,
          error: describe(error),
        });
        return undefined;
      }),
  ]);
  return {
    coordinatorReachable: true,
    queries,
    ...(workers === undefined ? {} : { workers }),
    ...(memory === undefined ? {} : { memory }),
  };
}

async function readWorkers(client: TrinoClient, concurrency: number): Promise<ClusterObservation['workers']> {
  const nodes = await client.getNodes();
  const limit = pLimit(concurrency);
  return Promise.all(
    nodes.map((node) =>
      limit(async () => {
        const worker = client.forNode(node.uri, { auth: { type: 'none' } });
        try {
          return { uri: node.uri, status: await worker.getStatus() };
        } catch (error) {
          logger.warn('Worker did not answer GET /v1/status', { worker: node.uri, error: describe(error) });
          return { uri: node.uri };
        } finally {
          worker.close();
        }
      }),
    ),
  ).then((all) => all.filter((w) => w.status === undefined || !w.status.coordinator));
}

/**
 * Reads total and reserved bytes from the ClusterMemoryManager MBean. Pure.
 * @returns `undefined` when the attributes are absent (older/newer releases name them differently).
 */
export function memoryFromMBean(mbean: MBean): ClusterMemory | undefined {
  const value = (name: string): number | undefined => {
    const attribute = mbean.attributes.find((a) => a.name === name);
    return typeof attribute?.value === 'number' ? attribute.value : undefined;
  };
  const totalBytes = value('ClusterMemoryBytes');
  const reservedBytes = value('ClusterTotalMemoryReservation');
  return totalBytes === undefined || reservedBytes === undefined ? undefined : { totalBytes, reservedBytes };
}

/**
 * Runs one metrics cycle.
 * @returns What was published; see {@link MetricsCycleResult}.
 * @throws AwsError when PutMetricData fails (sink `put-metric-data`; the scheduled invocation is retried by Lambda's
 *   async retries).
 */
export async function runMetricsCycle(deps: MetricsDeps, call: AwsCall = {}): Promise<MetricsCycleResult> {
  const client = await deps.trino();
  const observation = await observeCluster(client, deps.config.WORKER_STATUS_CONCURRENCY);
  const now = deps.now();
  const metrics = computeClusterMetrics(
    observation,
    { windowMs: deps.config.METRICS_WINDOW_MS, maxUsers: deps.config.METRICS_MAX_USERS },
    now,
  );
  const { published, logOnly } = selectMetricSet(metrics, deps.config.METRICS_SET);
  const sent = await publishMetricSet(
    deps.cloudwatch,
    published,
    {
      sink: deps.config.METRICS_SINK,
      namespace: deps.config.METRICS_NAMESPACE,
      clusterName: deps.config.CLUSTER_NAME,
      timestamp: new Date(now),
      storageResolution: deps.config.METRICS_HIGH_RESOLUTION ? 1 : 60,
      properties: logOnly,
    },
    call,
  );
  const summary = clusterLevel(metrics);
  logger.info('Published cluster metrics', {
    metrics: summary,
    count: published.length,
    sink: deps.config.METRICS_SINK,
    calls: sent.putMetricDataCalls,
  });
  return {
    coordinatorReachable: observation.coordinatorReachable,
    metrics: summary,
    published: published.length,
    putMetricDataCalls: sent.putMetricDataCalls,
    emfDocuments: sent.emfDocuments,
  };
}

function clusterLevel(metrics: readonly Metric[]): Record<string, number> {
  return Object.fromEntries(
    metrics.filter((m) => m.dimensions === undefined).map((m) => [m.name, m.value] as const),
  );
}

function describe(error: unknown): Record<string, unknown> {
  if (error instanceof TrinoError) return { name: error.name, message: error.message, ...error.context };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { message: String(error) };
}

/** Default dependencies, built once per container: config from the environment, one CloudWatch client. */
export const getDefaultDeps: () => MetricsDeps = containerDeps(MetricsEnvSchema, (config) => ({
  ...sdkClients({ cloudwatch: CloudWatchClient }),
  trino: lazyTrinoClient(config),
}));

/**
 * Builds the handler.
 * @param deps - A function giving the dependencies (default {@link getDefaultDeps}).
 */
export function makeHandler(deps: () => MetricsDeps = getDefaultDeps) {
  return scheduledHandler(deps, runMetricsCycle);
}

/** Lambda entry point. */
export const handler = makeHandler();
