/**
 * cluster-metrics against the real components: a secure Trino 476 (HTTPS, password, file access control) from
 * the harness and moto's CloudWatch and SSM. The function reads its password and CA from moto's SSM exactly as in
 * AWS; the published values are read back with CloudWatch GetMetricData.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type MetricsCycleResult, makeHandler } from '../../functions/cluster-metrics/handler.ts';
import { MetricsEnvSchema } from '../../functions/cluster-metrics/schemas.ts';
import { controlPlaneEnv } from '../../harness/control-plane-env.ts';
import { localContext, scheduledEvent } from '../../harness/invoke.ts';
import { loadConfig } from '../../lib/config.ts';
import { TrinoClient } from '../../lib/trino/client.ts';
import { resolveTrinoClient } from '../../lib/trino/connect.ts';
import { awsConfig, components, readMetrics, resetAws, secretSources } from '../helpers/components.ts';
import { killQuery, startQuery, waitForQuery } from '../helpers/queries.ts';

const cloudwatch = new CloudWatchClient(awsConfig());

function handlerFor(env: Record<string, string>) {
  const config = loadConfig(MetricsEnvSchema, env);
  return makeHandler(() => ({
    config,
    cloudwatch,
    trino: () => resolveTrinoClient(config, secretSources()),
    now: () => Date.now(),
  }));
}

async function invoke(env: Record<string, string>): Promise<MetricsCycleResult> {
  return handlerFor(env)(scheduledEvent('cluster-metrics-it'), localContext('clusterMetrics'));
}

describe('cluster-metrics on a real secure Trino', () => {
  const { trino } = components();
  let sentinel: TrinoClient;

  beforeAll(() => {
    sentinel = new TrinoClient({
      baseUrl: trino.coordinatorUrl,
      user: trino.user,
      timeoutMs: 10_000,
      ...(trino.password === undefined
        ? {}
        : { auth: { type: 'basic', username: trino.user, password: trino.password } }),
      ...(trino.caPem === undefined ? {} : { caPem: trino.caPem }),
    });
  });
  afterAll(() => sentinel.close());
  beforeEach(resetAws);

  it('publishes ActiveWorkers = 1 and RunningQueries >= 1 while a long tpch query runs', async () => {
    const query = startQuery(
      sentinel,
      "SELECT count(*) FROM tpch.sf100.lineitem WHERE comment LIKE '%sentinel%'",
    );
    try {
      await waitForQuery(sentinel, query);
      const env = await controlPlaneEnv(awsConfig(), trino, 'it-metrics');
      expect(env.TRINO_AUTH).toBe('basic');
      expect(env.TRINO_CA_SSM_PARAMETER).toBeDefined();

      const result = await invoke(env);

      expect(result.coordinatorReachable).toBe(true);
      const published = await readMetrics(cloudwatch, 'it-metrics', [
        'CoordinatorReachable',
        'ActiveWorkers',
        'RunningQueries',
        'QueuedQueries',
        'ClusterMemoryTotalBytes',
        'ClusterMemoryReservedBytes',
        'RunningDrivers',
      ]);
      expect(published.CoordinatorReachable).toBe(1);
      expect(published.ActiveWorkers).toBe(1);
      expect(published.RunningQueries).toBeGreaterThanOrEqual(1);
      expect(published.QueuedQueries).toBe(0);
      expect(published.RunningDrivers).toBeGreaterThan(0);
      expect(published.ClusterMemoryTotalBytes).toBeGreaterThan(100 * 1024 * 1024);
      expect(published.ClusterMemoryReservedBytes).toBeGreaterThanOrEqual(0);
      expect(result.metrics.RunningQueries).toBe(published.RunningQueries);
    } finally {
      await killQuery(sentinel, query);
      await query.done;
    }
  });

  it('with the deployed defaults (EMF sink, standard set) writes the same values as EMF log lines and calls no API', async () => {
    const env = await controlPlaneEnv(awsConfig(), trino, 'it-emf');
    const { METRICS_SINK: _sink, METRICS_SET: _set, ...defaults } = env;
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    let result: MetricsCycleResult;
    try {
      result = await invoke(defaults);
    } finally {
      write.mockRestore();
    }
    expect(result.putMetricDataCalls).toBe(0);
    expect(result.emfDocuments).toBe(1);
    const emf = lines.filter((line) => line.startsWith('{"_aws"')).map((line) => JSON.parse(line));
    expect(emf).toHaveLength(1);
    const [document] = emf;
    const directive = document._aws.CloudWatchMetrics[0];
    expect(directive.Namespace).toBe('Trino');
    expect(directive.Dimensions).toEqual([['ClusterName']]);
    expect(document.ClusterName).toBe('it-emf');
    const declared: string[] = directive.Metrics.map((m: { Name: string }) => m.Name);
    expect(declared).toEqual(
      expect.arrayContaining(['CoordinatorReachable', 'ActiveWorkers', 'ClusterMemoryUtilization']),
    );
    expect(declared).not.toContain('ClusterMemoryTotalBytes');
    // Every computed value is in the line: declared ones as metrics, the rest as plain properties.
    for (const [name, value] of Object.entries(result.metrics)) expect(document[name]).toBe(value);
    expect(document.ActiveWorkers).toBe(1);
    expect(document.ClusterMemoryTotalBytes).toBeGreaterThan(100 * 1024 * 1024);
    // Nothing reached CloudWatch through the API.
    expect(await readMetrics(cloudwatch, 'it-emf', ['CoordinatorReachable'])).toEqual({});
  });

  it('counts a failed query in QueriesFailed within the window', async () => {
    const failed = await sentinel.query('SELECT * FROM tpch.tiny.no_such_table').then(
      () => 'finished',
      (error: unknown) => (error instanceof Error ? error.name : 'unknown'),
    );
    expect(failed).toBe('TrinoQueryError');
    const env = await controlPlaneEnv(awsConfig(), trino, 'it-failed');
    const result = await invoke(env);
    expect(result.metrics.QueriesFailed).toBeGreaterThanOrEqual(1);
    expect(
      (await readMetrics(cloudwatch, 'it-failed', ['QueriesFailed'])).QueriesFailed,
    ).toBeGreaterThanOrEqual(1);
  });

  it('publishes only CoordinatorReachable = 0 and returns normally when the coordinator refuses connections', async () => {
    const env = await controlPlaneEnv(awsConfig(), trino, 'it-down');
    // A loopback port nobody listens on: a real refused connection.
    const result = await invoke({ ...env, TRINO_URL: 'https://127.0.0.1:9' });
    expect(result).toMatchObject({
      coordinatorReachable: false,
      published: 1,
      metrics: { CoordinatorReachable: 0 },
    });
    const published = await readMetrics(cloudwatch, 'it-down', ['CoordinatorReachable', 'RunningQueries']);
    expect(published).toEqual({ CoordinatorReachable: 0 });
  });

  it('treats a coordinator whose TLS certificate is not trusted as unreachable', async () => {
    const env = await controlPlaneEnv(awsConfig(), trino, 'it-tls');
    const { TRINO_CA_SSM_PARAMETER: _ignored, ...withoutCa } = env;
    const result = await invoke(withoutCa);
    expect(result.coordinatorReachable).toBe(false);
  });

  it('omits worker and memory metrics, but keeps query metrics, for a user without system_information read', async () => {
    const env = await controlPlaneEnv(
      awsConfig(),
      { ...trino, user: 'analyst', password: trinoOtherPassword() },
      'it-analyst',
    );
    const result = await invoke(env);
    expect(result.coordinatorReachable).toBe(true);
    expect(result.metrics.ActiveWorkers).toBeUndefined();
    expect(result.metrics.ClusterMemoryTotalBytes).toBeUndefined();
    expect(result.metrics.QueryMemoryReservedBytes).toBeGreaterThanOrEqual(0);
    expect(result.metrics.RunningQueries).toBeGreaterThanOrEqual(0);
  });
});

function trinoOtherPassword(): string {
  const password = components().trino.otherPassword;
  if (password === undefined) throw new Error('the shared cluster is not secure');
  return password;
}
