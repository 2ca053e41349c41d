/**
 * Test infrastructure (the deployed topology, issue 10): the local cloud's single AWS endpoint. Every Lambda,
 * instance and tool of the topology has `AWS_ENDPOINT_URL` pointing here (in AWS they would reach the regional
 * endpoints `https://<service>.<region>.amazonaws.com`). Each request is routed by the **service of its SigV4
 * credential scope** (`Authorization: AWS4-HMAC-SHA256 Credential=<akid>/<date>/<region>/<service>/aws4_request`,
 * or `X-Amz-Credential` of a presigned URL) through a route table; everything not claimed by a route goes to moto.
 *
 * Requests are forwarded byte for byte: method, path and query (the raw request target), every header as received
 * (names, case, order and duplicates, `Host` included — moto recomputes the SigV4 signature from them when its IAM
 * authentication is on) and the body. Responses come back the same way.
 *
 * Source: AWS General Reference, "Signature Version 4 signing process" (credential scope
 * `date/region/service/aws4_request`; the service is the *signing name*, e.g. `monitoring` for CloudWatch,
 * `states` for Step Functions, `autoscaling` for EC2 Auto Scaling).
 *
 * @module
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

/** One route: requests whose credential-scope service is `service` (and that `match`, when given) go to `url`. */
export interface AwsRoute {
  /** SigV4 signing name, e.g. `lambda`, `states`, `autoscaling`, `monitoring`, `sqs`. */
  readonly service: string;
  /** Upstream base URL, `http://host:port` (path and query of the request are kept). */
  readonly url: string;
  /**
   * Narrows the route (first matching route wins).
   * @param method - HTTP method.
   * @param path - The raw request target: path and query, as received.
   * @param body - The request body.
   */
  readonly match?: (method: string, path: string, body: Buffer) => boolean;
  /** Name for log lines (default: the service). */
  readonly name?: string;
}

/** Route table of {@link startAwsEndpoint}. */
export interface AwsRouteTable {
  /** Upstream for every request no route claims (moto). */
  readonly default: string;
  /** Routes, tried in order. */
  readonly routes: readonly AwsRoute[];
}

/** A listen address; `port` 0 or absent = a free port. */
export interface ListenAddress {
  readonly host: string;
  readonly port?: number;
  /**
   * Serve HTTPS with this certificate (e.g. one the run's CA issued for `sqs.us-east-1.amazonaws.com`: the private
   * DNS name of an interface VPC endpoint, which SDKs reach by a URL the API returned, such as SQS's `QueueUrl`).
   */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
}

/** Options of {@link startAwsEndpoint}. */
export interface AwsEndpointOptions {
  /** Addresses to listen on, e.g. `[{ host: '10.42.250.2', port: 443 }, { host: '127.0.0.1' }]` (plain HTTP). */
  readonly listen: readonly ListenAddress[];
  readonly routes: AwsRouteTable;
  readonly log: (line: string) => void;
  /** Log one line per request (service, method, path, route, status, ms). Default false: only failures. */
  readonly logRequests?: boolean;
  /** Largest request body accepted, in bytes (default 64 MiB); larger answers 413. */
  readonly maxBodyBytes?: number;
  /** Upstream timeout in ms (default 15 min: Lambda's longest synchronous invocation plus margin). */
  readonly upstreamTimeoutMs?: number;
  /**
   * The optional request log: called once per request after its answer, with who asked for what (e.g. to evaluate
   * every call against IAM, harness/iam/). Off by default; the record holds the request's parameters (test data).
   */
  readonly onRequest?: (record: AwsRequestRecord) => void;
}

/** One request as the endpoint saw it ({@link AwsEndpointOptions.onRequest}). */
export interface AwsRequestRecord {
  /** The access key id of the SigV4 credential (a role session's `ASIA…` key), or undefined for an unsigned request. */
  readonly accessKeyId: string | undefined;
  /** The SigV4 signing name, e.g. `ec2`, `ssm`, `states`. */
  readonly service: string | undefined;
  /** The operation: `X-Amz-Target`'s, the query `Action`, or `<METHOD> <path>` for a REST request. */
  readonly operation: string;
  /** The parameters: the JSON body, or the query/form fields but `Action` and `Version`; `{}` for REST. */
  readonly params: Readonly<Record<string, unknown>>;
  /** The HTTP status returned. */
  readonly status: number;
}

/** A running endpoint. */
export interface AwsEndpoint {
  /** One base URL per listen address, e.g. `http://127.0.0.1:40123`. */
  readonly urls: readonly string[];
  /** Replaces the route table (services of the topology start one after another). */
  setRoutes(routes: AwsRouteTable): void;
  /** Requests routed so far, by route name (or `default`). */
  readonly counts: ReadonlyMap<string, number>;
  /** Closes every listener (and open connections). Idempotent. */
  stop(): Promise<void>;
}

/**
 * The service of a request's SigV4 credential scope: from `Authorization` (SigV4 or SigV4a) or, for a presigned URL,
 * from the `X-Amz-Credential` query parameter.
 * @param authorization - The `Authorization` header, if any.
 * @param target - The raw request target (path and query).
 * @returns The signing name, or undefined for an unsigned request.
 * @example sigV4Service('AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/lambda/aws4_request, …', '/') // 'lambda'
 */
export function sigV4Service(authorization: string | undefined, target: string): string | undefined {
  let credential = authorization === undefined ? undefined : /Credential=([^,\s]+)/.exec(authorization)?.[1];
  if (credential === undefined) {
    const query = target.indexOf('?');
    if (query >= 0)
      credential = new URLSearchParams(target.slice(query + 1)).get('X-Amz-Credential') ?? undefined;
  }
  if (credential === undefined) return undefined;
  const parts = credential.split('/');
  const end = parts.lastIndexOf('aws4_request');
  return end >= 1 ? parts[end - 1] : undefined;
}

/**
 * The access key id of a request's SigV4 credential (`Credential=<akid>/…`, or `X-Amz-Credential` of a presigned URL).
 * @param authorization - The `Authorization` header, if any.
 * @param target - The raw request target (path and query).
 * @returns The access key id, or undefined for an unsigned request.
 * @example sigV4AccessKeyId('AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261130/us-east-1/ec2/aws4_request, …', '/') // 'ASIAEXAMPLE'
 */
export function sigV4AccessKeyId(authorization: string | undefined, target: string): string | undefined {
  let credential = authorization === undefined ? undefined : /Credential=([^,\s]+)/.exec(authorization)?.[1];
  if (credential === undefined) {
    const query = target.indexOf('?');
    credential =
      query >= 0
        ? (new URLSearchParams(target.slice(query + 1)).get('X-Amz-Credential') ?? undefined)
        : undefined;
  }
  const key = credential?.split('/')[0];
  return key === undefined || key === '' ? undefined : key;
}

/**
 * The operation and parameters of a request, by protocol: JSON (`X-Amz-Target: AmazonSSM.GetParameter`, JSON body),
 * query (`Action=…` in the form body or the query string: EC2, Auto Scaling, CloudWatch, STS, SNS), else REST
 * (`<METHOD> <path>`, e.g. Lambda's Invoke).
 * Source: AWS SDK protocols awsJson1_0/awsJson1_1, awsQuery/ec2Query, restJson1.
 * @example awsOperation('POST', '/', 'AmazonSSM.GetParameter', Buffer.from('{"Name":"/p"}')) // { operation: 'GetParameter', params: { Name: '/p' } }
 */
export function awsOperation(
  method: string,
  target: string,
  amzTarget: string | undefined,
  body: Buffer,
): { operation: string; params: Record<string, unknown> } {
  if (amzTarget !== undefined) {
    let params: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8') || '{}');
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        params = Object.fromEntries(Object.entries(parsed));
    } catch {
      params = {};
    }
    return { operation: amzTarget.slice(amzTarget.lastIndexOf('.') + 1), params };
  }
  const action = queryAction(method, target, body);
  if (action !== undefined) {
    const query = target.indexOf('?');
    const fields = new URLSearchParams(query >= 0 ? target.slice(query + 1) : '');
    if (method === 'POST')
      for (const [key, value] of new URLSearchParams(body.toString('utf8'))) fields.append(key, value);
    const params: Record<string, unknown> = {};
    for (const [key, value] of fields) if (key !== 'Action' && key !== 'Version') params[key] = value;
    return { operation: action, params };
  }
  const query = target.indexOf('?');
  return { operation: `${method} ${query >= 0 ? target.slice(0, query) : target}`, params: {} };
}

/**
 * The `Action` of a query-protocol request (Auto Scaling, EC2, SQS query, STS, CloudWatch query…): from the
 * form-encoded body of a POST, else from the query string.
 * @returns The action name, or undefined.
 * @example queryAction('POST', '/', Buffer.from('Action=CompleteLifecycleAction&Version=2011-01-01')) // 'CompleteLifecycleAction'
 */
export function queryAction(method: string, path: string, body: Buffer): string | undefined {
  if (method === 'POST' && body.length > 0) {
    const action = new URLSearchParams(body.toString('utf8')).get('Action');
    if (action) return action;
  }
  const query = path.indexOf('?');
  return query >= 0 ? (new URLSearchParams(path.slice(query + 1)).get('Action') ?? undefined) : undefined;
}

/**
 * A {@link AwsRoute.match} for query-protocol actions.
 * @example { service: 'autoscaling', url: lifecycleUrl, match: queryActions('CompleteLifecycleAction', 'RecordLifecycleActionHeartbeat') }
 */
export function queryActions(...actions: string[]): (method: string, path: string, body: Buffer) => boolean {
  const wanted = new Set(actions);
  return (method, path, body) => {
    const action = queryAction(method, path, body);
    return action !== undefined && wanted.has(action);
  };
}

/**
 * Whether a request is Lambda's `Invoke`: `POST /2015-03-31/functions/{FunctionName}/invocations`.
 * Source: AWS Lambda API Reference, Invoke.
 */
export function isLambdaInvoke(method: string, path: string): boolean {
  return method === 'POST' && /^\/2015-03-31\/functions\/[^/?]+\/invocations(\?|$)/.test(path);
}

/**
 * Whether a request uploads function code: `CreateFunction` (`POST /2015-03-31/functions`) or `UpdateFunctionCode`
 * (`PUT /2015-03-31/functions/{FunctionName}/code`). Source: AWS Lambda API Reference.
 */
export function isLambdaCodeUpload(method: string, path: string): boolean {
  return (
    (method === 'POST' && /^\/2015-03-31\/functions\/?(\?|$)/.test(path)) ||
    (method === 'PUT' && /^\/2015-03-31\/functions\/[^/?]+\/code\/?(\?|$)/.test(path))
  );
}

/**
 * The routes of the Lambda service (`lambda-service.ts`): `Invoke`, plus `CreateFunction`/`UpdateFunctionCode`
 * (the service keeps the uploaded zip, like Lambda copies the code at create time, then forwards them to moto).
 * Every other `lambda` request falls through to moto.
 * @param url - The Lambda service's base URL.
 */
export function lambdaServiceRoutes(url: string): AwsRoute[] {
  return [
    { service: 'lambda', url, name: 'lambda-invoke', match: (method, path) => isLambdaInvoke(method, path) },
    {
      service: 'lambda',
      url,
      name: 'lambda-code',
      match: (method, path) => isLambdaCodeUpload(method, path),
    },
  ];
}

/** Reads a request body, up to `maxBytes`. @returns undefined when the body is larger. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > maxBytes) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Forwards a request byte for byte to `upstream` and streams the answer back (status, raw headers, body).
 * @param req - The incoming request (its method, raw target and raw headers are used; its body is `body`).
 * @param body - The request body, already read.
 * @param upstream - Base URL, `http://host:port`.
 * @param res - Where the answer goes.
 * @param timeoutMs - Upstream socket timeout.
 * @returns The upstream status code (502 when the upstream could not be reached).
 */
export function forward(
  req: IncomingMessage,
  body: Buffer,
  upstream: string,
  res: ServerResponse,
  timeoutMs: number,
): Promise<number> {
  const target = new URL(upstream);
  return new Promise((resolve) => {
    const out = httpRequest({
      host: target.hostname,
      port: target.port === '' ? 80 : Number(target.port),
      method: req.method,
      path: req.url,
      // As received: names, case, order, duplicates, Host included (the signature covers them).
      headers: req.rawHeaders,
      setHost: false,
      timeout: timeoutMs,
    });
    out.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      answer.pipe(res);
      answer.on('end', () => resolve(answer.statusCode ?? 502));
      answer.on('error', () => resolve(answer.statusCode ?? 502));
    });
    out.on('timeout', () => out.destroy(new Error(`no answer from ${upstream} within ${timeoutMs} ms`)));
    out.on('error', (error) => {
      if (!res.headersSent) {
        sendError(res, 502, 'ServiceUnavailableException', `upstream ${upstream} failed: ${error.message}`);
      } else {
        res.destroy(error);
      }
      resolve(502);
    });
    out.end(body);
  });
}

/**
 * Answers an AWS-style JSON error (`x-amzn-ErrorType` header plus `{"Type","message"}` body: what restJson1 and
 * awsJson SDK parsers read).
 */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  extra: Record<string, string> = {},
): void {
  const body = JSON.stringify({ Type: status < 500 ? 'User' : 'Service', message, ...extra });
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-errortype': code,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * Starts the front AWS endpoint on every listen address.
 * @throws Error when an address cannot be bound (e.g. `EADDRNOTAVAIL` outside the namespace that owns it).
 * @example
 * const endpoint = await startAwsEndpoint({
 *   listen: [{ host: '127.0.0.1' }],
 *   routes: { default: moto.endpoint, routes: [...lambdaServiceRoutes(lambda.url)] },
 *   log: console.log,
 * });
 */
export async function startAwsEndpoint(options: AwsEndpointOptions): Promise<AwsEndpoint> {
  let table = options.routes;
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const timeoutMs = options.upstreamTimeoutMs ?? 15 * 60_000;
  const counts = new Map<string, number>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = Date.now();
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined) {
      sendError(res, 413, 'RequestEntityTooLargeException', `request body larger than ${maxBodyBytes} bytes`);
      return;
    }
    const authorization = req.headers.authorization;
    const service = sigV4Service(Array.isArray(authorization) ? authorization[0] : authorization, target);
    const route =
      service === undefined
        ? undefined
        : table.routes.find((r) => r.service === service && (r.match?.(method, target, body) ?? true));
    const name = route === undefined ? 'default' : (route.name ?? route.service);
    counts.set(name, (counts.get(name) ?? 0) + 1);
    const status = await forward(req, body, route?.url ?? table.default, res, timeoutMs);
    if (options.onRequest !== undefined) {
      const amzTarget = req.headers['x-amz-target'];
      options.onRequest({
        accessKeyId: sigV4AccessKeyId(
          Array.isArray(authorization) ? authorization[0] : authorization,
          target,
        ),
        service,
        ...awsOperation(method, target, Array.isArray(amzTarget) ? amzTarget[0] : amzTarget, body),
        status,
      });
    }
    if (options.logRequests || status === 502) {
      options.log(
        `aws-endpoint: ${service ?? '(unsigned)'} ${method} ${target.slice(0, 120)} → ${name} ${status} in ${Date.now() - started} ms`,
      );
    }
  };

  const servers = await Promise.all(
    options.listen.map(
      (address) =>
        new Promise<{ server: ReturnType<typeof createServer>; url: string }>((resolve, reject) => {
          const listener = (req: IncomingMessage, res: ServerResponse) => {
            handle(req, res).catch((error: unknown) => {
              options.log(`aws-endpoint: ${req.method} ${req.url} failed: ${String(error)}`);
              if (!res.headersSent) sendError(res, 500, 'ServiceException', String(error));
              else res.destroy();
            });
          };
          const server = address.tls
            ? createHttpsServer({ cert: address.tls.certPem, key: address.tls.keyPem }, listener)
            : createServer(listener);
          server.keepAliveTimeout = 5_000;
          server.once('error', reject);
          server.listen(address.port ?? 0, address.host, () => {
            const bound = server.address();
            const port = typeof bound === 'object' && bound !== null ? bound.port : 0;
            const host = address.host.includes(':') ? `[${address.host}]` : address.host;
            resolve({ server, url: `${address.tls ? 'https' : 'http'}://${host}:${port}` });
          });
        }),
    ),
  );
  const urls = servers.map((s) => s.url);
  options.log(`aws-endpoint: listening on ${urls.join(', ')} (default → ${table.default})`);
  let stopped = false;
  return {
    urls,
    counts,
    setRoutes(routes) {
      table = routes;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(
        servers.map(
          ({ server }) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
}
