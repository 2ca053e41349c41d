/**
 * Test infrastructure: a local stand-in for a Lambda Function URL. A node:http server on loopback turns each
 * request into a payload-format-2.0 event (the `APIGatewayProxyEventV2` shape Function URLs deliver), invokes a
 * handler in-process with a local context, and writes the handler's response. Used by integration tests and the
 * sandbox to point real services (Trino's HTTP event listener) at a handler; never by production code.
 *
 * Fidelity: header names lower-cased and repeated headers joined with `,`; `cookies` split out; the body
 * base64-encoded (`isBase64Encoded: true`) unless its content type is textual (`text/*`, JSON, XML, JavaScript,
 * form data), as Function URLs do; requests over Lambda's 6 MB synchronous payload limit answered 413 without
 * invoking; a handler that throws answered 502 `Internal Server Error`, as a Function URL does.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { localContext } from './invoke.ts';

/** Lambda's limit on a synchronous invocation's request payload (bytes). */
export const FUNCTION_URL_MAX_REQUEST_BYTES = 6 * 1024 * 1024;

/** What a handler may return (payload format 2.0 response; a plain string or object becomes a JSON 200). */
export interface FunctionUrlResponse {
  readonly statusCode?: number;
  readonly headers?: Readonly<Record<string, string | number | boolean>>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly cookies?: readonly string[];
}

/** A handler as the Lambda runtime sees it (a middy handler qualifies). */
export type FunctionUrlHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

/** One request the server received, with what the handler answered. */
export interface FunctionUrlExchange {
  readonly event: APIGatewayProxyEventV2;
  readonly statusCode: number;
  readonly responseBody: string;
  /** When the handler answered (epoch ms). */
  readonly atMs: number;
}

/** A running local Function URL. */
export interface LocalFunctionUrl {
  /** Base URL, e.g. `http://127.0.0.1:41234/`. */
  readonly url: string;
  readonly port: number;
  /** Every request so far, in arrival order. */
  readonly exchanges: FunctionUrlExchange[];
  close(): Promise<void>;
}

const TEXT_TYPES = /^(text\/|application\/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded))/i;

/**
 * Builds the Function URL event for one request. Pure apart from the request id and clock.
 * @param request - Method, URL (path and query), headers as node:http gives them, and the raw body.
 * @returns A payload-format-2.0 event.
 */
export function toFunctionUrlEvent(request: {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly sourceIp: string;
  /**
   * The Function URL's host, `<url-id>.lambda-url.<region>.on.aws` (the deployed-topology frontend passes it);
   * its first label becomes `domainPrefix` and `apiId`. Default: a local stand-in name.
   */
  readonly domainName?: string;
}): APIGatewayProxyEventV2 {
  const url = new URL(request.url, 'http://localhost');
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (lower === 'cookie') {
      cookies = (Array.isArray(value) ? value.join('; ') : value).split(/;\s*/).filter(Boolean);
      continue;
    }
    headers[lower] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = key in query ? `${query[key]},${value}` : value;
  const textual = TEXT_TYPES.test(headers['content-type'] ?? '');
  const now = new Date();
  const domainPrefix = request.domainName?.split('.')[0] ?? 'local-function-url';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    ...(cookies ? { cookies } : {}),
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId: domainPrefix,
      domainName: request.domainName ?? headers.host ?? `${domainPrefix}.lambda-url.us-east-1.on.aws`,
      domainPrefix,
      http: {
        method: request.method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: request.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(request.body.length > 0
      ? textual
        ? { body: request.body.toString('utf8'), isBase64Encoded: false }
        : { body: request.body.toString('base64'), isBase64Encoded: true }
      : { isBase64Encoded: false }),
  };
}

function isResponse(value: unknown): value is FunctionUrlResponse {
  return typeof value === 'object' && value !== null && 'statusCode' in value;
}

/**
 * Turns what a function returned into the HTTP answer a Function URL sends: a payload-format-2.0 response
 * (`statusCode`, `headers`, `body`, `isBase64Encoded`, `cookies`) as given; anything else as a JSON 200.
 * Source: AWS Lambda Developer Guide, "Invoking Lambda function URLs" (response payload format).
 * @param result - The function's answer (parsed JSON).
 */
export function toFunctionUrlHttpResponse(result: unknown): {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
} {
  const response: FunctionUrlResponse = isResponse(result)
    ? result
    : { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(result) };
  const body = response.isBase64Encoded
    ? Buffer.from(response.body ?? '', 'base64')
    : Buffer.from(response.body ?? '', 'utf8');
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(response.headers ?? {})) headers[k] = String(v);
  if (response.cookies && response.cookies.length > 0) headers['set-cookie'] = [...response.cookies];
  return { statusCode: response.statusCode ?? 200, headers, body };
}

/**
 * Starts a local Function URL on 127.0.0.1 that invokes `handler` for every request.
 * @param handler - The Lambda handler (e.g. `makeHandler(deps)`).
 * @param options - `port` (default: any free port), `functionName` for the local context.
 * @returns The running server; `close()` stops it.
 * @example
 * const fn = await startFunctionUrl(makeHandler(deps));
 * await startTrinoCluster({ line: 'newest', eventListener: { ingestUri: fn.url, headers } });
 */
export async function startFunctionUrl(
  handler: FunctionUrlHandler,
  options: { readonly port?: number; readonly functionName?: string } = {},
): Promise<LocalFunctionUrl> {
  const exchanges: FunctionUrlExchange[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > FUNCTION_URL_MAX_REQUEST_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) {
        res.writeHead(413, { 'content-type': 'application/json' }).end('{"message":"Request Too Long"}');
        return;
      }
      const event = toFunctionUrlEvent({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      });
      handler(event, localContext(options.functionName ?? 'local-function-url'))
        .then((result) => {
          const { statusCode, headers, body } = toFunctionUrlHttpResponse(result);
          exchanges.push({ event, statusCode, responseBody: body.toString('utf8'), atMs: Date.now() });
          res.writeHead(statusCode, headers).end(body);
        })
        .catch(() => {
          exchanges.push({ event, statusCode: 502, responseBody: 'Internal Server Error', atMs: Date.now() });
          res
            .writeHead(502, { 'content-type': 'application/json' })
            .end('{"message":"Internal Server Error"}');
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('the local Function URL has no TCP port');
  const { port } = address;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
