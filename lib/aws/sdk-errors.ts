/**
 * Helpers to read AWS SDK v3 service errors without casting: name, message, HTTP status.
 *
 * @module
 */

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
