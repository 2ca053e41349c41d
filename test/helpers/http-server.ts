/**
 * A real local HTTP server for component tests of HTTP clients: each test sets how it answers and reads back
 * exactly what was received (method, path, headers, body).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/** One received request. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * How to answer one request; `undefined` status means "never answer" (for timeouts); `delayMs` answers that much
 * later (a slow node), `onAnswered` runs once the answer is written.
 */
export type Responder = (request: ReceivedRequest) => {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  delayMs?: number;
  onAnswered?: () => void;
};

/** A running server. */
export interface TestServer {
  readonly url: string;
  readonly received: ReceivedRequest[];
  respond(responder: Responder): void;
  close(): Promise<void>;
}

/**
 * Starts a server on a free loopback port answering 404 until told otherwise.
 * @param options.tls - Key and certificate PEMs: serve HTTPS instead of HTTP.
 */
export async function startTestServer(
  options: { tls?: { keyPem: string; certPem: string } } = {},
): Promise<TestServer> {
  let responder: Responder = () => ({ status: 404, body: 'not found' });
  const received: ReceivedRequest[] = [];
  const listener: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      received.push(request);
      const answer = responder(request);
      const { status } = answer;
      if (status === undefined) return; // never answer
      const write = () => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json', ...(answer.headers ?? {}) });
        res.end(answer.body ?? '', () => answer.onAnswered?.());
      };
      if (answer.delayMs === undefined) write();
      else setTimeout(write, answer.delayMs);
    });
  };
  const server = options.tls
    ? https.createServer({ key: options.tls.keyPem, cert: options.tls.certPem }, listener)
    : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    received,
    respond: (next) => {
      responder = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
