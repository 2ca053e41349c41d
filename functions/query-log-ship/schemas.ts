/**
 * Configuration and event schemas of the query-log shipper.
 *
 * @module
 */
import * as z from 'zod';
import { envBool, envInt } from '../../lib/config.ts';
import { MetricsSinkSchema } from '../../lib/metrics-sink.ts';

/**
 * Environment:
 * - `SEARCH_ENGINE`: `opensearch-service` (Amazon OpenSearch Service, SigV4; endpoint found from
 *   `OPENSEARCH_DOMAIN_NAME` unless `SEARCH_ENDPOINT` is set), `opensearch` or `elasticsearch` (self-managed, basic
 *   auth `user:password` from the SSM SecureString `SEARCH_CREDENTIALS_SSM_PARAMETER`, at `SEARCH_ENDPOINT`).
 * - `QUERY_LOG_INDEX_PREFIX` (`trino-queries`): daily indices `<prefix>-YYYY.MM.DD`.
 * - `QUERY_LOG_RETENTION_DAYS` (30): the ISM/ILM policy deletes older indices.
 * - `QUERY_LOG_REFRESH_INTERVAL` (`5s`): the indices' refresh interval (how soon a document is searchable).
 * - `QUERY_LOG_SQL_MAX_LENGTH` (65536 characters), `QUERY_LOG_REDACT_SQL` (false).
 * - `QUERY_LOG_MAX_ATTEMPTS` (10): receives before a failing message goes to the DLQ.
 * - `QUERY_LOG_DLQ_URL` (required), `SEARCH_TIMEOUT_MS` (30000), `METRICS_NAMESPACE` (`Trino`), `CLUSTER_NAME`,
 *   `METRICS_SINK` (`emf` | `put-metric-data`, default `emf`: lib/metrics-sink.ts).
 */
export const QueryLogShipEnvSchema = z
  .object({
    CLUSTER_NAME: z.string().min(1),
    SEARCH_ENGINE: z.enum(['opensearch-service', 'opensearch', 'elasticsearch']),
    SEARCH_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    OPENSEARCH_DOMAIN_NAME: z.string().min(3).optional(),
    SEARCH_CREDENTIALS_SSM_PARAMETER: z.string().startsWith('/').optional(),
    QUERY_LOG_INDEX_PREFIX: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, - and _ (an index name prefix)')
      .default('trino-queries'),
    QUERY_LOG_RETENTION_DAYS: envInt(1, 3_650).default(30),
    QUERY_LOG_REFRESH_INTERVAL: z
      .string()
      .regex(/^\d+(ms|s|m)$/, 'an OpenSearch time value, e.g. 1s or 5s')
      .optional(),
    QUERY_LOG_SQL_MAX_LENGTH: envInt(0, 10_000_000).default(65_536),
    QUERY_LOG_REDACT_SQL: envBool.default(false),
    QUERY_LOG_MAX_ATTEMPTS: envInt(1, 1_000).default(10),
    QUERY_LOG_DLQ_URL: z.url({ protocol: /^https?$/ }),
    SEARCH_TIMEOUT_MS: envInt(1_000, 300_000).default(30_000),
    METRICS_NAMESPACE: z.string().min(1).default('Trino'),
    METRICS_SINK: MetricsSinkSchema,
  })
  .superRefine((env, ctx) => {
    if (env.SEARCH_ENGINE === 'opensearch-service') {
      if (env.SEARCH_ENDPOINT === undefined && env.OPENSEARCH_DOMAIN_NAME === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['OPENSEARCH_DOMAIN_NAME'],
          message: 'set OPENSEARCH_DOMAIN_NAME (or SEARCH_ENDPOINT) for opensearch-service',
        });
      }
    } else if (env.SEARCH_ENDPOINT === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['SEARCH_ENDPOINT'],
        message: `set SEARCH_ENDPOINT for a self-managed ${env.SEARCH_ENGINE}`,
      });
    }
  });
/** Parsed {@link QueryLogShipEnvSchema}. */
export type QueryLogShipConfig = z.infer<typeof QueryLogShipEnvSchema>;

/** One SQS record as the Lambda event source mapping delivers it (the fields we read). Source: AWS Lambda SQS event. */
const SqsRecordSchema = z.looseObject({
  messageId: z.string().min(1),
  body: z.string(),
  attributes: z.looseObject({ ApproximateReceiveCount: z.string().regex(/^\d+$/) }),
});

/** The SQS batch event. */
export const SqsEventSchema = z.object({ Records: z.array(SqsRecordSchema) });
/** Parsed {@link SqsEventSchema}. */
export type SqsEvent = z.infer<typeof SqsEventSchema>;
