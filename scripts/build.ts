/**
 * `npm run build`: bundles every Lambda entry point of the function registry (serverless/functions.yml) into
 * dist/functions/… with the deploy options (serverless/esbuild.yml), in the layout of the zips `osls package` writes
 * (`functions/worker-drain/tasks.mjs` serves beginDrain, checkDrain and completeDrain), and prints each bundle's
 * size; then the operator CLI into dist/cli.mjs (scripts/build-cli.ts).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { buildCli, CLI_OUTFILE } from './build-cli.ts';
import { BUNDLE_OPTIONS, BUNDLES, REPO_ROOT } from './functions.ts';

const dist = path.join(REPO_ROOT, 'dist');
await rm(path.join(dist, 'functions'), { recursive: true, force: true });
for (const { entry, bundle, functions } of BUNDLES) {
  const result = await build({
    ...BUNDLE_OPTIONS,
    metafile: true,
    logLevel: 'error',
    entryPoints: [path.join(REPO_ROOT, entry)],
    outdir: path.join(dist, path.dirname(bundle)),
  });
  const bytes =
    Object.entries(result.metafile.outputs).find(([file]) => file.endsWith(bundle))?.[1].bytes ?? 0;
  console.log(`dist/${bundle} ${(bytes / 1024).toFixed(1)} KB (${functions.join(', ')})`);
}
await buildCli();
console.log(`${path.relative(REPO_ROOT, CLI_OUTFILE)} (operator CLI)`);
