/**
 * Test infrastructure, part of harness/trino.ts: the TLS material of a secure cluster, made with the `openssl` CLI in
 * the cluster's directory: a CA made for the cluster (2 days) and the coordinator's certificate for 127.0.0.1 and
 * localhost, signed by it.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The PEMs a secure cluster uses. */
export interface ClusterTls {
  /** The CA's certificate: what clients trust. */
  readonly caPem: string;
  /** Path of the coordinator's key and certificate in one PEM (`http-server.https.keystore.path`). */
  readonly serverPem: string;
}

/**
 * Makes a CA and a coordinator certificate (RSA 2048, SAN `IP:127.0.0.1`, `DNS:localhost`) in `dir`.
 * @param dir - The cluster's directory (ca.key, ca.pem, server.key, server.crt, server.pem are written there).
 * @returns The CA's PEM and the path of the server PEM (key + certificate).
 * @throws Error when openssl fails.
 */
export async function makeTls(dir: string): Promise<ClusterTls> {
  const run = (args: string[]) => execFileAsync('openssl', args, { cwd: dir });
  await run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=trino-sentinel test CA',
  ]);
  await writeFile(
    path.join(dir, 'san.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n',
  );
  await run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  ]);
  const serverPem = path.join(dir, 'server.pem');
  await writeFile(
    serverPem,
    `${await readFile(path.join(dir, 'server.key'), 'utf8')}${await readFile(path.join(dir, 'server.crt'), 'utf8')}`,
  );
  return { caPem: await readFile(path.join(dir, 'ca.pem'), 'utf8'), serverPem };
}
