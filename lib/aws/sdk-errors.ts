/**
 * Helpers to read AWS SDK v3 service errors without casting: name, message, HTTP status.
 *
 * @module
 */
import { AwsError, AwsThrottledError } from '../errors.ts';

/** Error names AWS services use for throttling. Source: AWS SDK v3 `@smithy/service-error-classification`. */
export const THROTTLING_NAMES: ReadonlySet<string> = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
]);

/** The error's `name` (SDK v3 sets it to the service's error code), or `UnknownError`. */
export function sdkErrorName(error: unknown): string {
  return error instanceof Error ? error.name : 'UnknownError';
}

/** The error's message, or its string form. */
export function sdkErrorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** True when the error is an AWS throttling error. */
export function isThrottling(error: unknown): boolean {
  return THROTTLING_NAMES.has(sdkErrorName(error));
}

/**
 * Translates an AWS SDK v3 failure into our error contract: {@link AwsThrottledError} for throttling (the name the
 * state machines retry on), {@link AwsError} otherwise, keeping the SDK's error name and message in the context.
 * @param operation - Service and operation for the message, e.g. `EC2 AttachNetworkInterface`.
 * @param context - Safe identifiers (instance, ENI, queue); never tokens or secrets.
 */
export function toAwsError(
  operation: string,
  cause: unknown,
  context: Record<string, unknown> = {},
): AwsError {
  const full = { ...context, operation, sdkError: sdkErrorName(cause), sdkMessage: sdkErrorMessage(cause) };
  return isThrottling(cause)
    ? new AwsThrottledError(`${operation} throttled`, { cause, context: full })
    : new AwsError(`${operation} failed (${full.sdkError}): ${full.sdkMessage}`, { cause, context: full });
}
