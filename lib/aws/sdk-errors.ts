/**
 * Helpers to read AWS SDK v3 service errors without casting: name, message, and how AWS classifies the failure
 * (throttling, transient, or neither). The classification is the SDK's own (`@smithy/core/retry`:
 * `isThrottlingError`, `isTransientError`, `isServerError`), so our state machines retry exactly what the SDK
 * itself would have retried, once the SDK's own attempts are spent.
 *
 * @module
 */
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { AwsError, AwsThrottledError, AwsTransientError } from '../errors.ts';

/** The error's `name` (SDK v3 sets it to the service's error code), or `UnknownError`. */
export function sdkErrorName(error: unknown): string {
  return error instanceof Error ? error.name : 'UnknownError';
}

/** The error's message, or its string form. */
export function sdkErrorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The SDK's classifiers take a `SdkError`; any thrown object can be read by them, nothing else can. */
function asSdkError(error: unknown): Parameters<typeof isThrottlingError>[0] | undefined {
  return typeof error === 'object' && error !== null
    ? (error as Parameters<typeof isThrottlingError>[0])
    : undefined;
}

/**
 * True when the error is an AWS throttling error: one of the SDK's throttling codes (`Throttling`,
 * `RequestLimitExceeded`, `TooManyRequestsException`, …), HTTP 429, or a `$retryable.throttling` trait.
 */
export function isThrottling(error: unknown): boolean {
  const sdk = asSdkError(error);
  return sdk !== undefined && isThrottlingError(sdk);
}

/**
 * True when the failure may pass on a later try (and is not throttling): an HTTP 5xx (EC2's `InternalError` 500,
 * `Unavailable` 503, …), a request timeout (`TimeoutError`, `RequestTimeout`), a reset or refused connection.
 * An `AbortError` (our own handler stopping before its Lambda timeout) is not transient here.
 */
export function isTransient(error: unknown): boolean {
  const sdk = asSdkError(error);
  return sdk !== undefined && !isThrottlingError(sdk) && (isTransientError(sdk) || isServerError(sdk));
}

/**
 * Translates an AWS SDK v3 failure into our error contract: {@link AwsThrottledError} for throttling and
 * {@link AwsTransientError} for a 5xx, timeout or dropped connection (the names the state machines retry),
 * {@link AwsError} otherwise, keeping the SDK's error name and message in the context.
 * @param operation - Service and operation for the message, e.g. `EC2 AttachNetworkInterface`.
 * @param context - Safe identifiers (instance, ENI, queue); never tokens or secrets.
 */
export function toAwsError(
  operation: string,
  cause: unknown,
  context: Record<string, unknown> = {},
): AwsError {
  const full = { ...context, operation, sdkError: sdkErrorName(cause), sdkMessage: sdkErrorMessage(cause) };
  if (isThrottling(cause)) return new AwsThrottledError(`${operation} throttled`, { cause, context: full });
  const message = `${operation} failed (${full.sdkError}): ${full.sdkMessage}`;
  return isTransient(cause)
    ? new AwsTransientError(message, { cause, context: full })
    : new AwsError(message, { cause, context: full });
}
