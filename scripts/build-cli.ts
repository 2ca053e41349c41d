/**
 * Builds the operator CLI (cli/main.ts) into dist/cli.mjs, the package's `bin`: one ESM file for Node 22 whose
 * packages stay imports (`packages: 'external'`), so it runs with the package's `dependencies` installed and nothing
 * else (no tsx, no TypeScript). Run by `npm run build` and by `prepare` (so `npm install`/`npm ci` in a checkout, and
 * `npm pack`, leave it built). A bundle that reaches into the test infrastructure (harness/, test/, bench/, scripts/)
 * or imports a package outside `dependencies` is refused and removed.
 *
 * @module
 */

import { chmod, readFile, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import * as z from 'zod';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where `npm run build` writes the CLI (the `bin` of package.json). */
export const CLI_OUTFILE = path.join(REPO_ROOT, 'dist', 'cli.mjs');

/** Folders the shipped CLI must never bundle: test infrastructure and tooling. */
const NOT_SHIPPED = ['harness/', 'test/', 'bench/', 'scripts/'] as const;

/** esbuild options of the CLI bundle (set `outfile`). */
export const CLI_BUILD_OPTIONS: BuildOptions = {
  absWorkingDir: REPO_ROOT,
  entryPoints: ['cli/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  packages: 'external',
  banner: { js: '#!/usr/bin/env node' },
  metafile: true,
  logLevel: 'error',
};

/** The npm package an import names (`@aws-sdk/client-sfn/dist/x` → `@aws-sdk/client-sfn`), or undefined for Node's. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('node:') || builtinModules.includes(specifier)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * What is wrong with a CLI bundle: a source file from a folder that does not ship, or an import of a package the
 * package does not depend on (it would be missing where only `dependencies` are installed).
 * @param metafile - esbuild's metafile of the bundle (input paths relative to the repository root).
 * @param dependencies - The names in package.json's `dependencies`.
 * @returns One line per problem; empty when the bundle can ship.
 * @example
 * cliBundleProblems(metafile, ['commander']); // ['bundles harness/moto.ts (test infrastructure)', …]
 */
export function cliBundleProblems(metafile: Metafile, dependencies: readonly string[]): string[] {
  const problems: string[] = [];
  for (const [input, { imports }] of Object.entries(metafile.inputs)) {
    if (NOT_SHIPPED.some((folder) => input.startsWith(folder))) {
      problems.push(`bundles ${input} (test infrastructure or tooling)`);
    }
    for (const imported of imports) {
      const name = imported.external ? packageOf(imported.path) : undefined;
      if (name !== undefined && !dependencies.includes(name)) {
        problems.push(`${input} imports ${name}, which is not in package.json dependencies`);
      }
    }
  }
  return [...new Set(problems)];
}

const PackageJsonSchema = z.object({ dependencies: z.record(z.string(), z.string()) });

/**
 * Builds the CLI into `outfile` (executable) and checks it with {@link cliBundleProblems}.
 * @returns The bundle's metafile.
 * @throws Error listing the problems (the file is removed), or esbuild's error.
 */
export async function buildCli(outfile: string = CLI_OUTFILE): Promise<Metafile> {
  const { metafile } = await build({ ...CLI_BUILD_OPTIONS, metafile: true, outfile });
  const { dependencies } = PackageJsonSchema.parse(
    JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')),
  );
  const problems = cliBundleProblems(metafile, Object.keys(dependencies));
  if (problems.length > 0) {
    await rm(outfile, { force: true });
    throw new Error(`the operator CLI cannot ship:\n  ${problems.join('\n  ')}`);
  }
  await chmod(outfile, 0o755);
  return metafile;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const metafile = await buildCli();
  const bytes = Object.values(metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
  console.log(`${path.relative(REPO_ROOT, CLI_OUTFILE)} ${(bytes / 1024).toFixed(1)} KB (operator CLI)`);
}
