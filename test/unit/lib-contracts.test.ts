/**
 * The small pure contracts of lib/ that every handler leans on: each error class (its literal name, its base, its
 * context), node URLs from instance templates, "could not read" as `unknown`, and AWS SDK failures translated into
 * the error contract.
 */
import { describe, expect, it } from 'vitest';
import type { InstanceView } from '../../lib/aws/ec2.ts';
import { known, observe, unknown } from '../../lib/aws/observed.ts';
import {
  isThrottling,
  isTransient,
  sdkErrorMessage,
  sdkErrorName,
  toAwsError,
} from '../../lib/aws/sdk-errors.ts';
import * as errors from '../../lib/errors.ts';
import { instanceUrl } from '../../lib/instance-url.ts';

/** The error classes built with a status and a body (the others take a message and options). */
const HTTP_ERRORS = [errors.TrinoHttpError, errors.TrinoAuthError] as const;
const isHttpError = (Cls: unknown) => HTTP_ERRORS.some((http) => http === Cls);

/** Every exported error class with a way to build it. */
const errorClasses: (readonly [string, (message: string, cause?: unknown) => errors.SentinelError])[] = [
  ...Object.entries(errors)
    .filter((entry): entry is [string, typeof errors.SentinelError] => !isHttpError(entry[1]))
    .map(
      ([exported, Cls]) =>
        [
          exported,
          (message: string, cause?: unknown) => new Cls(message, { cause, context: { instanceId: 'i-1' } }),
        ] as const,
    ),
  ...HTTP_ERRORS.map(
    (Cls) =>
      [Cls.name, (message: string) => new Cls(message, 503, 'x'.repeat(600), { path: '/v1/info' })] as const,
  ),
];

describe('the error contract (lib/errors.ts)', () => {
  it.each(errorClasses)(
    '%s: its name is the literal class name, and it is a SentinelError',
    (exported, make) => {
      const error = make('something failed', new Error('root'));
      expect(error.name).toBe(exported);
      expect(error).toBeInstanceOf(errors.SentinelError);
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toBe('something failed');
      expect(Object.isFrozen(error.context)).toBe(true);
    },
  );

  it('keeps the cause and the context it was given', () => {
    const cause = new Error('socket hang up');
    const error = new errors.InstanceGoneError('i-1 is gone', { cause, context: { instanceId: 'i-1' } });
    expect(error.cause).toBe(cause);
    expect(error.context).toEqual({ instanceId: 'i-1' });
    expect(new errors.FailoverTimeoutError('late').context).toEqual({});
    expect(new errors.FailoverTimeoutError('late').cause).toBeUndefined();
  });

  it('an HTTP error keeps the status (also in context) and the first 500 characters of the body', () => {
    const error = new errors.TrinoAuthError('refused', 403, 'y'.repeat(700), { method: 'GET' });
    expect(error).toBeInstanceOf(errors.TrinoHttpError);
    expect(error.status).toBe(403);
    expect(error.body).toHaveLength(500);
    expect(error.context).toEqual({ method: 'GET', status: 403 });
    expect(new errors.TrinoHttpError('bad', 500, '').context).toEqual({ status: 500 });
  });
});

const instance: InstanceView = {
  instanceId: 'i-0abc',
  state: 'running',
  privateIpAddress: '10.0.3.17',
  launchTimeMs: 0,
  tags: { 'trino-sentinel:http-port': '8081' },
};

describe('instanceUrl (lib/instance-url.ts)', () => {
  it.each([
    ['http://{privateIp}:8080', 'http://10.0.3.17:8080'],
    ['https://{privateIp}:8443', 'https://10.0.3.17:8443'],
    ['http://127.0.0.1:{tag:trino-sentinel:http-port}', 'http://127.0.0.1:8081'],
    ['http://{privateIp}:{tag:trino-sentinel:http-port}/', 'http://10.0.3.17:8081/'],
  ])('fills %s as %s', (template, expected) => {
    expect(instanceUrl(template, instance)).toBe(expected);
  });

  it.each([
    ['no private IP', 'http://{privateIp}:8080', { ...instance, privateIpAddress: undefined }, '{privateIp}'],
    ['a missing tag', 'http://127.0.0.1:{tag:port}', instance, '{tag:port}'],
    ['a result that is not a URL', '{privateIp}:8080', instance, 'not a URL'],
  ] as const)('throws a ValidationError for %s', (_, template, view, message) => {
    const call = () => instanceUrl(template, view);
    expect(call).toThrow(errors.ValidationError);
    expect(call).toThrow(message);
  });
});

describe('observe (lib/aws/observed.ts)', () => {
  it('is known with the value a read returned', async () => {
    await expect(observe(async () => 'running')).resolves.toEqual(known('running'));
  });

  it.each([
    ['one of our errors', new errors.AwsThrottledError('EC2 throttled'), 'AwsThrottledError: EC2 throttled'],
    ['any Error', new TypeError('fetch failed'), 'TypeError: fetch failed'],
    ['a thrown non-error', 'boom', 'boom'],
  ])('is unknown, never a definite value, when the read throws %s', async (_, thrown, reason) => {
    await expect(
      observe(async () => {
        throw thrown;
      }),
    ).resolves.toEqual(unknown(reason));
  });
});

/** An error shaped like an AWS SDK v3 service exception (its name is the service's error code). */
function sdkError(name: string, message: string, httpStatusCode?: number, code?: string): Error {
  const error = new Error(message);
  error.name = name;
  return Object.assign(error, {
    ...(httpStatusCode === undefined ? {} : { $metadata: { httpStatusCode } }),
    ...(code === undefined ? {} : { code }),
  });
}

describe('AWS SDK errors (lib/aws/sdk-errors.ts)', () => {
  it.each([
    'Throttling',
    'ThrottlingException',
    'ThrottledException',
    'RequestThrottled',
    'RequestThrottledException',
    'TooManyRequestsException',
    'RequestLimitExceeded',
    'SlowDown',
  ])('%s becomes AwsThrottledError (the name the state machines retry)', (name) => {
    const cause = sdkError(name, 'Rate exceeded');
    expect(isThrottling(cause)).toBe(true);
    const error = toAwsError('EC2 DescribeInstances', cause, { instanceId: 'i-1' });
    expect(error).toBeInstanceOf(errors.AwsThrottledError);
    expect(error.message).toBe('EC2 DescribeInstances throttled');
    expect(error.context).toEqual({
      instanceId: 'i-1',
      operation: 'EC2 DescribeInstances',
      sdkError: name,
      sdkMessage: 'Rate exceeded',
    });
    expect(error.cause).toBe(cause);
  });

  it.each([
    ['EC2 InternalError (500)', sdkError('InternalError', 'An internal error has occurred', 500)],
    ['EC2 Unavailable (503)', sdkError('Unavailable', 'The server is overloaded', 503)],
    ['ServiceUnavailable (503)', sdkError('ServiceUnavailable', 'Service unavailable', 503)],
    ['a 502 from a load balancer', sdkError('Unknown', 'Bad Gateway', 502)],
    ['a 5xx the SDK does not list (599)', sdkError('Unknown', 'odd', 599)],
    ['the SDK request timeout', sdkError('TimeoutError', 'Connection timed out after 1000 ms')],
    ['a reset connection', sdkError('Error', 'socket hang up', undefined, 'ECONNRESET')],
  ])('%s becomes AwsTransientError (retried by the state machines)', (_label, cause) => {
    const error = toAwsError('EC2 DetachNetworkInterface', cause, { attachmentId: 'eni-attach-1' });
    expect(error).toBeInstanceOf(errors.AwsTransientError);
    expect(error.name).toBe('AwsTransientError');
    expect(isTransient(cause)).toBe(true);
    expect(isThrottling(cause)).toBe(false);
    expect(error.context).toMatchObject({ attachmentId: 'eni-attach-1', sdkError: cause.name });
  });

  it.each([
    ['AccessDenied (403)', sdkError('AccessDenied', 'not allowed', 403)],
    ['a validation error (400)', sdkError('InvalidParameterValue', 'bad', 400)],
    ['our own abort before the Lambda timeout', sdkError('AbortError', 'This operation was aborted')],
    ['throttling (429)', sdkError('Throttling', 'Rate exceeded', 429)],
  ])('%s is not transient', (_label, cause) => {
    expect(isTransient(cause)).toBe(false);
  });

  it('any other failure becomes AwsError naming the operation and the SDK error', () => {
    const error = toAwsError('SQS SendMessage', sdkError('AccessDenied', 'not allowed'));
    expect(error.constructor).toBe(errors.AwsError);
    expect(error.message).toBe('SQS SendMessage failed (AccessDenied): not allowed');
  });

  it.each([
    [sdkError('InvalidParameterValue', 'bad'), 'InvalidParameterValue', 'bad'],
    ['a string', 'UnknownError', 'a string'],
    [undefined, 'UnknownError', 'undefined'],
  ])('reads %s as name %s, message %s', (thrown, name, message) => {
    expect(sdkErrorName(thrown)).toBe(name);
    expect(sdkErrorMessage(thrown)).toBe(message);
    expect(isThrottling(thrown)).toBe(false);
    expect(isTransient(thrown)).toBe(false);
  });
});
