/**
 * Where query-log documents go: one interface ({@link QueryLogSink}) and one adapter over the official
 * `@opensearch-project/opensearch` client (its transport, connection pool and serializer, assembled in
 * ./opensearch-client.ts without the API namespaces we never call) for both kinds of engine we support — Amazon OpenSearch Service (SigV4,
 * `AwsSigv4Signer` with the default AWS credential chain; the domain endpoint found by name with
 * `@aws-sdk/client-opensearch` `DescribeDomain`) and self-managed OpenSearch or Elasticsearch 7/8 (HTTP basic auth
 * from an SSM SecureString). The `_bulk`, `_index_template` and `_doc` APIs are the same on all of them; only the
 * retention policy differs (ISM on OpenSearch, ILM on Elasticsearch).
 *
 * Sources: OpenSearch REST API reference (Bulk, Index templates, ISM policies); Elasticsearch REST API reference
 * (Bulk, Put index template, ILM put lifecycle policy).
 *
 * @module
 */
import { OpenSearchClient } from '@aws-sdk/client-opensearch';
import { AwsSigv4Signer } from '@opensearch-project/opensearch/aws-v3';
import { domainEndpoint } from '../aws/opensearch.ts';
import { ssmParameterReader } from '../aws/secure-parameters.ts';
import { SearchEngineError } from '../errors.ts';
import { createSearchClient, type SearchClient } from './opensearch-client.ts';

/** One document to index: `_index`, `_id` and the source. */
export interface BulkDocument {
  readonly index: string;
  readonly id: string;
  readonly document: Readonly<Record<string, unknown>>;
}

/** The engine's answer for one document, in request order. */
export interface BulkItemResult {
  /** HTTP status of the item: 201 created, 200 overwritten, 400 rejected (mapping), 429 rejected (load), 5xx. */
  readonly status: number;
  readonly ok: boolean;
  /** 429 and 5xx: sending it again can succeed. A 400 never will. */
  readonly retryable: boolean;
  /** `<error.type>: <error.reason>` for a failed item. */
  readonly reason?: string;
}

/** Which engine, for the retention policy. */
export type EngineFlavor = 'opensearch' | 'elasticsearch';

/** The query-log store. */
export interface QueryLogSink {
  readonly flavor: EngineFlavor;
  /**
   * Installs (idempotently) the index template for `<prefix>-*` and the retention policy.
   * @throws SearchEngineError naming what failed (e.g. the ISM plugin missing); the template is installed first.
   */
  ensureSetup(): Promise<void>;
  /**
   * `_bulk` with `index` actions (`_id` = the document id: a resend overwrites, never duplicates). The client's
   * `requestTimeout` (SEARCH_TIMEOUT_MS) bounds it.
   * @returns One result per document, in order.
   * @throws SearchEngineError when the request as a whole fails (connection, timeout, 401/403, 5xx): retry all.
   */
  bulkIndex(documents: readonly BulkDocument[]): Promise<BulkItemResult[]>;
  /** `GET <index>/_doc/<id>`: the source, or undefined (404). @throws SearchEngineError */
  getDocument(index: string, id: string): Promise<Record<string, unknown> | undefined>;
}

/** Settings of the template and the retention policy. */
export interface SinkOptions {
  /** Index name prefix, e.g. `trino-queries` (indices `trino-queries-YYYY.MM.DD`). */
  readonly indexPrefix: string;
  /** Days after which an index is deleted. */
  readonly retentionDays: number;
  /**
   * How soon new documents become searchable (default `5s`: ~25 % more bulk throughput than `1s` on a small node,
   * measured in bench/query-logs.ts, and well inside the 10 s lag goal).
   */
  readonly refreshInterval?: string;
  /** Characters of the SQL text kept in the `query.keyword` subfield (default 2048). */
  readonly keywordIgnoreAbove?: number;
}

const keyword = { type: 'keyword' } as const;
const date = { type: 'date' } as const;
const long = { type: 'long' } as const;

/**
 * The explicit mapping of a query-log document (`QueryLogDocument` in lib/trino/query-events.ts): keywords for ids,
 * names, states and error codes; dates; longs for durations (ms), sizes (bytes) and counts; the SQL text as `text`
 * with a `keyword` subfield. `dynamic: false`: a field we do not map is kept in `_source` but not indexed, so a new
 * Trino field never breaks or bloats the mapping.
 */
export function queryLogMappings(keywordIgnoreAbove = 2048) {
  const keywords = [
    'queryId',
    'queryState',
    'user',
    'originalUser',
    'principal',
    'source',
    'catalog',
    'schema',
    'remoteClientAddress',
    'userAgent',
    'clientTags',
    'traceToken',
    'serverAddress',
    'serverVersion',
    'environment',
    'resourceGroupId',
    'queryType',
    'updateType',
    'retryPolicy',
    'transactionId',
    'errorCode',
    'errorType',
    'failureType',
    'failureHost',
    'failureTask',
    'tablesRead',
    'tableWritten',
  ];
  const longs = [
    'queryLength',
    'wallTimeMs',
    'cpuTimeMs',
    'queuedTimeMs',
    'scheduledTimeMs',
    'resourceWaitingTimeMs',
    'analysisTimeMs',
    'planningTimeMs',
    'executionTimeMs',
    'peakUserMemoryBytes',
    'peakTotalMemoryBytes',
    'peakTaskUserMemoryBytes',
    'peakTaskTotalMemoryBytes',
    'physicalInputBytes',
    'physicalInputRows',
    'processedInputBytes',
    'processedInputRows',
    'internalNetworkBytes',
    'outputBytes',
    'outputRows',
    'writtenBytes',
    'writtenRows',
    'spilledBytes',
    'completedSplits',
    'errorCodeNumber',
    'warningCount',
  ];
  return {
    dynamic: false,
    properties: {
      ...Object.fromEntries(keywords.map((name) => [name, keyword])),
      ...Object.fromEntries(longs.map((name) => [name, long])),
      '@timestamp': date,
      createTime: date,
      executionStartTime: date,
      endTime: date,
      query: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: keywordIgnoreAbove } } },
      queryTruncated: { type: 'boolean' },
      queryRedacted: { type: 'boolean' },
      clientInfo: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 1024 } } },
      failureMessage: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 1024 } } },
    },
  } as const;
}

/**
 * The composable index template (`PUT _index_template/<prefix>`).
 * @param lifecycle - Elasticsearch only: name the ILM policy in the settings (false where ILM is unavailable).
 */
export function indexTemplate(flavor: EngineFlavor, options: SinkOptions, { lifecycle = true } = {}) {
  return {
    index_patterns: [`${options.indexPrefix}-*`],
    priority: 200,
    template: {
      settings: {
        number_of_shards: 1,
        refresh_interval: options.refreshInterval ?? '5s',
        ...(flavor === 'elasticsearch' && lifecycle
          ? { 'index.lifecycle.name': retentionPolicyId(options) }
          : {}),
      },
      mappings: queryLogMappings(options.keywordIgnoreAbove),
    },
    _meta: { managedBy: 'trino-sentinel' },
  };
}

/** Id of the retention policy. */
export function retentionPolicyId(options: SinkOptions): string {
  return `${options.indexPrefix}-retention`;
}

/** OpenSearch ISM policy: delete indices `retentionDays` after creation; applied to new `<prefix>-*` indices. */
export function ismPolicy(options: SinkOptions) {
  return {
    policy: {
      description: `trino-sentinel: delete ${options.indexPrefix}-* after ${options.retentionDays} days`,
      default_state: 'hot',
      states: [
        {
          name: 'hot',
          actions: [],
          transitions: [{ state_name: 'delete', conditions: { min_index_age: `${options.retentionDays}d` } }],
        },
        { name: 'delete', actions: [{ delete: {} }], transitions: [] },
      ],
      ism_template: [{ index_patterns: [`${options.indexPrefix}-*`], priority: 200 }],
    },
  };
}

/** Elasticsearch ILM policy: delete indices `retentionDays` after creation. */
export function ilmPolicy(options: SinkOptions) {
  return {
    policy: {
      _meta: { managedBy: 'trino-sentinel' },
      phases: {
        hot: { min_age: '0ms', actions: {} },
        delete: { min_age: `${options.retentionDays}d`, actions: { delete: {} } },
      },
    },
  };
}

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('meta' in error)) return undefined;
  const meta = error.meta;
  if (typeof meta !== 'object' || meta === null || !('statusCode' in meta)) return undefined;
  return typeof meta.statusCode === 'number' ? meta.statusCode : undefined;
}

function failure(operation: string, error: unknown): SearchEngineError {
  const status = statusOf(error);
  const name = error instanceof Error ? error.name : 'UnknownError';
  return new SearchEngineError(
    `Search engine ${operation} failed (${name}${status === undefined ? '' : ` ${status}`})`,
    { cause: error, context: { operation, status, errorName: name } },
  );
}

interface BulkItemBody {
  readonly status?: number;
  readonly error?: { readonly type?: string; readonly reason?: string };
}

function itemOf(entry: unknown): BulkItemBody {
  if (typeof entry !== 'object' || entry === null) return {};
  const action = Object.values(entry)[0];
  return typeof action === 'object' && action !== null ? action : {};
}

/** The adapter over an OpenSearch client (works with Elasticsearch 7/8 for these APIs too). */
export class OpenSearchQueryLogSink implements QueryLogSink {
  readonly flavor: EngineFlavor;
  readonly #client: SearchClient;
  readonly #options: SinkOptions;

  /**
   * @param client - Created once per container (see {@link sinkFromConfig}).
   * @param flavor - Selects ISM (OpenSearch) or ILM (Elasticsearch) for retention.
   */
  constructor(client: SearchClient, flavor: EngineFlavor, options: SinkOptions) {
    this.#client = client;
    this.flavor = flavor;
    this.#options = options;
  }

  async ensureSetup(): Promise<void> {
    const policyId = retentionPolicyId(this.#options);
    // Elasticsearch: ILM first, because the template names the policy; without ILM (a distribution without the
    // module) the template is installed without it, and the missing retention is reported after.
    let ilmError: unknown;
    if (this.flavor === 'elasticsearch') {
      await this.#client.transport
        .request({ method: 'PUT', path: `/_ilm/policy/${policyId}`, body: ilmPolicy(this.#options) })
        .catch((error: unknown) => {
          ilmError = error;
        });
    }
    await this.#client.transport
      .request({
        method: 'PUT',
        path: `/_index_template/${this.#options.indexPrefix}`,
        body: indexTemplate(this.flavor, this.#options, { lifecycle: ilmError === undefined }),
      })
      .catch((error: unknown) => {
        throw failure('PUT _index_template', error);
      });
    if (ilmError !== undefined) throw failure('PUT _ilm/policy (is ILM available?)', ilmError);
    if (this.flavor === 'opensearch') {
      const path = `/_plugins/_ism/policies/${policyId}`;
      const existing = await this.#client.transport
        .request({ method: 'GET', path })
        .then((r) => r.body as { _seq_no?: number; _primary_term?: number })
        .catch((error: unknown) => {
          if (statusOf(error) === 404) return undefined;
          throw failure('GET _plugins/_ism/policies (is the ISM plugin installed?)', error);
        });
      const query =
        existing?._seq_no === undefined
          ? {}
          : { if_seq_no: existing._seq_no, if_primary_term: existing._primary_term };
      await this.#client.transport
        .request({ method: 'PUT', path, querystring: query, body: ismPolicy(this.#options) })
        .catch((error: unknown) => {
          throw failure('PUT _plugins/_ism/policies (is the ISM plugin installed?)', error);
        });
    }
  }

  async bulkIndex(documents: readonly BulkDocument[]): Promise<BulkItemResult[]> {
    if (documents.length === 0) return [];
    const body = documents.flatMap((d) => [{ index: { _index: d.index, _id: d.id } }, d.document]);
    let items: unknown[];
    try {
      const response = await this.#client.bulk({ body });
      const parsed = response.body as { items?: unknown[] };
      items = parsed.items ?? [];
    } catch (error) {
      throw failure('_bulk', error);
    }
    return documents.map((_, i) => {
      const item = itemOf(items[i]);
      const status = item.status ?? 0;
      const ok = status >= 200 && status < 300 && item.error === undefined;
      return {
        status,
        ok,
        retryable: !ok && (status === 0 || status === 429 || status >= 500),
        ...(item.error
          ? { reason: `${item.error.type ?? 'error'}: ${item.error.reason ?? ''}`.slice(0, 500) }
          : {}),
      };
    });
  }

  async getDocument(index: string, id: string): Promise<Record<string, unknown> | undefined> {
    try {
      const response = await this.#client.transport.request({
        method: 'GET',
        path: `/${encodeURIComponent(index)}/_doc/${encodeURIComponent(id)}`,
      });
      const parsed = response.body as { _source?: Record<string, unknown> };
      return parsed._source;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw failure('GET _doc', error);
    }
  }
}

/** What {@link sinkFromConfig} needs. */
export interface SinkConfig {
  readonly SEARCH_ENGINE: 'opensearch-service' | 'opensearch' | 'elasticsearch';
  readonly SEARCH_ENDPOINT?: string | undefined;
  readonly OPENSEARCH_DOMAIN_NAME?: string | undefined;
  readonly SEARCH_CREDENTIALS_SSM_PARAMETER?: string | undefined;
  readonly QUERY_LOG_INDEX_PREFIX: string;
  readonly QUERY_LOG_RETENTION_DAYS: number;
  readonly QUERY_LOG_REFRESH_INTERVAL?: string | undefined;
  readonly SEARCH_TIMEOUT_MS: number;
}

/**
 * Finds an Amazon OpenSearch Service domain's endpoint by name (`DescribeDomain`: `Endpoint`, or `Endpoints.vpc` for
 * a VPC domain). Source: Amazon OpenSearch Service API reference, DescribeDomain.
 * @throws SearchEngineError when the domain has no endpoint (yet) or the call fails.
 */
export async function resolveDomainEndpoint(client: OpenSearchClient, domainName: string): Promise<string> {
  let endpoint: string | undefined;
  try {
    endpoint = await domainEndpoint(client, domainName);
  } catch (error) {
    throw failure(`DescribeDomain ${domainName}`, error);
  }
  if (endpoint === undefined) {
    throw new SearchEngineError(`OpenSearch domain ${domainName} has no endpoint (still being created?)`, {
      context: { domainName },
    });
  }
  return `https://${endpoint}`;
}

/**
 * Builds the sink from configuration: resolves the endpoint, reads the basic-auth credentials (`user:password`
 * SecureString) when self-managed, creates one client.
 * @param readSecret - Reads an SSM SecureString (decrypted); injected so tests can use the emulator.
 */
export async function sinkFromConfig(
  config: SinkConfig,
  readSecret: (name: string) => Promise<string> = defaultReadSecret,
): Promise<QueryLogSink> {
  const options = {
    indexPrefix: config.QUERY_LOG_INDEX_PREFIX,
    retentionDays: config.QUERY_LOG_RETENTION_DAYS,
  };
  if (config.SEARCH_ENGINE === 'opensearch-service') {
    const region = process.env.AWS_REGION ?? 'us-east-1';
    const node =
      config.SEARCH_ENDPOINT ??
      (await resolveDomainEndpoint(new OpenSearchClient({}), config.OPENSEARCH_DOMAIN_NAME ?? ''));
    const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
    const client = createSearchClient({
      signer: AwsSigv4Signer({ region, service: 'es', getCredentials: defaultProvider() }),
      node,
      requestTimeout: config.SEARCH_TIMEOUT_MS,
      maxRetries: 0,
    });
    return new OpenSearchQueryLogSink(client, 'opensearch', options);
  }
  let auth: { username: string; password: string } | undefined;
  if (config.SEARCH_CREDENTIALS_SSM_PARAMETER !== undefined) {
    const value = await readSecret(config.SEARCH_CREDENTIALS_SSM_PARAMETER);
    const colon = value.indexOf(':');
    if (colon <= 0) {
      throw new SearchEngineError(`${config.SEARCH_CREDENTIALS_SSM_PARAMETER} must hold "user:password"`, {
        context: { parameter: config.SEARCH_CREDENTIALS_SSM_PARAMETER },
      });
    }
    auth = { username: value.slice(0, colon), password: value.slice(colon + 1) };
  }
  const client = createSearchClient({
    node: config.SEARCH_ENDPOINT ?? '',
    ...(auth === undefined ? {} : { auth }),
    requestTimeout: config.SEARCH_TIMEOUT_MS,
    maxRetries: 0,
  });
  return new OpenSearchQueryLogSink(client, config.SEARCH_ENGINE, options);
}

async function defaultReadSecret(name: string): Promise<string> {
  const value = await ssmParameterReader().get(name, { decrypt: true, maxAge: 300 });
  if (typeof value !== 'string')
    throw new SearchEngineError(`SSM parameter ${name} is empty`, { context: { name } });
  return value;
}
