/**
 * Bench figures of the query-log path:
 * - shipper throughput: events/s through our shipper (`runShip`: parse, map, `_bulk`) into a real OpenSearch, with
 *   realistic 2–5 KB QueryCompletedEvents (the recorded Trino 476 event without its plan/payload diagnostics, with SQL
 *   texts of varied length), in batches of 500 like the event source mapping; goal ≥ 5 000/s on this machine;
 * - end-to-end lag from a query's end to searchable (p99 over the drill's queries; goal ≤ 10 s), from
 *   `drill query-logs` (real Trino listener → ingest → SQS → shipper → OpenSearch).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SQSClient } from '@aws-sdk/client-sqs';
import { runShip } from '../functions/query-log-ship/handler.ts';
import { QueryLogShipEnvSchema } from '../functions/query-log-ship/schemas.ts';
import { runQueryLogDrillInSandbox } from '../harness/drills/query-logs.ts';
import { REPO_ROOT, startMoto } from '../harness/moto.ts';
import { startOpenSearch } from '../harness/search-engine.ts';
import { loadConfig } from '../lib/config.ts';
import { sinkFromConfig } from '../lib/search/query-log-sink.ts';
import { BULKY_EVENT_FIELDS } from '../lib/trino/query-events.ts';

/** Result of {@link queryLogBench}. */
export interface QueryLogFigures {
  readonly events: number;
  readonly batchSize: number;
  readonly eventBytes: { readonly min: number; readonly max: number; readonly mean: number };
  readonly shipperEventsPerSecond: number;
  readonly goalEventsPerSecond: number;
  readonly drill: Awaited<ReturnType<typeof runQueryLogDrillInSandbox>> | undefined;
  readonly goalLagP99Ms: number;
}

/** Runs both measurements. */
export async function queryLogBench(
  log: (line: string) => void,
  events = 20_000,
  withDrill = true,
): Promise<QueryLogFigures> {
  const base = JSON.parse(
    readFileSync(
      path.join(REPO_ROOT, 'test/fixtures/trino-476/http-event-listener-query-completed-finished.json'),
      'utf8',
    ),
  );
  // Without the bulky diagnostics (Trino's operator summaries, plans, payload: what `event.max-output-stage-size`
  // and the ingest's trimming remove); the SQL text varies the size over 2–5 KB.
  for (const field of BULKY_EVENT_FIELDS) {
    const [outer, inner] = field.split('.');
    if (outer !== undefined && inner !== undefined && base[outer]) delete base[outer][inner];
  }
  const words =
    'SELECT o.orderkey, sum(l.extendedprice) FROM orders o JOIN lineitem l USING (orderkey) WHERE ';
  const bodies = Array.from({ length: events }, (_, i) => {
    const event = structuredClone(base);
    event.metadata.queryId = `20261123_000000_${String(i).padStart(5, '0')}_bench`;
    event.metadata.query = `${words}${"o.comment LIKE '%x%' AND ".repeat(1 + (i % 110))}true`;
    event.endTime = new Date(Date.now() - (i % 1000)).toISOString();
    return JSON.stringify(event);
  });
  const sizes = bodies.map((b) => Buffer.byteLength(b));
  const moto = await startMoto();
  const engine = await startOpenSearch({ heapMb: 1024 });
  let perSecond = 0;
  try {
    const config = loadConfig(QueryLogShipEnvSchema, {
      CLUSTER_NAME: 'bench',
      SEARCH_ENGINE: 'opensearch',
      SEARCH_ENDPOINT: engine.url,
      QUERY_LOG_INDEX_PREFIX: 'bench-queries',
      QUERY_LOG_DLQ_URL: `${moto.endpoint}/123456789012/bench-dlq`,
      // EMF lines would land in the bench's JSON on stdout.
      METRICS_SINK: 'put-metric-data',
    });
    const sink = await sinkFromConfig(config);
    const deps = {
      config,
      sqs: new SQSClient(moto.clientConfig),
      cloudwatch: new CloudWatchClient(moto.clientConfig),
      sink: async () => sink,
      now: () => Date.now(),
    };
    const batchSize = 500;
    const batch = (from: number) => ({
      Records: bodies.slice(from, from + batchSize).map((body, i) => ({
        messageId: `m${from + i}`,
        body,
        attributes: { ApproximateReceiveCount: '1' },
      })),
    });
    await runShip(batch(0), deps); // warm-up: template, JIT, connection
    // Three concurrent shippers, as the SQS event source mapping scales out with a backlog.
    const started = performance.now();
    let failures = 0;
    let next = batchSize;
    const worker = async () => {
      while (next < events + batchSize) {
        const from = next - batchSize;
        next += batchSize;
        if (from >= events) break;
        failures += (await runShip(batch(from), deps)).batchItemFailures.length;
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    const seconds = (performance.now() - started) / 1000;
    perSecond = Math.round(events / seconds);
    log(
      `query-log shipper: ${events} events (${failures} retried) in ${seconds.toFixed(2)} s = ${perSecond}/s`,
    );
  } finally {
    await engine.destroy();
    await moto.stop();
  }
  const drill = withDrill ? await runQueryLogDrillInSandbox({ queries: 20, log }) : undefined;
  log(`query-log drill: ${JSON.stringify(drill)}`);
  return {
    events,
    batchSize: 500,
    eventBytes: {
      min: Math.min(...sizes),
      max: Math.max(...sizes),
      mean: Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length),
    },
    shipperEventsPerSecond: perSecond,
    goalEventsPerSecond: 5_000,
    drill,
    goalLagP99Ms: 10_000,
  };
}
