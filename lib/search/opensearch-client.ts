/**
 * The official OpenSearch JavaScript client (`@opensearch-project/opensearch`), assembled from its own parts
 * through subpath imports: `Transport` (retries, request timeout, serialization, the `ResponseError`s with
 * `meta.statusCode` we read), `ConnectionPool` + `Connection` (keep-alive HTTP/HTTPS, basic auth, TLS) and
 * `Serializer` (JSON, NDJSON for `_bulk`, prototype-poisoning protection), plus its `AwsSigv4Signer` for Amazon
 * OpenSearch Service. Exactly what `new Client(opts)` builds for these options (lib/Client.js), without
 * `OpenSearchAPI`: `Client` extends it, and it `require`s all of its ~40 API namespaces (≈ 200 KB of a 260 KB
 * client in the bundle) while the query-log sink calls `_bulk` and `transport.request` only.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import * as connectionModule from '@opensearch-project/opensearch/lib/Connection.js';
import { ConnectionPool } from '@opensearch-project/opensearch/lib/pool/index.js';
import * as serializerModule from '@opensearch-project/opensearch/lib/Serializer.js';
import type {
  ApiResponse,
  TransportRequestOptions,
  TransportRequestParams,
} from '@opensearch-project/opensearch/lib/Transport.js';
import * as transportModule from '@opensearch-project/opensearch/lib/Transport.js';

/**
 * The class a CommonJS module exports as `module.exports = Class`. Its namespace's `default` is the class in Node
 * and in esbuild's bundle, while its typings (`export default class` in a CommonJS `.d.ts`) make TypeScript see
 * one `default` deeper: accept either shape.
 */
function classOf<C>(exported: { readonly default: C } | C): C {
  return typeof exported === 'function' ? (exported as C) : (exported as { readonly default: C }).default;
}
const Transport = classOf(transportModule.default);
const Connection = classOf(connectionModule.default);
const Serializer = classOf(serializerModule.default);

/** What the query-log sink needs of a client: the transport and `_bulk`. */
export interface SearchClient {
  readonly transport: {
    request(params: TransportRequestParams, options?: TransportRequestOptions): Promise<ApiResponse>;
  };
  /** `POST /_bulk` with an NDJSON body of action and document lines (what `Client#bulk({ body })` sends). */
  bulk(params: { readonly body: readonly Record<string, unknown>[] }): Promise<ApiResponse>;
}

/** Options of {@link createSearchClient}: the subset of the client's options we use. */
export interface SearchClientOptions {
  /** Engine URL, e.g. `https://search-…es.amazonaws.com` or `https://10.0.1.20:9200`. */
  readonly node: string;
  readonly auth?: { readonly username: string; readonly password: string };
  /** Per-request timeout, ms. */
  readonly requestTimeout: number;
  /** Retries of a failed request on another connection (default 0 here: our callers retry through SQS). */
  readonly maxRetries: number;
  /** `Connection` and `Transport` of `AwsSigv4Signer(...)` (from `@opensearch-project/opensearch/aws-v3`). */
  readonly signer?: { readonly Connection: typeof Connection; readonly Transport: typeof Transport };
}

/**
 * Builds the client with the official defaults of `new Client()` for everything not in {@link SearchClientOptions}
 * (no sniffing, no compression, `resurrectStrategy: 'ping'`, round-robin, prototype-poisoning protection on).
 * @throws ConfigurationError (the client's) when `node` is not a URL.
 */
export function createSearchClient(options: SearchClientOptions): SearchClient {
  const TransportClass = options.signer?.Transport ?? Transport;
  const events = new EventEmitter();
  const emit = events.emit.bind(events);
  const serializer = new Serializer({
    disablePrototypePoisoningProtection: false,
    enableLongNumeralSupport: false,
  });
  const connectionPool = new ConnectionPool({
    Connection: options.signer?.Connection ?? Connection,
    pingTimeout: 3_000,
    resurrectStrategy: 'ping',
    ...(options.auth === undefined ? {} : { auth: { ...options.auth } }),
    emit,
    sniffEnabled: false,
  });
  connectionPool.addConnection(options.node);
  const transport = new TransportClass({
    emit,
    connectionPool,
    serializer,
    maxRetries: options.maxRetries,
    requestTimeout: options.requestTimeout,
    // No sniffInterval: the client passes `false`, i.e. "not a number" = no sniffing.
    sniffOnStart: false,
    sniffOnConnectionFault: false,
    sniffEndpoint: '_nodes/_all/http',
    suggestCompression: false,
    headers: {},
    nodeSelector: 'round-robin',
    name: 'opensearch-js',
    ...(options.auth === undefined ? {} : { auth: { ...options.auth } }),
  });
  return {
    transport: {
      request: (params, requestOptions) => transport.request(params, requestOptions),
    },
    bulk: ({ body }) =>
      transport.request({ method: 'POST', path: '/_bulk', querystring: {}, bulkBody: [...body] }),
  };
}
