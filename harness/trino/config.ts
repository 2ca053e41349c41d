/**
 * Test infrastructure, part of harness/trino.ts: what a harness node's etc/ holds, rendered without I/O. A node runs
 * without the launcher, so node properties go into config.properties (the launcher would pass them as -D flags), and
 * `node.data-dir` (a launcher setting, unknown to the server) is replaced by the node's working directory.
 *
 * @module
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * A Java properties file's text, one `key=value` per line in the given order.
 * @example
 * properties({ 'connector.name': 'tpch' }); // 'connector.name=tpch\n'
 */
export function properties(values: Readonly<Record<string, string>>): string {
  return `${Object.entries(values)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

/**
 * Access rules for every node: `user` (the control plane's) may read and write system information (metrics, drain);
 * others may query but not touch system information. Source: Trino docs, "File-based access control", system rules.
 */
export function accessRules(user: string) {
  return {
    catalogs: [{ allow: 'all' }],
    queries: [{ allow: ['execute', 'kill', 'view'] }],
    system_information: [{ user, allow: ['read', 'write'] }],
  };
}

/**
 * Password file line in the format of Trino's `file` password authenticator, PBKDF2 variant:
 * `user:<iterations>:<salt hex>:<hash hex>` with PBKDF2WithHmacSHA1 (what Trino 476's EncryptionUtil uses; its
 * minimum is 1000 iterations). The salt is random.
 * Source: Trino docs, "Password file authentication" (io.trino.plugin.password.file.EncryptionUtil).
 */
export function passwordLine(user: string, password: string): string {
  const iterations = 1000;
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, iterations, 32, 'sha1');
  return `${user}:${iterations}:${salt.toString('hex')}:${hash.toString('hex')}\n`;
}

/** What {@link renderNodeConfig} needs to know about one node and its cluster. */
export interface NodeConfigInput {
  readonly role: 'coordinator' | 'worker';
  /** `node.id`. */
  readonly nodeId: string;
  /** `node.environment` (the same on every node of a cluster). */
  readonly environment: string;
  readonly httpPort: number;
  /** `discovery.uri`: a coordinator's own HTTP URL (standbys too), a worker's coordinator (or ENI address). */
  readonly discoveryUri: string;
  /** The cluster's plugin directory. */
  readonly pluginDir: string;
  /** JVM heap in MB: `query.max-memory` is half of it, `query.max-memory-per-node` a quarter. */
  readonly heapMb: number;
  /** `internal-communication.shared-secret`. */
  readonly sharedSecret: string;
  /** The file-based access control rules (`security.config-file`). */
  readonly rulesFile: string;
  /** Whether the line has the JMX connector (a `jmx` catalog). */
  readonly jmxCatalog: boolean;
  /** A secure coordinator's HTTPS listener with PASSWORD authentication. */
  readonly https?: { readonly port: number; readonly keystorePath: string };
  /** A secure coordinator's password authenticator (`file` or the harness's plugin) and password file. */
  readonly passwordAuthenticator?: { readonly name: string; readonly passwordFile: string };
  /** A worker's `shutdown.grace-period`. */
  readonly shutdownGracePeriod: string;
  /** Merged last into config.properties. */
  readonly extraProperties?: Readonly<Record<string, string>>;
  /** A coordinator's HTTP event listener: where it posts each query's events, with which headers. */
  readonly eventListener?: { readonly ingestUri: string; readonly headers: Readonly<Record<string, string>> };
}

/**
 * The files of one node's etc/ directory.
 * @returns Path relative to etc/ → text: config.properties, log.properties, access-control.properties, the
 *   catalogs (tpch, memory, jmx when the line has it), and on coordinators password-authenticator.properties and
 *   event-listener.properties when configured.
 * @example
 * renderNodeConfig({ role: 'worker', … })['config.properties']; // 'node.environment=it\nnode.id=it-worker1\n…'
 */
export function renderNodeConfig(node: NodeConfigInput): Record<string, string> {
  const common: Record<string, string> = {
    'node.environment': node.environment,
    'node.id': node.nodeId,
    'node.internal-address': '127.0.0.1',
    'http-server.http.port': String(node.httpPort),
    'discovery.uri': node.discoveryUri,
    'plugin.dir': node.pluginDir,
    'query.max-memory': `${Math.floor(node.heapMb / 2)}MB`,
    'query.max-memory-per-node': `${Math.floor(node.heapMb / 4)}MB`,
    'internal-communication.shared-secret': node.sharedSecret,
    'http-server.log.enabled': 'false',
  };
  const config: Record<string, string> =
    node.role === 'coordinator'
      ? {
          ...common,
          coordinator: 'true',
          'node-scheduler.include-coordinator': 'false',
          ...(node.https
            ? {
                'http-server.https.enabled': 'true',
                'http-server.https.port': String(node.https.port),
                'http-server.https.keystore.path': node.https.keystorePath,
                'http-server.authentication.type': 'PASSWORD',
              }
            : {}),
          ...(node.extraProperties ?? {}),
        }
      : {
          ...common,
          coordinator: 'false',
          'shutdown.grace-period': node.shutdownGracePeriod,
          ...(node.extraProperties ?? {}),
        };
  const files: Record<string, string> = {
    'config.properties': properties(config),
    'log.properties': 'io.trino=INFO\n',
    'access-control.properties': properties({
      'access-control.name': 'file',
      'security.config-file': node.rulesFile,
    }),
  };
  if (node.passwordAuthenticator && node.role === 'coordinator') {
    files['password-authenticator.properties'] = properties({
      'password-authenticator.name': node.passwordAuthenticator.name,
      'file.password-file': node.passwordAuthenticator.passwordFile,
    });
  }
  files['catalog/tpch.properties'] = 'connector.name=tpch\n';
  files['catalog/memory.properties'] = 'connector.name=memory\n';
  if (node.jmxCatalog) files['catalog/jmx.properties'] = 'connector.name=jmx\n';
  if (node.role === 'coordinator' && node.eventListener) {
    files['event-listener.properties'] = properties({
      'event-listener.name': 'http',
      'http-event-listener.log-completed': 'true',
      'http-event-listener.connect-ingest-uri': node.eventListener.ingestUri,
      'http-event-listener.connect-http-headers': Object.entries(node.eventListener.headers)
        .map(([k, v]) => `${k}:${v}`)
        .join(','),
      'http-event-listener.connect-retry-count': '5',
      'http-event-listener.connect-retry-delay': '1s',
    });
  }
  return files;
}
