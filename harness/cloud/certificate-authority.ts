/**
 * Test infrastructure: a certificate authority made for one run of the local cloud, with the `openssl` command
 * (Debian's). Its certificate is what the emulated instances trust (their CA bundle) so that names such as
 * `<url-id>.lambda-url.<region>.on.aws` resolve (through /etc/hosts) to the harness and verify over HTTPS.
 * Keys are P-256 EC keys; certificates are valid for two days. Nothing is written outside a temporary folder
 * that is removed before each call returns.
 *
 * Source: OpenSSL `req -x509`, `x509 -req` with an extension file (subjectAltName, basicConstraints, keyUsage,
 * extendedKeyUsage).
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A CA: its certificate (to trust) and key (to sign). */
export interface CertificateAuthority {
  /** PEM of the CA certificate: install it in the instances' trust store. */
  readonly certPem: string;
  /** PEM of the CA key (PKCS#8). */
  readonly keyPem: string;
}

/** A server certificate issued by a {@link CertificateAuthority}. */
export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** The DNS names in its subjectAltName. */
  readonly dnsNames: readonly string[];
}

async function withTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ts-ca-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (error) {
    const stderr = error instanceof Error ? String(Reflect.get(error, 'stderr') ?? '') : '';
    throw new Error(`openssl ${args[0]} failed: ${stderr || String(error)}`, { cause: error });
  }
}

/**
 * Makes a new CA.
 * @param commonName - Subject CN (default `trino-sentinel local cloud CA`).
 * @throws Error with openssl's output when it fails.
 * @example
 * const ca = await createCertificateAuthority();
 * const leaf = await issueServerCertificate(ca, ['*.lambda-url.us-east-1.on.aws']);
 */
export async function createCertificateAuthority(
  commonName = 'trino-sentinel local cloud CA',
): Promise<CertificateAuthority> {
  return withTempDir(async (dir) => {
    const key = path.join(dir, 'ca.key');
    const cert = path.join(dir, 'ca.crt');
    await openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return { certPem: await readFile(cert, 'utf8'), keyPem: await readFile(key, 'utf8') };
  });
}

/**
 * Issues a server certificate for `dnsNames` (wildcards allowed, e.g. `*.lambda-url.us-east-1.on.aws`).
 * @throws Error when `dnsNames` is empty or openssl fails.
 */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  dnsNames: readonly string[],
): Promise<IssuedCertificate> {
  const first = dnsNames[0];
  if (first === undefined) throw new Error('issueServerCertificate needs at least one DNS name');
  return withTempDir(async (dir) => {
    const file = (name: string) => path.join(dir, name);
    await writeFile(file('ca.crt'), ca.certPem);
    await writeFile(file('ca.key'), ca.keyPem, { mode: 0o600 });
    await writeFile(
      file('ext.cnf'),
      [
        `subjectAltName=${dnsNames.map((n) => `DNS:${n}`).join(',')}`,
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        '',
      ].join('\n'),
    );
    await openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      file('leaf.key'),
      '-out',
      file('leaf.csr'),
      '-subj',
      `/CN=${first}`,
    ]);
    await openssl([
      'x509',
      '-req',
      '-in',
      file('leaf.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('leaf.crt'),
      '-days',
      '2',
      '-sha256',
      '-extfile',
      file('ext.cnf'),
    ]);
    const certPem = await readFile(file('leaf.crt'), 'utf8');
    // Fail here, not in a client, when the chain is wrong.
    if (!new X509Certificate(certPem).verify(new X509Certificate(ca.certPem).publicKey))
      throw new Error('issued certificate does not verify against the CA');
    return { certPem, keyPem: await readFile(file('leaf.key'), 'utf8'), dnsNames: [...dnsNames] };
  });
}
