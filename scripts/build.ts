/**
 * `npm run build`: bundles every Lambda entry point into dist/<name>/index.mjs with the deploy options and prints
 * each bundle's size. (`serverless package` bundles the same way through serverless-esbuild.)
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, FUNCTIONS } from './functions.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(REPO_ROOT, 'dist');
await rm(dist, { recursive: true, force: true });
for (const [name, entry] of Object.entries(FUNCTIONS)) {
  const result = await build({
    ...BUNDLE_OPTIONS,
    entryPoints: [path.join(REPO_ROOT, entry)],
    outfile: path.join(dist, name, 'index.mjs'),
  });
  const bytes = Object.values(result.metafile?.outputs ?? {}).reduce((sum, output) => sum + output.bytes, 0);
  console.log(`${name}: dist/${name}/index.mjs ${(bytes / 1024).toFixed(1)} KB`);
}
