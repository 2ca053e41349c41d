/**
 * Integration-test helpers over the components started by global-setup.ts (read with vitest's `inject`).
 */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { type CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { inject } from 'vitest';
import type { EmulatorClientConfig } from '../../harness/moto.ts';
import type { SecretSources } from '../../lib/trino/connect.ts';

/** The shared components. */
export function components() {
  return inject('components');
}

/** SDK client configuration that reaches the shared moto. */
export function awsConfig(): EmulatorClientConfig {
  const { motoEndpoint } = components();
  return {
    endpoint: motoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
}

/** Drops every resource in the shared moto; each test calls it first. */
export async function resetAws(): Promise<void> {
  const response = await fetch(`${components().motoEndpoint}/moto-api/reset`, { method: 'POST' });
  if (!response.ok) throw new Error(`moto reset answered ${response.status}`);
}

/** Secret providers reading the shared moto's SSM and Secrets Manager. */
export function secretSources(): SecretSources {
  return {
    ssm: new SSMProvider({ awsSdkV3Client: new SSMClient(awsConfig()) }),
    secrets: new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(awsConfig()) }),
  };
}

/**
 * Reads back cluster-level metrics from CloudWatch (moto) with `GetMetricData`: the maximum (or minimum) of the
 * latest 1-minute period.
 * @returns metric name → latest value (absent when CloudWatch has no datapoint).
 */
export async function readMetrics(
  cloudwatch: CloudWatchClient,
  clusterName: string,
  names: readonly string[],
  namespace = 'Trino',
  stat: 'Maximum' | 'Minimum' = 'Maximum',
): Promise<Record<string, number>> {
  const now = Date.now();
  const out = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(now - 10 * 60_000),
      EndTime: new Date(now + 60_000),
      MetricDataQueries: names.map((name, index) => ({
        Id: `m${index}`,
        Label: name,
        MetricStat: {
          Metric: {
            Namespace: namespace,
            MetricName: name,
            Dimensions: [{ Name: 'ClusterName', Value: clusterName }],
          },
          Period: 60,
          Stat: stat,
        },
      })),
    }),
  );
  const values: Record<string, number> = {};
  for (const result of out.MetricDataResults ?? []) {
    const value = result.Values?.[0];
    if (result.Label !== undefined && value !== undefined) values[result.Label] = value;
  }
  return values;
}
