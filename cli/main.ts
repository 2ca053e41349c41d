/**
 * `trino-sentinel`: the operator CLI, shipped as dist/cli.mjs (scripts/build-cli.ts bundles it; the package's `bin`).
 * It runs on the package's `dependencies` alone and never imports the test infrastructure in harness/; the sandbox
 * and the drills are development commands (`npm run sandbox`, `npm run drill`, harness/cli.ts).
 * Subcommands: `drain <instance-id>`; `sandbox …` and `drill …` run harness/cli.ts in a development checkout (where
 * tsx and the harness are installed) and say so elsewhere.
 *
 * @module
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { SFNClient } from '@aws-sdk/client-sfn';
import { Command, InvalidArgumentError } from 'commander';
import { drainInstance } from './drain.ts';

const program = new Command()
  .name('trino-sentinel')
  .description('Control plane for self-managed Trino/PrestoDB clusters on AWS EC2')
  .showHelpAfterError();

program
  .command('drain')
  .description(
    'Drain one worker on AWS: terminate it through Auto Scaling (the lifecycle hook starts the drain) and follow the execution',
  )
  .argument('<instance-id>', 'EC2 instance id of the worker')
  .requiredOption(
    '--state-machine-arn <arn>',
    'the drain state machine (the stack output WorkerDrainStateMachineArn)',
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

/**
 * Runs a development command (harness/cli.ts) of the checkout this CLI was built in: the sandbox and the drills
 * need the devDependencies and the harness (real Trino, moto, OpenSearch), which a package install does not have.
 * @returns The command's exit code; 1 with a message when this is not a development checkout.
 */
function runDevelopmentCommand(args: readonly string[]): number {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const entry = path.join(root, 'harness', 'cli.ts');
  const tsx = path.join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs');
  if (!existsSync(entry) || !existsSync(tsx)) {
    process.stderr.write(
      `trino-sentinel ${args[0]}: a development command; run it from a checkout after npm ci (npm run ${args[0]} -- …)\n`,
    );
    return 1;
  }
  const child = spawnSync(process.execPath, ['--import', tsx, entry, ...args], {
    stdio: 'inherit',
    cwd: root,
  });
  return child.status ?? 1;
}

for (const name of ['sandbox', 'drill'] as const) {
  program
    .command(name)
    .description(
      name === 'sandbox'
        ? 'Development checkout only: the sandbox (--deployed: the deployed topology); see npm run sandbox -- --help'
        : 'Development checkout only: rehearse failover|scale-in|query-logs (--sandbox or --deployed); see npm run drill -- --help',
    )
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action((args: string[]) => {
      process.exitCode = runDevelopmentCommand([name, ...args]);
    });
}

await program.parseAsync(process.argv);
