/**
 * Typed REST client for Trino (and PrestoDB) coordinators and workers.
 *
 * HTTP goes through Node's own `node:http`/`node:https` clients (one keep-alive agent per client, custom CA
 * supported) rather than a bundled HTTP library: it keeps each Lambda bundle small and needs no dependency.
 * Every response is parsed with the zod schemas in ./schemas.ts. Failures are distinct, typed errors:
 * {@link TrinoTimeoutError}, {@link TrinoConnectionError}, {@link TrinoAuthError}, {@link TrinoHttpError},
 * {@link TrinoResponseError}.
 *
 * @module
 */
import http from 'node:http';
import https from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { z } from 'zod';
import {
  TrinoAuthError,
  TrinoConnectionError,
  TrinoHttpError,
  TrinoQueryError,
  TrinoResponseError,
  TrinoTimeoutError,
} from '../errors.ts';
import { ENGINE_NAMES, type EngineFlavor } from './flavor.ts';
import {
  type BasicQueryInfo,
  BasicQueryInfoListSchema,
  type MBean,
  MBeanSchema,
  type NodeHeartbeat,
  NodeHeartbeatListSchema,
  type NodeState,
  NodeStateSchema,
  type NodeStatus,
  NodeStatusSchema,
  type PrestoClusterStats,
  PrestoClusterStatsSchema,
  type QueryInfo,
  QueryInfoSchema,
  type QueryResults,
  QueryResultsSchema,
  type ServerInfo,
  ServerInfoSchema,
} from './schemas.ts';

/** How the client authenticates. Credentials are never logged nor put into errors. */
export type TrinoAuth =
  | { readonly type: 'none' }
  | { readonly type: 'basic'; readonly username: string; readonly password: string }
  | { readonly type: 'bearer'; readonly token: string };

/** Which engine the node runs: decides the user header and the MBean names (./flavor.ts). */
export type { EngineFlavor } from './flavor.ts';

/** Options of {@link TrinoClient}. */
export interface TrinoClientOptions {
  /** Base URL of the node, e.g. `https://10.0.1.10:8443` (no trailing path). */
  readonly baseUrl: string;
  /** User sent in `X-Trino-User`/`X-Presto-User`; with basic auth it should equal the username. */
  readonly user: string;
  /** Per-request timeout in ms (connect + response). Default 5000. */
  readonly timeoutMs?: number;
  /** `trino` (default) or `presto` (PrestoDB): see ./flavor.ts for what it changes. */
  readonly flavor?: EngineFlavor;
  /** Default `{ type: 'none' }`. */
  readonly auth?: TrinoAuth;
  /** PEM of a custom CA (or bundle) that signed the node's TLS certificate. */
  readonly caPem?: string;
  /**
   * The name the node's TLS certificate carries (SNI and identity check), when the URL's host is not in it: a
   * coordinator probed on its instance's primary address presents the certificate issued for the cluster's name and
   * the coordinator ENI's address. Verification stays on; only the name checked changes.
   */
  readonly tlsServerName?: string;
  /** Largest response body accepted, in bytes. Default 32 MiB. */
  readonly maxResponseBytes?: number;
}

/** Per-call options. */
export interface CallOptions {
  /** Caller's cancellation; combined with the client's timeout. */
  readonly signal?: AbortSignal;
  /** Overrides the client's timeout for this call, in ms. */
  readonly timeoutMs?: number;
}

/** States a caller may ask a worker to move to with `PUT /v1/info/state`. */
export type RequestableNodeState = Extract<NodeState, 'ACTIVE' | 'SHUTTING_DOWN' | 'DRAINING'>;

interface RawResponse {
  readonly status: number;
  readonly body: string;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ETIMEDOUT',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

/**
 * Client of one Trino/PrestoDB node's REST API.
 *
 * @example
 * const coordinator = new TrinoClient({ baseUrl: 'https://10.0.1.10:8443', user: 'sentinel',
 *   auth: { type: 'basic', username: 'sentinel', password }, caPem, timeoutMs: 3000 });
 * const info = await coordinator.getInfo(); // { starting: false, coordinator: true, ... }
 */
export class TrinoClient {
  /** Base URL without trailing slash. */
  readonly baseUrl: string;
  /** The engine this client speaks to. */
  readonly flavor: EngineFlavor;
  readonly #options: TrinoClientOptions;
  readonly #url: URL;
  readonly #agent: http.Agent;

  /**
   * @param options - See {@link TrinoClientOptions}.
   * @throws TypeError when `baseUrl` is not an http(s) URL, or when basic/bearer credentials would be sent over
   *   plain `http://` (they never travel in clear text).
   */
  constructor(options: TrinoClientOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`Trino base URL must be http(s), got ${url.protocol}`);
    }
    if (url.protocol === 'http:' && (options.auth?.type ?? 'none') !== 'none') {
      throw new TypeError(
        `Refusing to send ${options.auth?.type} credentials over plain HTTP to ${url.origin}: use https or no authentication`,
      );
    }
    this.#url = url;
    this.baseUrl = url.origin;
    this.flavor = options.flavor ?? 'trino';
    this.#options = options;
    const serverName = options.tlsServerName;
    this.#agent =
      url.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            maxSockets: 8,
            ...(options.caPem ? { ca: options.caPem } : {}),
            ...(serverName
              ? {
                  servername: serverName,
                  checkServerIdentity: (_host: string, cert: PeerCertificate) =>
                    checkServerIdentity(serverName, cert),
                }
              : {}),
          })
        : new http.Agent({ keepAlive: true, maxSockets: 8 });
  }

  /**
   * A client for another node (e.g. a worker's URI from `/v1/node`) with the same user, credentials, CA and timeout.
   * @param baseUrl - The other node's base URL.
   * @param overrides - e.g. `{ auth: { type: 'none' } }`. A plain-HTTP node (a worker's internal port) always gets
   *   no credentials: only the user header travels there.
   */
  forNode(baseUrl: string, overrides: Pick<TrinoClientOptions, 'auth'> = {}): TrinoClient {
    const plain = new URL(baseUrl).protocol === 'http:';
    return new TrinoClient({
      ...this.#options,
      ...overrides,
      ...(plain ? { auth: { type: 'none' } } : {}),
      baseUrl,
    });
  }

  /**
   * Runs `use` with a client of another node ({@link forNode}, same options) and closes that client afterwards,
   * whatever `use` does.
   * @param baseUrl - The other node's base URL.
   * @param use - What to do with the node's client.
   * @returns What `use` returns.
   * @throws What `use` throws; TypeError for a `baseUrl` that is not a URL.
   */
  async withNode<T>(baseUrl: string, use: (node: TrinoClient) => Promise<T>): Promise<T> {
    const node = this.forNode(baseUrl);
    try {
      return await use(node);
    } finally {
      node.close();
    }
  }

  /**
   * `GET /v1/info` (PUBLIC). Source: io.trino.server.ServerInfoResource#getInfo.
   * @returns Version, environment, whether the node is the coordinator and whether it is still starting.
   * @throws TrinoTimeoutError | TrinoConnectionError | TrinoHttpError | TrinoResponseError
   */
  async getInfo(call: CallOptions = {}): Promise<ServerInfo> {
    return this.#getJson('/v1/info', ServerInfoSchema, call);
  }

  /**
   * `GET /v1/info/state` (PUBLIC). Source: io.trino.server.ServerInfoResource#getServerState.
   * @returns The node state, e.g. `ACTIVE` or `SHUTTING_DOWN`.
   * @throws TrinoTimeoutError | TrinoConnectionError | TrinoHttpError | TrinoResponseError (unknown state)
   */
  async getState(call: CallOptions = {}): Promise<NodeState> {
    return this.#getJson('/v1/info/state', NodeStateSchema, call);
  }

  /**
   * `PUT /v1/info/state` with a quoted JSON string body (MANAGEMENT_WRITE). Source:
   * io.trino.server.ServerInfoResource#updateState. Coordinators refuse `SHUTTING_DOWN`.
   * @param state - `SHUTTING_DOWN` (graceful shutdown), `DRAINING` (reversible drain, newer releases) or `ACTIVE`.
   * @throws TrinoAuthError (401/403) naming the access-control rule the caller lacks; TrinoHttpError otherwise.
   */
  async setState(state: RequestableNodeState, call: CallOptions = {}): Promise<void> {
    await this.#request('PUT', '/v1/info/state', JSON.stringify(state), call);
  }

  /**
   * `GET /v1/status` (PUBLIC): this node's CPU load and heap. Source: io.trino.server.StatusResource.
   * @throws TrinoTimeoutError | TrinoConnectionError | TrinoHttpError | TrinoResponseError
   */
  async getStatus(call: CallOptions = {}): Promise<NodeStatus> {
    return this.#getJson('/v1/status', NodeStatusSchema, call);
  }

  /**
   * `GET /v1/node` (MANAGEMENT_READ, coordinator): the remote nodes the coordinator's failure detector watches.
   * Source: io.trino.server.NodeResource#getNodeStats.
   * @throws TrinoAuthError when the user may not read system information; other Trino errors as usual.
   */
  async getNodes(call: CallOptions = {}): Promise<NodeHeartbeat[]> {
    return this.#getJson('/v1/node', NodeHeartbeatListSchema, call);
  }

  /**
   * `GET /v1/node/failed` (MANAGEMENT_READ, coordinator): nodes the failure detector considers failed.
   * Source: io.trino.server.NodeResource#getFailed.
   */
  async getFailedNodes(call: CallOptions = {}): Promise<NodeHeartbeat[]> {
    return this.#getJson('/v1/node/failed', NodeHeartbeatListSchema, call);
  }

  /**
   * `GET /v1/query` (AUTHENTICATED_USER, coordinator): queries the caller may view, running and recently finished.
   * Source: io.trino.server.QueryResource#getAllQueryInfo → BasicQueryInfo.
   * @param state - Optional server-side filter on query state.
   */
  async getQueries(state?: string, call: CallOptions = {}): Promise<BasicQueryInfo[]> {
    const path = state ? `/v1/query?state=${encodeURIComponent(state)}` : '/v1/query';
    return this.#getJson(path, BasicQueryInfoListSchema, call);
  }

  /**
   * `GET /v1/query/{queryId}` (the query's owner, or VIEW_QUERY access): the full QueryInfo of one query, running or
   * retained after it finished (`query.min-expire-age`, `query.max-history`).
   * Source: io.trino.server.QueryResource#getQueryInfo.
   * @throws TrinoHttpError 404 (status in `status`) when the coordinator no longer has the query.
   */
  async getQueryInfo(queryId: string, call: CallOptions = {}): Promise<QueryInfo> {
    return this.#getJson(`/v1/query/${encodeURIComponent(queryId)}`, QueryInfoSchema, call);
  }

  /**
   * `GET /v1/jmx/mbean/{objectName}` (MANAGEMENT_READ): one MBean with attribute values.
   * Source: io.airlift.jmx.MBeanResource#getMBean.
   * @param objectName - e.g. `trino.memory:type=ClusterMemoryPool,name=general`.
   */
  async getMBean(objectName: string, call: CallOptions = {}): Promise<MBean> {
    return this.#getJson(`/v1/jmx/mbean/${encodeURIComponent(objectName)}`, MBeanSchema, call);
  }

  /**
   * The coordinator's ClusterMemoryManager MBean under this flavor's name (./flavor.ts): `trino.memory:…` on
   * Trino, `com.facebook.presto.memory:…` on PrestoDB.
   * @throws TrinoAuthError when the user may not read system information (Trino); other Trino errors as usual.
   */
  async getClusterMemoryManager(call: CallOptions = {}): Promise<MBean> {
    return this.getMBean(ENGINE_NAMES[this.flavor].clusterMemoryMBean, call);
  }

  /**
   * PrestoDB's `GET /v1/cluster` (removed from current Trino). Source: com.facebook.presto.server.ClusterStatsResource.
   */
  async getPrestoClusterStats(call: CallOptions = {}): Promise<PrestoClusterStats> {
    return this.#getJson('/v1/cluster', PrestoClusterStatsSchema, call);
  }

  /**
   * The statement protocol page by page: `POST /v1/statement`, then `GET nextUri` until Trino sends none. Every page
   * is yielded as Trino sent it; a failed query's last page carries `error` (yielded, not thrown). Leaving the loop
   * stops following the query without cancelling it ({@link TrinoClient.cancelQuery} does).
   * Source: Trino client REST protocol, `POST /v1/statement` → io.trino.client.QueryResults, following `nextUri`.
   * @param sql - The statement.
   * @param call - Per-request timeout applies to each page; `signal` cancels the whole loop.
   * @throws TrinoTimeoutError | TrinoConnectionError | TrinoAuthError | TrinoHttpError | TrinoResponseError
   * @example
   * for await (const page of client.statement('SELECT 1')) console.log(page.stats.state, page.data);
   */
  async *statement(sql: string, call: CallOptions = {}): AsyncGenerator<QueryResults, void, undefined> {
    let page = this.#parse(
      '/v1/statement',
      await this.#request('POST', '/v1/statement', sql, call, 'text/plain'),
      QueryResultsSchema,
    );
    for (;;) {
      yield page;
      if (page.error || !page.nextUri) return;
      const next = new URL(page.nextUri);
      const path = `${next.pathname}${next.search}`;
      page = this.#parse(path, await this.#request('GET', path, undefined, call), QueryResultsSchema);
    }
  }

  /**
   * Runs one SQL statement through the statement protocol ({@link TrinoClient.statement}) and returns all rows. Meant
   * for small control-plane reads of `system.runtime.*`, not for large results.
   * @param sql - The statement.
   * @param call - Per-request timeout applies to each page; `signal` cancels the whole loop.
   * @returns Column names and rows (values as Trino's JSON encodes them).
   * @throws TrinoQueryError when Trino reports a query error (message and `errorName` kept); transport errors as usual.
   */
  async query(sql: string, call: CallOptions = {}): Promise<{ columns: string[]; rows: unknown[][] }> {
    const rows: unknown[][] = [];
    let columns: string[] = [];
    for await (const page of this.statement(sql, call)) {
      if (page.columns) columns = page.columns.map((c) => c.name);
      if (page.data) rows.push(...page.data);
      if (page.error) {
        throw new TrinoQueryError(`Trino query ${page.id} failed: ${page.error.message}`, {
          context: { queryId: page.id, errorName: page.error.errorName, errorType: page.error.errorType },
        });
      }
    }
    return { columns, rows };
  }

  /**
   * `DELETE /v1/query/{queryId}` (AUTHENTICATED_USER with the right to kill the query): cancels a query.
   * Source: io.trino.server.QueryResource#cancelQuery.
   * @throws TrinoAuthError when the caller may not kill it; other Trino errors as usual.
   */
  async cancelQuery(queryId: string, call: CallOptions = {}): Promise<void> {
    await this.#request('DELETE', `/v1/query/${encodeURIComponent(queryId)}`, undefined, call);
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.#agent.destroy();
  }

  async #getJson<S extends z.ZodType>(path: string, schema: S, call: CallOptions): Promise<z.infer<S>> {
    return this.#parse(path, await this.#request('GET', path, undefined, call), schema);
  }

  #parse<S extends z.ZodType>(path: string, response: RawResponse, schema: S): z.infer<S> {
    let json: unknown;
    try {
      json = JSON.parse(response.body);
    } catch (cause) {
      throw new TrinoResponseError(`Trino GET ${path} answered a body that is not JSON`, {
        cause,
        context: { path, bodyStart: response.body.slice(0, 200) },
      });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new TrinoResponseError(
        `Trino GET ${path} answered an unexpected shape: ${issues.slice(0, 5).join('; ')}`,
        { cause: parsed.error, context: { path, issues: issues.slice(0, 20) } },
      );
    }
    return parsed.data;
  }

  #headers(body: string | undefined, contentType: string): Record<string, string> {
    const headers: Record<string, string> = {
      // Trino 435 answers 406 to PUT /v1/info/state with a strict JSON Accept header.
      accept: 'application/json, */*;q=0.5',
      [ENGINE_NAMES[this.flavor].userHeader]: this.#options.user,
      'user-agent': 'trino-sentinel',
    };
    const auth = this.#options.auth ?? { type: 'none' };
    if (auth.type === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    } else if (auth.type === 'bearer') {
      headers.authorization = `Bearer ${auth.token}`;
    }
    if (body !== undefined) {
      headers['content-type'] = contentType;
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return headers;
  }

  #request(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    body: string | undefined,
    call: CallOptions,
    contentType = 'application/json',
  ): Promise<RawResponse> {
    const timeoutMs = call.timeoutMs ?? this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxBytes = this.#options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = call.signal ? AbortSignal.any([timeout, call.signal]) : timeout;
    const context = { method, path, node: this.baseUrl, timeoutMs };
    const target = new URL(path, this.#url);
    const transport = target.protocol === 'https:' ? https : http;

    return new Promise<RawResponse>((resolve, reject) => {
      const fail = (error: unknown): void => {
        if (timeout.aborted) {
          reject(
            new TrinoTimeoutError(
              `Trino ${method} ${path} on ${this.baseUrl} timed out after ${timeoutMs} ms`,
              {
                cause: error,
                context,
              },
            ),
          );
        } else if (call.signal?.aborted) {
          reject(call.signal.reason);
        } else {
          const code = errorCode(error);
          const kind = code && CONNECTION_ERROR_CODES.has(code) ? code : 'connection failure';
          reject(
            new TrinoConnectionError(`Trino ${method} ${path} on ${this.baseUrl} failed: ${kind}`, {
              cause: error,
              context: { ...context, code },
            }),
          );
        }
      };
      const request = transport.request(
        target,
        { method, headers: this.#headers(body, contentType), agent: this.#agent, signal },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) {
              // Reject first: destroying the response also fails the request, and the first rejection wins.
              reject(
                new TrinoResponseError(`Trino ${method} ${path} answered more than ${maxBytes} bytes`, {
                  context,
                }),
              );
              response.destroy();
              return;
            }
            chunks.push(chunk);
          });
          response.on('error', (error) =>
            error instanceof TrinoResponseError ? reject(error) : fail(error),
          );
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            if (status >= 200 && status < 300) {
              resolve({ status, body: text });
            } else {
              reject(this.#httpError(method, path, status, text));
            }
          });
        },
      );
      request.on('error', fail);
      request.end(body);
    });
  }

  #httpError(method: string, path: string, status: number, body: string): TrinoHttpError {
    const context = { method, path, node: this.baseUrl };
    if (status === 401 || status === 403) {
      const user = this.#options.user;
      const right = method === 'GET' ? 'read' : 'write';
      const hint =
        status === 401
          ? 'the credentials were refused or missing (check the user, password/token and the authentication type)'
          : `the access control must let user "${user}" ${right} system information ` +
            `(file-based access control: "system_information": [{"user": "${user}", "allow": ["read", "write"]}] ` +
            'on the coordinator and every worker)';
      return new TrinoAuthError(
        `Trino refused ${method} ${path} on ${this.baseUrl} (${status}): ${hint}`,
        status,
        body,
        context,
      );
    }
    return new TrinoHttpError(
      `Trino ${method} ${path} on ${this.baseUrl} answered ${status}`,
      status,
      body,
      context,
    );
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}
