/**
 * The shared secret of query-log-ingest: the accepted secrets (one per line, two during a rotation), read from SSM
 * (SecureString) or Secrets Manager on first use and cached, and the constant-time check of a presented one.
 *
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { SecretError } from '../../lib/errors.ts';
import { defaultSecretSources, type SecretSources } from '../../lib/trino/connect.ts';
import type { QueryLogIngestConfig } from './schemas.ts';

/** The accepted shared secrets, cached; injectable for tests. */
export interface SharedSecretStore {
  /** The accepted secrets (cached up to the configured TTL). @throws SecretError when they cannot be read. */
  get(): Promise<readonly string[]>;
  /**
   * Re-reads the secrets if the cached copy is older than the refresh interval (after a mismatch: a rotation).
   * @returns The fresh secrets, or `undefined` when the cache is too recent to refresh.
   */
  refreshIfStale(): Promise<readonly string[] | undefined>;
}

/**
 * Parses the stored secret value: one accepted secret per line (two during a rotation), blank lines ignored.
 * @returns The accepted secrets (trimmed); empty when the value holds none.
 */
export function parseSecretValue(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/**
 * A {@link SharedSecretStore} over SSM (SecureString, decrypted) or Secrets Manager, read on first use and cached
 * `QUERY_LOG_SECRET_CACHE_SECONDS`; a failed read is not cached.
 * @param config - Which parameter or secret, and the cache timings.
 * @param sources - Secret providers (default: the shared ones of lib/trino/connect.ts, loaded lazily).
 * @param now - Clock in epoch ms (injectable for tests).
 */
export function cachedSharedSecret(
  config: QueryLogIngestConfig,
  sources: () => Promise<SecretSources> = defaultSecretSources,
  now: () => number = Date.now,
): SharedSecretStore {
  let cached: { secrets: readonly string[]; readAtMs: number } | undefined;
  let inflight: Promise<readonly string[]> | undefined;
  const read = async (): Promise<readonly string[]> => {
    const provider = await sources();
    const name = config.QUERY_LOG_SECRET_SSM_PARAMETER ?? config.QUERY_LOG_SECRET_ARN ?? '';
    const where = config.QUERY_LOG_SECRET_SSM_PARAMETER ? 'SSM parameter' : 'Secrets Manager secret';
    let value: unknown;
    try {
      // forceFetch: this store does the caching (one TTL, and refresh-on-mismatch).
      value = config.QUERY_LOG_SECRET_SSM_PARAMETER
        ? await provider.ssm.get(name, { decrypt: true, forceFetch: true })
        : await provider.secrets.get(name, { forceFetch: true });
    } catch (cause) {
      throw new SecretError(`Could not read ${where} "${name}"`, { cause, context: { secret: name } });
    }
    const secrets = typeof value === 'string' ? parseSecretValue(value) : [];
    if (secrets.length === 0) {
      throw new SecretError(`${where} "${name}" holds no secret`, { context: { secret: name } });
    }
    cached = { secrets, readAtMs: now() };
    return secrets;
  };
  const load = (): Promise<readonly string[]> => {
    inflight ??= read().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
  return {
    get: async () => {
      if (cached && now() - cached.readAtMs < config.QUERY_LOG_SECRET_CACHE_SECONDS * 1000)
        return cached.secrets;
      return load();
    },
    refreshIfStale: async () => {
      const refreshMs = config.QUERY_LOG_SECRET_REFRESH_SECONDS * 1000;
      if (refreshMs === 0 || (cached && now() - cached.readAtMs < refreshMs)) return undefined;
      return load();
    },
  };
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Constant-time check of a presented secret against the accepted ones: compares SHA-256 digests with
 * `crypto.timingSafeEqual`, so neither the content nor the length of a secret leaks through timing, and every
 * accepted secret is compared (no early exit).
 * @returns Whether `presented` equals one of `accepted`.
 */
export function secretMatches(presented: string, accepted: readonly string[]): boolean {
  const given = digest(presented);
  let match = false;
  for (const secret of accepted) match = timingSafeEqual(given, digest(secret)) || match;
  return match;
}
