/**
 * Test infrastructure: the development CLI, run from a checkout through tsx (it needs the devDependencies and the
 * harness's real Trino, moto and OpenSearch): `npm run sandbox -- …` and `npm run drill -- <drill> --sandbox …`.
 * The operator CLI that ships (`trino-sentinel`, cli/main.ts → dist/cli.mjs) has none of this.
 *
 * @module
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import * as z from 'zod';
import { HARNESS_LINES, type HarnessLine } from './cluster.ts';
import {
  runDeployedDrill,
  runFailoverSandboxDrill,
  runFaultMatrixDrill,
  runQueryLogSandboxDrill,
  runScaleInSandboxDrill,
} from './drills/commands.ts';
import { runDeployedSandbox, runSandbox } from './sandbox.ts';

const program = new Command()
  .name('npm run')
  .description('trino-sentinel development commands: the sandbox and the drills (test infrastructure)')
  .showHelpAfterError();

const PositiveInt = z.coerce.number().int().positive();

/** commander parser of a positive integer option. @throws InvalidArgumentError otherwise. */
function positiveInt(value: string): number {
  const parsed = PositiveInt.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError('must be a positive integer');
  return parsed.data;
}

program
  .command('sandbox')
  .description(
    'Start moto, a Trino coordinator and worker, and run the scheduled functions on timers against them (Ctrl-C stops everything)',
  )
  .option('--once', 'run one cycle, print a snapshot and exit', false)
  .option('--json', 'print JSON snapshots instead of the live view', false)
  .addOption(
    new Option(
      '--line <line>',
      'release line: Trino newest (476) or older (435), or prestodb (PrestoDB 0.287)',
    )
      .choices(HARNESS_LINES)
      .default('newest'),
  )
  .option(
    '--insecure',
    'plain HTTP, no authentication (default: HTTPS + password + file access control)',
    false,
  )
  .option('--interval <seconds>', 'seconds between cycles in live mode', positiveInt, 15)
  .option('--workers <n>', 'number of Trino workers', positiveInt, 1)
  .option(
    '--deployed',
    'the deployed topology instead: packaged stacks in the emulator, deployed zips, instances booting the AMI path in network namespaces (root)',
    false,
  )
  .action(
    async (options: {
      once: boolean;
      json: boolean;
      line: HarnessLine;
      insecure: boolean;
      interval: number;
      workers: number;
      deployed: boolean;
    }) => {
      process.exitCode = options.deployed ? await runDeployedSandbox(options) : await runSandbox(options);
    },
  );

/** Lines the scale-in and failover drills run on (both run secure clusters with several nodes). */
const DRILL_LINES = ['newest', 'prestodb'] as const;
type DrillLine = (typeof DRILL_LINES)[number];
const drillLine = () =>
  new Option('--line <line>', 'release line: Trino newest (476) or prestodb (PrestoDB 0.287)')
    .choices(DRILL_LINES)
    .default('newest');

/**
 * Where a drill runs: `--sandbox` (moto + real Trino on loopback, the fast path) or `--deployed` (the deployed
 * topology of harness/cloud/: what users deploy, in network namespaces; root). Exactly one is required.
 */
function targetOption(target: 'sandbox' | 'deployed'): Option {
  const other = target === 'sandbox' ? 'deployed' : 'sandbox';
  return new Option(
    `--${target}`,
    target === 'sandbox'
      ? 'run against the local sandbox (moto + real Trino on loopback)'
      : 'run against the deployed topology (packaged stacks, deployed zips, the AMI boot path in namespaces; root)',
  ).conflicts(other);
}

const drill = program
  .command('drill')
  .description('Rehearse a control-plane action and measure it (--sandbox or --deployed)')
  .hook('preAction', (_command, action) => {
    if (action.name() === 'faults') return; // the fast path only (moto and local Step Functions)
    const options = action.opts();
    if (!options.sandbox && !options.deployed)
      action.error('error: one of --sandbox or --deployed is required');
  });
drill
  .command('scale-in')
  .description(
    'Scale the worker group in by one while a query runs; print {queriesFailed, lifecycleResult, heartbeats, drainSeconds}',
  )
  .addOption(targetOption('sandbox'))
  .addOption(targetOption('deployed'))
  .option('--json', 'print one JSON object', false)
  .option(
    '--heartbeat-timeout <seconds>',
    'lifecycle hook HeartbeatTimeout (AWS minimum 30; --sandbox)',
    positiveInt,
    30,
  )
  .addOption(drillLine())
  .option('--workers <n>', 'workers of the deployed worker group (--deployed)', positiveInt, 2)
  .action(
    async (options: {
      json: boolean;
      heartbeatTimeout: number;
      line: DrillLine;
      deployed?: boolean;
      workers: number;
    }) => {
      process.exitCode = options.deployed
        ? await runDeployedDrill('scale-in', options)
        : await runScaleInSandboxDrill(options);
    },
  );
drill
  .command('failover')
  .description(
    'Kill the active coordinator of an HA sandbox (coordinator, hot standby, worker behind an ENI proxy) and print {detectedAfterMs, servingAfterMs, workersBackAfterMs, falseFailovers, enisAttached}',
  )
  .addOption(targetOption('sandbox'))
  .addOption(targetOption('deployed'))
  .option('--json', 'print one JSON object', false)
  .option(
    '--probe-interval-ms <ms>',
    'detector probe interval (detection window = 3 × this; --sandbox)',
    positiveInt,
    1000,
  )
  .addOption(drillLine())
  .option('--workers <n>', 'workers of the deployed worker group (--deployed)', positiveInt, 2)
  .option(
    '--repeat <n>',
    'failovers in a row on one deployed topology, each of the coordinator the last one promoted (--deployed)',
    positiveInt,
    1,
  )
  .addOption(
    new Option(
      '--hang-at <when>',
      "when to hang the coordinator: 'ready' (after the healthy watch) or 'random' (uniformly over the health loop's minute; prints the {p50, p90, max} summary) (--deployed)",
    )
      .choices(['ready', 'random'])
      .default('ready'),
  )
  .action(
    async (options: {
      json: boolean;
      probeIntervalMs: number;
      line: DrillLine;
      deployed?: boolean;
      workers: number;
      repeat: number;
      hangAt: 'ready' | 'random';
    }) => {
      process.exitCode = options.deployed
        ? await runDeployedDrill('failover', options)
        : await runFailoverSandboxDrill(options);
    },
  );
drill
  .command('query-logs')
  .description(
    'Run N real queries (some failing, one cancelled) with the HTTP event listener pointed at the ingest path; print {queriesRun, documentsFound, missing, duplicates, lagP99Ms}',
  )
  .addOption(targetOption('sandbox'))
  .addOption(targetOption('deployed'))
  .option('--json', 'print one JSON object', false)
  .option('--queries <n>', 'queries to run (at least 3)', positiveInt, 20)
  .option('--workers <n>', 'workers of the deployed worker group (--deployed)', positiveInt, 2)
  .action(async (options: { json: boolean; queries: number; deployed?: boolean; workers: number }) => {
    process.exitCode = options.deployed
      ? await runDeployedDrill('query-logs', options)
      : await runQueryLogSandboxDrill(options);
  });

drill
  .command('faults')
  .description(
    'The fault matrix: every Task state of the failover and drain state machines under every fault class, on the fast path (moto, local Step Functions, Trino doubles); print {cases, invariantsHeld, violations}',
  )
  .option('--json', 'print one JSON object', false)
  .option('--only <name...>', 'keep the cases of these Task states, fault classes, operations or scenarios')
  .action(async (options: { json: boolean; only?: string[] }) => {
    process.exitCode = await runFaultMatrixDrill(options);
  });

await program.parseAsync(process.argv);
