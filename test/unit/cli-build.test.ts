/**
 * The operator CLI as it ships (scripts/build-cli.ts → dist/cli.mjs, the package's `bin`): built from cli/ and lib/
 * only, importing nothing outside package.json `dependencies`, executable, and answering `--help` with the operator
 * commands (the sandbox and the drills are development commands, harness/cli.ts).
 */
import { execFile } from 'node:child_process';
import { access, constants, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Metafile } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCli, cliBundleProblems } from '../../scripts/build-cli.ts';
import { REPO_ROOT } from '../../scripts/functions.ts';

const run = promisify(execFile);

/** A metafile with one input importing `imports` (external packages unless they are relative). */
function metafileOf(input: string, imports: readonly string[]): Metafile {
  return {
    inputs: {
      [input]: {
        bytes: 1,
        imports: imports.map((specifier) => ({
          path: specifier,
          kind: 'import-statement' as const,
          ...(specifier.startsWith('.') ? {} : { external: true }),
        })),
      },
    },
    outputs: {},
  };
}

describe('cliBundleProblems', () => {
  it.each([
    ['cli/main.ts', ['commander', '@aws-sdk/client-sfn'], []],
    ['cli/main.ts', ['node:http', 'fs', '@aws-sdk/client-sfn/dist-es/index.js', 'zod/v4'], []],
    ['lib/trino/client.ts', ['./schemas.ts'], []],
    ['cli/main.ts', ['tsx'], ['cli/main.ts imports tsx, which is not in package.json dependencies']],
    [
      'cli/main.ts',
      ['@aws-sdk/client-lambda'],
      ['cli/main.ts imports @aws-sdk/client-lambda, which is not in package.json dependencies'],
    ],
    ['harness/moto.ts', [], ['bundles harness/moto.ts (test infrastructure or tooling)']],
    ['test/helpers/tls.ts', [], ['bundles test/helpers/tls.ts (test infrastructure or tooling)']],
    ['scripts/functions.ts', [], ['bundles scripts/functions.ts (test infrastructure or tooling)']],
  ] as const)('%s importing %j: %j', (input, imports, problems) => {
    const dependencies = ['commander', '@aws-sdk/client-sfn', 'zod'];
    expect(cliBundleProblems(metafileOf(input, imports), dependencies)).toEqual(problems);
  });
});

describe('the built operator CLI', () => {
  const outfile = path.join(REPO_ROOT, '.esbuild', 'cli-build-test', 'cli.mjs');
  afterAll(() => rm(path.dirname(outfile), { recursive: true, force: true }));

  it('bundles cli/ and lib/ only, as an executable Node script with the operator commands', async () => {
    const metafile = await buildCli(outfile);
    const folders = new Set(Object.keys(metafile.inputs).map((input) => input.split('/')[0]));
    expect(folders.has('cli')).toBe(true);
    expect([...folders].filter((folder) => folder !== 'cli' && folder !== 'lib')).toEqual([]);
    expect((await readFile(outfile, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    await expect(access(outfile, constants.X_OK)).resolves.toBeUndefined();
    const { stdout } = await run(process.execPath, [outfile, '--help']);
    expect(stdout).toContain('Usage: trino-sentinel');
    expect(stdout).toMatch(/^\s+drain \[options\] <instance-id>/m);
    expect(stdout).toMatch(/^\s+sandbox \[args\.\.\.\]\s+Development checkout only/m);
    expect(stdout).toMatch(/^\s+drill \[args\.\.\.\]\s+Development checkout only/m);
  });

  it('says where to run drills when it is not in a development checkout (it never bundles the harness)', async () => {
    await buildCli(outfile);
    const failed = await run(process.execPath, [outfile, 'drill', 'failover', '--deployed']).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain(
      'trino-sentinel drill: a development command; run it from a checkout after npm ci',
    );
  });

  it('refuses an instance id that is not one, before any AWS call', async () => {
    await buildCli(outfile);
    const failed = await run(process.execPath, [
      outfile,
      'drain',
      'worker-1',
      '--state-machine-arn',
      'arn:x',
    ]).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('not an EC2 instance id: worker-1');
  });
});
