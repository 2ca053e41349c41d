/**
 * SSM Parameter Store adapter for plain (non-secret) state such as the query-log poller's watermark. Secrets are
 * read through Powertools Parameters (lib/trino/connect.ts), which caches them.
 * Source: AWS Systems Manager API reference — GetParameter, PutParameter.
 *
 * @module
 */
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type * as z from 'zod';
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

/** What {@link getJsonParameter} read: nothing (no parameter), a value that does not parse, or the parsed value. */
export type JsonParameter<T> =
  | { readonly found: false }
  | { readonly found: true; readonly ok: false }
  | { readonly found: true; readonly ok: true; readonly value: T };

/**
 * Reads a `String` parameter holding JSON ({@link getParameterValue}) and parses it with `schema`.
 * @returns `found: false` when the parameter does not exist; `ok: false` when its value is not JSON or does not
 *   match `schema`; otherwise the parsed value.
 * @throws AwsThrottledError | AwsError
 */
export async function getJsonParameter<S extends z.ZodType>(
  ssm: SSMClient,
  name: string,
  schema: S,
  call: AwsCall = {},
): Promise<JsonParameter<z.output<S>>> {
  const value = await getParameterValue(ssm, name, call);
  if (value === undefined) return { found: false };
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    json = undefined;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? { found: true, ok: true, value: parsed.data } : { found: true, ok: false };
}
