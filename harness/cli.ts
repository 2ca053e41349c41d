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
  runFailoverSandboxDrill,
  runQueryLogSandboxDrill,
  runScaleInSandboxDrill,
} from './drills/commands.ts';
import { runSandbox } from './sandbox.ts';

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
  .action(
    async (options: {
      once: boolean;
      json: boolean;
      line: HarnessLine;
      insecure: boolean;
      interval: number;
      workers: number;
    }) => {
      process.exitCode = await runSandbox(options);
    },
  );

/** Lines the scale-in and failover drills run on (both run secure clusters with several nodes). */
const DRILL_LINES = ['newest', 'prestodb'] as const;
type DrillLine = (typeof DRILL_LINES)[number];
const drillLine = () =>
  new Option('--line <line>', 'release line: Trino newest (476) or prestodb (PrestoDB 0.287)')
    .choices(DRILL_LINES)
    .default('newest');

const drill = program.command('drill').description('Rehearse a control-plane action and measure it');
drill
  .command('scale-in')
  .description(
    'Scale the worker group in by one while a query runs; print {queriesFailed, lifecycleResult, heartbeats, drainSeconds}',
  )
  .requiredOption('--sandbox', 'run against the local sandbox (moto + real Trino); the only target today')
  .option('--json', 'print one JSON object', false)
  .option(
    '--heartbeat-timeout <seconds>',
    'lifecycle hook HeartbeatTimeout (AWS minimum 30)',
    positiveInt,
    30,
  )
  .addOption(drillLine())
  .action(async (options: { json: boolean; heartbeatTimeout: number; line: DrillLine }) => {
    process.exitCode = await runScaleInSandboxDrill(options);
  });
drill
  .command('failover')
  .description(
    'Kill the active coordinator of an HA sandbox (coordinator, hot standby, worker behind an ENI proxy) and print {detectedAfterMs, servingAfterMs, workersBackAfterMs, falseFailovers, enisAttached}',
  )
  .requiredOption(
    '--sandbox',
    'run against the local sandbox (moto + real Trino); on AWS see docs/failover.md',
  )
  .option('--json', 'print one JSON object', false)
  .option(
    '--probe-interval-ms <ms>',
    'detector probe interval (detection window = 3 × this)',
    positiveInt,
    1000,
  )
  .addOption(drillLine())
  .action(async (options: { json: boolean; probeIntervalMs: number; line: DrillLine }) => {
    process.exitCode = await runFailoverSandboxDrill(options);
  });
drill
  .command('query-logs')
  .description(
    'Run N real queries (some failing, one cancelled) with the HTTP event listener pointed at the ingest path; print {queriesRun, documentsFound, missing, duplicates, lagP99Ms}',
  )
  .requiredOption('--sandbox', 'run against the local sandbox (moto + real Trino + real OpenSearch)')
  .option('--json', 'print one JSON object', false)
  .option('--queries <n>', 'queries to run (at least 3)', positiveInt, 20)
  .action(async (options: { json: boolean; queries: number }) => {
    process.exitCode = await runQueryLogSandboxDrill(options);
  });

await program.parseAsync(process.argv);
