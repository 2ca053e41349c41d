/**
 * Test infrastructure: the Lambda Function URL frontend of the local cloud. Every Function URL is read **from
 * the emulator as deployed** (`ListFunctions` + `GetFunctionUrlConfig`; re-read when a request names a host
 * not yet known); requests to `https://<url-id>.lambda-url.<region>.on.aws` are served over HTTPS on the address
 * the topology gives (certificate for `*.lambda-url.<region>.on.aws` from the run's CA: the instances trust
 * that CA and map the host to this address in /etc/hosts), turned into the payload format 2.0 event
 * (harness/function-url.ts `toFunctionUrlEvent`), passed to the function through the Lambda Invoke API
 * (synchronous), and the function's answer turned back into HTTP (`toFunctionUrlHttpResponse`).
 *
 * Behaviour as a Function URL: an unknown host → 403 `{"Message":"Forbidden"}`; `AuthType AWS_IAM` → 403 (only
 * `NONE` is served: SigV4 verification of callers is not emulated — our stack uses NONE); a request body over
 * 6 MB → 413; a function error or a failed invoke → 502 `{"Message":"Internal Server Error"}`; a throttled
 * invoke → 429. Adds `x-forwarded-for`, `x-forwarded-proto`, `x-forwarded-port` and `x-amzn-trace-id`.
 *
 * Source: AWS Lambda Developer Guide, "Invoking Lambda function URLs" (request and response payloads),
 * "Lambda function URLs" (URL format, auth types).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  GetFunctionUrlConfigCommand,
  type GetFunctionUrlConfigCommandOutput,
  LambdaClient,
  ListFunctionsCommand,
} from '@aws-sdk/client-lambda';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import {
  FUNCTION_URL_MAX_REQUEST_BYTES,
  toFunctionUrlEvent,
  toFunctionUrlHttpResponse,
} from '../function-url.ts';
import type { EmulatorClientConfig } from '../moto.ts';
import { type CertificateAuthority, issueServerCertificate } from './certificate-authority.ts';
import { InvokeApiError, invokeFunction, makeInvokeClient } from './invoke-api.ts';

/** One Function URL as deployed. */
export interface DeployedFunctionUrl {
  /** e.g. `https://0f1e….lambda-url.us-east-1.on.aws/`. */
  readonly functionUrl: string;
  /** `<url-id>.lambda-url.<region>.on.aws`. */
  readonly host: string;
  readonly functionArn: string;
  readonly authType: string;
}

/** One request served. */
export interface FunctionUrlRequestRecord {
  readonly host: string;
  readonly functionArn: string | undefined;
  readonly event: APIGatewayProxyEventV2 | undefined;
  readonly statusCode: number;
  readonly atMs: number;
}

/** The running frontend. */
export interface LocalFunctionUrls {
  /** Where it listens. */
  readonly address: { readonly host: string; readonly port: number };
  /** The certificate the frontend serves (issued by the run's CA). */
  readonly certificatePem: string;
  /** Every request, in arrival order. */
  readonly requests: readonly FunctionUrlRequestRecord[];
  /** Re-reads the Function URLs from the emulator and returns them. */
  refresh(): Promise<readonly DeployedFunctionUrl[]>;
  stop(): Promise<void>;
}

/** Options of {@link startFunctionUrls}. */
export interface FunctionUrlsOptions {
  /** moto, where functions and their URL configs live. */
  readonly aws: EmulatorClientConfig;
  /** The Lambda Invoke API (front endpoint in the topology; a labelled double in tests). */
  readonly invoke: EmulatorClientConfig;
  /** The run's CA (see certificate-authority.ts). */
  readonly ca: CertificateAuthority;
  /** Address to listen on, e.g. `{ host: '10.42.250.4', port: 443 }` (port 0: any free port). */
  readonly listen: { readonly host: string; readonly port: number };
  readonly log?: (line: string) => void;
}

const HOST_PATTERN = /^([a-z0-9]+)\.lambda-url\.([a-z0-9-]+)\.on\.aws$/;

function json(status: number, message: string): { status: number; body: string } {
  return { status, body: JSON.stringify({ Message: message }) };
}

/**
 * Starts the HTTPS frontend.
 * @throws Error when the certificate cannot be issued or the address cannot be bound.
 * @example
 * const ca = await createCertificateAuthority();
 * const urls = await startFunctionUrls({ aws: moto.clientConfig, invoke, ca, listen: { host: '127.0.0.1', port: 0 } });
 */
export async function startFunctionUrls(options: FunctionUrlsOptions): Promise<LocalFunctionUrls> {
  const log = options.log ?? (() => undefined);
  const region = options.aws.region;
  const lambda = new LambdaClient({
    endpoint: options.aws.endpoint,
    region,
    credentials: options.aws.credentials,
  });
  const invoker = makeInvokeClient(options.invoke);
  const certificate = await issueServerCertificate(options.ca, [`*.lambda-url.${region}.on.aws`]);
  const byHost = new Map<string, DeployedFunctionUrl>();
  const requests: FunctionUrlRequestRecord[] = [];

  async function refresh(): Promise<readonly DeployedFunctionUrl[]> {
    const found: DeployedFunctionUrl[] = [];
    let marker: string | undefined;
    for (let page = 0; page < 100; page++) {
      const out = await lambda.send(new ListFunctionsCommand(marker ? { Marker: marker } : {}));
      for (const fn of out.Functions ?? []) {
        // GetFunctionUrlConfig, not ListFunctionUrlConfigs: moto 5.2.5 has no route for the latter (HTTP 404
        // with an HTML page). One URL per function (the unqualified one: our stack has no aliases).
        let config: GetFunctionUrlConfigCommandOutput;
        try {
          config = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: fn.FunctionName }));
        } catch (error) {
          if (error instanceof Error && error.name === 'ResourceNotFoundException') continue;
          throw error;
        }
        found.push({
          functionUrl: config.FunctionUrl ?? '',
          host: new URL(config.FunctionUrl ?? 'https://invalid/').hostname,
          functionArn: config.FunctionArn ?? fn.FunctionArn ?? '',
          authType: config.AuthType ?? 'NONE',
        });
      }
      marker = out.NextMarker;
      if (!marker) break;
    }
    byHost.clear();
    for (const url of found) byHost.set(url.host, url);
    return found;
  }

  async function lookup(host: string): Promise<DeployedFunctionUrl | undefined> {
    return byHost.get(host) ?? (await refresh()).find((u) => u.host === host);
  }

  async function serve(request: {
    method: string;
    url: string;
    headers: IncomingHttpHeaders;
    body: Buffer;
    sourceIp: string;
    servername: string | undefined;
    port: number;
  }): Promise<{
    status: number;
    headers?: Record<string, string | string[]>;
    body: Buffer | string;
    record: FunctionUrlRequestRecord;
  }> {
    const host = (request.headers.host ?? request.servername ?? '').replace(/:\d+$/, '').toLowerCase();
    const base = { host, atMs: Date.now() };
    if (!HOST_PATTERN.test(host)) {
      const answer = json(403, 'Forbidden');
      return {
        ...answer,
        record: { ...base, functionArn: undefined, event: undefined, statusCode: answer.status },
      };
    }
    const target = await lookup(host);
    if (target?.authType !== 'NONE') {
      if (target) log(`function-urls: ${host} has AuthType ${target.authType}; only NONE is served`);
      const answer = json(403, 'Forbidden');
      return {
        ...answer,
        record: { ...base, functionArn: target?.functionArn, event: undefined, statusCode: 403 },
      };
    }
    if (request.body.length > FUNCTION_URL_MAX_REQUEST_BYTES) {
      const answer = json(413, 'Request Too Long');
      return {
        ...answer,
        record: { ...base, functionArn: target.functionArn, event: undefined, statusCode: 413 },
      };
    }
    const traceId = `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
    const event = toFunctionUrlEvent({
      method: request.method,
      url: request.url,
      headers: {
        ...request.headers,
        host,
        'x-forwarded-for': request.sourceIp,
        'x-forwarded-proto': 'https',
        'x-forwarded-port': String(request.port),
        'x-amzn-trace-id': traceId,
      },
      body: request.body,
      sourceIp: request.sourceIp,
      domainName: host,
    });
    try {
      const out = await invokeFunction(invoker, target.functionArn, JSON.stringify(event), 'RequestResponse');
      if (out.functionError) {
        const answer = json(502, 'Internal Server Error');
        return { ...answer, record: { ...base, functionArn: target.functionArn, event, statusCode: 502 } };
      }
      let result: unknown;
      try {
        result = out.payload === '' ? null : JSON.parse(out.payload);
      } catch {
        result = out.payload;
      }
      const response = toFunctionUrlHttpResponse(result);
      return {
        status: response.statusCode,
        headers: response.headers,
        body: response.body,
        record: { ...base, functionArn: target.functionArn, event, statusCode: response.statusCode },
      };
    } catch (error) {
      const throttled = error instanceof InvokeApiError && error.code === 'THROTTLING';
      log(`function-urls: ${host} → ${target.functionArn}: invoke failed: ${String(error)}`);
      const answer = throttled ? json(429, 'Rate Exceeded.') : json(502, 'Internal Server Error');
      return {
        ...answer,
        record: { ...base, functionArn: target.functionArn, event, statusCode: answer.status },
      };
    }
  }

  const server = https.createServer({ cert: certificate.certPem, key: certificate.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= FUNCTION_URL_MAX_REQUEST_BYTES + 1) chunks.push(chunk);
    });
    req.on('end', () => {
      // An https server's sockets are TLSSocket: `servername` is the SNI name the client sent.
      const sni: unknown = Reflect.get(req.socket, 'servername');
      const servername = typeof sni === 'string' ? sni : undefined;
      serve({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
        sourceIp: req.socket.remoteAddress ?? '',
        servername,
        port: req.socket.localPort ?? 443,
      })
        .then((answer) => {
          requests.push(answer.record);
          log(`function-urls: ${req.method} ${answer.record.host}${req.url} → ${answer.status}`);
          res
            .writeHead(answer.status, answer.headers ?? { 'content-type': 'application/json' })
            .end(answer.body);
        })
        .catch((error: unknown) => {
          log(`function-urls: request failed: ${String(error)}`);
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"Message":"InternalFailure"}');
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  const bound: AddressInfo | string | null = server.address();
  if (bound === null || typeof bound === 'string')
    throw new Error('the Function URL frontend has no TCP port');
  const deployed = await refresh();
  log(
    `function-urls: serving ${deployed.length} Function URL(s) on https://${options.listen.host}:${bound.port} ` +
      `(${deployed.map((u) => `${u.host} → ${u.functionArn.split(':').pop()}`).join(', ') || 'none yet'})`,
  );
  return {
    address: { host: options.listen.host, port: bound.port },
    certificatePem: certificate.certPem,
    requests,
    refresh,
    async stop() {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      lambda.destroy();
      invoker.destroy();
    },
  };
}
