/**
 * Integration-test helpers: run SQL on a harness cluster in the background and find it in `GET /v1/query`.
 */
import { randomUUID } from 'node:crypto';
import type { TrinoClient } from '../../lib/trino/client.ts';
import type { BasicQueryInfo } from '../../lib/trino/schemas.ts';

/** A query running in the background. */
export interface BackgroundQuery {
  /** Unique marker put in the SQL as a comment. */
  readonly marker: string;
  /** Settles when the query ends: `ok` true when it finished, else the error message. */
  readonly done: Promise<{ ok: boolean; error?: string; rows: unknown[][] }>;
}

/** Starts `sql` (tagged with a unique comment) and returns at once. */
export function startQuery(client: TrinoClient, sql: string): BackgroundQuery {
  const marker = `sentinel-test-${randomUUID()}`;
  const done = client
    .query(`/* ${marker} */ ${sql}`, { timeoutMs: 30_000 })
    .then((result) => ({ ok: true, rows: result.rows }))
    .catch((error: unknown) => ({
      ok: false,
      error: error instanceof Error ? error.message : String(error),
      rows: [],
    }));
  return { marker, done };
}

/**
 * Waits until the coordinator lists the query in `state` (default RUNNING) with running drivers.
 * @throws Error when it does not within `timeoutMs`.
 */
export async function waitForQuery(
  client: TrinoClient,
  query: BackgroundQuery,
  timeoutMs = 60_000,
): Promise<BasicQueryInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await client.getQueries()).find((q) => q.query.includes(query.marker));
    if (found?.state === 'RUNNING' && (found.queryStats.runningDrivers ?? 0) > 0) return found;
    if (found?.state === 'FINISHED' || found?.state === 'FAILED') {
      throw new Error(`query ended (${found.state}) before it was seen running`);
    }
    if (Date.now() > deadline)
      throw new Error(`query not RUNNING after ${timeoutMs} ms (last: ${found?.state})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Cancels a query (`DELETE /v1/query/{queryId}`) if it is still going. */
export async function killQuery(client: TrinoClient, query: BackgroundQuery): Promise<void> {
  const found = (await client.getQueries()).find(
    (q) => q.query.includes(query.marker) && q.state !== 'FINISHED' && q.state !== 'FAILED',
  );
  if (found) await client.cancelQuery(found.queryId);
}
