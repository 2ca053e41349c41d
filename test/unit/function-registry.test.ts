/**
 * The function registry (serverless/functions.yml, read by scripts/functions.ts) against the code and the stack:
 * every handler names an entry file that exports it, every function is named after its key and runs under a role
 * its capability declares, and the bundle options are serverless-esbuild's in esbuild's words. (That the zips hold
 * exactly these bundles is checked by `npm run check:package`.)
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as z from 'zod';
import { BUNDLE_OPTIONS, BUNDLES, FUNCTIONS, REPO_ROOT } from '../../scripts/functions.ts';
import { serverlessResources } from '../helpers/serverless-config.ts';

const registry = z
  .object({
    functions: z.record(
      z.string(),
      z
        .object({
          name: z.string(),
          role: z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) }),
        })
        .loose(),
    ),
  })
  .parse(parse(readFileSync(path.join(REPO_ROOT, 'serverless/functions.yml'), 'utf8'), { merge: true }));

/** The names a module exports (esbuild's metafile, without bundling). */
async function exportsOf(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [path.join(REPO_ROOT, entry)],
    bundle: false,
    write: false,
    metafile: true,
    format: 'esm',
    outdir: path.join(REPO_ROOT, '.esbuild', 'exports'),
    logLevel: 'silent',
  });
  return Object.values(result.metafile.outputs).flatMap((output) => output.exports);
}

describe('the function registry (serverless/functions.yml)', () => {
  it('lists every function once, in the order osls packages them', () => {
    expect(FUNCTIONS.map((f) => f.name)).toEqual(Object.keys(registry.functions));
    expect(FUNCTIONS.length).toBeGreaterThanOrEqual(13);
  });

  it.each(FUNCTIONS.map((f) => [f.name, f] as const))(
    '%s: its entry file exists and exports the handler the registry names',
    async (_, fn) => {
      expect(existsSync(path.join(REPO_ROOT, fn.entry))).toBe(true);
      expect(await exportsOf(fn.entry)).toContain(fn.exportName);
    },
  );

  it.each(Object.entries(registry.functions))(
    '%s: is named <functionPrefix>-<key> and runs under a role its capability declares',
    (key, fn) => {
      expect(fn.name).toBe(`\${self:custom.functionPrefix}-${key}`);
      const [role] = fn.role['Fn::GetAtt'];
      expect(serverlessResources()[role]?.Type).toBe('AWS::IAM::Role');
    },
  );

  it('builds one bundle per entry file, in the zip layout (the drain tasks share one)', () => {
    expect(BUNDLES.find((b) => b.entry === 'functions/worker-drain/tasks.ts')).toEqual({
      entry: 'functions/worker-drain/tasks.ts',
      bundle: 'functions/worker-drain/tasks.mjs',
      functions: ['beginDrain', 'checkDrain', 'completeDrain'],
    });
    expect(new Set(BUNDLES.map((b) => b.entry)).size).toBe(BUNDLES.length);
    expect(BUNDLES.flatMap((b) => b.functions).sort()).toEqual(FUNCTIONS.map((f) => f.name).sort());
  });
});

describe('the bundle options (serverless/esbuild.yml)', () => {
  it("turns serverless-esbuild's own keys into esbuild's: exclude → external, outputFileExtension → outExtension", () => {
    expect(BUNDLE_OPTIONS.external).toEqual(['@aws-sdk/*']);
    expect(BUNDLE_OPTIONS.outExtension).toEqual({ '.js': '.mjs' });
    expect(Object.keys(BUNDLE_OPTIONS)).not.toContain('exclude');
    expect(Object.keys(BUNDLE_OPTIONS)).not.toContain('concurrency');
    expect(Object.keys(BUNDLE_OPTIONS)).not.toContain('outputFileExtension');
  });

  it('bundles what is deployed: minified ESM for node22 with class names kept and a source map', () => {
    expect(BUNDLE_OPTIONS).toMatchObject({
      bundle: true,
      minify: true,
      keepNames: true,
      sourcemap: true,
      format: 'esm',
      platform: 'node',
      target: 'node22',
    });
  });
});
