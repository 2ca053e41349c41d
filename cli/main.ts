/**
 * `trino-sentinel`: the operator CLI. Subcommands: `sandbox` (the whole control plane on one machine against a
 * real Trino and an AWS emulator). Later work adds `drill …`, `status`, `drain`.
 *
 * @module
 */

import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { SFNClient } from '@aws-sdk/client-sfn';
import { Command, InvalidArgumentError, Option } from 'commander';
import { HARNESS_LINES, type HarnessLine } from '../harness/cluster.ts';
import { drainInstance } from './drain.ts';
import { runFailoverSandboxDrill, runQueryLogSandboxDrill, runScaleInSandboxDrill } from './drill.ts';
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

program
  .command('drain')
  .description(
    'Drain one worker on AWS: terminate it through Auto Scaling (the lifecycle hook starts the drain) and follow the execution',
  )
  .argument('<instance-id>', 'EC2 instance id of the worker')
  .requiredOption(
    '--state-machine-arn <arn>',
    'the drain state machine (serverless.yml output)',
    process.env.DRAIN_STATE_MACHINE_ARN,
  )
  .option('--replace', 'keep the desired capacity: Auto Scaling launches a replacement', false)
  .action(async (instanceId: string, options: { stateMachineArn: string; replace: boolean }) => {
    if (!/^i-[0-9a-f]{8,17}$/.test(instanceId))
      throw new InvalidArgumentError(`not an EC2 instance id: ${instanceId}`);
    const result = await drainInstance(
      { autoscaling: new AutoScalingClient({}), sfn: new SFNClient({}) },
      {
        instanceId,
        stateMachineArn: options.stateMachineArn,
        replace: options.replace,
        log: (line) => process.stderr.write(`${line}\n`),
      },
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exitCode = result.status === 'SUCCEEDED' ? 0 : 1;
  });

await program.parseAsync(process.argv);
