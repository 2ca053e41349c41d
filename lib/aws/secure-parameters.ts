/**
 * Secret reads — an SSM SecureString (`GetParameter` with decryption) or a Secrets Manager secret
 * (`GetSecretValue`) — with the SDK client **loaded on first use** and a time-to-live cache.
 *
 * Why not Powertools Parameters: its providers import `@aws-sdk/client-ssm` and `@aws-sdk/client-secrets-manager`
 * statically; bundled with esbuild (ESM, `@aws-sdk/*` external) those imports become top-level imports of every
 * bundle that can reach them, so each function loaded both SDK clients at init (≈ 100–250 ms measured by
 * `npm run bench`) whether it reads a secret or not, and the one it does not use never. Here the only reference to
 * each client is a dynamic `import()`, which stays dynamic in the bundle.
 * Source: AWS Systems Manager API reference (GetParameter), AWS Secrets Manager API reference (GetSecretValue).
 *
 * @module
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { toAwsError } from './sdk-errors.ts';

/** Options of {@link SecretReader.get}, as Powertools Parameters names them. */
export interface SecretReadOptions {
  /** Seconds a value is served from the cache (default 5). */
  readonly maxAge?: number;
  /** SSM only: decrypt a SecureString (default false). */
  readonly decrypt?: boolean;
  /** Skip the cache: read now (the caller caches). */
  readonly forceFetch?: boolean;
}

/** Reads one secret by name or id (a Powertools `SSMProvider`/`SecretsProvider` fits this shape too). */
export interface SecretReader {
  /**
   * @returns The value (a string), or `undefined` when the service returned none.
   * @throws AwsError | AwsThrottledError when the call fails (e.g. `ParameterNotFound`, `AccessDeniedException`).
   */
  get(name: string, options?: SecretReadOptions): Promise<unknown>;
}

const DEFAULT_MAX_AGE_SECONDS = 5;

function cached(read: (name: string, decrypt: boolean) => Promise<string | undefined>): SecretReader {
  const values = new Map<string, { value: string | undefined; expiresAtMs: number }>();
  return {
    async get(name, options = {}) {
      const key = `${options.decrypt === true ? 'd' : 'p'}:${name}`;
      const hit = values.get(key);
      if (options.forceFetch !== true && hit !== undefined && hit.expiresAtMs > Date.now()) return hit.value;
      const value = await read(name, options.decrypt === true);
      values.set(key, {
        value,
        expiresAtMs: Date.now() + (options.maxAge ?? DEFAULT_MAX_AGE_SECONDS) * 1_000,
      });
      return value;
    },
  };
}

/**
 * SSM parameters through one `SSMClient` created on first use (the SDK honours `AWS_ENDPOINT_URL` and region).
 * @returns A reader; `get(name, { decrypt: true, maxAge: 300 })` for a SecureString.
 */
export function ssmParameterReader(): SecretReader {
  let sdk: Promise<typeof import('@aws-sdk/client-ssm')> | undefined;
  let client: SSMClient | undefined;
  return cached(async (name, decrypt) => {
    sdk ??= import('@aws-sdk/client-ssm');
    const { SSMClient: Client, GetParameterCommand } = await sdk;
    client ??= new Client({});
    try {
      const out = await client.send(new GetParameterCommand({ Name: name, WithDecryption: decrypt }));
      return out.Parameter?.Value;
    } catch (cause) {
      throw toAwsError('SSM GetParameter', cause, { parameter: name });
    }
  });
}

/**
 * Secrets Manager secrets through one `SecretsManagerClient` created on first use.
 * @returns A reader; `get(id, { maxAge: 300 })` returns the `SecretString`.
 */
export function secretsManagerReader(): SecretReader {
  let sdk: Promise<typeof import('@aws-sdk/client-secrets-manager')> | undefined;
  let client: SecretsManagerClient | undefined;
  return cached(async (id) => {
    sdk ??= import('@aws-sdk/client-secrets-manager');
    const { SecretsManagerClient: Client, GetSecretValueCommand } = await sdk;
    client ??= new Client({});
    try {
      const out = await client.send(new GetSecretValueCommand({ SecretId: id }));
      return out.SecretString;
    } catch (cause) {
      throw toAwsError('Secrets Manager GetSecretValue', cause, { secretId: id });
    }
  });
}
