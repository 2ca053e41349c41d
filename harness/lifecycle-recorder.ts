/**
 * Test infrastructure — the one recording double of this project. moto does not implement
 * `CompleteLifecycleAction` and `RecordLifecycleActionHeartbeat` (HTTP 500) and has no `Terminating:Wait`.
 * {@link recordLifecycleActions} adds a middleware to a real `AutoScalingClient` (pointing at moto) that answers
 * exactly those two commands locally and records what was sent; every other command reaches moto.
 * Like AWS, it refuses both commands for an action already completed (`ValidationError: No active Lifecycle
 * Action found`).
 *
 * @module
 */
import { type AutoScalingClient, AutoScalingServiceException } from '@aws-sdk/client-auto-scaling';
import * as z from 'zod';

/** One recorded call. */
export interface RecordedLifecycleCall {
  readonly command: 'CompleteLifecycleAction' | 'RecordLifecycleActionHeartbeat';
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly instanceId: string;
  readonly lifecycleActionToken: string;
  readonly lifecycleActionResult?: string;
  /** Epoch ms when it was sent. */
  readonly atMs: number;
}

const Input = z.object({
  AutoScalingGroupName: z.string(),
  LifecycleHookName: z.string(),
  InstanceId: z.string(),
  LifecycleActionToken: z.string(),
  LifecycleActionResult: z.string().optional(),
});

/**
 * Installs the recorder on `client`.
 * @returns The live list of recorded calls.
 */
export function recordLifecycleActions(client: AutoScalingClient): RecordedLifecycleCall[] {
  const calls: RecordedLifecycleCall[] = [];
  const completed = new Set<string>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command =
        context.commandName === 'CompleteLifecycleActionCommand'
          ? 'CompleteLifecycleAction'
          : context.commandName === 'RecordLifecycleActionHeartbeatCommand'
            ? 'RecordLifecycleActionHeartbeat'
            : undefined;
      if (command === undefined) return next(args);
      const input = Input.parse(args.input);
      if (completed.has(input.LifecycleActionToken)) {
        throw new AutoScalingServiceException({
          name: 'ValidationError',
          $fault: 'client',
          message: `No active Lifecycle Action found with token ${input.LifecycleActionToken}`,
          $metadata: { httpStatusCode: 400 },
        });
      }
      calls.push({
        command,
        autoScalingGroupName: input.AutoScalingGroupName,
        lifecycleHookName: input.LifecycleHookName,
        instanceId: input.InstanceId,
        lifecycleActionToken: input.LifecycleActionToken,
        ...(input.LifecycleActionResult === undefined
          ? {}
          : { lifecycleActionResult: input.LifecycleActionResult }),
        atMs: Date.now(),
      });
      if (command === 'CompleteLifecycleAction') completed.add(input.LifecycleActionToken);
      return { output: { $metadata: { httpStatusCode: 200 } }, response: {} };
    },
    { step: 'initialize', name: 'lifecycleActionRecorder' },
  );
  return calls;
}
