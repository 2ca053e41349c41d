/**
 * The older release line (Trino 435 on the machine's JDK 17, assembled from Maven Central jars): the metrics
 * publisher and the client work against it too. Plain HTTP here (435's password authenticator plugin is not on
 * Maven Central), but with non-default, file-based access control on every node.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeHandler } from '../../functions/cluster-metrics/handler.ts';
import { MetricsEnvSchema } from '../../functions/cluster-metrics/schemas.ts';
import { controlPlaneEnv } from '../../harness/control-plane-env.ts';
import { localContext, scheduledEvent } from '../../harness/invoke.ts';
import { startTrinoCluster, type TrinoCluster } from '../../harness/trino.ts';
import { loadConfig } from '../../lib/config.ts';
import { TrinoAuthError, TrinoHttpError } from '../../lib/errors.ts';
import { TrinoClient } from '../../lib/trino/client.ts';
import { resolveTrinoClient } from '../../lib/trino/connect.ts';
import { awsConfig, readMetrics, resetAws, secretSources } from '../helpers/components.ts';

describe('Trino 435 (older line, JDK 17)', () => {
  let cluster: TrinoCluster;
  const cloudwatch = new CloudWatchClient(awsConfig());

  beforeAll(async () => {
    cluster = await startTrinoCluster({ line: 'older', workers: 1, secure: false, name: 'older' });
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  beforeEach(resetAws);

  it('runs version 435 and answers /v1/info and /v1/status in the shapes our schemas expect', async () => {
    const client = cluster.client();
    try {
      const info = await client.getInfo();
      expect(info).toMatchObject({ nodeVersion: { version: '435' }, coordinator: true, starting: false });
      const worker = client.forNode(cluster.workerUrls[0] ?? '');
      expect((await worker.getStatus()).coordinator).toBe(false);
      expect(await worker.getState()).toBe('ACTIVE');
      worker.close();
    } finally {
      client.close();
    }
  });

  it('publishes the metric set, memory included, to CloudWatch', async () => {
    const env = await controlPlaneEnv(awsConfig(), cluster, 'it-older');
    const config = loadConfig(MetricsEnvSchema, env);
    const handler = makeHandler(() => ({
      config,
      cloudwatch,
      trino: () => resolveTrinoClient(config, secretSources()),
      now: () => Date.now(),
    }));
    const result = await handler(scheduledEvent('older'), localContext('clusterMetrics'));
    expect(result.coordinatorReachable).toBe(true);
    const published = await readMetrics(cloudwatch, 'it-older', [
      'ActiveWorkers',
      'ClusterMemoryTotalBytes',
      'CoordinatorReachable',
    ]);
    expect(published.ActiveWorkers).toBe(1);
    expect(published.CoordinatorReachable).toBe(1);
    expect(published.ClusterMemoryTotalBytes).toBeGreaterThan(0);
  });

  it('refuses a shutdown request from a user without system_information write (403, TrinoAuthError), and DRAINING as unknown (400)', async () => {
    const analyst = new TrinoClient({ baseUrl: cluster.workerUrls[0] ?? '', user: 'analyst' });
    const sentinel = new TrinoClient({ baseUrl: cluster.workerUrls[0] ?? '', user: 'sentinel' });
    try {
      const refused = await analyst.setState('SHUTTING_DOWN').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(TrinoAuthError);
      expect(refused).toMatchObject({ status: 403 });
      const unknown = await sentinel.setState('DRAINING').catch((error: unknown) => error);
      expect(unknown).toBeInstanceOf(TrinoHttpError);
      expect(unknown).not.toBeInstanceOf(TrinoAuthError);
      expect(unknown).toMatchObject({ status: 400 });
      expect(await sentinel.getState()).toBe('ACTIVE');
    } finally {
      analyst.close();
      sentinel.close();
    }
  });
});
