/**
 * The AMI's boot-time renderer (packer/files/render-config.sh, run by trino-render.service) against real moto
 * through the real AWS CLI (v1 from PyPI, the image's `aws`): SSM parameters as JSON (a multi-line PEM keeps every
 * line), the query-log listener's shared secret, per-role S3 prefixes, the internal port model and the version
 * check. The script runs as on an instance, minus the instance metadata service (NO_IMDS=1: the role is the one
 * given, not decided by the ENI).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { type MotoServer, REPO_ROOT, startMoto } from '../../harness/moto.ts';

const SCRIPT = path.join(REPO_ROOT, 'packer/files/render-config.sh');
const VENV_BIN = path.join(REPO_ROOT, '.venv', 'bin');

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function exec(command: string, args: readonly string[], env: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The part of the CloudWatch agent's configuration that names the shipped files. */
const AgentConfig = z.object({
  logs: z.object({
    logs_collected: z.object({
      files: z.object({ collect_list: z.array(z.object({ file_path: z.string() })) }),
    }),
  }),
});

/** Reads `key=value` lines of a properties file into a map (last one wins, as Java's Properties). */
function properties(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && !line.startsWith('#')) map.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return map;
}

describe('AMI boot renderer (render-config.sh) with moto and the AWS CLI', () => {
  let moto: MotoServer;
  let dir = '';
  let run = 0;
  const cluster = 'rc';
  const prefix = `/trino-sentinel/${cluster}`;

  const awsEnv = () => ({
    PATH: `${VENV_BIN}:/usr/bin:/bin`,
    HOME: dir,
    ...moto.env,
  });
  const aws = async (...args: string[]) => {
    const out = await exec(path.join(VENV_BIN, 'aws'), args, awsEnv());
    if (out.code !== 0) throw new Error(`aws ${args.join(' ')} failed: ${out.stderr}`);
    return out.stdout;
  };
  const putParameter = (name: string, value: string, type = 'SecureString', tier = 'Standard') =>
    aws(
      'ssm',
      'put-parameter',
      '--name',
      name,
      '--value',
      value,
      '--type',
      type,
      '--tier',
      tier,
      '--overwrite',
    );

  /** Runs the renderer for one node; `installed` is the AMI's /opt/trino/TRINO_VERSION. */
  const render = async (env: Record<string, string>, installed = '476') => {
    run += 1;
    const node = path.join(dir, `node${run}`);
    const trinoHome = path.join(node, 'opt-trino');
    await mkdir(trinoHome, { recursive: true });
    await writeFile(path.join(trinoHome, 'TRINO_VERSION'), `${installed}\n`);
    const bootEnv = path.join(node, 'boot.env');
    await writeFile(
      bootEnv,
      [
        `CLUSTER_NAME=${cluster}`,
        'TRINO_VERSION=476',
        'COORDINATOR_ADDRESS=10.42.1.10',
        `SSM_PREFIX=${prefix}`,
        'TRINO_HTTP_SCHEME=https',
        'TRINO_HTTP_PORT=8443',
        'INTERNAL_HTTP_PORT=8080',
        '',
      ].join('\n'),
    );
    const etc = path.join(node, 'etc');
    const outcome = await exec('bash', [SCRIPT], {
      ...awsEnv(),
      NO_IMDS: '1',
      BOOT_ENV_FILE: bootEnv,
      TRINO_HOME: trinoHome,
      TRINO_ETC_DIR: etc,
      TRINO_DATA_DIR: path.join(node, 'data'),
      TEMPLATE_DIR: path.join(REPO_ROOT, 'packer/files/templates'),
      CLOUDWATCH_AGENT_CONFIG: path.join(node, 'agent', 'amazon-cloudwatch-agent.json'),
      TRINO_HEAP: '1G',
      NODE_ID: `node${run}`,
      ...env,
    });
    const read = (file: string) => readFile(path.join(etc, file), 'utf8');
    return { ...outcome, etc, node, read };
  };

  beforeAll(async () => {
    moto = await startMoto();
    dir = await mkdtemp(path.join(os.tmpdir(), 'trino-sentinel-render-'));
    // AWS CLI v1 fetches a parameter value that looks like a URL (https://…) unless told not to.
    await mkdir(path.join(dir, '.aws'));
    await writeFile(path.join(dir, '.aws', 'config'), '[default]\ncli_follow_urlparam = false\n');
  });
  afterAll(async () => {
    await moto?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await moto.reset();
    // Every node needs a keystore with the https default; tests about TLS replace it.
    await putParameter(`${prefix}/coordinator/TLS_KEYSTORE_PEM`, await pem(2048, 0));
  });

  /** A PEM keystore: an RSA key of `bits`, its certificate, then `chain` CA certificates (RSA `caBits`). */
  const pem = async (bits: number, chain: number, caBits = 2048) => {
    const work = await mkdtemp(path.join(dir, 'pem-'));
    const selfSigned = async (keyBits: number, key: string, cert: string) => {
      const out = await exec(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          `rsa:${keyBits}`,
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '2',
          '-subj',
          '/CN=rc',
        ],
        { PATH: '/usr/bin:/bin' },
      );
      if (out.code !== 0) throw new Error(`openssl: ${out.stderr}`);
    };
    const key = path.join(work, 'key.pem');
    const cert = path.join(work, 'cert.pem');
    await selfSigned(bits, key, cert);
    let text = `${await readFile(key, 'utf8')}${await readFile(cert, 'utf8')}`;
    for (let i = 0; i < chain; i++) {
      const ca = path.join(work, `ca${i}.pem`);
      await selfSigned(caBits, path.join(work, `ca${i}.key`), ca);
      text += await readFile(ca, 'utf8');
    }
    return text.trimEnd();
  };

  describe('internal port and discovery URI per role', () => {
    it.each([
      ['coordinator', 'http://10.42.1.10:8080', true],
      ['standby', 'http://127.0.0.1:8080', true],
      ['worker', 'http://10.42.1.10:8080', false],
    ] as const)(
      '%s: plain HTTP on 8080 with discovery %s; HTTPS 8443 only on coordinators',
      async (role, discovery, https) => {
        const out = await render({ NODE_ROLE: role });
        expect(out.code, out.stderr).toBe(0);
        const config = properties(await out.read('config.properties'));
        expect(config.get('http-server.http.port')).toBe('8080');
        expect(config.get('discovery.uri')).toBe(discovery);
        expect(config.get('http-server.https.enabled')).toBe(https ? 'true' : undefined);
        expect(config.get('http-server.https.port')).toBe(https ? '8443' : undefined);
        expect(await out.read('graceful-stop.env')).toBe(
          `NODE_ROLE=${role}\nINTERNAL_HTTP_PORT=8080\nGRACEFUL_STOP_USER=sentinel\nGRACEFUL_STOP_TIMEOUT_SECONDS=600\n`,
        );
      },
    );

    it('with TRINO_HTTP_SCHEME=http clients and nodes share TRINO_HTTP_PORT', async () => {
      const out = await render({ NODE_ROLE: 'worker', TRINO_HTTP_SCHEME: 'http', TRINO_HTTP_PORT: '8081' });
      expect(out.code, out.stderr).toBe(0);
      const config = properties(await out.read('config.properties'));
      expect(config.get('http-server.http.port')).toBe('8081');
      expect(config.get('discovery.uri')).toBe('http://10.42.1.10:8081');
      expect(out.stderr).toContain('INTERNAL_HTTP_PORT 8080 is ignored');
    });

    it('refuses one port for both HTTPS clients and plain internal traffic', async () => {
      const out = await render({ NODE_ROLE: 'coordinator', INTERNAL_HTTP_PORT: '8443' });
      expect(out.code).toBe(1);
      expect(out.stderr).toContain(
        'INTERNAL_HTTP_PORT (plain HTTP between nodes) must differ from TRINO_HTTP_PORT',
      );
    });
  });

  describe('per-role SSM parameters (issue 17 item 3)', () => {
    it('reads common/ then its own role prefix: a worker never reads coordinator/, config/ is no longer read', async () => {
      await putParameter(`${prefix}/common/QUERY_MAX_MEMORY`, '1GB', 'String');
      await putParameter(`${prefix}/common/SHUTDOWN_GRACE_PERIOD`, '30s', 'String');
      await putParameter(`${prefix}/coordinator/QUERY_MAX_MEMORY`, '3GB', 'String');
      await putParameter(`${prefix}/worker/QUERY_MAX_MEMORY`, '2GB', 'String');
      // The layout before issue 17: ignored (a node role may no longer read it).
      await putParameter(`${prefix}/config/SHUTDOWN_GRACE_PERIOD`, '9m', 'String');

      const worker = await render({ NODE_ROLE: 'worker' });
      expect(worker.code, worker.stderr).toBe(0);
      const wConfig = properties(await worker.read('config.properties'));
      expect(wConfig.get('query.max-memory')).toBe('2GB');
      expect(wConfig.get('shutdown.grace-period')).toBe('30s');
      expect(worker.stderr).toContain('reading parameters under /trino-sentinel/rc/worker/');
      expect(worker.stderr).not.toContain('/coordinator/');

      const standby = await render({ NODE_ROLE: 'standby' });
      expect(standby.code, standby.stderr).toBe(0);
      const sConfig = properties(await standby.read('config.properties'));
      expect(sConfig.get('query.max-memory')).toBe('3GB');
      expect(sConfig.get('shutdown.grace-period')).toBe('30s');
      expect(standby.stderr).toContain('reading parameters under /trino-sentinel/rc/coordinator/');
      expect(standby.stderr).toContain(
        'no /trino-sentinel/rc/config/EVENT_LISTENER_URI: query-log listener off',
      );
    });
  });

  describe('query-log listener', () => {
    it('renders the shared secret header from the SecureString query-log-secret and 12 retries', async () => {
      await putParameter(
        `${prefix}/config/EVENT_LISTENER_URI`,
        'https://abc.lambda-url.us-east-1.on.aws/',
        'String',
      );
      // Two secrets during a rotation (one per line): Trino sends the first.
      await putParameter(`${prefix}/query-log-secret`, 'new-Secret_0123:x=\nold-secret');
      const out = await render({ NODE_ROLE: 'coordinator' });
      expect(out.code, out.stderr).toBe(0);
      const listener = properties(await out.read('event-listener.properties'));
      expect(listener.get('event-listener.name')).toBe('http');
      expect(listener.get('http-event-listener.connect-ingest-uri')).toBe(
        'https://abc.lambda-url.us-east-1.on.aws/',
      );
      expect(listener.get('http-event-listener.connect-http-headers')).toBe(
        'x-trino-sentinel-secret:new-Secret_0123:x=',
      );
      expect(listener.get('http-event-listener.connect-retry-count')).toBe('12');
      expect((await stat(path.join(out.etc, 'event-listener.properties'))).mode & 0o777).toBe(0o600);
      expect(properties(await out.read('config.properties')).get('event.max-output-stage-size')).toBe('1kB');

      const worker = await render({ NODE_ROLE: 'worker' });
      expect(worker.code, worker.stderr).toBe(0);
      await expect(worker.read('event-listener.properties')).rejects.toThrow(/ENOENT/);
    });

    it.each([
      ['the secret parameter is missing', undefined, 'ParameterNotFound'],
      ['the secret has a comma', 'a,b', "without spaces, ','"],
      ['the secret has a space', 'a b', "without spaces, ','"],
    ])('fails the boot when %s', async (_what, secret, message) => {
      await putParameter(
        `${prefix}/config/EVENT_LISTENER_URI`,
        'https://abc.lambda-url.us-east-1.on.aws/',
        'String',
      );
      if (secret !== undefined) await putParameter(`${prefix}/query-log-secret`, secret);
      const out = await render({ NODE_ROLE: 'coordinator' });
      expect(out.code).toBe(1);
      expect(out.stderr).toContain(message);
      await expect(out.read('event-listener.properties')).rejects.toThrow(/ENOENT/);
    });
    it('makes a coordinator wait for EVENT_LISTENER_URI the control plane writes later (a new cluster)', async () => {
      await putParameter(`${prefix}/query-log-secret`, 'Secret_0123');
      // The coordinator boots first (infra/), the control plane's deployment writes the URI 3 s later.
      const booting = render({
        NODE_ROLE: 'coordinator',
        EVENT_LISTENER_WAIT_SECONDS: '60',
        EVENT_LISTENER_POLL_SECONDS: '1',
      });
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await putParameter(
        `${prefix}/config/EVENT_LISTENER_URI`,
        'https://late.lambda-url.us-east-1.on.aws/',
        'String',
      );
      const out = await booting;
      expect(out.code, out.stderr).toBe(0);
      expect(out.stderr).toContain('waiting up to 60 s for /trino-sentinel/rc/config/EVENT_LISTENER_URI');
      const listener = properties(await out.read('event-listener.properties'));
      expect(listener.get('http-event-listener.connect-ingest-uri')).toBe(
        'https://late.lambda-url.us-east-1.on.aws/',
      );
      // A worker never waits (no listener on workers).
      const worker = await render({ NODE_ROLE: 'worker', EVENT_LISTENER_WAIT_SECONDS: '60' });
      expect(worker.code, worker.stderr).toBe(0);
      expect(worker.stderr).not.toContain('waiting up to');
    });

    it('fails the boot with the reason when EVENT_LISTENER_URI never comes', async () => {
      const out = await render({
        NODE_ROLE: 'coordinator',
        EVENT_LISTENER_WAIT_SECONDS: '2',
        EVENT_LISTENER_POLL_SECONDS: '1',
      });
      expect(out.code).toBe(1);
      expect(out.stderr).toContain(
        'no /trino-sentinel/rc/config/EVENT_LISTENER_URI after 2 s: deploy the control plane (serverless deploy) or set QueryLogListenerWaitSeconds=0',
      );
      await expect(out.read('config.properties')).rejects.toThrow(/ENOENT/);
    });
  });

  describe('TLS keystore from SSM and Secrets Manager (multi-line PEM)', () => {
    it.each([
      ['a standard SecureString (RSA 2048 key + certificate, under 4 KB)', 2048, 0, 'Standard'],
      ['an advanced SecureString (RSA 4096 key + certificate + 2 CAs, 4-8 KB)', 4096, 2, 'Advanced'],
    ] as const)('keeps every line of %s', async (_what, bits, chain, tier) => {
      const keystore = await pem(bits, chain);
      expect(keystore.split('\n').length).toBeGreaterThan(40);
      const bytes = Buffer.byteLength(keystore);
      if (tier === 'Advanced') expect([bytes > 4096, bytes <= 8192]).toEqual([true, true]);
      else expect(bytes).toBeLessThanOrEqual(4096);
      await putParameter(`${prefix}/coordinator/TLS_KEYSTORE_PEM`, keystore, 'SecureString', tier);
      const out = await render({ NODE_ROLE: 'coordinator' });
      expect(out.code, out.stderr).toBe(0);
      const config = properties(await out.read('config.properties'));
      const file = config.get('http-server.https.keystore.path') ?? '';
      expect(file).toBe(path.join(out.etc, 'tls', 'keystore.pem'));
      expect(await readFile(file, 'utf8')).toBe(`${keystore}\n`);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    });

    it('reads a key + chain too big for an advanced parameter (over 8 KB) from Secrets Manager', async () => {
      const keystore = await pem(4096, 5);
      expect(Buffer.byteLength(keystore)).toBeGreaterThan(8192);
      const secretId = 'trino-sentinel/rc/coordinator/keystore';
      await aws('secretsmanager', 'create-secret', '--name', secretId, '--secret-string', keystore);
      await putParameter(`${prefix}/coordinator/TLS_KEYSTORE_SECRET_ID`, secretId, 'String');
      const out = await render({ NODE_ROLE: 'standby' });
      expect(out.code, out.stderr).toBe(0);
      expect(await readFile(path.join(out.etc, 'tls', 'keystore.pem'), 'utf8')).toBe(`${keystore}\n`);
    });

    it('fails the boot on a keystore without its certificate (a truncated value)', async () => {
      const keystore = await pem(2048, 0);
      await putParameter(
        `${prefix}/coordinator/TLS_KEYSTORE_PEM`,
        keystore.split('-----END PRIVATE KEY-----')[0] ?? '',
      );
      const out = await render({ NODE_ROLE: 'coordinator' });
      expect(out.code).toBe(1);
      expect(out.stderr).toContain('needs a private key and a certificate chain in PEM');
    });
  });

  describe('per-role S3 configuration', () => {
    it('copies common/ then the role prefix, only allow-listed files', async () => {
      const bucket = 'rc-config';
      await aws('s3api', 'create-bucket', '--bucket', bucket);
      const put = async (key: string, body: string) => {
        const file = path.join(dir, 'upload');
        await writeFile(file, body);
        await aws('s3', 'cp', '--only-show-errors', file, `s3://${bucket}/${cluster}/${key}`);
      };
      await put('common/catalog/tpch.properties', 'connector.name=tpch\n');
      await put('common/catalog/memory.properties', 'connector.name=memory\n');
      await put('common/config-extra.properties', 'query.max-run-time=1h'); // no final newline
      await put('common/notes.txt', 'not configuration\n');
      await put('coordinator/password-authenticator.properties', 'password-authenticator.name=file\n');
      await put('coordinator/password.db', 'sentinel:x\n');
      await put('coordinator/resource-groups.json', '{"rootGroups":[]}\n');
      await put('coordinator/config-extra.properties', 'http-server.authentication.type=PASSWORD\n');
      await put('worker/access-control.properties', 'access-control.name=file\n');
      await put('worker/rules.json', '{"system_information":[]}\n');
      await put('worker/catalog/tpch.properties', 'connector.name=tpch\ntpch.splits-per-node=4\n');
      await put('worker/config-extra.properties', 'task.concurrency=4\n');
      await put('stray.properties', 'old layout\n');
      const env = { CONFIG_S3_URI: `s3://${bucket}/${cluster}` };

      const coordinator = await render({ ...env, NODE_ROLE: 'coordinator' });
      expect(coordinator.code, coordinator.stderr).toBe(0);
      const cConfig = properties(await coordinator.read('config.properties'));
      expect(cConfig.get('query.max-run-time')).toBe('1h');
      expect(cConfig.get('http-server.authentication.type')).toBe('PASSWORD');
      expect(cConfig.has('task.concurrency')).toBe(false);
      expect(await coordinator.read('catalog/tpch.properties')).toBe('connector.name=tpch\n');
      expect(await coordinator.read('catalog/memory.properties')).toBe('connector.name=memory\n');
      expect((await stat(path.join(coordinator.etc, 'catalog/memory.properties'))).mode & 0o777).toBe(0o600);
      expect(await coordinator.read('password.db')).toBe('sentinel:x\n');
      expect(await coordinator.read('resource-groups.json')).toBe('{"rootGroups":[]}\n');
      await expect(coordinator.read('rules.json')).rejects.toThrow(/ENOENT/);
      await expect(coordinator.read('notes.txt')).rejects.toThrow(/ENOENT/);
      expect(coordinator.stderr).toContain('ignoring common/notes.txt (not in the allow-list');
      expect(coordinator.stderr).toContain(
        'ignoring files at the top of s3://rc-config/rc/ (stray.properties)',
      );

      const worker = await render({ ...env, NODE_ROLE: 'worker' });
      expect(worker.code, worker.stderr).toBe(0);
      const wConfig = properties(await worker.read('config.properties'));
      expect(wConfig.get('query.max-run-time')).toBe('1h');
      expect(wConfig.get('task.concurrency')).toBe('4');
      expect(wConfig.has('http-server.authentication.type')).toBe(false);
      expect(await worker.read('catalog/tpch.properties')).toContain('tpch.splits-per-node=4');
      expect(await worker.read('rules.json')).toBe('{"system_information":[]}\n');
      await expect(worker.read('password.db')).rejects.toThrow(/ENOENT/);
    });
  });

  describe('version skew', () => {
    it('fails the boot with a log line and a TrinoVersionSkew metric when the AMI has another release', async () => {
      const out = await render({ NODE_ROLE: 'worker' }, '475');
      expect(out.code).toBe(1);
      expect(out.stderr).toContain(
        'ERROR: version skew: this AMI has Trino 475, the cluster runs Trino 476 (TrinoVersion)',
      );
      await expect(out.read('config.properties')).rejects.toThrow(/ENOENT/);
      const metrics = z
        .object({ Metrics: z.array(z.unknown()) })
        .parse(
          JSON.parse(
            await aws('cloudwatch', 'list-metrics', '--namespace', `CWAgent/${cluster}`, '--output', 'json'),
          ),
        );
      expect(metrics.Metrics).toEqual([
        {
          Namespace: `CWAgent/${cluster}`,
          MetricName: 'TrinoVersionSkew',
          Dimensions: [{ Name: 'ClusterName', Value: cluster }],
        },
      ]);
    });

    it('boots when the AMI has the cluster release', async () => {
      const out = await render({ NODE_ROLE: 'worker' }, '476');
      expect(out.code, out.stderr).toBe(0);
      expect(out.stderr).toContain('Trino 476 (the AMI');
    });
  });

  describe('coordinator or standby, from the instance metadata (no ENI claim at boot)', () => {
    // Test double of IMDSv2 (token PUT + the meta-data paths render-config.sh reads), in a network namespace of
    // this test's own where 169.254.169.254 is a loopback address; it also records any AWS API call (POST), with
    // AWS_ENDPOINT_URL pointed at it. The deployed topology serves the real IMDS.
    const IMDS = `
import http.server, json, sys
paths = json.loads(sys.argv[1])
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, body):
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_PUT(self):
        self.reply(200, b"token") if self.path == "/latest/api/token" else self.reply(404, b"")
    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != "token": return self.reply(401, b"")
        value = paths.get(self.path.removeprefix("/latest/meta-data/"))
        self.reply(404, b"") if value is None else self.reply(200, value.encode())
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        with open(sys.argv[2], "a") as calls: calls.write(body + "\\n")
        self.reply(500, b"")
http.server.HTTPServer(("169.254.169.254", 80), H).serve_forever()
`;
    const withImds = async (macs: Record<string, string>) => {
      const netns = `ts${Math.floor(Math.random() * 0xffff)
        .toString(16)
        .padStart(4, '0')}-imds`;
      const ip = (...args: string[]) => exec('ip', args, { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });
      await ip('netns', 'add', netns);
      try {
        await ip('-n', netns, 'link', 'set', 'lo', 'up');
        await ip('-n', netns, 'addr', 'add', '169.254.169.254/32', 'dev', 'lo');
        const paths: Record<string, string> = {
          'instance-id': 'i-0123456789abcdef0',
          'local-ipv4': '10.42.1.55',
          'network/interfaces/macs/': Object.keys(macs)
            .map((m) => `${m}/`)
            .join('\n'),
        };
        for (const [mac, ips] of Object.entries(macs))
          paths[`network/interfaces/macs/${mac}/local-ipv4s`] = ips;
        const calls = path.join(dir, `${netns}-aws-calls`);
        await writeFile(calls, '');
        const server = spawn(
          'ip',
          ['netns', 'exec', netns, '/usr/bin/python3', '-c', IMDS, JSON.stringify(paths), calls],
          {
            stdio: 'ignore',
          },
        );
        try {
          for (let i = 0; i < 50; i++) {
            const probe = await exec(
              'ip',
              ['netns', 'exec', netns, 'curl', '-sf', '-X', 'PUT', 'http://169.254.169.254/latest/api/token'],
              {
                PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
              },
            );
            if (probe.code === 0) break;
            await new Promise((r) => setTimeout(r, 100));
          }
          run += 1;
          const node = path.join(dir, `imds${run}`);
          await mkdir(node, { recursive: true });
          const etc = path.join(node, 'etc');
          // With the ENI's id at hand, the renderer still makes no AWS call (it claimed the ENI before issue 12).
          const outcome = await exec(
            'ip',
            ['netns', 'exec', netns, 'bash', path.join(REPO_ROOT, 'packer/files/render-config.sh')],
            {
              PATH: `${VENV_BIN}:/usr/bin:/bin:/usr/sbin:/sbin`,
              BOOT_ENV_FILE: '/dev/null',
              NODE_ROLE: 'coordinator',
              COORDINATOR_ADDRESS: '10.42.1.10',
              TRINO_ETC_DIR: etc,
              TRINO_DATA_DIR: path.join(node, 'data'),
              TEMPLATE_DIR: path.join(REPO_ROOT, 'packer/files/templates'),
              TRINO_HEAP: '1G',
              COORDINATOR_ENI_ID: 'eni-0123456789abcdef0',
              AWS_ENDPOINT_URL: 'http://169.254.169.254:80',
              AWS_DEFAULT_REGION: 'us-east-1',
              AWS_ACCESS_KEY_ID: 'testing',
              AWS_SECRET_ACCESS_KEY: 'testing',
              AWS_MAX_ATTEMPTS: '1',
            },
          );
          const config =
            outcome.code === 0
              ? properties(await readFile(path.join(etc, 'config.properties'), 'utf8'))
              : new Map<string, string>();
          const nodeProperties =
            outcome.code === 0
              ? properties(await readFile(path.join(etc, 'node.properties'), 'utf8'))
              : new Map<string, string>();
          return {
            ...outcome,
            config,
            node: nodeProperties,
            awsCalls: (await readFile(calls, 'utf8')).trim(),
          };
        } finally {
          server.kill('SIGKILL');
        }
      } finally {
        await ip('netns', 'del', netns);
      }
    };

    it('renders a standby (discovery on its own loopback) when the coordinator ENI is not attached', async () => {
      const out = await withImds({ '0a:00:00:00:00:01': '10.42.1.55' });
      expect(out.code, out.stderr).toBe(0);
      expect(out.awsCalls).toBe('');
      expect(out.stderr).toContain(
        'is not attached to this instance: standby (only the control plane moves the ENI)',
      );
      expect(out.config.get('discovery.uri')).toBe('http://127.0.0.1:8080');
      expect(out.node.get('node.id')).toBe('i-0123456789abcdef0');
      expect(out.node.get('node.internal-address')).toBe('10.42.1.55');
    });

    it('renders the active coordinator when the ENI is already attached at boot', async () => {
      const out = await withImds({ '0a:00:00:00:00:01': '10.42.1.55', '0a:00:00:00:00:02': '10.42.1.10' });
      expect(out.code, out.stderr).toBe(0);
      expect(out.stderr).toContain('role=coordinator');
      expect(out.config.get('discovery.uri')).toBe('http://10.42.1.10:8080');
      expect(out.node.get('node.internal-address')).toBe('10.42.1.10');
      expect(out.awsCalls).toBe('');
    });
  });

  it('points Trino log.path at the files the CloudWatch agent ships', async () => {
    const out = await render({ NODE_ROLE: 'worker' });
    expect(out.code, out.stderr).toBe(0);
    const logPath = properties(await out.read('config.properties')).get('log.path');
    expect(logPath).toBe(path.join(out.node, 'data', 'var', 'log', 'server.log'));
    const agent = AgentConfig.parse(
      JSON.parse(await readFile(path.join(out.node, 'agent', 'amazon-cloudwatch-agent.json'), 'utf8')),
    );
    const files = agent.logs.logs_collected.files.collect_list.map((f) => f.file_path);
    // airlift writes <log.path>-<start time> and keeps <log.path> a symlink to it: the agent ships the files.
    expect(files).toContain(`${logPath}-*`);
  });
});
