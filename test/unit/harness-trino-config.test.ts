/**
 * The harness's Trino node configuration (harness/trino/config.ts), rendered without I/O: what each kind of node's
 * etc/ holds, and the password file line Trino's `file` authenticator reads. The integration tests prove Trino
 * accepts it; these pin which node gets what.
 */
import { pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type NodeConfigInput,
  passwordLine,
  properties,
  renderNodeConfig,
} from '../../harness/trino/config.ts';

const base: NodeConfigInput = {
  role: 'coordinator',
  nodeId: 'it-coordinator',
  environment: 'it',
  httpPort: 8080,
  discoveryUri: 'http://127.0.0.1:8080',
  pluginDir: '/tmp/c/plugin',
  heapMb: 1024,
  sharedSecret: 'c2VjcmV0',
  rulesFile: '/tmp/c/rules.json',
  jmxCatalog: true,
  shutdownGracePeriod: '5s',
};
const secure = {
  https: { port: 8443, keystorePath: '/tmp/c/server.pem' },
  passwordAuthenticator: { name: 'file', passwordFile: '/tmp/c/password.db' },
};
const listener = { ingestUri: 'http://127.0.0.1:9000/ingest', headers: { 'X-Secret': 's', 'X-Other': 'o' } };

/** config.properties as key → value. */
function configOf(files: Record<string, string>): Record<string, string> {
  const text = files['config.properties'] ?? '';
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

describe('renderNodeConfig', () => {
  it.each([
    [
      'a secure coordinator',
      { ...base, ...secure },
      {
        coordinator: 'true',
        'node-scheduler.include-coordinator': 'false',
        'http-server.https.enabled': 'true',
        'http-server.https.port': '8443',
        'http-server.https.keystore.path': '/tmp/c/server.pem',
        'http-server.authentication.type': 'PASSWORD',
      },
      ['password-authenticator.properties'],
    ],
    ['an insecure coordinator', base, { coordinator: 'true', 'http-server.https.enabled': undefined }, []],
    [
      'a worker (grace period; never a password authenticator nor a listener)',
      {
        ...base,
        ...secure,
        role: 'worker' as const,
        eventListener: listener,
        discoveryUri: 'http://127.0.0.1:9',
      },
      {
        coordinator: 'false',
        'shutdown.grace-period': '5s',
        'discovery.uri': 'http://127.0.0.1:9',
        'http-server.authentication.type': undefined,
      },
      [],
    ],
    [
      'a coordinator with extra properties, merged last',
      { ...base, extraProperties: { 'query.max-memory': '100MB', 'x.y': 'z' } },
      { 'query.max-memory': '100MB', 'x.y': 'z' },
      [],
    ],
  ] as const)('%s', (_, input, expected, extraFiles) => {
    const files = renderNodeConfig(input);
    const config = configOf(files);
    for (const [key, value] of Object.entries(expected)) expect(config[key]).toBe(value);
    expect(Object.keys(files).sort()).toEqual(
      [
        'config.properties',
        'log.properties',
        'access-control.properties',
        'catalog/tpch.properties',
        'catalog/memory.properties',
        'catalog/jmx.properties',
        ...extraFiles,
      ].sort(),
    );
  });

  it('gives every node its identity, the shared secret, the cluster plugins and memory from the heap', () => {
    expect(configOf(renderNodeConfig(base))).toMatchObject({
      'node.environment': 'it',
      'node.id': 'it-coordinator',
      'node.internal-address': '127.0.0.1',
      'http-server.http.port': '8080',
      'plugin.dir': '/tmp/c/plugin',
      'internal-communication.shared-secret': 'c2VjcmV0',
      'query.max-memory': '512MB',
      'query.max-memory-per-node': '256MB',
    });
    expect(renderNodeConfig(base)['access-control.properties']).toBe(
      'access-control.name=file\nsecurity.config-file=/tmp/c/rules.json\n',
    );
  });

  it('adds the jmx catalog only on lines that have the connector', () => {
    expect(renderNodeConfig({ ...base, jmxCatalog: false })['catalog/jmx.properties']).toBeUndefined();
    expect(renderNodeConfig(base)['catalog/jmx.properties']).toBe('connector.name=jmx\n');
  });

  it("points a coordinator's HTTP event listener at the ingest URL with its headers", () => {
    expect(renderNodeConfig({ ...base, eventListener: listener })['event-listener.properties']).toBe(
      properties({
        'event-listener.name': 'http',
        'http-event-listener.log-completed': 'true',
        'http-event-listener.connect-ingest-uri': 'http://127.0.0.1:9000/ingest',
        'http-event-listener.connect-http-headers': 'X-Secret:s,X-Other:o',
        'http-event-listener.connect-retry-count': '5',
        'http-event-listener.connect-retry-delay': '1s',
      }),
    );
  });
});

describe('passwordLine', () => {
  it('writes user:1000:<salt>:<PBKDF2-HMAC-SHA1 of the password with that salt>, a new salt each time', () => {
    const line = passwordLine('sentinel', 'pw');
    const [user, iterations, salt, hash] = line.trimEnd().split(':');
    expect([user, iterations]).toEqual(['sentinel', '1000']);
    expect(hash).toBe(pbkdf2Sync('pw', Buffer.from(salt ?? '', 'hex'), 1000, 32, 'sha1').toString('hex'));
    expect(passwordLine('sentinel', 'pw')).not.toBe(line);
  });
});
