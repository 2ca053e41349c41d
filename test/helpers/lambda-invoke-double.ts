/**
 * TEST DOUBLE — not the Lambda service. A loopback HTTP server answering the Lambda Invoke API
 * (`POST /2015-03-31/functions/{FunctionName}/invocations`) the way the real service answers it: 202 with no body
 * for `X-Amz-Invocation-Type: Event`, 200 with the function's answer for `RequestResponse`, the
 * `X-Amz-Function-Error` header when the function failed, and Invoke API errors (`TooManyRequestsException` 429,
 * `ResourceNotFoundException` 404) when a test asks for them. It stands in for harness/cloud/lambda-service.ts
 * (built by another helper: the deployed zips under aws-lambda-rie) so the event-delivery modules can be tested
 * on their own; it records exactly what each caller sent. Each test says how each function answers.
 *
 * Source: AWS Lambda API reference, Invoke (request headers, status codes, errors).
 *
 * @module
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One Invoke call received. */
export interface ReceivedInvocation {
  /** The last segment of the FunctionName in the path (the name, also when an ARN was sent). */
  readonly functionName: string;
  /** FunctionName as sent (name or ARN). */
  readonly functionRef: string;
  readonly invocationType: 'Event' | 'RequestResponse';
  /** The payload, parsed as JSON. */
  readonly payload: unknown;
  readonly atMs: number;
}

/** How a function answers one invocation. */
export type InvokeBehaviour = (
  payload: unknown,
  invocationType: 'Event' | 'RequestResponse',
) => {
  /** The function's answer (RequestResponse), serialized as JSON. */
  readonly result?: unknown;
  /** Makes it a function error (`X-Amz-Function-Error: Unhandled`, result = the error object). */
  readonly functionError?: boolean;
  /** Makes the Invoke call itself fail: `throttled` (429) or `not-found` (404). */
  readonly apiError?: 'throttled' | 'not-found';
};

/** The running double. */
export interface LambdaInvokeDouble {
  /** Endpoint for SDK clients, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  readonly received: ReceivedInvocation[];
  /** Sets how `functionName` answers (default: `null`, success). */
  answer(functionName: string, behaviour: InvokeBehaviour): void;
  /** The invocations of one function. */
  calls(functionName: string): ReceivedInvocation[];
  close(): Promise<void>;
}

/** Starts the double on a free loopback port. */
export async function startLambdaInvokeDouble(): Promise<LambdaInvokeDouble> {
  const received: ReceivedInvocation[] = [];
  const behaviours = new Map<string, InvokeBehaviour>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? '');
      if (req.method !== 'POST' || !match?.[1]) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not the Invoke API"}');
        return;
      }
      const functionRef = decodeURIComponent(match[1]);
      const functionName =
        functionRef
          .split(':')
          .filter((p) => p !== '$LATEST')
          .pop() ?? functionRef;
      const header = req.headers['x-amz-invocation-type'];
      const invocationType = header === 'Event' ? 'Event' : 'RequestResponse';
      const text = Buffer.concat(chunks).toString('utf8');
      let payload: unknown;
      try {
        payload = text === '' ? null : JSON.parse(text);
      } catch {
        payload = text;
      }
      received.push({ functionName, functionRef, invocationType, payload, atMs: Date.now() });
      const succeed: InvokeBehaviour = () => ({ result: null });
      const outcome = (behaviours.get(functionName) ?? succeed)(payload, invocationType);
      if (outcome.apiError === 'throttled') {
        res
          .writeHead(429, {
            'content-type': 'application/json',
            'x-amzn-errortype': 'TooManyRequestsException',
          })
          .end(
            JSON.stringify({
              Type: 'User',
              message: 'Rate Exceeded.',
              Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
            }),
          );
        return;
      }
      if (outcome.apiError === 'not-found') {
        res
          .writeHead(404, {
            'content-type': 'application/json',
            'x-amzn-errortype': 'ResourceNotFoundException',
          })
          .end(JSON.stringify({ Type: 'User', Message: `Function not found: ${functionRef}` }));
        return;
      }
      if (invocationType === 'Event') {
        res.writeHead(202, { 'x-amz-executed-version': '$LATEST' }).end();
        return;
      }
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-amz-executed-version': '$LATEST',
      };
      if (outcome.functionError) headers['x-amz-function-error'] = 'Unhandled';
      res.writeHead(200, headers).end(JSON.stringify(outcome.result ?? null));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string') throw new Error('the Invoke double has no TCP port');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    received,
    answer: (functionName, behaviour) => {
      behaviours.set(functionName, behaviour);
    },
    calls: (functionName) => received.filter((r) => r.functionName === functionName),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
