/**
 * zod schemas of the Trino (and PrestoDB) REST responses trino-sentinel reads.
 *
 * Parsing is lenient on purpose: unknown fields are dropped, fields added by newer releases are optional,
 * so one schema serves both pinned release lines (see harness/trino-versions.json). Fixtures of
 * real responses live in test/fixtures/trino-<version>/.
 *
 * @module
 */
import * as z from 'zod';

/**
 * Node states Trino reports in `GET /v1/info/state` and accepts in `PUT /v1/info/state`.
 * - `ACTIVE`: serving.
 * - `SHUTTING_DOWN`: graceful shutdown in progress; the process exits when done (irreversible).
 * - `DRAINING` / `DRAINED`: reversible drain (newer releases, trinodb/trino#24444).
 * - `INACTIVE`, `INVALID`: reported by newer releases for nodes that are not serving.
 *
 * Sources: io.trino.metadata.NodeState; PrestoDB 0.287's com.facebook.presto.spi.NodeState has `ACTIVE`,
 * `INACTIVE` (a node without resources, or set by `PUT`) and `SHUTTING_DOWN`, and answers 400 to a `PUT` of a
 * state it does not know (com.facebook.presto.server.ServerInfoResource#updateState; recorded:
 * test/fixtures/prestodb-0.287/worker-put-state-draining.json).
 */
export const NODE_STATES = ['ACTIVE', 'SHUTTING_DOWN', 'DRAINING', 'DRAINED', 'INACTIVE', 'INVALID'] as const;

/** One of {@link NODE_STATES}. */
export type NodeState = (typeof NODE_STATES)[number];

/** Schema of `GET /v1/info/state`: a bare JSON string. Source: io.trino.server.ServerInfoResource#getServerState. */
export const NodeStateSchema = z.enum(NODE_STATES);

/**
 * Schema of `GET /v1/info`. Sources: io.trino.server.ServerInfoResource#getInfo → io.trino.server.ServerInfo;
 * com.facebook.presto.server.ServerInfoResource#getInfo → com.facebook.presto.client.ServerInfo (PrestoDB: the
 * same five fields; `nodeVersion.version` carries the build, e.g. `0.287-b8952fa`).
 */
export const ServerInfoSchema = z.object({
  nodeVersion: z.object({ version: z.string() }),
  environment: z.string(),
  coordinator: z.boolean(),
  starting: z.boolean(),
  /** Airlift duration string, e.g. `"3.21m"`. */
  uptime: z.string().optional(),
  /** Newer releases only. */
  nodeId: z.string().optional(),
  /** Newer releases only. */
  state: z.string().optional(),
});
/** Parsed `GET /v1/info`. */
export type ServerInfo = z.infer<typeof ServerInfoSchema>;

/**
 * Schema of `GET /v1/status` (PUBLIC on every node). Sources: io.trino.server.StatusResource →
 * io.trino.server.NodeStatus; com.facebook.presto.server.StatusResource → com.facebook.presto.server.NodeStatus
 * (PrestoDB adds `memoryInfo`, not read; its resource is `@RolesAllowed(INTERNAL)`, which 0.287 enforces only with
 * `internal-communication.jwt.enabled`). Loads are fractions 0..1 (negative when the JVM cannot tell); memory in
 * bytes.
 */
export const NodeStatusSchema = z.object({
  nodeId: z.string(),
  nodeVersion: z.object({ version: z.string() }),
  environment: z.string(),
  coordinator: z.boolean(),
  uptime: z.string().optional(),
  externalAddress: z.string().optional(),
  internalAddress: z.string().optional(),
  processors: z.number().int().optional(),
  processCpuLoad: z.number(),
  systemCpuLoad: z.number(),
  heapUsed: z.number(),
  heapAvailable: z.number(),
  nonHeapUsed: z.number().optional(),
});
/** Parsed `GET /v1/status`. */
export type NodeStatus = z.infer<typeof NodeStatusSchema>;

/**
 * A Java `double` as Jackson writes it: a number, or the strings `NaN`/`Infinity`/`-Infinity` (a node the failure
 * detector has not heartbeated yet has `recentFailureRatio: "NaN"`, seen on Trino 476 right after a failover).
 */
export const JacksonDoubleSchema = z
  .union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])])
  .transform((value) => Number(value));

/**
 * Schema of one entry of `GET /v1/node` (MANAGEMENT_READ): the coordinator's failure-detector view of a
 * remote node. Sources: io.trino.server.NodeResource → io.trino.failuredetector.HeartbeatFailureDetector.Stats;
 * com.facebook.presto.server.NodeResource → com.facebook.presto.failureDetector.HeartbeatFailureDetector.Stats
 * (PrestoDB: same fields).
 */
export const NodeHeartbeatSchema = z.object({
  uri: z.string(),
  recentRequests: JacksonDoubleSchema,
  recentFailures: JacksonDoubleSchema,
  recentSuccesses: JacksonDoubleSchema,
  lastRequestTime: z.string().optional(),
  lastResponseTime: z.string().optional(),
  /** Fraction 0..1 of recent heartbeats that failed; NaN before the first heartbeat. */
  recentFailureRatio: JacksonDoubleSchema,
  age: z.string().optional(),
});
/** Parsed entry of `GET /v1/node`. */
export type NodeHeartbeat = z.infer<typeof NodeHeartbeatSchema>;

/** Schema of `GET /v1/node` and `GET /v1/node/failed`. */
export const NodeHeartbeatListSchema = z.array(NodeHeartbeatSchema);

/**
 * Query states. Sources: io.trino.execution.QueryState; com.facebook.presto.execution.QueryState (PrestoDB 0.287),
 * which adds `WAITING_FOR_PREREQUISITES` before `QUEUED` (every PrestoDB query passes through it: recorded in
 * test/fixtures/prestodb-0.287/statement-queued.json). Without it, one such query in `GET /v1/query` failed the
 * parse of the whole list.
 * Done states are `FINISHED` and `FAILED` (cancelled queries end `FAILED` with error `USER_CANCELED`).
 */
export const QUERY_STATES = [
  /** PrestoDB only: waiting for the query's prerequisites (QueryPrerequisitesManager) before it is queued. */
  'WAITING_FOR_PREREQUISITES',
  'QUEUED',
  'WAITING_FOR_RESOURCES',
  'DISPATCHING',
  'PLANNING',
  'STARTING',
  'RUNNING',
  'FINISHING',
  'FINISHED',
  'FAILED',
] as const;
/** One of {@link QUERY_STATES}. */
export type QueryState = (typeof QUERY_STATES)[number];

/**
 * Schema of one entry of `GET /v1/query` (AUTHENTICATED_USER; lists the queries the caller may view).
 * Sources: io.trino.server.QueryResource → io.trino.server.BasicQueryInfo / BasicQueryStats;
 * com.facebook.presto.server.QueryResource#getAllQueryInfo → com.facebook.presto.server.BasicQueryInfo /
 * BasicQueryStats (PrestoDB lists every query, whoever asks, with the same fields read here).
 */
export const BasicQueryInfoSchema = z.object({
  queryId: z.string(),
  session: z.object({
    user: z.string(),
    source: z.string().optional(),
    catalog: z.string().optional(),
    schema: z.string().optional(),
  }),
  state: z.enum(QUERY_STATES),
  /** True while the query is blocked waiting on memory or I/O (Trino reports it per query). */
  scheduled: z.boolean().optional(),
  query: z.string(),
  queryStats: z.object({
    createTime: z.string(),
    endTime: z.string().optional().nullable(),
    queuedTime: z.string().optional(),
    elapsedTime: z.string().optional(),
    executionTime: z.string().optional(),
    totalDrivers: z.number().optional(),
    queuedDrivers: z.number().optional(),
    runningDrivers: z.number().optional(),
    completedDrivers: z.number().optional(),
    userMemoryReservation: z.string().optional(),
    totalMemoryReservation: z.string().optional(),
    peakUserMemoryReservation: z.string().optional(),
    totalCpuTime: z.string().optional(),
    fullyBlocked: z.boolean().optional(),
  }),
  errorType: z.string().optional().nullable(),
  errorCode: z.object({ code: z.number(), name: z.string(), type: z.string() }).optional().nullable(),
});
/** Parsed entry of `GET /v1/query`. */
export type BasicQueryInfo = z.infer<typeof BasicQueryInfoSchema>;

/** Schema of `GET /v1/query`. */
export const BasicQueryInfoListSchema = z.array(BasicQueryInfoSchema);

/**
 * Schema of `GET /v1/jmx/mbean/{objectName}` (MANAGEMENT_READ).
 * Source: io.airlift.jmx.MBeanResource → io.airlift.jmx.MBeanRepresentation.
 */
export const MBeanSchema = z.object({
  objectName: z.string(),
  className: z.string().optional(),
  attributes: z.array(
    z.object({
      name: z.string(),
      type: z.string().optional(),
      value: z.unknown().optional(),
    }),
  ),
});
/** Parsed MBean. */
export type MBean = z.infer<typeof MBeanSchema>;

/**
 * Schema of PrestoDB's `GET /v1/cluster` (removed from current Trino). Memory in bytes.
 * Source: com.facebook.presto.server.ClusterStatsResource.ClusterStats.
 */
export const PrestoClusterStatsSchema = z.object({
  runningQueries: z.number(),
  blockedQueries: z.number(),
  queuedQueries: z.number(),
  activeWorkers: z.number(),
  runningDrivers: z.number(),
  reservedMemory: z.number(),
  totalInputRows: z.number().optional(),
  totalInputBytes: z.number().optional(),
  totalCpuTimeSecs: z.number().optional(),
});
/** Parsed PrestoDB `GET /v1/cluster`. */
export type PrestoClusterStats = z.infer<typeof PrestoClusterStatsSchema>;

/**
 * Schema of one page of the statement protocol (`POST /v1/statement`, then `GET nextUri`).
 * Source: io.trino.client.QueryResults (trino-client).
 */
export const QueryResultsSchema = z.object({
  id: z.string(),
  nextUri: z.string().optional(),
  columns: z.array(z.object({ name: z.string(), type: z.string() })).optional(),
  data: z.array(z.array(z.unknown())).optional(),
  /** Source: io.trino.client.StatementStats; `state` is the query state, splits count the whole query so far. */
  stats: z
    .object({
      state: z.string(),
      runningSplits: z.number().optional(),
      completedSplits: z.number().optional(),
    })
    .loose(),
  error: z
    .object({
      message: z.string(),
      errorCode: z.number().optional(),
      errorName: z.string().optional(),
      errorType: z.string().optional(),
    })
    .optional(),
});
/** Parsed page of the statement protocol. */
export type QueryResults = z.infer<typeof QueryResultsSchema>;

/**
 * Schema of `GET /v1/query/{queryId}` (the query's owner or VIEW_QUERY): the full QueryInfo; only the fields the
 * query-log poller reads are declared, everything else is kept. Durations are airlift `Duration` strings
 * (`"24.55ms"`), sizes airlift `DataSize` strings (`"80B"`). Source: io.trino.server.QueryResource#getQueryInfo →
 * io.trino.execution.QueryInfo (QueryStats, SessionRepresentation, ExecutionFailureInfo). Recorded:
 * test/fixtures/trino-476/v1-query-info-{finished,failed}.json.
 */
export const QueryInfoSchema = z.looseObject({
  queryId: z.string().min(1),
  session: z.looseObject({
    user: z.string().min(1),
    principal: z.string().nullish(),
    source: z.string().nullish(),
    catalog: z.string().nullish(),
    schema: z.string().nullish(),
    remoteUserAddress: z.string().nullish(),
    userAgent: z.string().nullish(),
    clientInfo: z.string().nullish(),
  }),
  state: z.enum(QUERY_STATES),
  self: z.string().nullish(),
  query: z.string(),
  queryType: z.string().nullish(),
  resourceGroupId: z.array(z.string()).nullish(),
  queryStats: z.looseObject({
    createTime: z.string(),
    executionStartTime: z.string().nullish(),
    endTime: z.string().nullish(),
    queuedTime: z.string().nullish(),
    elapsedTime: z.string().nullish(),
    executionTime: z.string().nullish(),
    analysisTime: z.string().nullish(),
    planningTime: z.string().nullish(),
    totalCpuTime: z.string().nullish(),
    peakUserMemoryReservation: z.string().nullish(),
    peakTotalMemoryReservation: z.string().nullish(),
    physicalInputDataSize: z.string().nullish(),
    physicalInputPositions: z.number().nullish(),
    outputDataSize: z.string().nullish(),
    outputPositions: z.number().nullish(),
    physicalWrittenDataSize: z.string().nullish(),
    writtenPositions: z.number().nullish(),
    completedDrivers: z.number().nullish(),
  }),
  errorCode: z.looseObject({ code: z.number(), name: z.string(), type: z.string().optional() }).nullish(),
  errorType: z.string().nullish(),
  failureInfo: z.looseObject({ type: z.string().nullish(), message: z.string().nullish() }).nullish(),
});
/** Parsed `GET /v1/query/{queryId}`. */
export type QueryInfo = z.infer<typeof QueryInfoSchema>;
