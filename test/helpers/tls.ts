/**
 * A CA and a server certificate made with the `openssl` CLI for TLS component tests (names chosen per test).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEMs of a test CA and of a server key + certificate it signed. */
export interface TestCertificates {
  readonly caPem: string;
  readonly keyPem: string;
  readonly certPem: string;
}

/**
 * Makes a CA and a server certificate carrying exactly the given subject alternative names.
 * @param names - e.g. `{ dns: ['analytics'], ips: ['10.42.1.10'] }`.
 */
export async function makeCertificates(names: { dns?: string[]; ips?: string[] }): Promise<TestCertificates> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tls-'));
  try {
    const openssl = (args: string[]) => run('openssl', args, { cwd: dir });
    await openssl([
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
      '/CN=test CA',
    ]);
    const san = [
      ...(names.dns ?? []).map((n) => `DNS:${n}`),
      ...(names.ips ?? []).map((n) => `IP:${n}`),
    ].join(',');
    await writeFile(path.join(dir, 'san.ext'), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
    await openssl([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=server',
    ]);
    await openssl([
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
    return {
      caPem: await readFile(path.join(dir, 'ca.pem'), 'utf8'),
      keyPem: await readFile(path.join(dir, 'server.key'), 'utf8'),
      certPem: await readFile(path.join(dir, 'server.crt'), 'utf8'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
