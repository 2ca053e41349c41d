/**
 * Component tests of the Trino client against a real local HTTPS server (certificate from a test CA): request
 * shape, one distinct typed error per failure kind, and the TLS identity rules. Bodies are recorded real Trino 476
 * responses (test/fixtures/trino-476).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  TrinoAuthError,
  TrinoConnectionError,
  TrinoHttpError,
  TrinoQueryError,
  TrinoResponseError,
  TrinoTimeoutError,
} from '../../lib/errors.ts';
import { TrinoClient } from '../../lib/trino/client.ts';
import { startTestServer, type TestServer } from '../helpers/http-server.ts';
import { makeCertificates, type TestCertificates } from '../helpers/tls.ts';

const fixture = (name: string) => readFileSync(`test/fixtures/trino-476/${name}`, 'utf8');
const PASSWORD = 'p@ss-w0rd-never-logged';

describe('TrinoClient', () => {
  let server: TestServer;
  let tls: TestCertificates;
  beforeAll(async () => {
    tls = await makeCertificates({ dns: ['localhost'], ips: ['127.0.0.1'] });
    server = await startTestServer({ tls });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.received.length = 0;
  });

  const client = (overrides: Partial<ConstructorParameters<typeof TrinoClient>[0]> = {}) =>
    new TrinoClient({
      baseUrl: server.url,
      user: 'sentinel',
      timeoutMs: 1_000,
      caPem: tls.caPem,
      ...overrides,
    });

  it('reads GET /v1/info with X-Trino-User and parses the recorded 476 body', async () => {
    server.respond(() => ({ status: 200, body: fixture('v1-info.json') }));
    const info = await client().getInfo();
    expect(info).toMatchObject({ nodeVersion: { version: '476' }, coordinator: true, starting: false });
    expect(server.received[0]).toMatchObject({ method: 'GET', path: '/v1/info' });
    expect(server.received[0]?.headers['x-trino-user']).toBe('sentinel');
    expect(server.received[0]?.headers.authorization).toBeUndefined();
  });

  it('sends X-Presto-User for PrestoDB and Basic or Bearer authorization when configured', async () => {
    server.respond(() => ({ status: 200, body: '"ACTIVE"' }));
    await client({
      flavor: 'presto',
      auth: { type: 'basic', username: 'sentinel', password: PASSWORD },
    }).getState();
    await client({ auth: { type: 'bearer', token: 'tok-123' } }).getState();
    expect(server.received[0]?.headers['x-presto-user']).toBe('sentinel');
    expect(server.received[0]?.headers['x-trino-user']).toBeUndefined();
    expect(server.received[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from(`sentinel:${PASSWORD}`).toString('base64')}`,
    );
    expect(server.received[1]?.headers.authorization).toBe('Bearer tok-123');
  });

  it('sends PUT /v1/info/state with a quoted JSON string body', async () => {
    server.respond(() => ({ status: 200, body: '' }));
    await client().setState('SHUTTING_DOWN');
    expect(server.received[0]).toMatchObject({
      method: 'PUT',
      path: '/v1/info/state',
      body: '"SHUTTING_DOWN"',
    });
    expect(server.received[0]?.headers['content-type']).toBe('application/json');
  });

  it.each([
    ['getNodes', 'v1-node.json', '/v1/node'],
    ['getStatus', 'v1-status.json', '/v1/status'],
    ['getQueries', 'v1-query.json', '/v1/query'],
  ] as const)('%s parses the recorded 476 body of %s', async (method, file, path) => {
    server.respond(() => ({ status: 200, body: fixture(file) }));
    await expect(client()[method]()).resolves.toBeTruthy();
    expect(server.received[0]?.path).toBe(path);
  });

  it('reads an MBean by its URL-encoded object name', async () => {
    server.respond(() => ({ status: 200, body: fixture('jmx-ClusterMemoryManager.json') }));
    const mbean = await client().getMBean('trino.memory:name=ClusterMemoryManager');
    expect(mbean.attributes.find((a) => a.name === 'ClusterMemoryBytes')?.value).toBeGreaterThan(0);
    expect(server.received[0]?.path).toBe('/v1/jmx/mbean/trino.memory%3Aname%3DClusterMemoryManager');
  });

  it('cancels a query with DELETE /v1/query/{id}', async () => {
    server.respond(() => ({ status: 204 }));
    await client().cancelQuery('20261123_000000_00001_abcde');
    expect(server.received[0]).toMatchObject({
      method: 'DELETE',
      path: '/v1/query/20261123_000000_00001_abcde',
    });
  });

  it('follows nextUri through the statement protocol and returns every row', async () => {
    server.respond((request) => {
      if (request.method === 'POST') {
        return {
          status: 200,
          body: JSON.stringify({
            id: 'q1',
            nextUri: `${server.url}/v1/statement/executing/q1/1`,
            stats: { state: 'QUEUED' },
          }),
        };
      }
      if (request.path.endsWith('/1')) {
        return {
          status: 200,
          body: JSON.stringify({
            id: 'q1',
            nextUri: `${server.url}/v1/statement/executing/q1/2`,
            columns: [{ name: 'n', type: 'bigint' }],
            data: [[1]],
            stats: { state: 'RUNNING' },
          }),
        };
      }
      return { status: 200, body: JSON.stringify({ id: 'q1', data: [[2]], stats: { state: 'FINISHED' } }) };
    });
    await expect(client().query('SELECT n')).resolves.toEqual({ columns: ['n'], rows: [[1], [2]] });
    expect(server.received[0]).toMatchObject({ method: 'POST', path: '/v1/statement', body: 'SELECT n' });
    expect(server.received.map((r) => r.path)).toEqual([
      '/v1/statement',
      '/v1/statement/executing/q1/1',
      '/v1/statement/executing/q1/2',
    ]);
  });

  it("raises TrinoQueryError with Trino's error name when the query fails", async () => {
    server.respond(() => ({
      status: 200,
      body: JSON.stringify({
        id: 'q2',
        stats: { state: 'FAILED' },
        error: {
          message: "line 1:8: Column 'x' cannot be resolved",
          errorName: 'COLUMN_NOT_FOUND',
          errorType: 'USER_ERROR',
        },
      }),
    }));
    const error = await client()
      .query('SELECT x')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrinoQueryError);
    expect(error).toMatchObject({ context: { queryId: 'q2', errorName: 'COLUMN_NOT_FOUND' } });
  });

  it("yields every page of the statement protocol, a failed query's last one with its error", async () => {
    server.respond((request) => {
      if (request.method === 'POST') {
        return {
          status: 200,
          body: JSON.stringify({
            id: 'q3',
            nextUri: `${server.url}/v1/statement/executing/q3/1?slug=s`,
            stats: { state: 'RUNNING', runningSplits: 4, completedSplits: 1 },
          }),
        };
      }
      return {
        status: 200,
        body: JSON.stringify({
          id: 'q3',
          stats: { state: 'FAILED' },
          error: {
            message: 'Query was canceled',
            errorCode: 3,
            errorName: 'USER_CANCELED',
            errorType: 'USER_ERROR',
          },
        }),
      };
    });
    const pages = [];
    for await (const page of client().statement('SELECT n')) pages.push(page);
    expect(pages.map((p) => [p.id, p.stats.state, p.stats.runningSplits, p.error?.errorName])).toEqual([
      ['q3', 'RUNNING', 4, undefined],
      ['q3', 'FAILED', undefined, 'USER_CANCELED'],
    ]);
    expect(server.received.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/statement',
      'GET /v1/statement/executing/q3/1?slug=s',
    ]);
  });

  describe('distinct, typed errors', () => {
    it('TrinoTimeoutError when Trino does not answer within the timeout', async () => {
      server.respond(() => ({}));
      const error = await client({ timeoutMs: 100 })
        .getInfo()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TrinoTimeoutError);
      expect(error).toMatchObject({ context: { timeoutMs: 100, path: '/v1/info' } });
    });

    it('TrinoConnectionError when the connection is refused', async () => {
      const error = await new TrinoClient({ baseUrl: 'http://127.0.0.1:9', user: 'sentinel' })
        .getInfo()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TrinoConnectionError);
      expect(error).toMatchObject({ context: { code: 'ECONNREFUSED' } });
    });

    it.each([
      [401, /credentials were refused/],
      [403, /must let user "sentinel" write system information.*"system_information"/],
    ])('TrinoAuthError for %i naming the cause, without the password anywhere', async (status, message) => {
      server.respond(() => ({ status, body: 'Error 403 Forbidden: Management only resource' }));
      const error = await client({ auth: { type: 'basic', username: 'sentinel', password: PASSWORD } })
        .setState('DRAINING')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TrinoAuthError);
      expect(error).toMatchObject({ status });
      expect(String(error)).toMatch(message);
      expect(JSON.stringify(error)).not.toContain(PASSWORD);
      expect(String(error)).not.toContain(PASSWORD);
      expect(JSON.stringify(error)).not.toContain(Buffer.from(`sentinel:${PASSWORD}`).toString('base64'));
    });

    it('TrinoHttpError for a 500, keeping the first 500 characters of the body', async () => {
      server.respond(() => ({ status: 500, body: 'x'.repeat(2_000) }));
      const error = await client()
        .getInfo()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TrinoHttpError);
      expect(error).not.toBeInstanceOf(TrinoAuthError);
      expect(error).toMatchObject({ status: 500 });
      expect(error instanceof TrinoHttpError ? error.body.length : 0).toBe(500);
    });

    it('TrinoResponseError for a body that is not JSON', async () => {
      server.respond(() => ({ status: 200, body: '<html>proxy error</html>' }));
      await expect(client().getInfo()).rejects.toThrowError(TrinoResponseError);
    });

    it('TrinoResponseError naming the failing field for a body of the wrong shape', async () => {
      server.respond(() => ({
        status: 200,
        body: JSON.stringify({
          nodeVersion: { version: '476' },
          environment: 'x',
          coordinator: 'yes',
          starting: false,
        }),
      }));
      await expect(client().getInfo()).rejects.toThrowError(/coordinator:/);
    });

    it('TrinoResponseError for an unknown node state', async () => {
      server.respond(() => ({ status: 200, body: '"ON_FIRE"' }));
      await expect(client().getState()).rejects.toThrowError(TrinoResponseError);
    });

    it('TrinoResponseError when the body exceeds maxResponseBytes', async () => {
      server.respond(() => ({ status: 200, body: `"${'A'.repeat(5_000)}"` }));
      await expect(client({ maxResponseBytes: 1_000 }).getState()).rejects.toThrowError(
        /more than 1000 bytes/,
      );
    });

    it("rejects with the caller's reason when the caller aborts", async () => {
      server.respond(() => ({}));
      const controller = new AbortController();
      const pending = client({ timeoutMs: 5_000 }).getInfo({ signal: controller.signal });
      controller.abort(new Error('operator gave up'));
      await expect(pending).rejects.toThrowError('operator gave up');
    });
  });

  it('refuses a base URL that is not http(s)', () => {
    expect(() => new TrinoClient({ baseUrl: 'ftp://x', user: 'u' })).toThrowError(TypeError);
  });

  it('forNode to a plain-HTTP worker keeps the user and timeout and never sends the credentials', async () => {
    const plain = await startTestServer();
    try {
      plain.respond(() => ({ status: 200, body: '"ACTIVE"' }));
      const coordinator = new TrinoClient({
        baseUrl: 'https://10.0.0.1:8443',
        user: 'sentinel',
        auth: { type: 'basic', username: 'sentinel', password: PASSWORD },
      });
      await coordinator.forNode(`${plain.url}/v1/status`).getState();
      expect(plain.received[0]).toMatchObject({ path: '/v1/info/state' });
      expect(plain.received[0]?.headers.authorization).toBeUndefined();
      expect(plain.received[0]?.headers['x-trino-user']).toBe('sentinel');
    } finally {
      await plain.close();
    }
  });

  it.each([
    ['basic', { type: 'basic', username: 'sentinel', password: PASSWORD }],
    ['bearer', { type: 'bearer', token: 'tok-123' }],
  ] as const)('refuses to build a client that would send %s credentials over plain http://', (_, auth) => {
    expect(() => new TrinoClient({ baseUrl: 'http://10.0.0.1:8080', user: 'sentinel', auth })).toThrowError(
      /Refusing to send .* credentials over plain HTTP/,
    );
  });
});

describe('TLS identity: a coordinator probed on its primary address presents the certificate of the cluster name', () => {
  let server: TestServer;
  let tls: TestCertificates;
  beforeAll(async () => {
    // Issued as infra/ asks: the coordinator ENI's address and the cluster's DNS name — not the primary address.
    tls = await makeCertificates({ dns: ['analytics'], ips: ['10.42.1.10'] });
    server = await startTestServer({ tls });
    server.respond(() => ({ status: 200, body: fixture('v1-info.json') }));
  });
  afterAll(() => server.close());

  it('fails verification against the primary address (ERR_TLS_CERT_ALTNAME_INVALID) without a server name', async () => {
    const error = await new TrinoClient({ baseUrl: server.url, user: 'sentinel', caPem: tls.caPem })
      .getInfo()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrinoConnectionError);
    expect(error).toMatchObject({ context: { code: 'ERR_TLS_CERT_ALTNAME_INVALID' } });
  });

  it('verifies against the cluster name carried by the certificate, verification still on', async () => {
    const client = new TrinoClient({
      baseUrl: server.url,
      user: 'sentinel',
      caPem: tls.caPem,
      tlsServerName: 'analytics',
    });
    await expect(client.getInfo()).resolves.toMatchObject({ coordinator: true });
    await expect(client.forNode(server.url).getInfo()).resolves.toMatchObject({ coordinator: true });
  });

  it.each([
    ['a name the certificate does not carry', { tlsServerName: 'other-cluster' }],
    ['a certificate from another CA', { tlsServerName: 'analytics', caPem: undefined }],
  ])('still refuses %s', async (_, overrides) => {
    const options = { baseUrl: server.url, user: 'sentinel', caPem: tls.caPem, ...overrides };
    const error = await new TrinoClient(options).getInfo().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrinoConnectionError);
  });
});
