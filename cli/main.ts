/**
 * `trino-sentinel`: the operator CLI, shipped as dist/cli.mjs (scripts/build-cli.ts bundles it; the package's `bin`).
 * It runs on the package's `dependencies` alone and never imports the test infrastructure in harness/; the sandbox
 * and the drills are development commands (`npm run sandbox`, `npm run drill`, harness/cli.ts).
 * Subcommands: `drain <instance-id>`.
 *
 * @module
 */

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

await program.parseAsync(process.argv);
