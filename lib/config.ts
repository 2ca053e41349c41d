/**
 * Environment → typed configuration through zod, read once at module start-up.
 * A missing or malformed variable fails fast with a {@link ConfigError} that names the variable.
 *
 * @module
 */
import * as z from 'zod';
import { ConfigError } from './errors.ts';

/**
 * Parses `env` with `schema` (an object schema whose keys are variable names).
 * @param schema - zod object schema; use `.default()` for optional variables.
 * @param env - Defaults to `process.env`. Empty values count as unset.
 * @returns The parsed, typed configuration.
 * @throws ConfigError naming every variable that is missing or malformed (values are never echoed: they may be secrets).
 * @example const config = loadConfig(z.object({ CLUSTER_NAME: z.string().min(1) }));
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Readonly<Record<string, string | undefined>> = process.env,
): z.infer<S> {
  // An empty variable counts as unset (templates often render optional values as "").
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path.join('.');
    return present[name] === undefined ? `${name} is not set` : `${name} is invalid (${issue.message})`;
  });
  throw new ConfigError(`Configuration error: ${problems.join('; ')}`, {
    context: { variables: parsed.error.issues.map((i) => i.path.join('.')) },
  });
}

/** An integer in an environment variable (e.g. `"5000"`), with bounds. */
export const envInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A boolean in an environment variable: `true`/`false`/`1`/`0`. */
export const envBool = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');
