/**
 * The one way the adapters of lib/aws call AWS: send one SDK command with the handler's abort signal, and translate
 * a failure into our error contract ({@link toAwsError}: `AwsThrottledError`, which the state machines retry, or
 * `AwsError`) — or, where the failure is itself a definite reading (a parameter that does not exist, an
 * instance already gone, an execution name already taken), return that reading instead of throwing.
 *
 * @module
 */
import { toAwsError } from './sdk-errors.ts';

/** Per-call options: the handler's abort signal (middy's early timeout). */
export interface AwsCall {
  readonly signal?: AbortSignal;
}

/** The options {@link sendAws} gives the SDK's `client.send(command, options)`. */
export interface SendOptions {
  /** The handler's abort signal; `undefined` outside a handler. */
  readonly abortSignal: AbortSignal | undefined;
}

/** Sends one SDK command with the given options: `(options) => client.send(new XCommand(…), options)`. */
export type SendCommand<O> = (options: SendOptions) => Promise<O>;

/** A failure that is an answer, not an error (e.g. `ParameterNotFound`: the parameter has no value). */
export interface FailureAnswer<A> {
  /** Whether the SDK failure means {@link FailureAnswer.value}, e.g. `(cause) => sdkErrorName(cause) === 'ParameterNotFound'`. */
  readonly when: (cause: unknown) => boolean;
  /** The answer, read from the failure where it says more than that it happened. */
  readonly value: (cause: unknown) => A;
}

/** What one adapter call is: its name for errors, and how its failures read. */
export interface AwsRequest<A> {
  /** Service and operation, e.g. `SSM GetParameter`: the translated error's message and context. */
  readonly operation: string;
  /** Safe identifiers for the error's context (instance, ENI, queue); never tokens or secrets. */
  readonly context?: Readonly<Record<string, unknown>>;
  /** A failure that is a definite reading, returned instead of thrown. */
  readonly answer?: FailureAnswer<A>;
  /** Translates every other failure; default {@link toAwsError} with `operation` and `context`. */
  readonly translate?: (cause: unknown) => Error;
}

/**
 * Sends one command and translates its failure.
 * @param request - The operation's name and context, its answering failure, its own translation if any.
 * @param send - Sends the command with the given options: `(options) => client.send(new XCommand(…), options)`.
 * @param call - The handler's abort signal.
 * @returns The SDK's output, or the answer of a failure that {@link AwsRequest.answer} accepts.
 * @throws AwsThrottledError | AwsError (or what {@link AwsRequest.translate} makes of the failure).
 * @example
 * const out = await sendAws(
 *   { operation: 'SSM PutParameter', context: { parameter: name } },
 *   (options) => ssm.send(new PutParameterCommand({ Name: name, Value: value }), options),
 *   call,
 * );
 */
export async function sendAws<O, A = never>(
  request: AwsRequest<A>,
  send: SendCommand<O>,
  call: AwsCall = {},
): Promise<O | A> {
  try {
    return await send({ abortSignal: call.signal });
  } catch (cause) {
    if (request.answer?.when(cause)) return request.answer.value(cause);
    throw request.translate === undefined
      ? toAwsError(request.operation, cause, { ...request.context })
      : request.translate(cause);
  }
}
