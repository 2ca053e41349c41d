/**
 * Test infrastructure: prepares the emulated AWS account (moto) for a local control plane against a harness
 * Trino cluster, exactly as an operator prepares a real account: the Trino password as an SSM SecureString and
 * the cluster's CA as an SSM parameter under `/trino-sentinel/<cluster>/`. Returns the environment the
 * functions read (the same variables serverless.yml sets in AWS).
 *
 * @module
 */
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { EngineFlavor } from '../lib/trino/flavor.ts';
import type { EmulatorClientConfig } from './moto.ts';

/** What {@link controlPlaneEnv} needs to know of a cluster (serialisable: tests get it through vitest's inject). */
export interface ClusterAccess {
  readonly coordinatorUrl: string;
  readonly user: string;
  readonly password?: string;
  readonly caPem?: string;
  /** `presto` for a PrestoDB cluster (harness/prestodb.ts); default `trino`. */
  readonly flavor?: EngineFlavor;
}

/**
 * Writes the cluster's secrets to moto's SSM and returns the functions' environment.
 * @param aws - The emulator's client configuration (`MotoServer.clientConfig`).
 * @param cluster - How to reach the cluster (secure or not).
 * @param clusterName - `CLUSTER_NAME` (also the SSM path segment).
 * @returns Environment variables (AWS endpoint and credentials for the emulator included).
 */
export async function controlPlaneEnv(
  aws: EmulatorClientConfig,
  cluster: ClusterAccess,
  clusterName: string,
): Promise<Record<string, string>> {
  const ssm = new SSMClient(aws);
  const prefix = `/trino-sentinel/${clusterName}`;
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL: aws.endpoint,
    AWS_REGION: aws.region,
    AWS_DEFAULT_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
    CLUSTER_NAME: clusterName,
    METRICS_NAMESPACE: 'Trino',
    // moto stores PutMetricData but cannot extract EMF from logs: the harness publishes with PutMetricData, and
    // the full metric set, so tests read every value back (the EMF default is tested on its own).
    METRICS_SINK: 'put-metric-data',
    METRICS_SET: 'full',
    TRINO_URL: cluster.coordinatorUrl,
    TRINO_USER: cluster.user,
    TRINO_FLAVOR: cluster.flavor ?? 'trino',
    TRINO_TIMEOUT_MS: '5000',
    POWERTOOLS_SERVICE_NAME: 'trino-sentinel',
  };
  if (cluster.password !== undefined) {
    await ssm.send(
      new PutParameterCommand({
        Name: `${prefix}/trino-password`,
        Value: cluster.password,
        Type: 'SecureString',
        Overwrite: true,
      }),
    );
    env.TRINO_AUTH = 'basic';
    env.TRINO_SECRET_SSM_PARAMETER = `${prefix}/trino-password`;
  } else {
    env.TRINO_AUTH = 'none';
  }
  if (cluster.caPem !== undefined) {
    await ssm.send(
      new PutParameterCommand({
        Name: `${prefix}/trino-ca-pem`,
        Value: cluster.caPem,
        Type: 'String',
        Overwrite: true,
      }),
    );
    env.TRINO_CA_SSM_PARAMETER = `${prefix}/trino-ca-pem`;
  }
  ssm.destroy();
  return env;
}
