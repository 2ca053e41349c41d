/**
 * SSM Parameter Store adapter for plain (non-secret) state such as the query-log poller's watermark. Secrets are
 * read through Powertools Parameters (lib/trino/connect.ts), which caches them.
 * Source: AWS Systems Manager API reference — GetParameter, PutParameter.
 *
 * @module
 */
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { sdkErrorName } from './sdk-errors.ts';
import { type AwsCall, sendAws } from './send.ts';

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
  const out = await sendAws(
    {
      operation: 'SSM GetParameter',
      context: { parameter: name },
      answer: { when: (cause) => sdkErrorName(cause) === 'ParameterNotFound', value: () => undefined },
    },
    (options) => ssm.send(new GetParameterCommand({ Name: name }), options),
    call,
  );
  return out?.Parameter?.Value;
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
  await sendAws(
    { operation: 'SSM PutParameter', context: { parameter: name } },
    (options) =>
      ssm.send(
        new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }),
        options,
      ),
    call,
  );
}
