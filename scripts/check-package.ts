/**
 * `npm run check:package` (run by scripts/test-all.sh): proves what `osls package` makes of serverless.yml and
 * serverless/*.yml. For each configuration CI packages — `default` (no params: what scripts/check-infra.sh lints) and
 * `cloud` (the params harness/cloud/stacks.ts deploys with) — it packages into a temporary directory, normalizes the
 * CloudFormation template (the S3 artifact folder, a timestamp, becomes `<artifacts>`; object keys sorted, since
 * CloudFormation reads no order) and compares it with the recorded template in test/fixtures/osls-package/. A
 * difference is printed as a unified diff and fails the check; an intended change to the stack is recorded with
 * `npm run check:package -- --update` and reviewed like code. Then it bundles every entry of the function registry
 * with scripts/functions.ts's options (what `npm run build` and the bench use) and checks each function's zip holds
 * exactly that bundle, byte for byte: the two bundlers' options cannot drift apart unnoticed.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import * as z from 'zod';
import { BUNDLE_OPTIONS, BUNDLES, FUNCTIONS } from './functions.ts';

const run = promisify(execFile);
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OSLS = path.join(REPO_ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
const RECORDED = path.join(REPO_ROOT, 'test', 'fixtures', 'osls-package');
const TemplateSchema = z.object({ Resources: z.record(z.string(), z.unknown()) });

/** The packagings CI makes: name → osls arguments after `package`. */
const PACKAGE_CONFIGURATIONS: Readonly<Record<string, readonly string[]>> = {
  default: [],
  cloud: [
    '--stage',
    'cloudit',
    '--region',
    'us-east-1',
    '--param=clusterName=analytics',
    '--param=trinoAuth=basic',
    '--param=trinoCaSsmParameter=/trino-sentinel/analytics/trino-ca',
  ],
};

/**
 * The template as CloudFormation reads it, in a stable text: the per-deploy artifact folder of every S3 key
 * (`serverless/<service>/<stage>/<epoch>-<ISO time>/`) replaced by `<artifacts>`, object keys sorted.
 * @param template - The text of `cloudformation-template-update-stack.json`.
 * @returns Pretty-printed JSON ending with a newline.
 */
function normalizeTemplate(template: string): string {
  const stable = template.replace(
    /(serverless\/[^/"]+\/[^/"]+\/)\d+-\d{4}-\d{2}-\d{2}T[0-9:.]+Z\//g,
    '$1<artifacts>/',
  );
  return `${JSON.stringify(sortKeys(JSON.parse(stable)), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, inner]) => [key, sortKeys(inner)]),
    );
  }
  return value;
}

/**
 * Packages the service with `osls package --package <dir>` (offline, no AWS credentials, as check-infra does).
 * @returns The packaged template's text.
 * @throws Error with osls's output when packaging fails.
 */
async function packageTemplate(dir: string, args: readonly string[]): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_SDK_LOAD_CONFIG: '0' };
  for (const key of ['AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    delete env[key];
  }
  await run(process.execPath, [OSLS, 'package', '--package', dir, ...args], {
    cwd: REPO_ROOT,
    env,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string }) => {
    throw new Error(`osls package ${args.join(' ')} failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  });
  return readFile(path.join(dir, 'cloudformation-template-update-stack.json'), 'utf8');
}

/** Unified diff of two files (`diff -u`); empty when they are equal. */
async function unifiedDiff(recorded: string, fresh: string): Promise<string> {
  return run('diff', ['-u', recorded, fresh]).then(
    () => '',
    (error: { stdout?: string }) => error.stdout ?? '',
  );
}

/**
 * Compares every function's zip in `dir` with the bundle scripts/functions.ts builds for it (the .mjs; its source
 * map names build paths, which differ by design).
 * @returns One line per function whose zip differs (empty when all are equal).
 */
async function compareBundles(dir: string): Promise<string[]> {
  const built = new Map<string, string>();
  for (const { entry, bundle } of BUNDLES) {
    const result = await build({
      ...BUNDLE_OPTIONS,
      entryPoints: [path.join(REPO_ROOT, entry)],
      outdir: path.join(dir, 'build', path.dirname(bundle)),
      write: false,
      logLevel: 'error',
    });
    const code = result.outputFiles.find((file) => file.path.endsWith(bundle))?.text;
    if (code === undefined) throw new Error(`esbuild wrote no ${bundle}`);
    built.set(bundle, code);
  }
  const differences: string[] = [];
  for (const { name, bundle } of FUNCTIONS) {
    const zip = path.join(dir, `${name}.zip`);
    const { stdout } = await run('unzip', ['-p', zip, bundle], { maxBuffer: 64 * 1024 * 1024 }).catch(() => ({
      stdout: undefined,
    }));
    if (stdout === undefined) differences.push(`${name}: ${path.basename(zip)} has no ${bundle}`);
    else if (stdout !== built.get(bundle))
      differences.push(`${name}: ${bundle} in the zip differs from the build`);
  }
  return differences;
}

const update = process.argv.includes('--update');
const work = await mkdtemp(path.join(tmpdir(), 'check-package-'));
let failed = false;
try {
  for (const [name, args] of Object.entries(PACKAGE_CONFIGURATIONS)) {
    const dir = path.join(work, name);
    const fresh = normalizeTemplate(await packageTemplate(dir, args));
    const recordedFile = path.join(RECORDED, `${name}.template.json`);
    if (update) {
      await writeFile(recordedFile, fresh);
      console.log(`check-package: recorded ${path.relative(REPO_ROOT, recordedFile)}`);
      continue;
    }
    if (name === 'default') {
      const differences = await compareBundles(dir);
      if (differences.length === 0) {
        console.log(
          `check-package: ${name}: the ${FUNCTIONS.length} zips hold exactly the bundles scripts/functions.ts builds`,
        );
      } else {
        failed = true;
        console.log(`check-package: ${name}: bundles differ:\n  ${differences.join('\n  ')}`);
      }
    }
    const recorded = await readFile(recordedFile, 'utf8').catch(() => undefined);
    if (recorded === undefined) {
      failed = true;
      console.log(`check-package: ${name}: no recorded template ${path.relative(REPO_ROOT, recordedFile)}`);
      continue;
    }
    const freshFile = path.join(work, `${name}.template.json`);
    await writeFile(freshFile, fresh);
    const diff = recorded === fresh ? '' : await unifiedDiff(recordedFile, freshFile);
    const resources = Object.keys(TemplateSchema.parse(JSON.parse(fresh)).Resources).length;
    if (diff === '') {
      console.log(
        `check-package: ${name}: the packaged template equals the recorded one (${resources} resources)`,
      );
    } else {
      failed = true;
      console.log(`check-package: ${name}: the packaged template differs from the recorded one:\n${diff}`);
    }
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
if (failed) {
  console.log('check-package: FAILED (record an intended change with `npm run check:package -- --update`)');
  process.exitCode = 1;
}
