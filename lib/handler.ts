/**
 * One way to define a Lambda handler: middy with the shared logger (event logging off in code, whatever
 * `POWERTOOLS_LOGGER_LOG_EVENT` says: events carry lifecycle action tokens and shared secrets), zod validation of the
 * inbound event, and middy's early-timeout `signal`, which the run function passes to every Trino and AWS call so
 * that a handler stops before its Lambda timeout instead of being killed mid-call.
 *
 * @module
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type * as z from 'zod';
import { HandlerTimeoutError, SentinelError, UnexpectedError, ValidationError } from './errors.ts';
import { ScheduledEventSchema } from './events.ts';
import { logger } from './logger.ts';
import { parseEvent } from './middleware.ts';

/** What a run function gets besides its input and dependencies. */
export interface Invocation {
  /** Aborted {@link HANDLER_STOP_MARGIN_MS} before the Lambda timeout: pass it to every Trino and AWS call. */
  readonly signal: AbortSignal;
  readonly context: Context;
}

/** How long before the Lambda timeout the signal aborts and the handler fails with {@link HandlerTimeoutError}, ms. */
export const HANDLER_STOP_MARGIN_MS = 1_000;

/** A Lambda handler: `(event, context) → result`. */
export type LambdaHandler<R> = (event: unknown, context: Context) => Promise<R>;

/**
 * Defines a handler: validate the event with `schema` (a {@link ValidationError} names every failing field;
 * nothing runs), then `run(input, deps, { signal, context })`.
 * @param spec.schema - zod schema of the inbound event; `run` receives its parsed output type.
 * @param spec.source - What the event is, for the validation error (e.g. `"EventBridge scheduled event"`).
 * @param spec.run - The handler body: gather → decide → act.
 * @param deps - A function giving the dependencies (called per invocation: build them once and cache).
 * @throws ValidationError on a bad event; HandlerTimeoutError when the Lambda timeout is near; what `run` throws
 *   when it is one of lib/errors.ts, else UnexpectedError wrapping it.
 * @example export const handler = defineHandler({ schema: ScheduledEventSchema, source: 'EventBridge scheduled event', run }, getDefaultDeps);
 */
export function defineHandler<S extends z.ZodType, D, R>(
  spec: {
    readonly schema: S;
    readonly source: string;
    readonly run: (input: z.output<S>, deps: D, invocation: Invocation) => Promise<R>;
    /**
     * Answer for an event that does not validate, instead of throwing (a caller that needs an answer whatever
     * happens, e.g. Auto Scaling's custom termination policy). The validation error is logged.
     */
    readonly onInvalid?: (event: unknown, error: ValidationError) => R;
  },
  deps: () => D,
): LambdaHandler<R> {
  return middy<unknown, R>({
    timeoutEarlyInMillis: HANDLER_STOP_MARGIN_MS,
    timeoutEarlyResponse: () => {
      throw new HandlerTimeoutError(
        `Stopped ${HANDLER_STOP_MARGIN_MS} ms before the Lambda timeout; every call in flight was aborted`,
      );
    },
  })
    .use(injectLambdaContext(logger, { logEvent: false }))
    .handler(async (event, context, { signal }) => {
      let input: z.output<S>;
      try {
        input = parseEvent(spec.schema, spec.source, event);
      } catch (error) {
        if (spec.onInvalid === undefined || !(error instanceof ValidationError)) throw error;
        logger.error('Invalid event answered without running', { error: error.message });
        return spec.onInvalid(event, error);
      }
      try {
        return await spec.run(input, deps(), { signal, context });
      } catch (error) {
        throw contractError(error);
      }
    });
}

/**
 * What a handler throws: our own errors as they are; anything else wrapped in {@link UnexpectedError}, so that
 * every error name that reaches Lambda's `errorType` (and the state machines' Retry/Catch) is one of lib/errors.ts.
 * @param error - What the run function threw.
 */
export function contractError(error: unknown): Error {
  if (error instanceof SentinelError) return error;
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  return new UnexpectedError(`Unexpected ${name}: ${message}`, {
    cause: error,
    context: { errorName: name },
  });
}

/** What {@link eventHandler}'s run function gets besides its input and dependencies: the invocation's abort signal. */
export interface HandlerCall {
  /** Aborted {@link HANDLER_STOP_MARGIN_MS} before the Lambda timeout: pass it to every Trino and AWS call. */
  readonly signal: AbortSignal;
}

/**
 * {@link defineHandler} for a run function that needs only the abort signal of the invocation.
 * @param schema - zod schema of the inbound event; `run` receives its parsed output.
 * @param source - What the event is, for the validation error (e.g. `"SQS batch event"`).
 * @param deps - A function giving the dependencies (called per invocation: build them once and cache).
 * @param run - The handler body: `run(input, deps, { signal })`.
 * @throws ValidationError on a bad event; HandlerTimeoutError when the Lambda timeout is near; whatever `run` throws.
 * @example export const handler = eventHandler(SqsEventSchema, 'SQS batch event', getDefaultShipDeps, runShip);
 */
export function eventHandler<S extends z.ZodType, D, R>(
  schema: S,
  source: string,
  deps: () => D,
  run: (input: z.output<S>, deps: D, call: HandlerCall) => Promise<R>,
): LambdaHandler<R> {
  return defineHandler({ schema, source, run: (input, d, { signal }) => run(input, d, { signal }) }, deps);
}

/**
 * Defines the handler of a scheduled function: {@link eventHandler} over the EventBridge scheduled event
 * ({@link ScheduledEventSchema}), whose content the run function does not need.
 * @param deps - A function giving the dependencies (called per invocation: build them once and cache).
 * @param run - The cycle: `run(deps, { signal })`.
 * @throws ValidationError on an event that is not a scheduled event; HandlerTimeoutError; whatever `run` throws.
 * @example export const handler = scheduledHandler(getDefaultPollDeps, runPoll);
 */
export function scheduledHandler<D, R>(
  deps: () => D,
  run: (deps: D, call: HandlerCall) => Promise<R>,
): LambdaHandler<R> {
  return eventHandler(ScheduledEventSchema, 'EventBridge scheduled event', deps, (_event, d, call) =>
    run(d, call),
  );
}
