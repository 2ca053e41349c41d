/**
 * Inbound event and configuration schemas of the query-log-ingest function (a Lambda Function URL that receives
 * Trino's HTTP event listener posts).
 *
 * @module
 */
import * as z from 'zod';
import { envInt } from '../../lib/config.ts';

/**
 * The Lambda Function URL request (payload format 2.0, the `APIGatewayProxyEventV2` shape). Header names arrive
 * lower-cased; repeated headers are joined with commas; a binary or non-text body arrives base64-encoded with
 * `isBase64Encoded: true`. Only the fields we use are required.
 * Source: AWS Lambda Developer Guide, "Invoking Lambda function URLs" → "Request payload format".
 */
export const FunctionUrlEventSchema = z.looseObject({
  version: z.literal('2.0'),
  rawPath: z.string(),
  headers: z.record(z.string(), z.string()).default({}),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().default(false),
  requestContext: z.looseObject({
    requestId: z.string().optional(),
    http: z.looseObject({
      method: z.string(),
      sourceIp: z.string().optional(),
    }),
  }),
});
/** Parsed {@link FunctionUrlEventSchema}. */
export type FunctionUrlEvent = z.infer<typeof FunctionUrlEventSchema>;

/** The response a Function URL handler returns (payload format 2.0). */
export interface FunctionUrlResult {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * Amazon SQS's maximum message size (body plus message attributes): 1 MiB since August 2025 (was 256 KiB). A queue
 * whose `MaximumMessageSize` attribute is lower needs `QUERY_LOG_MAX_MESSAGE_BYTES` set to match.
 * Source: Amazon SQS Developer Guide, "Amazon SQS message quotas".
 */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

/** Default name of the shared-secret header (what Trino sends through `http-event-listener.connect-http-headers`). */
export const DEFAULT_SECRET_HEADER = 'x-trino-sentinel-secret';

/**
 * Environment of the function:
 * - `QUERY_LOG_QUEUE_URL` (required): SQS queue the validated events go to (a `.fifo` queue gets the query id as
 *   message group and deduplication id).
 * - `QUERY_LOG_SECRET_SSM_PARAMETER` or `QUERY_LOG_SECRET_ARN` (exactly one): SSM SecureString name, or Secrets
 *   Manager secret id/ARN, holding the shared secret. Several accepted secrets (rotation) go one per line.
 * - `QUERY_LOG_SECRET_HEADER`: header carrying the secret, case-insensitive (default `x-trino-sentinel-secret`).
 * - `QUERY_LOG_SECRET_CACHE_SECONDS`: how long the secret is cached (default 300).
 * - `QUERY_LOG_SECRET_REFRESH_SECONDS`: on a mismatch, the secret is re-read at most this often, so a rotation
 *   is picked up before the cache expires (default 30; 0 disables).
 * - `QUERY_LOG_MAX_MESSAGE_BYTES`: SQS message budget in bytes, body plus attributes (default 1 MiB).
 */
export const QueryLogIngestEnvSchema = z
  .object({
    QUERY_LOG_QUEUE_URL: z.url({ protocol: /^https?$/ }),
    QUERY_LOG_SECRET_SSM_PARAMETER: z.string().min(1).optional(),
    QUERY_LOG_SECRET_ARN: z.string().min(1).optional(),
    QUERY_LOG_SECRET_HEADER: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name')
      .default(DEFAULT_SECRET_HEADER)
      .transform((name) => name.toLowerCase()),
    QUERY_LOG_SECRET_CACHE_SECONDS: envInt(0, 86_400).default(300),
    QUERY_LOG_SECRET_REFRESH_SECONDS: envInt(0, 3_600).default(30),
    QUERY_LOG_MAX_MESSAGE_BYTES: envInt(1_024, SQS_MAX_MESSAGE_BYTES).default(SQS_MAX_MESSAGE_BYTES),
  })
  .superRefine((env, ctx) => {
    if (env.QUERY_LOG_SECRET_SSM_PARAMETER === undefined && env.QUERY_LOG_SECRET_ARN === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['QUERY_LOG_SECRET_SSM_PARAMETER'],
        message: 'set QUERY_LOG_SECRET_SSM_PARAMETER or QUERY_LOG_SECRET_ARN',
      });
    }
    if (env.QUERY_LOG_SECRET_SSM_PARAMETER !== undefined && env.QUERY_LOG_SECRET_ARN !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['QUERY_LOG_SECRET_ARN'],
        message: 'set only one of QUERY_LOG_SECRET_SSM_PARAMETER and QUERY_LOG_SECRET_ARN',
      });
    }
  });
/** Parsed {@link QueryLogIngestEnvSchema}. */
export type QueryLogIngestConfig = z.infer<typeof QueryLogIngestEnvSchema>;
