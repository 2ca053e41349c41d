/**
 * Pure decisions of the query-log fallback poller (for clusters that cannot configure Trino's HTTP event listener):
 * which finished queries of `GET /v1/query` are new since the watermark, and how a QueryInfo becomes the same
 * QueryCompletedEvent JSON the listener posts, so one queue and one shipper serve both. No I/O, no clock.
 *
 * Loss window: the coordinator keeps a finished query only for `query.min-expire-age` (default 15 min) and at most
 * `query.max-history` (default 100) of them; a query that finished and expired between two polls is never seen.
 * {@link selectCompletedQueries} flags a possible gap when none of the retained queries reaches back to the watermark.
 *
 * @module
 */
import type { QueryInfo } from '../../lib/trino/schemas.ts';
import { parseDataSizeBytes, parseDurationMs } from '../../lib/trino/units.ts';

/** Where the previous poll stopped: the newest end time shipped, and the ids that ended exactly then. */
export interface PollWatermark {
  /** Epoch ms. */
  readonly endTimeMs: number;
  readonly queryIdsAtEnd: readonly string[];
}

/** A query of `GET /v1/query` as the poller needs it. */
export interface RetainedQuery {
  readonly queryId: string;
  readonly state: string;
  /** Epoch ms; undefined while running. */
  readonly endTimeMs?: number;
}

/** Result of {@link selectCompletedQueries}. */
export interface Selection {
  /** Query ids to fetch and ship, oldest end time first. */
  readonly selected: readonly string[];
  /** The watermark to store once they are all queued (unchanged when nothing was selected). */
  readonly next: PollWatermark | undefined;
  /** None of the retained finished queries reaches back to the watermark: queries may have expired unseen. */
  readonly possibleGap: boolean;
}

const DONE = new Set(['FINISHED', 'FAILED']);

/**
 * Selects the finished queries not shipped yet: those that ended after the watermark, or exactly at it but not among
 * its ids. At most `maxQueries` per poll (the oldest first; the rest next time).
 * @param watermark - undefined on the first poll: everything retained is new.
 */
export function selectCompletedQueries(
  queries: readonly RetainedQuery[],
  watermark: PollWatermark | undefined,
  maxQueries: number,
): Selection {
  const done = queries.filter(
    (q): q is RetainedQuery & { endTimeMs: number } => DONE.has(q.state) && q.endTimeMs !== undefined,
  );
  const fresh = done
    .filter(
      (q) =>
        watermark === undefined ||
        q.endTimeMs > watermark.endTimeMs ||
        (q.endTimeMs === watermark.endTimeMs && !watermark.queryIdsAtEnd.includes(q.queryId)),
    )
    .sort((a, b) => a.endTimeMs - b.endTimeMs || a.queryId.localeCompare(b.queryId))
    .slice(0, Math.max(0, maxQueries));
  const last = fresh.at(-1);
  const possibleGap =
    watermark !== undefined && fresh.length > 0 && !done.some((q) => q.endTimeMs <= watermark.endTimeMs);
  if (last === undefined) return { selected: [], next: watermark, possibleGap };
  const atEnd = fresh.filter((q) => q.endTimeMs === last.endTimeMs).map((q) => q.queryId);
  const carried =
    watermark !== undefined && watermark.endTimeMs === last.endTimeMs ? watermark.queryIdsAtEnd : [];
  return {
    selected: fresh.map((q) => q.queryId),
    next: { endTimeMs: last.endTimeMs, queryIdsAtEnd: [...new Set([...carried, ...atEnd])] },
    possibleGap,
  };
}

const seconds = (duration: string | null | undefined): number =>
  (parseDurationMs(duration ?? '') ?? 0) / 1000;
const bytes = (size: string | null | undefined): number => Math.round(parseDataSizeBytes(size ?? '') ?? 0);
const count = (value: number | null | undefined): number => Math.max(0, Math.round(value ?? 0));

/**
 * Builds the QueryCompletedEvent JSON (the shape of io.trino.spi.eventlistener.QueryCompletedEvent as the HTTP event
 * listener posts it: durations in seconds, sizes in bytes, ISO instants) from a finished query's QueryInfo, marked
 * `"sentinelSource":"poller"`. Fields QueryInfo does not carry (per-task peaks, tables with columns) are left out.
 * Source: Trino `GET /v1/query/{queryId}` → io.trino.execution.QueryInfo.
 */
export function toCompletedEvent(info: QueryInfo): Record<string, unknown> {
  const s = info.queryStats;
  const session = info.session;
  const optional = (key: string, value: string | null | undefined) =>
    value === null || value === undefined ? {} : { [key]: value };
  return {
    sentinelSource: 'poller',
    metadata: {
      queryId: info.queryId,
      query: info.query,
      queryState: info.state,
      ...optional('uri', info.self),
    },
    statistics: {
      cpuTime: seconds(s.totalCpuTime),
      wallTime: seconds(s.elapsedTime),
      queuedTime: seconds(s.queuedTime),
      analysisTime: seconds(s.analysisTime),
      planningTime: seconds(s.planningTime),
      executionTime: seconds(s.executionTime),
      peakUserMemoryBytes: bytes(s.peakUserMemoryReservation),
      peakTaskTotalMemory: bytes(s.peakTotalMemoryReservation),
      physicalInputBytes: bytes(s.physicalInputDataSize),
      physicalInputRows: count(s.physicalInputPositions),
      outputBytes: bytes(s.outputDataSize),
      outputRows: count(s.outputPositions),
      writtenBytes: bytes(s.physicalWrittenDataSize),
      writtenRows: count(s.writtenPositions),
      completedSplits: count(s.completedDrivers),
    },
    context: {
      user: session.user,
      ...optional('principal', session.principal),
      ...optional('source', session.source),
      ...optional('catalog', session.catalog),
      ...optional('schema', session.schema),
      ...optional('remoteClientAddress', session.remoteUserAddress),
      ...optional('userAgent', session.userAgent),
      ...optional('clientInfo', session.clientInfo),
      ...optional('queryType', info.queryType),
      ...(info.resourceGroupId ? { resourceGroupId: info.resourceGroupId } : {}),
    },
    ...(info.errorCode
      ? {
          failureInfo: {
            errorCode: info.errorCode,
            ...optional('failureType', info.failureInfo?.type),
            ...optional('failureMessage', info.failureInfo?.message),
          },
        }
      : {}),
    createTime: s.createTime,
    executionStartTime: s.executionStartTime ?? s.createTime,
    endTime: s.endTime ?? s.createTime,
  };
}
