/**
 * Test infrastructure: the client side of the Lambda Invoke API as the AWS services of the local cloud call it
 * (EventBridge targets, SQS event source mappings, the custom termination policy, Function URLs). One attempt
 * per call (the SDK's own retries are off: each caller applies the retry rules of the service it plays), and
 * every failure classified the way EventBridge reports it in a dead-letter message's `ERROR_CODE`.
 *
 * Source: AWS Lambda API reference, Invoke (`X-Amz-Invocation-Type`, `X-Amz-Function-Error`, errors);
 * Amazon EventBridge User Guide, "Using dead-letter queues to process undelivered events" (error codes).
 *
 * @module
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { EmulatorClientConfig } from '../moto.ts';

/** `Event` = asynchronous (202, no payload), `RequestResponse` = synchronous (200 + the function's answer). */
export type InvocationType = 'Event' | 'RequestResponse';

/** What one accepted invocation returned. */
export interface InvokeResult {
  /** HTTP status of the Invoke call: 202 for `Event`, 200 for `RequestResponse`. */
  readonly statusCode: number;
  /** `Unhandled` / `Handled` when the function failed (its error object is the payload), else undefined. */
  readonly functionError: string | undefined;
  /** The function's answer as text (empty for `Event`). */
  readonly payload: string;
}

/**
 * The Invoke call itself failed (the function did not run, or its answer was not delivered).
 * `code` is the EventBridge dead-letter `ERROR_CODE`; `retryable` says whether AWS services retry it
 * (throttling, service errors, connection failures) or give up at once (missing function, no permission,
 * invalid request).
 */
export class InvokeApiError extends Error {
  override readonly name = 'InvokeApiError';
  /** EventBridge error code, e.g. `THROTTLING`, `NO_RESOURCE`, `CONNECTION_FAILURE`. */
  readonly code: string;
  /** HTTP status of the Invoke call, when one came back. */
  readonly statusCode: number | undefined;
  readonly retryable: boolean;
  /** The SDK's error name (e.g. `TooManyRequestsException`). */
  readonly sdkError: string;

  constructor(
    message: string,
    details: {
      code: string;
      statusCode: number | undefined;
      retryable: boolean;
      sdkError: string;
      cause: unknown;
    },
  ) {
    super(message, { cause: details.cause });
    this.code = details.code;
    this.statusCode = details.statusCode;
    this.retryable = details.retryable;
    this.sdkError = details.sdkError;
  }
}

function errorFields(error: unknown): { name: string; message: string; statusCode: number | undefined } {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), statusCode: undefined };
  const metadata: unknown = Reflect.get(error, '$metadata');
  const statusCode =
    typeof metadata === 'object' && metadata !== null ? Reflect.get(metadata, 'httpStatusCode') : undefined;
  return {
    name: error.name,
    message: error.message,
    statusCode: typeof statusCode === 'number' ? statusCode : undefined,
  };
}

/**
 * Classifies a failed call to an AWS API (Lambda Invoke, SQS SendMessage) as EventBridge does.
 * @param error - What the SDK threw.
 * @returns The {@link InvokeApiError} to report.
 */
export function classifyAwsCallError(error: unknown): InvokeApiError {
  const { name, message, statusCode } = errorFields(error);
  const table: Record<string, { code: string; retryable: boolean }> = {
    TooManyRequestsException: { code: 'THROTTLING', retryable: true },
    ThrottlingException: { code: 'THROTTLING', retryable: true },
    RequestThrottled: { code: 'THROTTLING', retryable: true },
    ResourceNotFoundException: { code: 'NO_RESOURCE', retryable: false },
    QueueDoesNotExist: { code: 'NO_RESOURCE', retryable: false },
    'AWS.SimpleQueueService.NonExistentQueue': { code: 'NO_RESOURCE', retryable: false },
    AccessDeniedException: { code: 'NO_PERMISSIONS', retryable: false },
    AccessDenied: { code: 'NO_PERMISSIONS', retryable: false },
    InvalidParameterValueException: { code: 'INVALID_PARAMETER', retryable: false },
    RequestTooLargeException: { code: 'INVALID_PARAMETER', retryable: false },
    TimeoutError: { code: 'TIMEOUT', retryable: true },
  };
  const known = table[name];
  if (known) return new InvokeApiError(message, { ...known, statusCode, sdkError: name, cause: error });
  if (statusCode === undefined) {
    // No HTTP answer at all: refused, reset, DNS.
    return new InvokeApiError(message, {
      code: 'CONNECTION_FAILURE',
      statusCode,
      retryable: true,
      sdkError: name,
      cause: error,
    });
  }
  if (statusCode === 429)
    return new InvokeApiError(message, {
      code: 'THROTTLING',
      statusCode,
      retryable: true,
      sdkError: name,
      cause: error,
    });
  if (statusCode >= 500)
    return new InvokeApiError(message, {
      code: 'INTERNAL_ERROR',
      statusCode,
      retryable: true,
      sdkError: name,
      cause: error,
    });
  return new InvokeApiError(message, {
    code: 'SDK_CLIENT_ERROR',
    statusCode,
    retryable: false,
    sdkError: name,
    cause: error,
  });
}

/**
 * Creates the Lambda client the local services invoke through: one attempt per call (no SDK retries).
 * @param config - The Lambda Invoke API endpoint (the front AWS endpoint, or a test's Invoke double), region,
 *   credentials.
 * @param timeoutMs - Per-call socket timeout (default 15 min + 30 s: Lambda's longest synchronous run).
 */
export function makeInvokeClient(config: EmulatorClientConfig, timeoutMs = 930_000): LambdaClient {
  return new LambdaClient({
    endpoint: config.endpoint,
    region: config.region,
    credentials: config.credentials,
    maxAttempts: 1,
    requestHandler: { requestTimeout: timeoutMs },
  });
}

/**
 * Calls Invoke once.
 * @param client - From {@link makeInvokeClient}.
 * @param functionArn - Function name or (qualified) ARN, as the caller's configuration names it.
 * @param payload - The event, serialized.
 * @param invocationType - `Event` (async) or `RequestResponse` (sync).
 * @param signal - Aborts the call (on stop).
 * @returns The accepted invocation; a function error is a result (`functionError`), not a throw.
 * @throws InvokeApiError when the Invoke call itself failed.
 * @example
 * const out = await invokeFunction(client, 'arn:aws:lambda:us-east-1:123456789012:function:f', '{}', 'Event');
 */
export async function invokeFunction(
  client: LambdaClient,
  functionArn: string,
  payload: string,
  invocationType: InvocationType,
  signal?: AbortSignal,
): Promise<InvokeResult> {
  try {
    const out = await client.send(
      new InvokeCommand({
        FunctionName: functionArn,
        InvocationType: invocationType,
        Payload: Buffer.from(payload, 'utf8'),
      }),
      signal ? { abortSignal: signal } : {},
    );
    return {
      statusCode: out.StatusCode ?? 0,
      functionError: out.FunctionError,
      payload: out.Payload ? Buffer.from(out.Payload).toString('utf8') : '',
    };
  } catch (error) {
    throw classifyAwsCallError(error);
  }
}
