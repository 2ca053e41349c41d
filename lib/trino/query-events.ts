/**
 * The `QueryCompletedEvent` that Trino's HTTP event listener posts (one JSON object per completed query), its zod
 * schema, and the pure mapping to the flat document we index in Elasticsearch/OpenSearch.
 *
 * Source: io.trino.spi.eventlistener.QueryCompletedEvent (with QueryMetadata, QueryStatistics, QueryContext,
 * QueryIOMetadata, QueryFailureInfo), serialised by io.trino.plugin.httpquery.HttpEventListener through airlift's
 * `JsonCodec` (Jackson). Verified against payloads captured from Trino 476 (test/fixtures/trino-476):
 * - `java.time.Duration` → a JSON number of **seconds** with nanosecond decimals (`"cpuTime":1.751000000`);
 * - `java.time.Instant` → an ISO-8601 UTC string (`"2026-11-23T07:13:23.456Z"`);
 * - `Optional.empty()` → the key is **absent** (never `null`); a present Optional is its plain value;
 * - `ResourceGroupId` → an array of path segments (`["global"]`); `ErrorCode` → `{code, name, type, fatal}`.
 * Trino documents these classes as "JSON serializable for convenience, compatibility not guaranteed across
 * versions": every object is loose (unknown fields kept), and only what we index is required.
 *
 * @module
 */
import * as z from 'zod';
import { redactSqlLiterals } from './sql-redact.ts';

/** A `java.time.Duration` as Jackson writes it: seconds, with up to 9 decimals. */
const Seconds = z.number().nonnegative();
/** A `java.time.Instant` as Jackson writes it (ISO-8601; `Z`, or an offset from other serialisers). */
const Instant = z.iso.datetime({ offset: true });
/** A Java `long`/`int` counter. */
const Count = z.number().int().nonnegative();

/** Source: io.trino.spi.eventlistener.TableInfo (only the fields we read). */
const TableInfoSchema = z.looseObject({
  catalog: z.string(),
  schema: z.string(),
  table: z.string(),
  directlyReferenced: z.boolean().optional(),
});

/** Source: io.trino.spi.eventlistener.QueryMetadata. */
export const QueryMetadataSchema = z.looseObject({
  queryId: z.string().min(1),
  transactionId: z.string().optional(),
  query: z.string(),
  updateType: z.string().optional(),
  preparedQuery: z.string().optional(),
  /** `FINISHED` or `FAILED` for a completed query (a cancelled one is `FAILED` with `USER_CANCELED`). */
  queryState: z.string().min(1),
  tables: z.array(TableInfoSchema).optional(),
  uri: z.string().optional(),
  plan: z.string().optional(),
  jsonPlan: z.string().optional(),
  payload: z.string().optional(),
});

/** Source: io.trino.spi.eventlistener.QueryStatistics (durations in seconds; memory and data in bytes). */
export const QueryStatisticsSchema = z.looseObject({
  cpuTime: Seconds,
  wallTime: Seconds,
  queuedTime: Seconds,
  scheduledTime: Seconds.optional(),
  resourceWaitingTime: Seconds.optional(),
  analysisTime: Seconds.optional(),
  planningTime: Seconds.optional(),
  executionTime: Seconds.optional(),
  peakUserMemoryBytes: Count,
  /** Present in releases before ~450; absent from 476. */
  peakTotalNonRevocableMemoryBytes: Count.optional(),
  peakTaskUserMemory: Count.optional(),
  peakTaskTotalMemory: Count.optional(),
  physicalInputBytes: Count,
  physicalInputRows: Count,
  processedInputBytes: Count.optional(),
  processedInputRows: Count.optional(),
  internalNetworkBytes: Count.optional(),
  internalNetworkRows: Count.optional(),
  totalBytes: Count.optional(),
  totalRows: Count.optional(),
  outputBytes: Count,
  outputRows: Count,
  writtenBytes: Count,
  writtenRows: Count,
  spilledBytes: Count.optional(),
  cumulativeMemory: z.number().optional(),
  completedSplits: Count,
  complete: z.boolean().optional(),
});

/** Source: io.trino.spi.eventlistener.QueryContext. */
export const QueryContextSchema = z.looseObject({
  user: z.string().min(1),
  originalUser: z.string().optional(),
  principal: z.string().optional(),
  groups: z.array(z.string()).optional(),
  traceToken: z.string().optional(),
  remoteClientAddress: z.string().optional(),
  userAgent: z.string().optional(),
  clientInfo: z.string().optional(),
  clientTags: z.array(z.string()).optional(),
  source: z.string().optional(),
  timezone: z.string().optional(),
  catalog: z.string().optional(),
  schema: z.string().optional(),
  /** io.trino.spi.resourcegroups.ResourceGroupId: path segments, e.g. `["global", "adhoc"]`. */
  resourceGroupId: z.array(z.string()).optional(),
  serverAddress: z.string().optional(),
  serverVersion: z.string().optional(),
  environment: z.string().optional(),
  /** io.trino.spi.resourcegroups.QueryType: SELECT, EXPLAIN, DESCRIBE, INSERT, UPDATE, DELETE, ANALYZE, DATA_DEFINITION, ALTER_TABLE_EXECUTE, MERGE. */
  queryType: z.string().optional(),
  retryPolicy: z.string().optional(),
});

/** Source: io.trino.spi.eventlistener.QueryInputMetadata (fields we read). */
const QueryInputSchema = z.looseObject({
  catalogName: z.string(),
  schema: z.string(),
  table: z.string(),
});

/** Source: io.trino.spi.eventlistener.QueryOutputMetadata (fields we read). */
const QueryOutputSchema = z.looseObject({
  catalogName: z.string(),
  schema: z.string(),
  table: z.string(),
});

/** Source: io.trino.spi.eventlistener.QueryIOMetadata. */
export const QueryIOMetadataSchema = z.looseObject({
  inputs: z.array(QueryInputSchema).optional(),
  output: QueryOutputSchema.optional(),
});

/** Source: io.trino.spi.eventlistener.QueryFailureInfo with io.trino.spi.ErrorCode. */
export const QueryFailureInfoSchema = z.looseObject({
  errorCode: z.looseObject({
    code: z.number().int(),
    name: z.string(),
    /** io.trino.spi.ErrorType: USER_ERROR, INTERNAL_ERROR, INSUFFICIENT_RESOURCES, EXTERNAL. */
    type: z.string().optional(),
  }),
  failureType: z.string().optional(),
  failureMessage: z.string().optional(),
  failureTask: z.string().optional(),
  failureHost: z.string().optional(),
  failuresJson: z.string().optional(),
});

/**
 * The JSON body of one `QueryCompletedEvent` as posted by `event-listener.name=http`.
 * Source: io.trino.spi.eventlistener.QueryCompletedEvent, rendered by io.trino.plugin.httpquery.HttpEventListener.
 * @example QueryCompletedEventSchema.parse(JSON.parse(body)).metadata.queryId // "20261123_071323_00001_j3ux5"
 */
export const QueryCompletedEventSchema = z.looseObject({
  metadata: QueryMetadataSchema,
  statistics: QueryStatisticsSchema,
  context: QueryContextSchema,
  ioMetadata: QueryIOMetadataSchema.optional(),
  failureInfo: QueryFailureInfoSchema.optional(),
  warnings: z.array(z.unknown()).optional(),
  createTime: Instant,
  executionStartTime: Instant,
  endTime: Instant,
});
/** Parsed {@link QueryCompletedEventSchema} (unknown fields kept). */
export type QueryCompletedEvent = z.infer<typeof QueryCompletedEventSchema>;

/** Options of {@link toQueryLogDocument}. */
export interface QueryLogDocumentOptions {
  /** Longest SQL text kept, in UTF-16 code units (JS string length); longer text is cut and flagged. */
  readonly sqlMaxLength: number;
  /** Replace string and numeric literals of the SQL text with `?` ({@link redactSqlLiterals}). */
  readonly redactSql: boolean;
}

/** Defaults for {@link QueryLogDocumentOptions}: 64 Ki characters, no redaction. */
export const DEFAULT_QUERY_LOG_DOCUMENT_OPTIONS: QueryLogDocumentOptions = Object.freeze({
  sqlMaxLength: 65_536,
  redactSql: false,
});

/**
 * One completed query as indexed: flat, names carry units (`…Ms`, `…Bytes`, `…Rows`), times are ISO-8601 UTC.
 * Optional fields are `undefined` (so absent from the JSON, never `null`) when Trino did not send them.
 */
export interface QueryLogDocument {
  /** Trino query id, e.g. `20261123_071323_00001_j3ux5`; use it as the document `_id` (idempotent re-delivery). */
  readonly queryId: string;
  /** SQL text (redacted when asked, then cut at `sqlMaxLength`). */
  readonly query: string;
  /** Whether `query` was cut at `sqlMaxLength`. */
  readonly queryTruncated: boolean;
  /** Whether literals were redacted from `query`. */
  readonly queryRedacted: boolean;
  /** Length of the SQL text Trino received, in characters (before redaction and cutting). */
  readonly queryLength: number;
  /** `FINISHED` or `FAILED`. */
  readonly queryState: string;
  readonly user: string;
  readonly originalUser?: string;
  readonly principal?: string;
  readonly source?: string;
  readonly catalog?: string;
  readonly schema?: string;
  readonly remoteClientAddress?: string;
  readonly userAgent?: string;
  readonly clientInfo?: string;
  readonly clientTags?: readonly string[];
  readonly traceToken?: string;
  readonly serverAddress?: string;
  readonly serverVersion?: string;
  readonly environment?: string;
  /** Resource group path joined with `.`, e.g. `global.adhoc`. */
  readonly resourceGroupId?: string;
  /** e.g. `SELECT`, `INSERT`, `DATA_DEFINITION`. */
  readonly queryType?: string;
  /** e.g. `CREATE TABLE`, `INSERT` (statements that change something). */
  readonly updateType?: string;
  readonly retryPolicy?: string;
  readonly transactionId?: string;
  /** ISO-8601 UTC. */
  readonly createTime: string;
  /** ISO-8601 UTC. */
  readonly executionStartTime: string;
  /** ISO-8601 UTC. */
  readonly endTime: string;
  /** = `endTime` (the index's time field). */
  readonly '@timestamp': string;
  readonly wallTimeMs: number;
  readonly cpuTimeMs: number;
  readonly queuedTimeMs: number;
  readonly scheduledTimeMs?: number;
  readonly resourceWaitingTimeMs?: number;
  readonly analysisTimeMs?: number;
  readonly planningTimeMs?: number;
  readonly executionTimeMs?: number;
  readonly peakUserMemoryBytes: number;
  /**
   * Peak user + system memory of the query: `peakTotalNonRevocableMemoryBytes` where Trino sends it (older
   * releases); absent on 476, which only reports the per-task peak ({@link peakTaskTotalMemoryBytes}).
   */
  readonly peakTotalMemoryBytes?: number;
  readonly peakTaskUserMemoryBytes?: number;
  readonly peakTaskTotalMemoryBytes?: number;
  readonly physicalInputBytes: number;
  readonly physicalInputRows: number;
  readonly processedInputBytes?: number;
  readonly processedInputRows?: number;
  readonly internalNetworkBytes?: number;
  readonly outputBytes: number;
  readonly outputRows: number;
  readonly writtenBytes: number;
  readonly writtenRows: number;
  readonly spilledBytes?: number;
  readonly completedSplits: number;
  /** Error name, e.g. `SYNTAX_ERROR`, `USER_CANCELED` (failed queries only). */
  readonly errorCode?: string;
  /** Numeric error code, e.g. 1 for SYNTAX_ERROR. */
  readonly errorCodeNumber?: number;
  /** `USER_ERROR`, `INTERNAL_ERROR`, `INSUFFICIENT_RESOURCES` or `EXTERNAL`. */
  readonly errorType?: string;
  /** Java exception class, e.g. `io.trino.sql.parser.ParsingException`. */
  readonly failureType?: string;
  /** May quote values from the query (not redacted). */
  readonly failureMessage?: string;
  readonly failureHost?: string;
  readonly failureTask?: string;
  /** Tables read, `catalog.schema.table`, deduplicated, in Trino's order. */
  readonly tablesRead: readonly string[];
  /** Table written (INSERT, CTAS, …), `catalog.schema.table`. */
  readonly tableWritten?: string;
  /** Number of warnings Trino attached to the query. */
  readonly warningCount: number;
}

/** Seconds (Duration) → whole milliseconds. */
function ms(seconds: number): number {
  return Math.round(seconds * 1000);
}

function isoUtc(value: string): string {
  return new Date(value).toISOString();
}

/** Cuts `text` to at most `max` code units without splitting a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = max > 0 && /[\uD800-\uDBFF]/.test(text[max - 1] ?? '') ? max - 1 : max;
  return text.slice(0, end);
}

const qualified = (t: { catalogName: string; schema: string; table: string }) =>
  `${t.catalogName}.${t.schema}.${t.table}`;

/**
 * Maps a completed-query event to the flat document we index. Pure: no I/O, no clock.
 * @param event - A parsed {@link QueryCompletedEvent}.
 * @param options - SQL cut length (characters) and redaction; see {@link DEFAULT_QUERY_LOG_DOCUMENT_OPTIONS}.
 * @returns The document; durations in ms (rounded), sizes in bytes, times ISO-8601 UTC.
 * @throws RangeError when `options.sqlMaxLength` is negative or not an integer.
 * @example
 * const doc = toQueryLogDocument(QueryCompletedEventSchema.parse(body), { sqlMaxLength: 10_000, redactSql: true });
 * doc.cpuTimeMs; // 1751
 */
export function toQueryLogDocument(
  event: QueryCompletedEvent,
  options: QueryLogDocumentOptions = DEFAULT_QUERY_LOG_DOCUMENT_OPTIONS,
): QueryLogDocument {
  if (!Number.isInteger(options.sqlMaxLength) || options.sqlMaxLength < 0) {
    throw new RangeError(`sqlMaxLength must be a non-negative integer, got ${options.sqlMaxLength}`);
  }
  const { metadata, statistics: s, context: c, failureInfo: f } = event;
  const sql = options.redactSql ? redactSqlLiterals(metadata.query).sql : metadata.query;
  const query = cut(sql, options.sqlMaxLength);
  const tablesRead = [...new Set((event.ioMetadata?.inputs ?? []).map(qualified))];
  const output = event.ioMetadata?.output;
  const endTime = isoUtc(event.endTime);
  return {
    queryId: metadata.queryId,
    query,
    queryTruncated: query.length < sql.length,
    queryRedacted: options.redactSql,
    queryLength: metadata.query.length,
    queryState: metadata.queryState,
    user: c.user,
    originalUser: c.originalUser,
    principal: c.principal,
    source: c.source,
    catalog: c.catalog,
    schema: c.schema,
    remoteClientAddress: c.remoteClientAddress,
    userAgent: c.userAgent,
    clientInfo: c.clientInfo,
    clientTags: c.clientTags && c.clientTags.length > 0 ? c.clientTags : undefined,
    traceToken: c.traceToken,
    serverAddress: c.serverAddress,
    serverVersion: c.serverVersion,
    environment: c.environment,
    resourceGroupId: c.resourceGroupId?.join('.'),
    queryType: c.queryType,
    updateType: metadata.updateType,
    retryPolicy: c.retryPolicy,
    transactionId: metadata.transactionId,
    createTime: isoUtc(event.createTime),
    executionStartTime: isoUtc(event.executionStartTime),
    endTime,
    '@timestamp': endTime,
    wallTimeMs: ms(s.wallTime),
    cpuTimeMs: ms(s.cpuTime),
    queuedTimeMs: ms(s.queuedTime),
    scheduledTimeMs: s.scheduledTime === undefined ? undefined : ms(s.scheduledTime),
    resourceWaitingTimeMs: s.resourceWaitingTime === undefined ? undefined : ms(s.resourceWaitingTime),
    analysisTimeMs: s.analysisTime === undefined ? undefined : ms(s.analysisTime),
    planningTimeMs: s.planningTime === undefined ? undefined : ms(s.planningTime),
    executionTimeMs: s.executionTime === undefined ? undefined : ms(s.executionTime),
    peakUserMemoryBytes: s.peakUserMemoryBytes,
    peakTotalMemoryBytes: s.peakTotalNonRevocableMemoryBytes,
    peakTaskUserMemoryBytes: s.peakTaskUserMemory,
    peakTaskTotalMemoryBytes: s.peakTaskTotalMemory,
    physicalInputBytes: s.physicalInputBytes,
    physicalInputRows: s.physicalInputRows,
    processedInputBytes: s.processedInputBytes,
    processedInputRows: s.processedInputRows,
    internalNetworkBytes: s.internalNetworkBytes,
    outputBytes: s.outputBytes,
    outputRows: s.outputRows,
    writtenBytes: s.writtenBytes,
    writtenRows: s.writtenRows,
    spilledBytes: s.spilledBytes,
    completedSplits: s.completedSplits,
    errorCode: f?.errorCode.name,
    errorCodeNumber: f?.errorCode.code,
    errorType: f?.errorCode.type,
    failureType: f?.failureType,
    failureMessage: f?.failureMessage,
    failureHost: f?.failureHost,
    failureTask: f?.failureTask,
    tablesRead,
    tableWritten: output === undefined ? undefined : qualified(output),
    warningCount: event.warnings?.length ?? 0,
  };
}

/**
 * Diagnostic fields of the raw event that are not indexed and can be large (the output stage's JSON alone is
 * ~70 KB for a trivial query on 476; bounded only by the coordinator's `event.max-output-stage-size`, default
 * 16 MB), in the order they are dropped when an event does not fit in a queue message. Paths are dot-separated.
 */
export const BULKY_EVENT_FIELDS = [
  'metadata.payload',
  'statistics.operatorSummaries',
  'statistics.taskStatistics',
  'metadata.jsonPlan',
  'metadata.plan',
  'statistics.planNodeStatsAndCosts',
  'statistics.optimizerRulesSummaries',
  'statistics.outputBufferUtilization',
  'statistics.outputBufferMetrics',
  'statistics.cpuTimeDistribution',
  'statistics.stageGcStatistics',
  'statistics.dynamicFilterDomainStatistics',
  'failureInfo.failuresJson',
] as const;

/** Result of {@link shrinkEventJson}. */
export interface ShrunkEvent {
  /** The JSON text to enqueue (the original text, untouched, when it already fit). */
  readonly json: string;
  /** Its size in UTF-8 bytes. */
  readonly bytes: number;
  /** The {@link BULKY_EVENT_FIELDS} removed, in order; empty when the original fit. */
  readonly droppedFields: readonly string[];
  /** Whether `bytes <= maxBytes`. */
  readonly fits: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deletePath(root: Record<string, unknown>, path: string): boolean {
  const parts = path.split('.');
  let node: unknown = root;
  for (const part of parts.slice(0, -1)) node = isRecord(node) ? node[part] : undefined;
  const last = parts.at(-1);
  if (!isRecord(node) || last === undefined || !(last in node)) return false;
  delete node[last];
  return true;
}

/**
 * Makes an event's JSON fit in `maxBytes` by dropping {@link BULKY_EVENT_FIELDS} one at a time, in order, until it
 * fits. Everything the document needs is kept. Pure.
 * @param rawJson - The event exactly as Trino posted it (already validated).
 * @param maxBytes - Budget for the JSON text in UTF-8 bytes.
 * @returns The text to send, its size, what was dropped and whether it fits (it may still not: a huge SQL text).
 * @example shrinkEventJson(body, 1_048_576 - 1_024).droppedFields // [] or ['metadata.payload', …]
 */
export function shrinkEventJson(rawJson: string, maxBytes: number): ShrunkEvent {
  const originalBytes = Buffer.byteLength(rawJson, 'utf8');
  if (originalBytes <= maxBytes)
    return { json: rawJson, bytes: originalBytes, droppedFields: [], fits: true };
  const root: unknown = JSON.parse(rawJson);
  if (!isRecord(root)) return { json: rawJson, bytes: originalBytes, droppedFields: [], fits: false };
  const dropped: string[] = [];
  let json = rawJson;
  let bytes = originalBytes;
  for (const path of BULKY_EVENT_FIELDS) {
    if (!deletePath(root, path)) continue;
    dropped.push(path);
    json = JSON.stringify(root);
    bytes = Buffer.byteLength(json, 'utf8');
    if (bytes <= maxBytes) break;
  }
  return { json, bytes, droppedFields: dropped, fits: bytes <= maxBytes };
}
