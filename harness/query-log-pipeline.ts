/**
 * Test infrastructure: the whole query-log path on one machine, every part real except the AWS transport —
 * Trino's HTTP event listener → a local Function URL (harness/function-url.ts) → our ingest handler →
 * moto's SQS → a local SQS event source (harness/sqs-event-source.ts) → our shipper → a real OpenSearch.
 * Used by test/integration/query-logs.test.ts, `drill query-logs --sandbox` and the bench. Nothing in production
 * uses this.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import {
  cachedSharedSecret,
  makeHandler as makeIngestHandler,
} from '../functions/query-log-ingest/handler.ts';
import { QueryLogIngestEnvSchema } from '../functions/query-log-ingest/schemas.ts';
import { makeShipHandler, type ShipDeps } from '../functions/query-log-ship/handler.ts';
import { QueryLogShipEnvSchema } from '../functions/query-log-ship/schemas.ts';
import { loadConfig } from '../lib/config.ts';
import { type QueryLogSink, sinkFromConfig } from '../lib/search/query-log-sink.ts';
import { type LocalFunctionUrl, startFunctionUrl } from './function-url.ts';
import type { EmulatorClientConfig } from './moto.ts';
import { type LocalSqsEventSource, startSqsEventSource } from './sqs-event-source.ts';

/** A running pipeline (without Trino: point a cluster's event listener at {@link QueryLogPipeline.listener}). */
export interface QueryLogPipeline {
  /** For `startTrinoCluster({ eventListener })`: the Function URL and the shared-secret header. */
  readonly listener: { readonly ingestUri: string; readonly headers: Readonly<Record<string, string>> };
  readonly functionUrl: LocalFunctionUrl;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly sink: QueryLogSink;
  readonly shipDeps: ShipDeps;
  readonly eventSource: LocalSqsEventSource;
  /** Messages in the DLQ (ApproximateNumberOfMessages). */
  deadLettered(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the pipeline against a running moto and search engine.
 * @param options.indexPrefix - default `trino-queries`; `maxAttempts` - QUERY_LOG_MAX_ATTEMPTS (default 5);
 *   `visibilityTimeoutSeconds` - how soon a failed message is retried (default 2).
 */
export async function startQueryLogPipeline(options: {
  readonly aws: EmulatorClientConfig;
  readonly searchUrl: string;
  readonly name?: string;
  readonly indexPrefix?: string;
  readonly maxAttempts?: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly sqlMaxLength?: number;
}): Promise<QueryLogPipeline> {
  const aws = options.aws;
  const name = options.name ?? 'qlog';
  const sqs = new SQSClient(aws);
  const ssm = new SSMClient(aws);
  const dlqUrl =
    (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-query-logs-dlq` }))).QueueUrl ?? '';
  const queueUrl =
    (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: `${name}-query-logs`,
          Attributes: { VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 2) },
        }),
      )
    ).QueueUrl ?? '';
  const secret = randomBytes(24).toString('base64url');
  const secretParameter = `/trino-sentinel/${name}/query-log-secret`;
  await ssm.send(
    new PutParameterCommand({ Name: secretParameter, Type: 'SecureString', Value: secret, Overwrite: true }),
  );
  const ingestConfig = loadConfig(QueryLogIngestEnvSchema, {
    QUERY_LOG_QUEUE_URL: queueUrl,
    QUERY_LOG_SECRET_SSM_PARAMETER: secretParameter,
  });
  const ingest = makeIngestHandler({
    config: ingestConfig,
    sqs,
    secret: cachedSharedSecret(ingestConfig, async () => ({
      ssm: new SSMProvider({ awsSdkV3Client: ssm }),
      secrets: new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient(aws) }),
    })),
    metrics: new Metrics({ namespace: 'Trino', serviceName: 'query-log-ingest' }),
  });
  const functionUrl = await startFunctionUrl(ingest, { functionName: 'queryLogIngest' });
  const shipConfig = loadConfig(QueryLogShipEnvSchema, {
    CLUSTER_NAME: name,
    SEARCH_ENGINE: 'opensearch',
    SEARCH_ENDPOINT: options.searchUrl,
    QUERY_LOG_INDEX_PREFIX: options.indexPrefix ?? 'trino-queries',
    QUERY_LOG_MAX_ATTEMPTS: String(options.maxAttempts ?? 5),
    QUERY_LOG_DLQ_URL: dlqUrl,
    SEARCH_TIMEOUT_MS: '10000',
    // The harness publishes to moto's CloudWatch (which cannot extract EMF), as harness/control-plane-env.ts does.
    METRICS_SINK: 'put-metric-data',
    ...(options.sqlMaxLength === undefined ? {} : { QUERY_LOG_SQL_MAX_LENGTH: String(options.sqlMaxLength) }),
  });
  const sink = await sinkFromConfig(shipConfig);
  const shipDeps: ShipDeps = {
    config: shipConfig,
    sqs,
    cloudwatch: new CloudWatchClient(aws),
    sink: async () => sink,
    now: () => Date.now(),
  };
  const eventSource = startSqsEventSource({
    sqs,
    queueUrl,
    handler: makeShipHandler(() => shipDeps),
    functionName: 'queryLogShip',
    region: aws.region,
  });
  return {
    listener: { ingestUri: functionUrl.url, headers: { 'x-trino-sentinel-secret': secret } },
    functionUrl,
    queueUrl,
    dlqUrl,
    sink,
    shipDeps,
    eventSource,
    deadLettered: async () => {
      const out = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
      );
      return Number(out.Attributes?.ApproximateNumberOfMessages ?? '0');
    },
    stop: async () => {
      await eventSource.stop();
      await functionUrl.close();
      sqs.destroy();
      ssm.destroy();
    },
  };
}
