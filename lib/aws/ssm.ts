/**
 * SSM Parameter Store adapter for plain (non-secret) state such as the query-log poller's watermark. Secrets are
 * read through Powertools Parameters (lib/trino/connect.ts), which caches them.
 * Source: AWS Systems Manager API reference — GetParameter, PutParameter.
 *
 * @module
 */
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { AwsCall } from './ec2.ts';
import { sdkErrorName, toAwsError } from './sdk-errors.ts';

/**
 * `GetParameter` (no decryption).
 * @returns The value, or `undefined` when the parameter does not exist.
 * @throws AwsThrottledError | AwsError
 */
export async function getParameterValue(
  ssm: SSMClient,
  name: string,
  call: AwsCall = {},
): Promise<string | undefined> {
  try {
    const out = await ssm.send(new GetParameterCommand({ Name: name }), { abortSignal: call.signal });
    return out.Parameter?.Value;
  } catch (cause) {
    if (sdkErrorName(cause) === 'ParameterNotFound') return undefined;
    throw toAwsError('SSM GetParameter', cause, { parameter: name });
  }
}

/**
 * `PutParameter` of a `String` parameter, overwriting.
 * @throws AwsThrottledError | AwsError
 */
export async function putParameterValue(
  ssm: SSMClient,
  name: string,
  value: string,
  call: AwsCall = {},
): Promise<void> {
  try {
    await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }), {
      abortSignal: call.signal,
    });
  } catch (cause) {
    throw toAwsError('SSM PutParameter', cause, { parameter: name });
  }
}
