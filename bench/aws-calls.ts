/**
 * Counts the AWS API calls an SDK v3 client sends, by command name (`PutMetricDataCommand`, …), with a middleware
 * at the `initialize` step: every `client.send` counts once, before the SDK's own retries. The bench reads these
 * counts instead of trusting what the code under test reports about itself.
 *
 * @module
 */
import type { HandlerExecutionContext, MetadataBearer, MiddlewareStack } from '@smithy/types';

/**
 * Adds the counter to `client`.
 * @returns Live counts by command name, e.g. `{ PutMetricDataCommand: 2 }`.
 */
export function countCalls<I extends object, O extends MetadataBearer>(client: {
  readonly middlewareStack: MiddlewareStack<I, O>;
}): Record<string, number> {
  const counts: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context: HandlerExecutionContext) => async (args) => {
      const name = context.commandName ?? 'unknown';
      counts[name] = (counts[name] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'benchCallCounter' },
  );
  return counts;
}
