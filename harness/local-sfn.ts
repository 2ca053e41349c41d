/**
 * Test infrastructure: runs our ASL definitions for real with `aws-local-stepfunctions`, each Task state bound
 * to our Lambda handler (by state name), and bridges an SDK `SFNClient` to it: `StartExecution` on a client
 * passed through {@link LocalStepFunctions.bridge} starts a local execution instead of calling AWS (moto's Step
 * Functions engine fails every execution after the first, moto #10077). Execution names are unique like in AWS:
 * a second `StartExecution` with a used name throws `ExecutionAlreadyExists`.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ExecutionAlreadyExists, ExecutionDoesNotExist, type SFNClient } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import * as z from 'zod';
import { localContext } from './invoke.ts';
import { REPO_ROOT } from './moto.ts';

/** One event of an execution's history as aws-local-stepfunctions logs it (the package does not export the type). */
export type LocalHistoryEvent =
  ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** A Lambda handler as middy builds it. */
export type LocalLambda = (event: never, context: Context) => Promise<unknown>;

/** One local execution. */
export interface LocalExecution {
  readonly name: string;
  /** `arn:aws:states:<region>:<account>:execution:<state machine>:<name>`, as `$$.Execution.Id` gives it. */
  readonly executionArn: string;
  readonly startDate: Date;
  readonly input: unknown;
  /** Resolves with the execution's output, rejects with the execution's error. */
  readonly result: Promise<unknown>;
  /** Names of the states entered, in order. */
  readonly statesEntered: string[];
  /** `RUNNING` until the result settles, then `SUCCEEDED` or `FAILED`. */
  readonly status: () => 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  /** The execution's history as aws-local-stepfunctions logs it (state entered/failed/retried/caught, execution end), in order. */
  readonly events: LocalHistoryEvent[];
}

/**
 * Run options of {@link LocalStepFunctions}: shorter Wait states and Retry intervals (aws-local-stepfunctions'
 * `waitTimeOverrides` and `retryIntervalOverrides`, state name → ms), for runs that must be fast; the ASL itself is
 * unchanged (its states, Retry lists, MaxAttempts and Catch run as written).
 */
export interface LocalRunOptions {
  readonly waitTimeOverrides?: Readonly<Record<string, number>>;
  readonly retryIntervalOverrides?: Readonly<Record<string, number>>;
}

const ArnPlaceholder = /\$\{([A-Za-z0-9]+)\}/g;

/**
 * Loads `statemachines/<file>` and replaces each `${Name}` with a well-formed fake Lambda ARN (the Task states are
 * overridden by name anyway), as `DefinitionSubstitutions` do in AWS.
 * @returns The definition and the placeholder names found.
 */
export async function loadDefinition(
  file: string,
): Promise<{ definition: StateMachineDefinition; placeholders: string[] }> {
  const text = await readFile(path.join(REPO_ROOT, 'statemachines', file), 'utf8');
  const placeholders = [...new Set([...text.matchAll(ArnPlaceholder)].map((m) => m[1] ?? ''))];
  const substituted = text.replace(
    ArnPlaceholder,
    (_, name: string) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
  );
  const parsed: unknown = JSON.parse(substituted);
  const definition = z
    .object({ StartAt: z.string(), States: z.record(z.string(), z.unknown()) })
    .loose()
    .parse(parsed);
  // aws-local-stepfunctions validates the definition itself in its constructor.
  return { definition: definition as unknown as StateMachineDefinition, placeholders };
}

/** A state machine executed locally with our handlers. */
export class LocalStepFunctions {
  readonly #machine: StateMachine;
  readonly #handlers: Readonly<Record<string, LocalLambda>>;
  readonly #executions = new Map<string, LocalExecution>();
  /** The state machine's ARN: executions are `<it with :execution:>:<name>`. */
  readonly stateMachineArn: string;

  readonly #runOptions: LocalRunOptions;

  /**
   * @param definition - From {@link loadDefinition}.
   * @param handlers - Task state name → Lambda handler.
   * @param stateMachineArn - What `$$.StateMachine.Id` and the execution ARNs are built from.
   * @param runOptions - Wait and retry interval overrides (default: none, the ASL's own times).
   */
  constructor(
    definition: StateMachineDefinition,
    handlers: Readonly<Record<string, LocalLambda>>,
    stateMachineArn = 'arn:aws:states:us-east-1:123456789012:stateMachine:local',
    runOptions: LocalRunOptions = {},
  ) {
    this.#machine = new StateMachine(definition);
    this.#handlers = handlers;
    this.stateMachineArn = stateMachineArn;
    this.#runOptions = runOptions;
  }

  /**
   * Starts an execution; names are unique per instance, like per state machine in AWS.
   * @throws ExecutionAlreadyExists for a used name.
   */
  start(name: string, input: unknown): LocalExecution {
    if (this.#executions.has(name)) {
      throw new ExecutionAlreadyExists({ message: `Execution Already Exists: '${name}'`, $metadata: {} });
    }
    const taskResourceLocalHandlers = Object.fromEntries(
      Object.entries(this.#handlers).map(([state, handler]) => [
        state,
        async (taskInput: unknown) => toJson(await handler(taskInput as never, localContext(state))),
      ]),
    );
    const executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const startDate = new Date();
    // The context object as Step Functions gives it ($$.Execution.Id, StartTime…), which the default of
    // aws-local-stepfunctions lacks.
    const run = this.#machine.run(toJson(input), {
      overrides: {
        taskResourceLocalHandlers,
        ...(this.#runOptions.waitTimeOverrides === undefined
          ? {}
          : { waitTimeOverrides: { ...this.#runOptions.waitTimeOverrides } }),
        ...(this.#runOptions.retryIntervalOverrides === undefined
          ? {}
          : { retryIntervalOverrides: { ...this.#runOptions.retryIntervalOverrides } }),
      },
      context: {
        Execution: {
          Id: executionArn,
          Name: name,
          Input: toJson(input),
          StartTime: startDate.toISOString(),
          RoleArn: 'arn:aws:iam::123456789012:role/local-states',
        },
        StateMachine: { Id: this.stateMachineArn, Name: this.stateMachineArn.split(':').at(-1) ?? 'local' },
      },
    });
    const statesEntered: string[] = [];
    const events: LocalHistoryEvent[] = [];
    void (async () => {
      for await (const event of run.eventLogs) {
        events.push(event);
        if (event.type === 'StateEntered') statesEntered.push(event.state.name);
      }
    })().catch(() => undefined);
    let status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' = 'RUNNING';
    run.result.then(
      () => {
        status = 'SUCCEEDED';
      },
      () => {
        status = 'FAILED';
      },
    );
    const execution: LocalExecution = {
      name,
      executionArn,
      startDate,
      input,
      result: run.result,
      statesEntered,
      status: () => status,
      events,
    };
    this.#executions.set(name, execution);
    return execution;
  }

  /** Executions started so far, by name. */
  get executions(): ReadonlyMap<string, LocalExecution> {
    return this.#executions;
  }

  /**
   * Routes `StartExecution`, `ListExecutions` and `DescribeExecution` sent through `client` to the local executions;
   * other commands go to the client's endpoint.
   * @returns The same client, for chaining.
   */
  bridge(client: SFNClient): SFNClient {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ListExecutionsCommand') {
          const filter = z
            .object({ statusFilter: z.string().optional() })
            .loose()
            .parse(args.input).statusFilter;
          const executions = [...this.#executions.values()]
            .filter((e) => filter === undefined || e.status() === filter)
            .map((e) => ({
              name: e.name,
              executionArn: e.executionArn,
              stateMachineArn: this.stateMachineArn,
              status: e.status(),
              startDate: e.startDate,
            }));
          return { output: { $metadata: { httpStatusCode: 200 }, executions }, response: {} };
        }
        if (context.commandName === 'DescribeExecutionCommand') {
          const arn = z.object({ executionArn: z.string() }).parse(args.input).executionArn;
          const execution = [...this.#executions.values()].find((e) => e.executionArn === arn);
          if (execution === undefined) {
            throw new ExecutionDoesNotExist({ message: `Execution Does Not Exist: '${arn}'`, $metadata: {} });
          }
          return {
            output: {
              $metadata: { httpStatusCode: 200 },
              executionArn: arn,
              stateMachineArn: this.stateMachineArn,
              name: execution.name,
              status: execution.status(),
              startDate: execution.startDate,
              input: JSON.stringify(execution.input),
            },
            response: {},
          };
        }
        if (context.commandName !== 'StartExecutionCommand') return next(args);
        const input = z
          .object({ name: z.string(), input: z.string(), stateMachineArn: z.string() })
          .parse(args.input);
        const started = this.start(input.name, JSON.parse(input.input));
        return {
          output: {
            $metadata: { httpStatusCode: 200 },
            executionArn: started.executionArn,
            startDate: started.startDate,
          },
          response: {},
        };
      },
      { step: 'initialize', name: 'localStepFunctionsBridge' },
    );
    return client;
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function toJson(value: unknown): Json {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}
