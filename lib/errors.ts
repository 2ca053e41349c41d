/**
 * The error contract of trino-sentinel.
 *
 * Every failure that crosses a module boundary is one of these named classes. The `name` is a string literal in
 * each class, never derived from the constructor: the Lambda bundles are minified (classes renamed), and Lambda
 * reports a thrown error's `name` as the `errorType` that the state machines match. The `name` is stable:
 * Step Functions `Retry`/`Catch` blocks match on it (`"ErrorEquals": ["TrinoTimeoutError"]`), and so do
 * tests and log queries. Errors carry context (URL, status, field path) but never secrets, passwords,
 * bearer tokens or lifecycle action tokens.
 *
 * @module
 */

/** Base class: every error thrown by our code extends it. */
export class SentinelError extends Error {
  override readonly name: string = 'SentinelError';
  /** Machine-readable context for logs; must never hold secrets. */
  readonly context: Readonly<Record<string, unknown>>;

  /**
   * @param message - One sentence an on-call engineer can act on.
   * @param options - `cause` (the underlying error) and `context` (safe, structured details).
   */
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.context = Object.freeze({ ...(options.context ?? {}) });
  }
}

/** A required configuration value is missing or malformed; thrown once at start-up, naming the variable. */
export class ConfigError extends SentinelError {
  override readonly name: string = 'ConfigError';
}

/** An inbound event or task input failed validation; the message lists each failing field path. */
export class ValidationError extends SentinelError {
  override readonly name: string = 'ValidationError';
}

/** Base for every failure talking to a Trino (or PrestoDB) node over HTTP. */
export class TrinoError extends SentinelError {
  override readonly name: string = 'TrinoError';
}

/** The request to Trino did not complete within its timeout (ms in `context.timeoutMs`). */
export class TrinoTimeoutError extends TrinoError {
  override readonly name: string = 'TrinoTimeoutError';
}

/** The TCP/TLS connection to Trino could not be made: refused, reset, DNS failure or TLS failure. */
export class TrinoConnectionError extends TrinoError {
  override readonly name: string = 'TrinoConnectionError';
}

/** Trino answered with a non-2xx status; `status` and a truncated `body` are kept. */
export class TrinoHttpError extends TrinoError {
  override readonly name: string = 'TrinoHttpError';
  /** HTTP status code Trino answered with. */
  readonly status: number;
  /** First 500 characters of the response body (Trino puts the reason there). */
  readonly body: string;

  /**
   * @param message - Human-readable summary.
   * @param status - HTTP status code.
   * @param body - Response body (truncated to 500 characters here).
   * @param context - Safe context (method, URL path).
   */
  constructor(message: string, status: number, body: string, context: Record<string, unknown> = {}) {
    super(message, { context: { ...context, status } });
    this.status = status;
    this.body = body.slice(0, 500);
  }
}

/**
 * Trino refused the caller (401/403). The message names the access-control rule that is missing,
 * because that is the cause of most such reports upstream.
 */
export class TrinoAuthError extends TrinoHttpError {
  override readonly name: string = 'TrinoAuthError';
}

/** Trino answered 2xx but the body was not JSON or did not match the expected shape. */
export class TrinoResponseError extends TrinoError {
  override readonly name: string = 'TrinoResponseError';
}

/** Reading a secret (SSM SecureString, Secrets Manager) failed; the secret's name is in context, never its value. */
export class SecretError extends SentinelError {
  override readonly name: string = 'SecretError';
}

/** An AWS API call failed in a way our adapters translate (throttling, missing resource, …). */
export class AwsError extends SentinelError {
  override readonly name: string = 'AwsError';
}

/** AWS throttled the call even after the SDK's own retries; Step Functions retries it with backoff. */
export class AwsThrottledError extends AwsError {
  override readonly name: string = 'AwsThrottledError';
}

/**
 * AWS failed the call in a way that may pass on a later try even after the SDK's own retries: a 5xx
 * (`InternalError`, `ServiceUnavailable`, `Unavailable`), a request timeout, a connection reset. Step Functions
 * retries it with backoff, like {@link AwsThrottledError}. Classified by the AWS SDK's own rules
 * (`@smithy/core/retry` `isTransientError`, `isServerError`).
 */
export class AwsTransientError extends AwsError {
  override readonly name: string = 'AwsTransientError';
}

/**
 * The lifecycle action no longer exists: the token was already used or expired, the hook or group was deleted,
 * or the instance is gone. The drain ends successfully with a log line; retrying cannot help.
 */
export class LifecycleActionGoneError extends AwsError {
  override readonly name: string = 'LifecycleActionGoneError';
}

/** The EC2 instance does not exist (any more) or is not running. */
export class InstanceGoneError extends AwsError {
  override readonly name: string = 'InstanceGoneError';
}

/** A SQL statement run by the control plane failed in Trino; `errorName` is Trino's (e.g. `SYNTAX_ERROR`). */
export class TrinoQueryError extends TrinoError {
  override readonly name: string = 'TrinoQueryError';
}

/** The coordinator ENI is attached to another instance than the one a failover chose: someone else moved it. */
export class EniAttachedElsewhereError extends AwsError {
  override readonly name: string = 'EniAttachedElsewhereError';
}

/** A failover step passed its deadline (detach, attach, standby wait); the execution fails and alarms. */
export class FailoverTimeoutError extends SentinelError {
  override readonly name: string = 'FailoverTimeoutError';
}

/**
 * The handler was about to reach its Lambda timeout and stopped itself (middy's early-timeout signal aborted every
 * Trino and AWS call in flight). Step Functions retries it on idempotent tasks, like `Sandbox.Timedout`.
 */
export class HandlerTimeoutError extends SentinelError {
  override readonly name: string = 'HandlerTimeoutError';
}

/**
 * A failure outside this contract (a `TypeError`, a `RangeError`: a bug, or a library's own error class), wrapped by
 * the handler so that Step Functions and log queries see one name of ours; the original is the `cause` and its name
 * and message are in the context. Never retried by a state machine: a bug does not pass by itself.
 */
export class UnexpectedError extends SentinelError {
  override readonly name: string = 'UnexpectedError';
}

/** The search engine (Elasticsearch/OpenSearch) failed a whole request: connection, timeout, auth, 5xx. */
export class SearchEngineError extends SentinelError {
  override readonly name: string = 'SearchEngineError';
}
