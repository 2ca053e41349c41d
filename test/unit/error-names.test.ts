/**
 * The error contract survives the bundle: Lambda reports a thrown error's `name` as `errorType`, and every
 * Retry/Catch in statemachines/ matches on it. A minified bundle renames classes, so a name derived from the
 * constructor (`new.target.name`) became `Ee`, `ye`… in the zips that shipped. This bundles lib/errors.ts with the
 * deploy options and checks every class's name; the deployed-topology tests check the zips themselves.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { BUNDLE_OPTIONS } from '../../scripts/functions.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function errorClassNames(): Promise<string[]> {
  const source = await readFile(path.join(root, 'lib/errors.ts'), 'utf8');
  return [...source.matchAll(/^export class (\w+) extends/gm)].map((m) => m[1] ?? '');
}

describe('error names in a minified bundle', () => {
  it('every class in lib/errors.ts keeps its own name under the deploy esbuild options', async () => {
    const names = await errorClassNames();
    expect(names.length).toBeGreaterThan(15);
    const entry = [
      `import * as errors from ${JSON.stringify(path.join(root, 'lib/errors.ts'))};`,
      'const out = {};',
      'for (const [exported, Cls] of Object.entries(errors)) {',
      "  const e = Cls.prototype instanceof errors.TrinoHttpError || Cls === errors.TrinoHttpError ? new Cls('m', 500, '') : new Cls('m');",
      '  out[exported] = { name: e.name, isError: e instanceof Error };',
      '}',
      'export default out;',
    ].join('\n');
    const result = await build({
      ...BUNDLE_OPTIONS,
      metafile: false,
      write: false,
      stdin: { contents: entry, resolveDir: root, loader: 'ts' },
    });
    const code = result.outputFiles?.[0]?.text ?? '';
    const dir = await mkdtemp(path.join(tmpdir(), 'error-names-'));
    const file = path.join(dir, 'errors.mjs');
    await writeFile(file, code);
    const bundled = (
      (await import(pathToFileURL(file).href)) as {
        default: Record<string, { name: string; isError: boolean }>;
      }
    ).default;
    await rm(dir, { recursive: true, force: true });
    expect(Object.keys(bundled).sort()).toEqual([...names].sort());
    for (const name of names) expect(bundled[name]).toEqual({ name, isError: true });
  });
});
