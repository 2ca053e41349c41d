/**
 * `npm run bench`: figures, not pass/fail. Per function of the registry (serverless/functions.yml): bundle size (KB
 * of the .mjs, from esbuild's metafile, with the deploy options of serverless/esbuild.yml: ESM, minified, node22,
 * `@aws-sdk/*` external since the Lambda runtime ships SDK v3) and module init time (ms, median of N cold imports, each in a fresh Node process). Then one metrics
 * cycle's duration against the sandbox (moto + a real secure Trino), median of several cycles.
 *
 * Flags: `--json` (one JSON object on stdout), `--runs N` (cold imports per function, default 7),
 * `--no-sandbox` (skip the figures that need Trino). With the sandbox it also runs one scale-in drill for the
 * drain figures (bench/drain.ts), 5 failover drills for the failover overhead (bench/failover.ts), and the
 * query-log shipper throughput and end-to-end lag (bench/query-logs.ts).
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { REPO_ROOT } from '../harness/moto.ts';
import { BUNDLE_OPTIONS, BUNDLES } from '../scripts/functions.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const withSandbox = !args.includes('--no-sandbox');
const runsIndex = args.indexOf('--runs');
const runs = runsIndex >= 0 ? Number(args[runsIndex + 1]) : 7;
const log = (line: string) => process.stderr.write(`${line}\n`);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const value =
    sorted.length % 2 === 0 ? ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2 : (sorted[mid] ?? 0);
  return Math.round(value * 10) / 10;
}

async function coldImportMs(file: string): Promise<number> {
  const script = `const t=performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now()-t));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, AWS_REGION: 'us-east-1', POWERTOOLS_LOG_LEVEL: 'SILENT' },
  });
  return Number(stdout);
}

const outDir = path.join(REPO_ROOT, '.esbuild', 'bench');
await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });

const functions: Record<string, { bundle: string; bundleKB: number; initMs: number; initRunsMs: number[] }> =
  {};
for (const { entry, bundle, functions: served } of BUNDLES) {
  const result = await build({
    ...BUNDLE_OPTIONS,
    metafile: true,
    logLevel: 'error',
    entryPoints: [path.join(REPO_ROOT, entry)],
    outdir: path.join(outDir, path.dirname(bundle)),
  });
  // The bundle itself (its source map is shipped beside it, not loaded at init).
  const bytes =
    Object.entries(result.metafile.outputs).find(([file]) => file.endsWith(bundle))?.[1].bytes ?? 0;
  const samples: number[] = [];
  for (let i = 0; i < runs; i += 1) samples.push(await coldImportMs(path.join(outDir, bundle)));
  const figures = {
    bundle,
    bundleKB: Math.round((bytes / 1024) * 10) / 10,
    initMs: median(samples),
    initRunsMs: samples.map((s) => Math.round(s * 10) / 10),
  };
  // Per function, as the package has one zip per function (functions sharing a bundle share its figures).
  for (const name of served) functions[name] = figures;
  log(
    `${bundle.padEnd(44)} bundle ${figures.bundleKB} KB   init ${figures.initMs} ms (median of ${runs}; ${served.join(', ')})`,
  );
}

const report: Record<string, unknown> = { functions, goals: { bundleKB: 300, initMs: 150 } };

if (withSandbox) {
  const { metricsCycleBench } = await import('./metrics-cycle.ts');
  report.metricsCycle = await metricsCycleBench(log);
  const { drainBench } = await import('./drain.ts');
  report.drain = await drainBench(log);
  const { failoverBench } = await import('./failover.ts');
  report.failover = await failoverBench(log);
  const { queryLogBench } = await import('./query-logs.ts');
  report.queryLogs = await queryLogBench(log);
}

if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
else log(JSON.stringify(report, null, 2));
