/**
 * The Lambda functions trino-sentinel ships and how each is bundled, read from the one place they are declared:
 * serverless/functions.yml (the function registry serverless.yml includes) and serverless/esbuild.yml (the
 * serverless-esbuild options serverless.yml includes as `custom.esbuild`). `npm run build`, `npm run bench`,
 * `npm run check:package` and the tests bundle with these, so they measure and test what `osls package` ships.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';
import { parse } from 'yaml';
import * as z from 'zod';

/** The repository root (where serverless.yml is). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** One function of the registry. */
export interface LambdaFunction {
  /** Its key in serverless/functions.yml, e.g. `beginDrain` (also the name of its zip, `<name>.zip`). */
  readonly name: string;
  /** The entry file, relative to the repository root, e.g. `functions/worker-drain/tasks.ts`. */
  readonly entry: string;
  /** The exported handler, e.g. `beginDrain`. */
  readonly exportName: string;
  /** The bundle in the zip (and in dist/), e.g. `functions/worker-drain/tasks.mjs`. */
  readonly bundle: string;
}

/** One bundle: an entry file and the functions it serves (the drain tasks share one). */
export interface LambdaBundle {
  readonly entry: string;
  /** Output path relative to the output directory, e.g. `functions/worker-drain/tasks.mjs` (the zip's layout). */
  readonly bundle: string;
  readonly functions: readonly string[];
}

const RegistrySchema = z.object({
  functions: z.record(
    z.string(),
    z
      .object({
        // `<entry file without .ts>.<export>`, as serverless-esbuild resolves it.
        handler: z.string().regex(/^[\w./-]+\.\w+$/),
      })
      .loose(),
  ),
});

/**
 * serverless/esbuild.yml: every key is listed, so an option added there must be mapped here (`strict`), and the
 * two bundlers cannot drift apart.
 */
const EsbuildConfigSchema = z.strictObject({
  bundle: z.boolean(),
  minify: z.boolean(),
  keepNames: z.boolean(),
  sourcemap: z.boolean(),
  platform: z.enum(['node', 'neutral']),
  target: z.string(),
  format: z.enum(['esm', 'cjs']),
  outputFileExtension: z.enum(['.js', '.mjs', '.cjs']),
  mainFields: z.array(z.string()),
  exclude: z.array(z.string()),
  banner: z.object({ js: z.string() }),
  concurrency: z.number().int().positive(),
});

function readYaml(file: string): unknown {
  return parse(readFileSync(path.join(REPO_ROOT, file), 'utf8'), { merge: true });
}

/**
 * Reads the function registry.
 * @returns Every function in the registry's order.
 * @throws ZodError when serverless/functions.yml does not have the expected shape.
 */
export function loadFunctions(): LambdaFunction[] {
  const registry = RegistrySchema.parse(readYaml('serverless/functions.yml'));
  const extension = EsbuildConfigSchema.parse(readYaml('serverless/esbuild.yml')).outputFileExtension;
  return Object.entries(registry.functions).map(([name, { handler }]) => {
    const dot = handler.lastIndexOf('.');
    const base = handler.slice(0, dot);
    return { name, entry: `${base}.ts`, exportName: handler.slice(dot + 1), bundle: `${base}${extension}` };
  });
}

/**
 * The esbuild options serverless-esbuild builds the package with (serverless/esbuild.yml), as plain esbuild options:
 * `exclude` becomes `external` (the Lambda runtime ships `@aws-sdk/*`), `outputFileExtension` becomes `outExtension`,
 * `concurrency` (osls's parallelism) is dropped.
 * @throws ZodError when serverless/esbuild.yml has a key this does not know.
 */
export function loadBundleOptions(): BuildOptions {
  const {
    exclude,
    outputFileExtension,
    concurrency: _,
    ...options
  } = EsbuildConfigSchema.parse(readYaml('serverless/esbuild.yml'));
  return {
    ...options,
    external: exclude,
    ...(outputFileExtension === '.js' ? {} : { outExtension: { '.js': outputFileExtension } }),
  };
}

/** Every function of serverless/functions.yml, in its order. */
export const FUNCTIONS: readonly LambdaFunction[] = loadFunctions();

/** The bundles to build: one per entry file, with the functions each serves. */
export const BUNDLES: readonly LambdaBundle[] = [...new Set(FUNCTIONS.map((f) => f.entry))].map((entry) => {
  const served = FUNCTIONS.filter((f) => f.entry === entry);
  return { entry, bundle: served[0]?.bundle ?? entry, functions: served.map((f) => f.name) };
});

/**
 * esbuild options of every Lambda bundle (see {@link loadBundleOptions}); set `entryPoints` and `outdir` (the bundle
 * lands at `<outdir>/<basename of the entry><outExtension>`, as serverless-esbuild writes it).
 */
export const BUNDLE_OPTIONS: BuildOptions = loadBundleOptions();
