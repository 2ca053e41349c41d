/**
 * Dependencies of coordinator-health, built once per container; injectable for tests.
 *
 * @module
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type ContainerDeps, containerDeps, type SdkClients, sdkClients } from '../../lib/deps.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import { lazyTrinoClient } from '../../lib/trino/connect.ts';
import { type HealthConfig, HealthEnvSchema } from './schemas.ts';

/** The AWS SDK clients of coordinator-health (dependency name → client class). */
const AWS = { ec2: EC2Client, cloudwatch: CloudWatchClient, sfn: SFNClient, sns: SNSClient, ssm: SSMClient };

/** Dependencies; injectable for tests. */
export interface HealthDeps extends ContainerDeps<HealthConfig>, SdkClients<typeof AWS> {
  /** Client of the coordinator through the ENI address. */
  readonly coordinator: () => Promise<TrinoClient>;
  /** Waits `ms` milliseconds. */
  readonly sleep: (ms: number) => Promise<void>;
}

/** Default dependencies, built once per container. */
export const getDefaultHealthDeps: () => HealthDeps = containerDeps(HealthEnvSchema, (config) => ({
  ...sdkClients(AWS),
  coordinator: lazyTrinoClient(config),
  sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
}));
