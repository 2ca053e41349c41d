/**
 * `npm run bench`: figures, not pass/fail; each figure carries its goal. Per function of the registry
 * (serverless/functions.yml): bundle size (KB of the .mjs, from esbuild's metafile, with the deploy options of
 * serverless/esbuild.yml: ESM, minified, node22, `@aws-sdk/*` external since the Lambda runtime ships SDK v3), its
 * largest inputs, and module init time (ms, median
 * of N cold imports, each in a fresh Node process, with how busy the machine's cores were meanwhile);
 * `failover.coldPathInitMs` (cold inits on the failover path as deployed: coordinatorHealth + the one
 * coordinatorFailover function).
 *
 * Against moto and the scale double (harness/scale-double.ts: recorded Trino 476 responses multiplied to N workers),
 * with or without the sandbox: `metricsCycle500` (bench/metrics-cycle-scale.ts), `terminationPolicy1000`
 * (bench/termination-policy.ts) and `cost` (bench/cost-bench.ts, prices in bench/prices.ts, docs/cost.md; it uses
 * the sandbox's drain and shipper figures when the sandbox ran).
 *
 * Flags: `--json` (one JSON object on stdout), `--runs N` (cold imports per function, default 7),
 * `--no-sandbox` (skip the figures that need a real Trino / OpenSearch). With the sandbox it also measures one
 * metrics cycle against a real secure Trino (bench/metrics-cycle.ts), runs one scale-in drill for the drain figures
 * (bench/drain.ts), 5 failover drills for the failover overhead (bench/failover.ts), and the query-log shipper
 * throughput and end-to-end lag (bench/query-logs.ts).
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { REPO_ROOT, startMoto } from '../harness/moto.ts';
import { BUNDLE_OPTIONS, BUNDLES } from '../scripts/functions.ts';
import { median } from './figures.ts';
import { type MachineLoad, measureLoad } from './machine.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const withSandbox = !args.includes('--no-sandbox');
const runsIndex = args.indexOf('--runs');
const runs = runsIndex >= 0 ? Number(args[runsIndex + 1]) : 7;
const log = (line: string) => process.stderr.write(`${line}\n`);
// With --json, stdout carries the one JSON object only: anything else written there meanwhile (EMF lines of
// the query-log drill's ingest, a handler's log line) goes to stderr.
const writeStdout = process.stdout.write.bind(process.stdout);
if (json) {
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) =>
    process.stderr.write(chunk, ...rest)) as typeof process.stdout.write;
}
// Handlers run in this process for the moto figures: their logs would drown the figures.
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

/**
 * One cold import of a bundle in a fresh Node process: wall-clock ms (what a cold start waits) and the CPU ms the
 * process spent meanwhile (user + system: what it costs on an idle core, far less sensitive to other load).
 */
async function coldImport(file: string): Promise<{ ms: number; cpuMs: number }> {
  const script = `const c=process.cpuUsage(); const t=performance.now(); await import(${JSON.stringify(file)}); const u=process.cpuUsage(c); process.stdout.write(JSON.stringify({ms:performance.now()-t,cpuMs:(u.user+u.system)/1000}));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, AWS_REGION: 'us-east-1', POWERTOOLS_LOG_LEVEL: 'SILENT' },
  });
  const parsed: unknown = JSON.parse(stdout);
  const field = (name: string) =>
    typeof parsed === 'object' && parsed !== null && name in parsed ? Number(Reflect.get(parsed, name)) : NaN;
  return { ms: field('ms'), cpuMs: field('cpuMs') };
}

/** Bytes in the bundle by package (or first two path segments of our own code), largest first. */
function largestInputs(metafile: Metafile | undefined, top = 6): { input: string; kb: number }[] {
  const byInput = new Map<string, number>();
  for (const output of Object.values(metafile?.outputs ?? {})) {
    for (const [file, info] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1];
      const key = pkg ?? file.split('/').slice(0, 2).join('/');
      byInput.set(key, (byInput.get(key) ?? 0) + info.bytesInOutput);
    }
  }
  return [...byInput]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([input, bytes]) => ({ input, kb: Math.round((bytes / 1024) * 10) / 10 }));
}

const outDir = path.join(REPO_ROOT, '.esbuild', 'bench');
await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });

interface FunctionFigures {
  bundleKB: number;
  /** Median wall-clock ms of a cold import (the figure the goal is about). */
  initMs: number;
  initRunsMs: number[];
  /** Median CPU ms of the same imports (user + system of the importing process). */
  initCpuMs: number;
  machine: MachineLoad;
  largestInputs: { input: string; kb: number }[];
}
const functions: Record<string, FunctionFigures> = {};
for (const { entry, bundle, functions: served } of BUNDLES) {
  const result = await build({
    ...BUNDLE_OPTIONS,
    metafile: true,
    logLevel: 'error',
    entryPoints: [path.join(REPO_ROOT, entry)],
    outdir: path.join(outDir, path.dirname(bundle)),
  });
  const outfile = path.join(outDir, bundle);
  // The bundle itself (its source map is shipped beside it, not loaded at init).
  const bytes =
    Object.entries(result.metafile.outputs).find(([file]) => file.endsWith(bundle))?.[1].bytes ?? 0;
  const samples: { ms: number; cpuMs: number }[] = [];
  const window = measureLoad();
  for (let i = 0; i < runs; i += 1) samples.push(await coldImport(outfile));
  const figures: FunctionFigures = {
    bundleKB: Math.round((bytes / 1024) * 10) / 10,
    initMs: median(samples.map((s) => s.ms)),
    initRunsMs: samples.map((s) => Math.round(s.ms * 10) / 10),
    initCpuMs: median(samples.map((s) => s.cpuMs)),
    machine: window(),
    largestInputs: largestInputs(result.metafile),
  };
  // Per function, as the package has one zip per function (functions sharing a bundle share its figures).
  for (const name of served) functions[name] = figures;
  const name = served.join(', ');
  log(
    `${name.padEnd(20)} bundle ${figures.bundleKB} KB   init ${figures.initMs} ms, ${figures.initCpuMs} ms CPU (median of ${runs}; ` +
      `${figures.machine.busyCores ?? '?'} of ${figures.machine.cores} cores busy meanwhile)`,
  );
}
log(
  `queryLogShip largest inputs: ${(functions.queryLogShip?.largestInputs ?? []).map((i) => `${i.input} ${i.kb} KB`).join(', ')}`,
);

const initOf = (name: string) => functions[name]?.initMs ?? 0;
/** As deployed: the health detector's container, then the ONE failover function (all its Task states). */
const coldPath = ['coordinatorHealth', 'coordinatorFailover'];
const coldPathInitMs = Math.round(coldPath.reduce((sum, name) => sum + initOf(name), 0) * 10) / 10;
const coldPathInitCpuMs =
  Math.round(coldPath.reduce((sum, name) => sum + (functions[name]?.initCpuMs ?? 0), 0) * 10) / 10;
log(
  `failover cold path   ${coldPathInitMs} ms of cold init, ${coldPathInitCpuMs} ms CPU (${coldPath.join(' + ')}, each once)`,
);

const report: Record<string, unknown> = {
  functions,
  goals: { queryLogShipBundleKB: 300, initMs: 150, coldPathInitMs: 1000 },
};
const failover: Record<string, unknown> = { coldPathInitMs, coldPathInitCpuMs, coldPath };
report.failover = failover;

/** Runs one figure; a failure is reported in the figure (`{ error }`) instead of ending the bench. */
async function figure<T>(name: string, run: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await run();
  } catch (error) {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    log(`${name}: FAILED ${text}`);
    return { error: text };
  }
}

if (withSandbox) {
  const { metricsCycleBench } = await import('./metrics-cycle.ts');
  report.metricsCycle = await figure('metricsCycle', () => metricsCycleBench(log));
  const { drainBench } = await import('./drain.ts');
  report.drain = await figure('drain', () => drainBench(log));
  const { failoverBench } = await import('./failover.ts');
  Object.assign(failover, await figure('failover', () => failoverBench(log)));
  const { queryLogBench } = await import('./query-logs.ts');
  report.queryLogs = await figure('queryLogs', () => queryLogBench(log));
}

const moto = await startMoto();
try {
  const { metricsCycleScaleBench } = await import('./metrics-cycle-scale.ts');
  report.metricsCycle500 = await figure('metricsCycle500', () => metricsCycleScaleBench(moto, log));
  const { terminationPolicyBench } = await import('./termination-policy.ts');
  report.terminationPolicy1000 = await figure('terminationPolicy1000', () =>
    terminationPolicyBench(moto, log),
  );
  const { costBench } = await import('./cost-bench.ts');
  const drain = report.drain as { transitionsPerCheck?: number } | undefined;
  const queryLogs = report.queryLogs as { shipperEventsPerSecond?: number } | undefined;
  report.cost = await figure('cost', () =>
    costBench(moto, log, {
      sandbox: {
        ...(drain?.transitionsPerCheck === undefined
          ? {}
          : { drainTransitionsPerCheck: drain.transitionsPerCheck }),
        ...(queryLogs?.shipperEventsPerSecond === undefined
          ? {}
          : { shipperEventsPerSecond: queryLogs.shipperEventsPerSecond }),
      },
    }),
  );
} finally {
  await moto.stop();
}

if (json) writeStdout(`${JSON.stringify(report)}\n`);
else log(JSON.stringify(report, null, 2));
