/**
 * Test infrastructure: the query-log drill. Starts moto, a real OpenSearch and a secure Trino 476 whose HTTP event
 * listener posts to our ingest handler (harness/query-log-pipeline.ts), runs N real queries (most succeed,
 * some fail with a syntax error, one is cancelled), and waits until every query is searchable as a document or a
 * timeout passes. Lag = from the moment the client saw the query end to the moment `GET <index>/_doc/<queryId>`
 * first found it (a watcher polls every 50 ms while the queries run).
 *
 * @module
 */
import { dailyIndexName } from '../../functions/query-log-ship/decide.ts';
import { startMoto } from '../moto.ts';
import { startQueryLogPipeline } from '../query-log-pipeline.ts';
import { startOpenSearch } from '../search-engine.ts';
import { runQuery, startQuery, startTrinoCluster } from '../trino.ts';
import { queryLogFigures } from './figures.ts';

/** What `drill query-logs` prints. */
export interface QueryLogDrillResult {
  readonly queriesRun: number;
  readonly documentsFound: number;
  readonly missing: number;
  readonly duplicates: number;
  /** p99 of end → searchable, ms (null when nothing was found). */
  readonly lagP99Ms: number | null;
  readonly lagMedianMs: number | null;
  readonly failedQueries: number;
  readonly cancelledQueries: number;
  readonly deadLettered: number;
  readonly trinoVersion: string;
  readonly searchEngine: string;
}

/** Runs the drill in a sandbox of its own and stops everything. */
export async function runQueryLogDrillInSandbox(
  options: {
    readonly queries?: number;
    readonly timeoutMs?: number;
    readonly log?: (line: string) => void;
  } = {},
): Promise<QueryLogDrillResult> {
  const log = options.log ?? (() => undefined);
  const total = Math.max(3, options.queries ?? 20);
  const moto = await startMoto();
  const engine = await startOpenSearch();
  try {
    const pipeline = await startQueryLogPipeline({
      aws: moto.clientConfig,
      searchUrl: engine.url,
      name: 'drill',
    });
    try {
      log('drill: starting a secure Trino 476 with the HTTP event listener pointed at the ingest function…');
      const cluster = await startTrinoCluster({
        line: 'newest',
        workers: 1,
        secure: true,
        name: 'qlog-drill',
        eventListener: pipeline.listener,
      });
      try {
        const ended = new Map<string, number>();
        const lags = new Map<string, number>();
        // Watch for the documents while the queries run: lag = end seen by the client → first found.
        let watching = true;
        const watcher = (async () => {
          while (watching) {
            for (const [queryId, endMs] of ended) {
              if (lags.has(queryId)) continue;
              const index = dailyIndexName('trino-queries', new Date(endMs).toISOString());
              const found = await pipeline.sink.getDocument(index, queryId).catch(() => undefined);
              if (found) lags.set(queryId, Date.now() - endMs);
            }
            await new Promise((r) => setTimeout(r, 50));
          }
        })();
        let failed = 0;
        const failing = Math.max(1, Math.round(total * 0.2));
        for (let i = 0; i < total - 1; i += 1) {
          const bad = i < failing;
          const outcome = await runQuery(
            cluster,
            bad ? `SELEC ${i}` : `SELECT count(*) + ${i} FROM tpch.tiny.nation`,
          );
          if (outcome.error) failed += 1;
          ended.set(outcome.queryId, Date.now());
        }
        const long = await startQuery(
          cluster,
          "SELECT count(*) FROM tpch.sf15.lineitem WHERE comment LIKE '%x%'",
        );
        await long.cancel();
        const cancelled = await long.done;
        ended.set(cancelled.queryId, Date.now());
        log(`drill: ${total} queries run (${failed} failed, 1 cancelled); waiting for the documents…`);
        const deadline = Date.now() + (options.timeoutMs ?? 60_000);
        while (lags.size < ended.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        watching = false;
        await watcher;
        await fetch(`${engine.url}/trino-queries-*/_refresh`, { method: 'POST' });
        let duplicates = 0;
        for (const queryId of ended.keys()) {
          const response = await fetch(`${engine.url}/trino-queries-*/_count?q=queryId:${queryId}`);
          const { count } = (await response.json()) as { count: number };
          duplicates += Math.max(0, count - 1);
        }
        return {
          ...queryLogFigures(ended.size, [...lags.values()]),
          duplicates,
          failedQueries: failed + (cancelled.error ? 1 : 0),
          cancelledQueries: cancelled.error?.errorName === 'USER_CANCELED' ? 1 : 0,
          deadLettered: await pipeline.deadLettered(),
          trinoVersion: cluster.version,
          searchEngine: `opensearch ${engine.version}`,
        };
      } finally {
        await cluster.stop();
      }
    } finally {
      await pipeline.stop();
    }
  } finally {
    await engine.destroy();
    await moto.stop();
  }
}
