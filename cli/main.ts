/**
 * `trino-sentinel`: the operator CLI. Subcommands: `sandbox` (the whole control plane on one machine against a
 * real Trino and an AWS emulator). Later work adds `drill …`, `status`, `drain`.
 *
 * @module
 */
import { Command, InvalidArgumentError, Option } from 'commander';
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

await program.parseAsync(process.argv);
