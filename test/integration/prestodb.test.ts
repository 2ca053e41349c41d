/**
 * The PrestoDB line for real: PrestoDB 0.287 on JDK 11 (harness/prestodb.ts; lib/ assembled from Maven Central,
 * about 190 MB instead of the 2 GB server tarball), secure (HTTPS + the file password authenticator), with the
 * control plane configured as a deployment with `trinoFlavor: presto` is (`TRINO_FLAVOR=presto`):
 * - the metrics cycle publishes the whole metric set, memory included (Trino's MBean name loses it: shown too);
 * - the scale-in drill drains a worker running a long query (PrestoDB has no DRAINING: SHUTTING_DOWN);
 * - the failover drill moves the coordinator ENI to a hot-standby PrestoDB coordinator.
 * Runs in CI (the integration project): the download fits its time (docs/harness.md, "PrestoDB line").
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeHandler } from '../../functions/cluster-metrics/handler.ts';
import { MetricsEnvSchema } from '../../functions/cluster-metrics/schemas.ts';
import { controlPlaneEnv } from '../../harness/control-plane-env.ts';
import { type HaSandbox, runFailoverDrill, startHaSandbox } from '../../harness/drills/failover.ts';
import { runScaleInDrill } from '../../harness/drills/scale-in.ts';
import { localContext, scheduledEvent } from '../../harness/invoke.ts';
import { type PrestoCluster, startPrestoCluster } from '../../harness/prestodb.ts';
import { loadConfig } from '../../lib/config.ts';
import { TrinoClient } from '../../lib/trino/client.ts';
import { resolveTrinoClient } from '../../lib/trino/connect.ts';
import { awsConfig, readMetrics, resetAws, secretSources } from '../helpers/components.ts';

describe('PrestoDB 0.287: metrics cycle and scale-in drill (secure, two workers)', () => {
  let cluster: PrestoCluster;
  const cloudwatch = new CloudWatchClient(awsConfig());

  beforeAll(async () => {
    cluster = await startPrestoCluster({
      workers: 2,
      secure: true,
      name: 'it-presto',
      shutdownGracePeriod: '5s',
    });
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  beforeEach(resetAws);

  const metricsHandler = async (clusterName: string, overrides: Record<string, string> = {}) => {
    const config = loadConfig(MetricsEnvSchema, {
      ...(await controlPlaneEnv(awsConfig(), cluster, clusterName)),
      ...overrides,
    });
    return makeHandler(() => ({
      config,
      cloudwatch,
      trino: () => resolveTrinoClient(config, secretSources()),
      now: () => Date.now(),
    }));
  };

  it('runs PrestoDB 0.287 over HTTPS with passwords; a wrong password is refused (401)', async () => {
    const client = cluster.client();
    const info = await client.getInfo();
    client.close();
    expect(info).toMatchObject({
      nodeVersion: { version: expect.stringMatching(/^0\.287-/) },
      starting: false,
    });
    const wrong = new TrinoClient({
      baseUrl: cluster.coordinatorUrl,
      user: cluster.user,
      flavor: 'presto',
      auth: { type: 'basic', username: cluster.user, password: 'not-the-password' },
      ...(cluster.caPem === undefined ? {} : { caPem: cluster.caPem }),
    });
    await expect(wrong.getQueries()).rejects.toMatchObject({ name: 'TrinoAuthError', status: 401 });
    wrong.close();
  });

  it('publishes the metric set with TRINO_FLAVOR=presto, memory from com.facebook.presto.memory included', async () => {
    const handler = await metricsHandler('it-presto');
    const result = await handler(scheduledEvent('presto'), localContext('clusterMetrics'));
    expect(result.coordinatorReachable).toBe(true);
    expect(result.metrics).toMatchObject({
      CoordinatorReachable: 1,
      ActiveWorkers: 2,
      UnreachableWorkers: 0,
    });
    expect(result.metrics.ClusterMemoryTotalBytes).toBeGreaterThan(0);
    expect(result.metrics).toHaveProperty('ClusterMemoryUtilization');
    expect(result.metrics).not.toHaveProperty('QueryMemoryReservedBytes');
    const published = await readMetrics(cloudwatch, 'it-presto', [
      'ActiveWorkers',
      'ClusterMemoryTotalBytes',
      'ClusterMemoryUtilization',
    ]);
    expect(published.ActiveWorkers).toBe(2);
    expect(published.ClusterMemoryTotalBytes).toBe(result.metrics.ClusterMemoryTotalBytes);
    expect(published).toHaveProperty('ClusterMemoryUtilization');
  });

  it('with TRINO_FLAVOR=trino the same cycle loses the memory metrics (the 500 of trino.memory:…)', async () => {
    const handler = await metricsHandler('it-presto-as-trino', { TRINO_FLAVOR: 'trino' });
    const result = await handler(scheduledEvent('presto-as-trino'), localContext('clusterMetrics'));
    expect(result.metrics.ActiveWorkers).toBe(2);
    expect(result.metrics).not.toHaveProperty('ClusterMemoryTotalBytes');
    // What the cycle falls back to when the MBean cannot be read.
    expect(result.metrics).toHaveProperty('QueryMemoryReservedBytes');
  });

  it("lets any user set a worker's state: 0.287 does not enforce @RolesAllowed(ADMIN) on /v1/info/state", async () => {
    const worker = new TrinoClient({
      baseUrl: cluster.workerUrls[0] ?? '',
      user: cluster.otherUser.user,
      flavor: 'presto',
    });
    await worker.setState('ACTIVE');
    expect(await worker.getState()).toBe('ACTIVE');
    worker.close();
  });

  // The query keeps the drained worker busy for the whole drain: sf10 (a third of the drill's default sf30, which
  // took 199 s on PrestoDB here under load) keeps the test short; the deadline allows for a loaded 2-core machine.
  it('drains a worker running a long query on scale-in: SHUTTING_DOWN, query finishes, worker exits, CONTINUE', {
    timeout: 600_000,
  }, async () => {
    const result = await runScaleInDrill({
      aws: awsConfig(),
      cluster,
      clusterName: 'it-presto-drain',
      heartbeatTimeoutSeconds: 30,
      sql: "SELECT count(*) FROM tpch.sf10.lineitem WHERE comment LIKE '%sentinel%'",
    });
    expect(result.queryError).toBeUndefined();
    expect(result.queriesFailed).toBe(0);
    expect(result.lifecycleResult).toBe('CONTINUE');
    // No DRAINED state on PrestoDB: the action completes once the worker process is gone.
    expect(result.outcome).toBe('WORKER_EXITED');
    expect(result.workerExited).toBe(true);
    expect(result.duplicateStartIgnored).toBe(true);
    expect(result.maxHeartbeatGapSeconds).toBeLessThan(30);
    expect(result.lifecycleCalls.filter((c) => c.command === 'CompleteLifecycleAction')).toHaveLength(1);
    expect(result.lifecycleCalls.at(-1)).toMatchObject({
      command: 'CompleteLifecycleAction',
      instanceId: result.instanceId,
      lifecycleActionResult: 'CONTINUE',
    });
  });
});

describe('PrestoDB 0.287: coordinator failover drill (active, hot standby, worker behind the ENI proxy)', () => {
  let ha: HaSandbox;

  beforeAll(async () => {
    await resetAws();
    ha = await startHaSandbox({
      aws: awsConfig(),
      line: 'prestodb',
      clusterName: 'it-presto-ha',
      standbys: 1,
    });
  });
  afterAll(async () => {
    await ha?.stop();
  });

  it('fails over once to the standby, which serves queries and gets the worker back', async () => {
    expect(ha.cluster.line).toBe('prestodb');
    const drill = await runFailoverDrill(ha, { watchMs: 2_000 });
    expect(drill.falseFailovers).toBe(0);
    expect(drill.outcome).toBe('FAILED_OVER');
    expect(drill.enisAttached).toBe(1);
    expect(drill.queryAfterFailover).toBe('OK');
    expect(drill.servingAfterMs).not.toBeNull();
    expect(drill.workersBackAfterMs).not.toBeNull();
    expect(drill.detectedAfterMs).toBeLessThan(drill.servingAfterMs ?? 0);
  });
});
