/**
 * `trino-sentinel`: the operator CLI. Subcommands: `sandbox` (the whole control plane on one machine against a
 * real Trino and an AWS emulator). Later work adds `drill …`, `status`, `drain`.
 *
 * @module
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { runScaleInSandboxDrill } from './drill.ts';
import { runSandbox } from './sandbox.ts';

const program = new Command()
  .name('trino-sentinel')
  .description('Control plane for self-managed Trino/PrestoDB clusters on AWS EC2')
  .showHelpAfterError();

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}

program
  .command('sandbox')
  .description(
    'Start moto, a Trino coordinator and worker, and run the scheduled functions on timers against them (Ctrl-C stops everything)',
  )
  .option('--once', 'run one cycle, print a snapshot and exit', false)
  .option('--json', 'print JSON snapshots instead of the live view', false)
  .addOption(new Option('--line <line>', 'Trino release line').choices(['newest', 'older']).default('newest'))
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
      line: 'newest' | 'older';
      insecure: boolean;
      interval: number;
      workers: number;
    }) => {
      process.exitCode = await runSandbox(options);
    },
  );

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
  .action(async (options: { json: boolean; heartbeatTimeout: number }) => {
    process.exitCode = await runScaleInSandboxDrill(options);
  });

await program.parseAsync(process.argv);
