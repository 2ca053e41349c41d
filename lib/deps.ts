/**
 * How every function builds its default dependencies: once per container, on first use. A handler is
 * `makeHandler(deps = getDefaultDeps)`; tests and the harness inject their own and never read the environment.
 *
 * @module
 */
import type * as z from 'zod';
import { loadConfig } from './config.ts';

/** What every function's default dependencies hold besides its clients. */
export interface ContainerDeps<C> {
  /** The function's configuration, parsed from the environment once. */
  readonly config: C;
  /** Epoch ms. */
  readonly now: () => number;
}

/**
 * A function's default dependencies, built once per container: on the first call the environment is parsed with
 * `schema` and `build` creates the rest from the configuration; every later call returns the same object.
 * @param schema - The function's environment schema (see {@link loadConfig}).
 * @param build - The SDK clients ({@link sdkClients}), the coordinator client (`lazyTrinoClient(config)`), and
 *   whatever else the function needs.
 * @returns A function giving `{ config, now, ...build(config) }`.
 * @throws ConfigError (from the returned function, on its first call) naming every missing or malformed variable.
 * @example
 * export const getDefaultPollDeps: () => PollDeps = containerDeps(QueryLogPollEnvSchema, (config) => ({
 *   ...sdkClients({ sqs: SQSClient, ssm: SSMClient }),
 *   coordinator: lazyTrinoClient(config),
 * }));
 */
export function containerDeps<S extends z.ZodObject, D extends object>(
  schema: S,
  build: (config: z.infer<S>) => D,
): () => ContainerDeps<z.infer<S>> & D {
  let built: (ContainerDeps<z.infer<S>> & D) | undefined;
  return () => {
    if (built === undefined) {
      const config = loadConfig(schema);
      built = { config, now: () => Date.now(), ...build(config) };
    }
    return built;
  };
}

/** An AWS SDK v3 client class, e.g. `EC2Client`. */
export type SdkClientClass = new (configuration: Record<string, never>) => object;

/** The clients {@link sdkClients} builds from `T` (dependency name → client class): name → client. */
export type SdkClients<T extends Record<string, SdkClientClass>> = {
  readonly [K in keyof T]: InstanceType<T[K]>;
};

/**
 * One client of each given SDK class, all with the same configuration: the SDK's defaults (region, credentials,
 * retries; `AWS_ENDPOINT_URL` honoured), nothing set in code.
 * @param classes - Dependency name → client class, e.g. `{ ec2: EC2Client, sns: SNSClient }`.
 * @returns Dependency name → a new client of that class.
 * @example const clients = sdkClients({ ec2: EC2Client, sns: SNSClient }); // { ec2: EC2Client, sns: SNSClient }
 */
export function sdkClients<T extends Record<string, SdkClientClass>>(classes: T): SdkClients<T> {
  return Object.fromEntries(
    Object.entries(classes).map(([name, Client]) => [name, new Client({})]),
  ) as SdkClients<T>;
}

/**
 * Memoises an asynchronous resolution (credentials, an endpoint, a sink): the first call starts it and later calls
 * share its promise; a failed resolution is forgotten, so the next call tries again instead of repeating the
 * failure for the container's lifetime.
 * @param resolve - The resolution.
 * @returns A function giving the (shared) result.
 * @example const coordinator = onceResolved(() => resolveTrinoClient(config));
 */
export function onceResolved<T>(resolve: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= resolve().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
