/**
 * Builds a {@link TrinoClient} from environment configuration, reading credentials and the CA from
 * SSM Parameter Store (SecureString) or Secrets Manager (lib/aws/secure-parameters.ts: the SDK client loaded on
 * first use, values cached 5 min). Shared by every function that talks to Trino.
 *
 * @module
 */
import * as z from 'zod';
import { type SecretReader, secretsManagerReader, ssmParameterReader } from '../aws/secure-parameters.ts';
import { envInt } from '../config.ts';
import {
  type ContainerDeps,
  containerDeps,
  onceResolved,
  type SdkClientClass,
  type SdkClients,
  sdkClients,
} from '../deps.ts';
import { SecretError } from '../errors.ts';
import { type TrinoAuth, TrinoClient } from './client.ts';

/**
 * Environment variables that configure the connection to the coordinator (merge into a function's config schema).
 * - `TRINO_URL`: coordinator base URL (through the coordinator ENI's address in production).
 * - `TRINO_USER`: the control plane's Trino user (default `sentinel`).
 * - `TRINO_FLAVOR`: `trino` (default) or `presto` (PrestoDB; sends `X-Presto-User`).
 * - `TRINO_AUTH`: `none` (default), `basic` or `bearer`.
 * - `TRINO_SECRET_SSM_PARAMETER` / `TRINO_SECRET_ID`: where the password (basic) or token (bearer) lives:
 *   an SSM SecureString name, or a Secrets Manager id whose value is the string itself or JSON `{"password"}`/`{"token"}`.
 * - `TRINO_CA_SSM_PARAMETER`: optional SSM parameter holding the PEM of a custom CA.
 * - `TRINO_TLS_SERVER_NAME`: the DNS name the coordinator's certificate carries (infra/: the cluster's name); TLS
 *   is verified against it, so a coordinator probed on its instance's own address verifies too.
 * - `TRINO_TIMEOUT_MS`: per-request timeout in ms (default 5000).
 */
export const TrinoConnectionEnvSchema = z.object({
  TRINO_URL: z.url({ protocol: /^https?$/ }),
  TRINO_USER: z.string().min(1).default('sentinel'),
  TRINO_FLAVOR: z.enum(['trino', 'presto']).default('trino'),
  TRINO_AUTH: z.enum(['none', 'basic', 'bearer']).default('none'),
  TRINO_SECRET_SSM_PARAMETER: z.string().min(1).optional(),
  TRINO_SECRET_ID: z.string().min(1).optional(),
  TRINO_CA_SSM_PARAMETER: z.string().min(1).optional(),
  TRINO_TLS_SERVER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, 'must be a DNS name')
    .optional(),
  TRINO_TIMEOUT_MS: envInt(100, 120_000).default(5_000),
});
/** Parsed {@link TrinoConnectionEnvSchema}. */
export type TrinoConnectionConfig = z.infer<typeof TrinoConnectionEnvSchema>;

/**
 * Where {@link resolveTrinoClient} reads secrets from; injectable for tests (Powertools Parameters' `SSMProvider`
 * and `SecretsProvider` fit).
 */
export interface SecretSources {
  readonly ssm: SecretReader;
  readonly secrets: SecretReader;
}

let defaultSources: Promise<SecretSources> | undefined;

/**
 * The module's secret readers, created once. Each loads its SDK client on its first read: a cluster without
 * authentication, or one whose secret lives in SSM, never loads the Secrets Manager client (and the other way
 * round).
 */
export function defaultSecretSources(): Promise<SecretSources> {
  defaultSources ??= Promise.resolve({ ssm: ssmParameterReader(), secrets: secretsManagerReader() });
  return defaultSources;
}

const SecretJsonSchema = z.object({ password: z.string().optional(), token: z.string().optional() });

/**
 * Resolves credentials and CA, and returns a ready client for the coordinator.
 * @param config - Parsed {@link TrinoConnectionEnvSchema}.
 * @param sources - Secret providers (default: the module's, loaded on first need, cached 300 s).
 * @returns A {@link TrinoClient} for `TRINO_URL`.
 * @throws SecretError when a secret is missing, unreadable or not configured for the chosen `TRINO_AUTH`
 *   (the message names the parameter or secret id, never its value).
 */
export async function resolveTrinoClient(
  config: TrinoConnectionConfig,
  sources?: SecretSources,
): Promise<TrinoClient> {
  const needsSecrets = config.TRINO_AUTH !== 'none' || config.TRINO_CA_SSM_PARAMETER !== undefined;
  const resolved = sources ?? (needsSecrets ? await defaultSecretSources() : undefined);
  const auth = resolved === undefined ? ({ type: 'none' } as const) : await resolveAuth(config, resolved);
  const caPem =
    config.TRINO_CA_SSM_PARAMETER && resolved
      ? await readSsm(resolved, config.TRINO_CA_SSM_PARAMETER)
      : undefined;
  return new TrinoClient({
    baseUrl: config.TRINO_URL,
    user: config.TRINO_USER,
    flavor: config.TRINO_FLAVOR,
    timeoutMs: config.TRINO_TIMEOUT_MS,
    auth,
    ...(caPem ? { caPem } : {}),
    ...(config.TRINO_TLS_SERVER_NAME ? { tlsServerName: config.TRINO_TLS_SERVER_NAME } : {}),
  });
}

async function resolveAuth(config: TrinoConnectionConfig, sources: SecretSources): Promise<TrinoAuth> {
  if (config.TRINO_AUTH === 'none') return { type: 'none' };
  const secret = await readSecretValue(config, sources, config.TRINO_AUTH === 'basic' ? 'password' : 'token');
  return config.TRINO_AUTH === 'basic'
    ? { type: 'basic', username: config.TRINO_USER, password: secret }
    : { type: 'bearer', token: secret };
}

async function readSecretValue(
  config: TrinoConnectionConfig,
  sources: SecretSources,
  field: 'password' | 'token',
): Promise<string> {
  if (config.TRINO_SECRET_SSM_PARAMETER) return readSsm(sources, config.TRINO_SECRET_SSM_PARAMETER);
  if (config.TRINO_SECRET_ID) {
    const id = config.TRINO_SECRET_ID;
    let value: unknown;
    try {
      value = await sources.secrets.get(id, { maxAge: 300 });
    } catch (cause) {
      throw new SecretError(`Could not read Secrets Manager secret "${id}"`, {
        cause,
        context: { secretId: id },
      });
    }
    if (typeof value !== 'string' || value.length === 0) {
      throw new SecretError(`Secrets Manager secret "${id}" has no string value`, {
        context: { secretId: id },
      });
    }
    if (!value.trimStart().startsWith('{')) return value;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (cause) {
      throw new SecretError(`Secrets Manager secret "${id}" looks like JSON but does not parse`, {
        cause,
        context: { secretId: id },
      });
    }
    const fields = SecretJsonSchema.safeParse(parsed);
    const found = fields.success ? fields.data[field] : undefined;
    if (!found) {
      throw new SecretError(`Secrets Manager secret "${id}" has no "${field}" field`, {
        context: { secretId: id },
      });
    }
    return found;
  }
  throw new SecretError(
    `TRINO_AUTH=${config.TRINO_AUTH} needs TRINO_SECRET_SSM_PARAMETER or TRINO_SECRET_ID to name where the ${field} is stored`,
  );
}

async function readSsm(sources: SecretSources, name: string): Promise<string> {
  let value: unknown;
  try {
    value = await sources.ssm.get(name, { decrypt: true, maxAge: 300 });
  } catch (cause) {
    throw new SecretError(`Could not read SSM parameter "${name}"`, { cause, context: { parameter: name } });
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw new SecretError(`SSM parameter "${name}" is missing or empty`, { context: { parameter: name } });
  }
  return value;
}

/**
 * A memoised, lazily resolved coordinator client for a handler's default dependencies: credentials are read on
 * first use and the client is reused by every invocation of the container; a failed resolution is retried on the
 * next call instead of being cached.
 * @returns A function giving the client.
 */
export function lazyTrinoClient(config: TrinoConnectionConfig): () => Promise<TrinoClient> {
  return onceResolved(() => resolveTrinoClient(config));
}

/** The default dependencies of a function that talks to the coordinator: its SDK clients and the coordinator client. */
export type CoordinatorDeps<C, T extends Record<string, SdkClientClass>> = ContainerDeps<C> &
  SdkClients<T> & {
    /** Client of the coordinator (`TRINO_URL`, the coordinator ENI's address), with the cluster's credentials. */
    readonly coordinator: () => Promise<TrinoClient>;
  };

/**
 * The default dependencies of a function that talks to the coordinator, built once per container
 * ({@link containerDeps}): the configuration, one client of each given SDK class ({@link sdkClients}) and the
 * coordinator client ({@link lazyTrinoClient}).
 * @param schema - The function's environment schema (with {@link TrinoConnectionEnvSchema}'s variables).
 * @param clients - Dependency name → SDK client class, e.g. `{ ec2: EC2Client, sns: SNSClient }`.
 * @returns A function giving the dependencies.
 * @throws ConfigError (from the returned function, on its first call) naming every missing or malformed variable.
 * @example export const getDefaultDrainDeps: () => DrainDeps = coordinatorDeps(DrainEnvSchema, CLIENTS);
 */
export function coordinatorDeps<S extends z.ZodObject, T extends Record<string, SdkClientClass>>(
  schema: S & z.ZodType<TrinoConnectionConfig>,
  clients: T,
): () => CoordinatorDeps<z.infer<S>, T> {
  return containerDeps(schema, (config) => ({
    ...sdkClients(clients),
    coordinator: lazyTrinoClient(config),
  }));
}
