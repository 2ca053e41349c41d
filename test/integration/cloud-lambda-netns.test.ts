/**
 * Execution environments placed in a network namespace (lambda-runtime.ts `placement.netns`), in a miniature of the
 * deployed topology (harness/cloud/DESIGN.md): an outer namespace `<p>-cloud` with moto, the front endpoint and the
 * Lambda service, a Lambda namespace `<p>-lambda`, and one veth pair between them (the service link,
 * 10.42.252.1/30 outer side, 10.42.252.2/30 Lambda side). Neither namespace has a link, route or NAT to the host.
 * The namespaces are removed after the test, and by a watchdog if this process dies first.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { REPO_ROOT } from '../../harness/moto.ts';

const run = promisify(execFile);
const prefix = `ts${randomBytes(2).toString('hex')}`;
const CLOUD = `${prefix}-cloud`;
const LAMBDA = `${prefix}-lambda`;
const CLOUD_ADDRESS = '10.42.252.1';
const LAMBDA_ADDRESS = '10.42.252.2';

beforeAll(async () => {
  await run('ip', ['netns', 'add', CLOUD]);
  await run('ip', ['netns', 'add', LAMBDA]);
  // Removes both namespaces within a second of this process dying without afterAll.
  spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ip netns del "$2" 2>/dev/null; ip netns del "$3" 2>/dev/null',
      'netns-watchdog',
      String(process.pid),
      CLOUD,
      LAMBDA,
    ],
    { detached: true, stdio: 'ignore' },
  ).unref();
  for (const ns of [CLOUD, LAMBDA]) await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  // Created inside the outer namespace with its peer in the Lambda namespace: nothing touches the host's.
  await run('ip', [
    '-n',
    CLOUD,
    'link',
    'add',
    `${prefix}-sl0`,
    'type',
    'veth',
    'peer',
    'name',
    `${prefix}-sl1`,
    'netns',
    LAMBDA,
  ]);
  await run('ip', ['-n', CLOUD, 'addr', 'add', `${CLOUD_ADDRESS}/30`, 'dev', `${prefix}-sl0`]);
  await run('ip', ['-n', LAMBDA, 'addr', 'add', `${LAMBDA_ADDRESS}/30`, 'dev', `${prefix}-sl1`]);
  await run('ip', ['-n', CLOUD, 'link', 'set', `${prefix}-sl0`, 'up']);
  await run('ip', ['-n', LAMBDA, 'link', 'set', `${prefix}-sl1`, 'up']);
});

afterAll(async () => {
  for (const ns of [CLOUD, LAMBDA]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
});

describe('an execution environment in the Lambda namespace', () => {
  it('runs the function there, invoked over the service link, reaching the front endpoint through AWS_ENDPOINT_URL', async () => {
    const { stdout, stderr } = await run(
      'ip',
      [
        'netns',
        'exec',
        CLOUD,
        process.execPath,
        '--import',
        'tsx',
        path.join('test', 'helpers', 'lambda-netns-probe.ts'),
        LAMBDA,
        CLOUD_ADDRESS,
        LAMBDA_ADDRESS,
      ],
      { cwd: REPO_ROOT, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
    ).catch((error: unknown) => {
      throw new Error(`probe failed: ${String(error)}`);
    });
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (line === undefined) throw new Error(`no RESULT line; stderr:\n${stderr.slice(-4000)}`);
    const result = z
      .object({
        functionError: z.string().nullable(),
        endpointUrl: z.string(),
        payload: z.object({
          parameter: z.string().nullable(),
          addresses: z.array(z.string()),
          env: z.record(z.string(), z.string().nullable()),
        }),
      })
      .parse(JSON.parse(line.slice('RESULT '.length)));
    expect(result.functionError).toBeNull();
    // The SSM call went from the Lambda namespace over the service link to the endpoint, then to moto.
    expect(result.payload.parameter).toBe('hello across the service link');
    expect(result.payload.env.AWS_ENDPOINT_URL).toBe(result.endpointUrl);
    expect(result.endpointUrl).toMatch(new RegExp(`^http://${CLOUD_ADDRESS.replaceAll('.', '\\.')}:\\d+$`));
    // The function saw the Lambda namespace's interfaces, not the outer one's.
    expect(result.payload.addresses).toContain(LAMBDA_ADDRESS);
    expect(result.payload.addresses).not.toContain(CLOUD_ADDRESS);
    expect(stderr).toContain(`in netns ${LAMBDA}`);
  });
});
