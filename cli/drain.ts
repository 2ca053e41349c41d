/**
 * `trino-sentinel drain <instance-id>` against AWS: drains one worker by hand through the same path as a
 * scale-in. A lifecycle action token is only created by Auto Scaling, so the command asks Auto Scaling to
 * terminate the instance (`TerminateInstanceInAutoScalingGroup`); the termination lifecycle hook fires, EventBridge
 * starts the drain state machine (execution `drain-<instance-id>-…`), and the command follows that execution until
 * it ends, printing each state it enters.
 *
 * @module
 */
import {
  type AutoScalingClient,
  DescribeAutoScalingInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeExecutionCommand, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';

/** Options of {@link drainInstance}. */
export interface DrainCommandOptions {
  readonly instanceId: string;
  readonly stateMachineArn: string;
  /** Keep the group's desired capacity (a replacement is launched) instead of decrementing it. */
  readonly replace: boolean;
  /** How long to wait for the execution to appear, ms (default 120 000). */
  readonly appearTimeoutMs?: number;
  /** Poll interval, ms (default 10 000). */
  readonly pollMs?: number;
  readonly log: (line: string) => void;
}

/** Final status of the followed execution. */
export interface DrainCommandResult {
  readonly executionArn: string;
  readonly status: string;
  readonly output?: unknown;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the drain through Auto Scaling and follows the execution.
 * @throws Error when the instance is not in an Auto Scaling group, or no execution appears in time.
 */
export async function drainInstance(
  clients: { readonly autoscaling: AutoScalingClient; readonly sfn: SFNClient },
  options: DrainCommandOptions,
): Promise<DrainCommandResult> {
  const described = await clients.autoscaling.send(
    new DescribeAutoScalingInstancesCommand({ InstanceIds: [options.instanceId] }),
  );
  const member = described.AutoScalingInstances?.[0];
  if (member === undefined) throw new Error(`${options.instanceId} is not in an Auto Scaling group`);
  options.log(
    `drain: ${options.instanceId} is ${member.LifecycleState} in ${member.AutoScalingGroupName}; asking Auto Scaling to terminate it`,
  );
  await clients.autoscaling.send(
    new TerminateInstanceInAutoScalingGroupCommand({
      InstanceId: options.instanceId,
      ShouldDecrementDesiredCapacity: !options.replace,
    }),
  );
  const prefix = `drain-${options.instanceId}-`;
  const deadline = Date.now() + (options.appearTimeoutMs ?? 120_000);
  let executionArn: string | undefined;
  while (executionArn === undefined) {
    const listed = await clients.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: options.stateMachineArn, maxResults: 100 }),
    );
    executionArn = listed.executions?.find((e) => e.name?.startsWith(prefix))?.executionArn;
    if (executionArn !== undefined) break;
    if (Date.now() > deadline)
      throw new Error(
        `no execution ${prefix}… appeared: is the lifecycle hook and EventBridge rule in place?`,
      );
    await sleep(options.pollMs ?? 10_000);
  }
  options.log(`drain: following ${executionArn}`);
  for (;;) {
    const execution = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    const status = execution.status ?? 'UNKNOWN';
    if (status !== 'RUNNING') {
      const output: unknown = execution.output ? JSON.parse(execution.output) : undefined;
      options.log(
        `drain: ${status}${execution.error ? ` (${execution.error}: ${execution.cause ?? ''})` : ''}`,
      );
      return { executionArn, status, ...(output === undefined ? {} : { output }) };
    }
    options.log(`drain: running since ${execution.startDate?.toISOString() ?? '?'}`);
    await sleep(options.pollMs ?? 10_000);
  }
}
