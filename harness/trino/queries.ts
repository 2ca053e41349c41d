/**
 * Test infrastructure, part of harness/trino.ts: SQL on a harness cluster for tests and drills, through the product's
 * own client (lib/trino/client.ts, {@link TrinoClient.statement}): a statement run to its end with Trino's error kept
 * as data ({@link runQuery}), and a statement started and left running on the workers ({@link startQuery}).
 *
 * @module
 */
import type { TrinoClient } from '../../lib/trino/client.ts';
import type { QueryResults } from '../../lib/trino/schemas.ts';
import type { TrinoCluster } from './cluster.ts';

/** The outcome of a statement run through the client protocol. */
export interface QueryOutcome {
  /** Final state: `FINISHED` or `FAILED` (a cancelled query is `FAILED` with errorName `USER_CANCELED`). */
  readonly state: string;
  readonly queryId: string;
  readonly columns: readonly string[];
  readonly rows: unknown[][];
  /** Trino's error when the query failed (HTTP-level failures throw instead). */
  readonly error?: NonNullable<QueryResults['error']>;
}

/** Options of {@link runQuery} and {@link startQuery}. */
export interface QueryOptions {
  /** Trino user (default the cluster's `sentinel`); its password is sent on secure clusters. */
  readonly user?: string;
  /** Deadline of the whole query in ms (default 600 000); the client stops following it when it passes. */
  readonly timeoutMs?: number;
}

/** A query started by {@link startQuery}, running with splits scheduled on the workers. */
export interface RunningQuery {
  readonly queryId: string;
  /** Cancels the query (`DELETE /v1/query/{queryId}`; it ends FAILED with `USER_CANCELED`). */
  cancel(): Promise<void>;
  /** Settles when the query ends: FINISHED, or FAILED (also after cancel or a lost worker). */
  readonly done: Promise<QueryOutcome>;
}

/** Pages of one statement, read one by one. */
type Pages = AsyncIterator<QueryResults, void, undefined>;

/** The next page. @throws Error when Trino ended the protocol without a page where one was due. */
async function nextPage(pages: Pages): Promise<QueryResults> {
  const next = await pages.next();
  if (next.done) throw new Error('Trino returned no page');
  return next.value;
}

/** Follows the statement from `first` (already read) to its last page, collecting rows. */
async function followToEnd(first: QueryResults, pages: Pages, rows: unknown[][] = []): Promise<QueryOutcome> {
  let last = first;
  let columns = (first.columns ?? []).map((c) => c.name);
  if (first.data) rows.push(...first.data);
  for (let next = await pages.next(); !next.done; next = await pages.next()) {
    last = next.value;
    if (last.columns) columns = last.columns.map((c) => c.name);
    if (last.data) rows.push(...last.data);
  }
  return {
    state: last.error ? 'FAILED' : last.stats.state,
    queryId: last.id,
    columns,
    rows,
    ...(last.error ? { error: last.error } : {}),
  };
}

/** The statement's pages as `options.user`, with the whole-query deadline; `client` is closed by the caller. */
function pagesOf(client: TrinoClient, sql: string, options: QueryOptions): Pages {
  return client
    .statement(sql, { signal: AbortSignal.timeout(options.timeoutMs ?? 600_000) })
    [Symbol.asyncIterator]();
}

/**
 * Runs one statement through Trino's client protocol on the coordinator (`coordinatorUrl`: HTTPS with the cluster's
 * CA and Basic credentials when secure), with the product's client.
 * @param cluster - From `startTrinoCluster`.
 * @param sql - One statement, no trailing semicolon.
 * @returns Final state, query id, rows; a query error is returned in `error` (state `FAILED`), not thrown.
 * @throws TrinoAuthError | TrinoHttpError on an HTTP failure (e.g. 401 for a user without a password); the
 *   deadline's reason when `timeoutMs` passes.
 * @example
 * const { rows } = await runQuery(cluster, 'SELECT count(*) FROM system.runtime.nodes'); // [[2]]
 */
export async function runQuery(
  cluster: TrinoCluster,
  sql: string,
  options: QueryOptions = {},
): Promise<QueryOutcome> {
  const client = cluster.client(options.user);
  try {
    const pages = pagesOf(client, sql, options);
    return await followToEnd(await nextPage(pages), pages);
  } finally {
    client.close();
  }
}

/** Whether the query runs with at least one split scheduled (running or done) on the workers. */
const scheduled = (page: QueryResults) =>
  page.stats.state === 'RUNNING' && (page.stats.runningSplits ?? 0) + (page.stats.completedSplits ?? 0) > 0;

/**
 * Starts a statement and resolves once it is `RUNNING` with at least one split scheduled (running or done) on
 * the workers — e.g. {@link LONG_QUERY} to have "a long query running on the worker" for drain and failover
 * tests. The query keeps being followed in the background (`done`), so Trino does not abandon it.
 * @param runningTimeoutMs - How long to wait for RUNNING with splits (default 120 000).
 * @returns The query id, `cancel()` and the `done` promise.
 * @throws Error when the query ends or fails before reaching RUNNING, or the wait times out (it is cancelled).
 * @example
 * const query = await startQuery(cluster, LONG_QUERY);
 * await cluster.stopWorker(0); // …
 * const outcome = await query.done; // { state: 'FAILED', error: { errorName: 'REMOTE_HOST_GONE' … } }
 */
export async function startQuery(
  cluster: TrinoCluster,
  sql: string,
  options: QueryOptions & { readonly runningTimeoutMs?: number } = {},
): Promise<RunningQuery> {
  const client = cluster.client(options.user);
  const pages = pagesOf(client, sql, options);
  const rows: unknown[][] = [];
  try {
    let page = await nextPage(pages);
    const deadline = Date.now() + (options.runningTimeoutMs ?? 120_000);
    while (!scheduled(page)) {
      if (page.data) rows.push(...page.data);
      if (page.error || !page.nextUri) {
        throw new Error(`query ${page.id} ended before running: ${page.error?.message ?? page.stats.state}`);
      }
      if (Date.now() > deadline) {
        await client.cancelQuery(page.id).catch(() => undefined);
        throw new Error(
          `query ${page.id} not running with splits after ${options.runningTimeoutMs ?? 120_000} ms`,
        );
      }
      page = await nextPage(pages);
    }
    const running = page;
    let ended = false;
    const done = followToEnd(running, pages, rows).finally(() => {
      ended = true;
      client.close();
    });
    done.catch(() => undefined); // a caller that never awaits `done` must not crash the process
    return {
      queryId: running.id,
      cancel: async () => {
        if (!ended) await client.cancelQuery(running.id);
      },
      done,
    };
  } catch (error) {
    client.close();
    throw error;
  }
}

/**
 * A tpch query that keeps a 1-worker cluster busy for 30–60 s on 2 cores (41.6 s measured on 476), with all its
 * splits on the workers (the coordinator schedules none on itself). See docs/harness.md.
 */
export const LONG_QUERY = "SELECT count(*) FROM tpch.sf15.lineitem WHERE comment LIKE '%x%'";
