/**
 * Test infrastructure (deployed topology): the Step Functions API for the local cloud, executed by
 * `aws-local-stepfunctions`. moto's own engine fails every execution after the first in an account/region (moto
 * #10077) and its CloudFormation drops `Definition` + `DefinitionSubstitutions`, so this service answers
 * StartExecution, DescribeExecution, ListExecutions, StopExecution, DescribeStateMachine,
 * DescribeStateMachineForExecution and GetExecutionHistory itself (awsJson1_0, `X-Amz-Target:
 * AWSStepFunctions.<Op>`), and forwards every other operation unchanged to moto (ListStateMachines, CreateStateMachine,
 * tags …: the state machines themselves live in moto).
 *
 * Definitions come from the stack that created the state machine: the template's `Definition` (or
 * `DefinitionString`) with `DefinitionSubstitutions` resolved the way CloudFormation does (`Ref`, `Fn::GetAtt
 * [<Function>, Arn]` read from the emulator, `Fn::Sub`, `Fn::Join`); a state machine created outside CloudFormation
 * runs its stored definition.
 *
 * Task states (bare Lambda function ARNs) invoke the function through Lambda's Invoke API with an SDK
 * `LambdaClient` signed with the state machine role's credentials (STS AssumeRole in moto), so the Lambda service
 * can refuse a role without `lambda:InvokeFunction`. Outcomes are reported as Step Functions does: a function error
 * fails the state with the payload's `errorType` and the payload as `Cause`; Lambda service errors become
 * `Lambda.TooManyRequestsException`, `Lambda.ServiceException`, `Lambda.SdkClientException` or
 * `Lambda.AWSLambdaException` (the names our Retry blocks match). aws-local-stepfunctions' built-in Lambda client
 * throws the SDK's names (`AccessDeniedException`) with a `Type: message` cause, hence the Task override.
 *
 * Differences from AWS (docs/harness.md, "Step Functions service"): Wait states and Retry pauses run in real time
 * unless a `timeScale` is given (test-only; scales `Seconds` waits and each retrier's `IntervalSeconds`, without
 * backoff or jitter; `SecondsPath`/`Timestamp` waits stay real-time); Task states without `TimeoutSeconds` get
 * 86 400 s (AWS: 99 999 999 s; the library would apply 60 s); executions live in memory for the service's life;
 * only STANDARD semantics; history events are derived from the library's event log (no LambdaFunctionStarted
 * timing of its own, no redrive).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  GetTemplateCommand,
  paginateListStackResources,
  paginateListStacks,
  type StackStatus,
} from '@aws-sdk/client-cloudformation';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeStateMachineCommand, SFNClient, StateMachineDoesNotExist } from '@aws-sdk/client-sfn';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import * as z from 'zod';
import type { EmulatorClientConfig } from '../moto.ts';

// ------------------------------------------------------------------------------------------------ shapes

/** Execution statuses (Step Functions `ExecutionStatus`). */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** One history event (Step Functions `HistoryEvent`): `type`, ids, and one `<type>EventDetails` member. */
export interface HistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: Date;
  readonly type: string;
  /** The details member's name as in the API (e.g. `stateEnteredEventDetails`, `lambdaFunctionFailedEventDetails`). */
  readonly detailsKey?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** A state entered by an execution (for drills and the live view). */
export interface StateEntered {
  readonly name: string;
  /** ASL state type: Task, Choice, Wait, Pass, Succeed, Fail, Parallel, Map. */
  readonly type: string;
  readonly enteredAt: Date;
}

/** An execution as the service keeps it. */
export interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  /** The input string as given to StartExecution. */
  readonly input: string;
  /** JSON output (SUCCEEDED only). */
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
  readonly startDate: Date;
  readonly stopDate?: Date;
  /** States entered, in order. */
  readonly statesEntered: readonly StateEntered[];
  readonly history: readonly HistoryEvent[];
}

/** A state machine's definition as deployed. */
export interface ResolvedStateMachine {
  readonly stateMachineArn: string;
  readonly name: string;
  readonly roleArn: string;
  readonly type: string;
  /** The definition JSON with every `DefinitionSubstitutions` placeholder replaced. */
  readonly definition: string;
  /** Where the definition came from: the stack's template, or the emulator's stored definition. */
  readonly source:
    | {
        readonly kind: 'stack';
        readonly stackName: string;
        readonly logicalId: string;
        readonly version: string;
      }
    | { readonly kind: 'emulator' };
}

/** Options of {@link startStatesService}. */
export interface StatesServiceOptions {
  /** moto: CloudFormation, Lambda GetFunctionConfiguration and STS reads, and every forwarded operation. */
  readonly moto: EmulatorClientConfig;
  /**
   * Where Task states send Lambda Invoke (the front AWS endpoint, which routes Invoke to the Lambda service).
   * Default: the SDK's own resolution (`AWS_ENDPOINT_URL_LAMBDA`, then `AWS_ENDPOINT_URL`), as on AWS.
   */
  readonly lambdaEndpoint?: string;
  /** Listen address (default 127.0.0.1). */
  readonly host?: string;
  /** Listen port (default: a free one). */
  readonly port?: number;
  /**
   * TEST ONLY, not AWS behaviour: factor applied to Wait states' `Seconds` and to each retrier's `IntervalSeconds`
   * (e.g. 0.01). Default 1 (real time). See the module notes for what it cannot scale.
   */
  readonly timeScale?: number;
  readonly log?: (line: string) => void;
}

/** A running states service. */
export interface StatesService {
  /** `http://<host>:<port>`: the Step Functions endpoint. */
  readonly endpoint: string;
  readonly port: number;
  /** Every execution started so far, oldest first. */
  executions(): readonly ExecutionRecord[];
  /** One execution by ARN. */
  execution(executionArn: string): ExecutionRecord | undefined;
  /**
   * Resolves when the execution is no longer RUNNING.
   * @throws Error when it is unknown or still RUNNING after `timeoutMs`.
   */
  waitForExecution(executionArn: string, timeoutMs: number): Promise<ExecutionRecord>;
  /** Aborts running executions and closes the server. */
  stop(): Promise<void>;
}

/** AWS caps a Standard execution's history at 25 000 events; the execution then fails with States.Runtime. */
export const MAX_HISTORY_EVENTS = 25_000;

const TERMINAL_EVENTS = new Set([
  'ExecutionSucceeded',
  'ExecutionFailed',
  'ExecutionAborted',
  'ExecutionTimedOut',
]);

/** How long a settled execution waits for the engine's event log to drain before it is closed anyway (ms). */
const EVENT_LOG_DRAIN_MS = 5_000;

// ------------------------------------------------------------------------------------------------ errors

/** A Step Functions API error: `code` is the `__type` the SDK maps to its exception class. */
class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
  }
}

/** A Task failure as Step Functions reports it (`Error` = name, `Cause` = message). */
class TaskFailure extends Error {
  constructor(errorName: string, cause: string) {
    super(cause);
    this.name = errorName;
  }
}

// ------------------------------------------------------------------------------------------------ definitions

const Intrinsic = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.array(z.unknown()),
  z.record(z.string(), z.unknown()),
]);

const TemplateResource = z
  .object({ Type: z.string(), Properties: z.record(z.string(), z.unknown()).optional() })
  .loose();
const Template = z.object({ Resources: z.record(z.string(), TemplateResource) }).loose();

/** What intrinsic functions may refer to while resolving one stack's template. */
interface ResolveScope {
  readonly stackName: string;
  readonly stackId: string;
  readonly region: string;
  readonly accountId: string;
  readonly parameters: Readonly<Record<string, string>>;
  readonly resources: Readonly<Record<string, { readonly type: string; readonly physicalId: string }>>;
  readonly lambda: LambdaClient;
}

/**
 * Resolves a state machine's definition as deployed: finds the stack whose resources include the ARN, takes the
 * template's `Definition` (or `DefinitionString`) and `DefinitionSubstitutions`, resolves the substitution values as
 * CloudFormation does and replaces each `${Name}`. A state machine no stack created keeps the emulator's definition.
 * Source: CloudFormation `AWS::StepFunctions::StateMachine` (Definition, DefinitionString, DefinitionSubstitutions),
 * ListStacks / ListStackResources / GetTemplate / DescribeStacks; Step Functions DescribeStateMachine.
 * @param moto - The emulator.
 * @param stateMachineArn - `arn:aws:states:<region>:<account>:stateMachine:<name>`.
 * @throws StateMachineDoesNotExist (from the SDK) when the emulator does not know the ARN; Error when an intrinsic
 *   function is not supported or refers to something missing.
 */
export async function resolveStateMachineDefinition(
  moto: EmulatorClientConfig,
  stateMachineArn: string,
): Promise<ResolvedStateMachine> {
  const sfn = new SFNClient(moto);
  const cfn = new CloudFormationClient(moto);
  const lambda = new LambdaClient(moto);
  try {
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
    const base = {
      stateMachineArn,
      name: described.name ?? '',
      roleArn: described.roleArn ?? '',
      type: described.type ?? 'STANDARD',
    };
    const owner = await findOwningStack(cfn, stateMachineArn);
    if (owner === undefined)
      return { ...base, definition: described.definition ?? '', source: { kind: 'emulator' } };
    const template = Template.parse(
      JSON.parse(
        (await cfn.send(new GetTemplateCommand({ StackName: owner.stackName }))).TemplateBody ?? '{}',
      ),
    );
    const properties = template.Resources[owner.logicalId]?.Properties ?? {};
    const scope: ResolveScope = { ...owner.scope, lambda };
    let definition: string;
    if (properties.Definition !== undefined) {
      definition = JSON.stringify(properties.Definition);
    } else if (properties.DefinitionString !== undefined) {
      definition = String(await resolveIntrinsics(Intrinsic.parse(properties.DefinitionString), scope));
    } else {
      throw new Error(`${owner.stackName}/${owner.logicalId} has neither Definition nor DefinitionString`);
    }
    const substitutions = z.record(z.string(), Intrinsic).parse(properties.DefinitionSubstitutions ?? {});
    for (const [key, value] of Object.entries(substitutions)) {
      const resolved = String(await resolveIntrinsics(value, scope));
      // Placeholders sit inside JSON strings: insert the value JSON-escaped.
      definition = definition.split(`\${${key}}`).join(JSON.stringify(resolved).slice(1, -1));
    }
    return {
      ...base,
      definition,
      source: {
        kind: 'stack',
        stackName: owner.stackName,
        logicalId: owner.logicalId,
        version: owner.version,
      },
    };
  } finally {
    sfn.destroy();
    cfn.destroy();
    lambda.destroy();
  }
}

const LIVE_STACK_STATUSES: StackStatus[] = [
  'CREATE_COMPLETE',
  'UPDATE_COMPLETE',
  'UPDATE_ROLLBACK_COMPLETE',
  'CREATE_IN_PROGRESS',
  'UPDATE_IN_PROGRESS',
  'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
];

async function findOwningStack(
  cfn: CloudFormationClient,
  stateMachineArn: string,
): Promise<
  { stackName: string; logicalId: string; version: string; scope: Omit<ResolveScope, 'lambda'> } | undefined
> {
  for await (const page of paginateListStacks({ client: cfn }, { StackStatusFilter: LIVE_STACK_STATUSES })) {
    for (const summary of page.StackSummaries ?? []) {
      const stackName = summary.StackName;
      const stackId = summary.StackId;
      if (stackName === undefined || stackId === undefined) continue;
      const resources: Record<string, { type: string; physicalId: string }> = {};
      let logicalId: string | undefined;
      for await (const resourcePage of paginateListStackResources(
        { client: cfn },
        { StackName: stackName },
      )) {
        for (const resource of resourcePage.StackResourceSummaries ?? []) {
          if (!resource.LogicalResourceId) continue;
          const entry = { type: resource.ResourceType ?? '', physicalId: resource.PhysicalResourceId ?? '' };
          resources[resource.LogicalResourceId] = entry;
          if (entry.type === 'AWS::StepFunctions::StateMachine' && entry.physicalId === stateMachineArn) {
            logicalId = resource.LogicalResourceId;
          }
        }
      }
      if (logicalId === undefined) continue;
      const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackId }))).Stacks?.[0];
      const parameters: Record<string, string> = {};
      for (const parameter of stack?.Parameters ?? []) {
        if (parameter.ParameterKey !== undefined)
          parameters[parameter.ParameterKey] = parameter.ParameterValue ?? '';
      }
      const arn = parseArn(stackId);
      return {
        stackName,
        logicalId,
        version: `${stackId}@${(stack?.LastUpdatedTime ?? stack?.CreationTime)?.toISOString() ?? ''}`,
        scope: { stackName, stackId, region: arn.region, accountId: arn.accountId, parameters, resources },
      };
    }
  }
  return undefined;
}

/**
 * Resolves CloudFormation intrinsic functions in `value`: Ref (parameters, resources' physical ids, pseudo
 * parameters), Fn::GetAtt [<AWS::Lambda::Function>, Arn] (read from the emulator), Fn::GetAtt [<state machine>,
 * Arn|Name], Fn::Sub, Fn::Join. Anything else throws, naming the function.
 */
async function resolveIntrinsics(value: unknown, scope: ResolveScope): Promise<unknown> {
  if (Array.isArray(value)) return Promise.all(value.map((item) => resolveIntrinsics(item, scope)));
  const object = z.record(z.string(), z.unknown()).safeParse(value);
  if (!object.success) return value;
  const keys = Object.keys(object.data);
  const only = keys.length === 1 ? keys[0] : undefined;
  const argument = only === undefined ? undefined : object.data[only];
  if (only === 'Ref') return ref(z.string().parse(argument), scope);
  if (only === 'Fn::GetAtt') {
    const parts = Array.isArray(argument) ? z.tuple([z.string(), z.string()]).parse(argument) : undefined;
    const [logicalId, attribute] = parts ?? splitOnce(z.string().parse(argument), '.');
    return getAtt(logicalId, attribute, scope);
  }
  if (only === 'Fn::Join') {
    const [delimiter, list] = z.tuple([z.string(), z.array(z.unknown())]).parse(argument);
    const resolved = await Promise.all(list.map((item) => resolveIntrinsics(item, scope)));
    return resolved.map(String).join(delimiter);
  }
  if (only === 'Fn::Sub') {
    const [text, variables] = Array.isArray(argument)
      ? z.tuple([z.string(), z.record(z.string(), z.unknown())]).parse(argument)
      : [z.string().parse(argument), {}];
    const names = [...text.matchAll(/\$\{([^!}][^}]*)\}/g)].map((match) => match[1] ?? '');
    const values = new Map<string, string>();
    for (const name of names) {
      if (values.has(name)) continue;
      const variable = variables[name];
      const resolved =
        variable !== undefined
          ? await resolveIntrinsics(variable, scope)
          : name.includes('.')
            ? await getAtt(...splitOnce(name, '.'), scope)
            : await ref(name, scope);
      values.set(name, String(resolved));
    }
    return text.replace(/\$\{(!?)([^}]*)\}/g, (_, literal: string, name: string) =>
      literal === '!' ? `\${${name}}` : (values.get(name) ?? ''),
    );
  }
  if (only?.startsWith('Fn::'))
    throw new Error(`${scope.stackName}: ${only} is not supported by the states service`);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(object.data)) out[key] = await resolveIntrinsics(item, scope);
  return out;
}

async function ref(name: string, scope: ResolveScope): Promise<string> {
  const pseudo: Record<string, string> = {
    'AWS::Region': scope.region,
    'AWS::AccountId': scope.accountId,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': scope.stackName,
    'AWS::StackId': scope.stackId,
  };
  const value = pseudo[name] ?? scope.parameters[name] ?? scope.resources[name]?.physicalId;
  if (value === undefined) throw new Error(`${scope.stackName}: Ref ${name} names nothing in the stack`);
  return value;
}

async function getAtt(logicalId: string, attribute: string, scope: ResolveScope): Promise<string> {
  const resource = scope.resources[logicalId];
  if (resource === undefined)
    throw new Error(`${scope.stackName}: Fn::GetAtt ${logicalId}.${attribute}: no such resource`);
  if (resource.type === 'AWS::Lambda::Function' && attribute === 'Arn') {
    const configuration = await scope.lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: resource.physicalId }),
    );
    if (configuration.FunctionArn === undefined)
      throw new Error(`GetFunctionConfiguration ${resource.physicalId}: no ARN`);
    return configuration.FunctionArn;
  }
  if (resource.type === 'AWS::StepFunctions::StateMachine' && attribute === 'Arn') return resource.physicalId;
  if (resource.type === 'AWS::StepFunctions::StateMachine' && attribute === 'Name') {
    return parseArn(resource.physicalId).resource.split(':')[1] ?? '';
  }
  throw new Error(
    `${scope.stackName}: Fn::GetAtt ${logicalId}.${attribute} (${resource.type}) is not supported by the states service`,
  );
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + separator.length)];
}

function parseArn(arn: string): { region: string; accountId: string; service: string; resource: string } {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') throw new ApiError('InvalidArn', `Invalid Arn: '${arn}'`);
  return {
    service: parts[2] ?? '',
    region: parts[3] ?? '',
    accountId: parts[4] ?? '',
    resource: parts.slice(5).join(':'),
  };
}

// ------------------------------------------------------------------------------------------------ requests

const StartExecutionInput = z.object({
  stateMachineArn: z.string(),
  name: z.string().optional(),
  input: z.string().optional(),
  traceHeader: z.string().optional(),
});
const ExecutionArnInput = z.object({ executionArn: z.string() }).loose();
const StopExecutionInput = z.object({
  executionArn: z.string(),
  error: z.string().optional(),
  cause: z.string().optional(),
});
const ListExecutionsInput = z.object({
  stateMachineArn: z.string().optional(),
  statusFilter: z
    .enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'])
    .optional(),
  maxResults: z.number().int().min(0).max(1000).optional(),
  nextToken: z.string().optional(),
});
const DescribeStateMachineInput = z.object({ stateMachineArn: z.string() }).loose();
const HistoryInput = z.object({
  executionArn: z.string(),
  maxResults: z.number().int().min(0).max(1000).optional(),
  reverseOrder: z.boolean().optional(),
  nextToken: z.string().optional(),
  includeExecutionData: z.boolean().optional(),
});

/** Step Functions' execution name rules: 1–80 characters, none of whitespace, brackets, wildcards, specials, controls. */
const INVALID_NAME_CHARACTERS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;

function isValidExecutionName(name: string): boolean {
  if (name.length === 0 || name.length > 80 || INVALID_NAME_CHARACTERS.test(name)) return false;
  for (const character of name) {
    const code = character.codePointAt(0) ?? 0;
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return false;
  }
  return true;
}

interface Execution extends ExecutionRecord {
  status: ExecutionStatus;
  output?: string;
  error?: string;
  cause?: string;
  stopDate?: Date;
  statesEntered: StateEntered[];
  history: HistoryEvent[];
  readonly abort: () => void;
  readonly roleArn: string;
  /** Lambda attempts per Task state, flushed into the history when the library reports the state's outcome. */
  readonly pendingTasks: Map<string, HistoryEvent[][]>;
  /** The history holds its terminal event. */
  sealed: boolean;
}

/**
 * Starts the states service.
 * Source: AWS Step Functions API Reference (StartExecution, DescribeExecution, ListExecutions, StopExecution,
 * DescribeStateMachine, DescribeStateMachineForExecution, GetExecutionHistory; awsJson1_0 protocol); "Handling
 * errors in Step Functions" (Lambda.* error names).
 * @example
 * const states = await startStatesService({ moto: moto.clientConfig, lambdaEndpoint: front.endpoint, log });
 * new SFNClient({ ...moto.clientConfig, endpoint: states.endpoint }).send(new StartExecutionCommand({ … }));
 */
export async function startStatesService(options: StatesServiceOptions): Promise<StatesService> {
  const log = options.log ?? (() => undefined);
  const timeScale = options.timeScale ?? 1;
  const executions = new Map<string, Execution>();
  const resolvedCache = new Map<string, ResolvedStateMachine>();
  const cfn = new CloudFormationClient(options.moto);
  const motoSfn = new SFNClient(options.moto);

  async function stateMachine(stateMachineArn: string): Promise<ResolvedStateMachine> {
    const arn = parseArn(stateMachineArn);
    if (arn.service !== 'states' || !arn.resource.startsWith('stateMachine:')) {
      throw new ApiError(
        'InvalidArn',
        `Invalid Arn: 'Resource type not valid in this context: ${stateMachineArn}'`,
      );
    }
    const cached = resolvedCache.get(stateMachineArn);
    try {
      if (cached !== undefined && cached.source.kind === 'stack') {
        // Re-resolve only when the owning stack changed.
        const stack = (await cfn.send(new DescribeStacksCommand({ StackName: cached.source.stackName })))
          .Stacks?.[0];
        const version = `${stack?.StackId ?? ''}@${(stack?.LastUpdatedTime ?? stack?.CreationTime)?.toISOString() ?? ''}`;
        if (version === cached.source.version) return cached;
      }
      const resolved = await resolveStateMachineDefinition(options.moto, stateMachineArn);
      resolvedCache.set(stateMachineArn, resolved);
      log(`states: definition of ${resolved.name} from ${describeSource(resolved)}`);
      return resolved;
    } catch (error) {
      if (error instanceof StateMachineDoesNotExist) {
        resolvedCache.delete(stateMachineArn);
        throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
      }
      throw error;
    }
  }

  function record(
    execution: Execution,
    type: string,
    detailsKey?: string,
    details?: Record<string, unknown>,
    at: Date = new Date(),
  ) {
    // The terminal event seals the history: nothing the engine reports afterwards belongs to it.
    if (execution.sealed) return;
    const push = (eventType: string, key?: string, eventDetails?: Record<string, unknown>) => {
      const id = execution.history.length + 1;
      execution.history.push({
        id,
        previousEventId: id - 1,
        timestamp: at,
        type: eventType,
        ...(key === undefined ? {} : { detailsKey: key, details: eventDetails ?? {} }),
      });
    };
    push(type, detailsKey, details);
    if (TERMINAL_EVENTS.has(type)) {
      execution.sealed = true;
    } else if (execution.history.length >= MAX_HISTORY_EVENTS - 1) {
      const cause = `The execution reached the maximum number of history events (${MAX_HISTORY_EVENTS}).`;
      push('ExecutionFailed', 'executionFailedEventDetails', { error: 'States.Runtime', cause });
      execution.sealed = true;
      close(execution, 'FAILED', { error: 'States.Runtime', cause });
      execution.abort();
    }
  }

  function close(
    execution: Execution,
    status: Exclude<ExecutionStatus, 'RUNNING'>,
    outcome: { output?: string; error?: string; cause?: string },
  ): void {
    if (execution.status !== 'RUNNING') return;
    execution.status = status;
    execution.stopDate = new Date();
    if (outcome.output !== undefined) execution.output = outcome.output;
    if (outcome.error !== undefined) execution.error = outcome.error;
    if (outcome.cause !== undefined) execution.cause = outcome.cause;
    const ms = execution.stopDate.getTime() - execution.startDate.getTime();
    log(
      `states: ${execution.name} ${status} after ${ms} ms` +
        (outcome.error === undefined ? '' : ` (${outcome.error}: ${truncate(outcome.cause ?? '', 300)})`),
    );
  }

  function lambdaClientFor(roleArn: string, executionName: string, region: string): LambdaClient {
    return new LambdaClient({
      region,
      ...(options.lambdaEndpoint === undefined ? {} : { endpoint: options.lambdaEndpoint }),
      maxAttempts: 1,
      // A synchronous Invoke ends within the function's timeout (≤ 900 s).
      requestHandler: { requestTimeout: 960_000 },
      credentials: fromTemporaryCredentials({
        params: {
          RoleArn: roleArn,
          RoleSessionName: `states-${executionName}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64),
          DurationSeconds: 3600,
        },
        masterCredentials: options.moto.credentials,
        clientConfig: { endpoint: options.moto.endpoint, region: options.moto.region },
      }),
    });
  }

  async function startExecution(body: unknown): Promise<Record<string, unknown>> {
    const request = StartExecutionInput.parse(body);
    const machine = await stateMachine(request.stateMachineArn);
    const name = request.name ?? randomUUID();
    if (!isValidExecutionName(name)) {
      throw new ApiError('InvalidName', `Invalid Name: '${name}'`);
    }
    const inputText = request.input ?? '{}';
    let input: unknown;
    try {
      input = JSON.parse(inputText);
    } catch (error) {
      throw new ApiError(
        'InvalidExecutionInput',
        `Invalid State Machine Execution Input: '${error instanceof Error ? error.message : String(error)}'`,
      );
    }
    const executionArn = `arn:aws:states:${parseArn(machine.stateMachineArn).region}:${
      parseArn(machine.stateMachineArn).accountId
    }:execution:${machine.name}:${name}`;
    const existing = executions.get(executionArn);
    if (existing !== undefined) {
      if (existing.status === 'RUNNING' && existing.input === inputText) {
        return { executionArn, startDate: epochSeconds(existing.startDate) };
      }
      throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const execution = run(machine, executionArn, name, inputText, toJson(input));
    executions.set(executionArn, execution);
    log(`states: StartExecution ${name} on ${machine.name}`);
    return { executionArn, startDate: epochSeconds(execution.startDate) };
  }

  function run(
    machine: ResolvedStateMachine,
    executionArn: string,
    name: string,
    inputText: string,
    input: JsonValue,
  ): Execution {
    const region = parseArn(machine.stateMachineArn).region;
    const definition = forEngine(JSON.parse(machine.definition));
    const lambda = lambdaClientFor(machine.roleArn, name, region);
    const execution: Execution = {
      executionArn,
      stateMachineArn: machine.stateMachineArn,
      name,
      status: 'RUNNING',
      input: inputText,
      startDate: new Date(),
      statesEntered: [],
      history: [],
      abort: () => undefined,
      roleArn: machine.roleArn,
      pendingTasks: new Map(),
      sealed: false,
    };
    record(execution, 'ExecutionStarted', 'executionStartedEventDetails', {
      input: inputText,
      inputDetails: { truncated: false },
      roleArn: machine.roleArn,
    });
    let engine: StateMachine;
    try {
      engine = new StateMachine(definition.definition, {
        validationOptions: { checkPaths: true, checkArn: true },
      });
    } catch (error) {
      const cause = error instanceof Error ? error.message : String(error);
      record(execution, 'ExecutionFailed', 'executionFailedEventDetails', { error: 'States.Runtime', cause });
      close(execution, 'FAILED', { error: 'States.Runtime', cause });
      lambda.destroy();
      return execution;
    }
    const taskResourceLocalHandlers = Object.fromEntries(
      definition.tasks.map(({ stateName, resource }) => [
        stateName,
        (taskInput: JsonValue) => invokeTask(execution, lambda, stateName, resource, taskInput),
      ]),
    );
    const handle = engine.run(input, {
      overrides: {
        taskResourceLocalHandlers,
        ...(timeScale === 1
          ? {}
          : {
              waitTimeOverrides: definition.scaledWaits(timeScale),
              retryIntervalOverrides: definition.scaledRetries(timeScale),
            }),
      },
      context: {
        // As Step Functions gives it: the lock (lib/failover-lock.ts) reads Id and StartTime.
        Execution: {
          Id: executionArn,
          Name: name,
          RoleArn: machine.roleArn,
          Input: input,
          StartTime: execution.startDate.toISOString(),
        },
        StateMachine: { Id: machine.stateMachineArn, Name: machine.name },
      },
    });
    Object.assign(execution, { abort: handle.abort });
    const consumed = consumeEvents(execution, handle.eventLogs);
    // The engine settles its result before its event log is drained: close once both are done (bounded), so a
    // closed execution always has its whole history.
    const drained = () =>
      Promise.race([consumed, new Promise((resolve) => setTimeout(resolve, EVENT_LOG_DRAIN_MS))]);
    handle.result.then(
      async (output) => {
        await drained();
        close(execution, 'SUCCEEDED', { output: JSON.stringify(output) });
      },
      async (error: unknown) => {
        await drained();
        if (error instanceof ExecutionAbortedError) return; // StopExecution or the history cap closed it.
        if (error instanceof ExecutionTimeoutError) {
          close(execution, 'TIMED_OUT', { error: 'States.Timeout' });
          return;
        }
        const failure = error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error;
        close(execution, 'FAILED', {
          error: failure instanceof Error ? failure.name : 'States.Runtime',
          cause: failure instanceof Error ? failure.message : String(failure),
        });
      },
    );
    void handle.result.catch(() => undefined).finally(() => lambda.destroy());
    return execution;
  }

  async function consumeEvents(execution: Execution, events: AsyncIterable<unknown>): Promise<void> {
    try {
      for await (const raw of events) {
        const parsed = EngineEvent.safeParse(raw);
        if (!parsed.success) continue;
        const event = parsed.data;
        const at = event.timestamp === undefined ? new Date() : new Date(event.timestamp);
        const state = StateData.safeParse(event.state);
        switch (event.type) {
          case 'StateEntered':
            if (state.success) {
              execution.statesEntered.push({
                name: state.data.name,
                type: state.data.type,
                enteredAt: at,
              });
              record(
                execution,
                `${state.data.type}StateEntered`,
                'stateEnteredEventDetails',
                {
                  name: state.data.name,
                  input: JSON.stringify(state.data.input ?? null),
                  inputDetails: { truncated: false },
                },
                at,
              );
            }
            break;
          case 'StateFailed':
            if (state.success && state.data.type === 'Task')
              flushTask(execution, state.data.name, event.Error);
            break;
          case 'StateExited':
            if (state.success) {
              if (state.data.type === 'Task') flushTask(execution, state.data.name, undefined);
              record(
                execution,
                `${state.data.type}StateExited`,
                'stateExitedEventDetails',
                {
                  name: state.data.name,
                  output: JSON.stringify(state.data.output ?? null),
                  outputDetails: { truncated: false },
                },
                at,
              );
            }
            break;
          case 'ExecutionSucceeded':
            record(
              execution,
              'ExecutionSucceeded',
              'executionSucceededEventDetails',
              {
                output: JSON.stringify(event.output ?? null),
                outputDetails: { truncated: false },
              },
              at,
            );
            break;
          case 'ExecutionFailed':
            record(
              execution,
              'ExecutionFailed',
              'executionFailedEventDetails',
              {
                error: String(event.Error ?? ''),
                cause: typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause ?? null),
              },
              at,
            );
            break;
          case 'ExecutionTimeout':
            record(
              execution,
              'ExecutionTimedOut',
              'executionTimedOutEventDetails',
              {
                error: 'States.Timeout',
              },
              at,
            );
            break;
          default:
            break;
        }
      }
    } catch (error) {
      log(
        `states: event log of ${execution.name} ended: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  function flushTask(execution: Execution, stateName: string, failedWith: unknown): void {
    const attempts = execution.pendingTasks.get(stateName) ?? [];
    const attempt = attempts.shift();
    if (attempt === undefined) return;
    for (const event of attempt) {
      record(execution, event.type, event.detailsKey, { ...event.details }, event.timestamp);
    }
    const finished = attempt.some(
      (event) => event.type.startsWith('LambdaFunction') && /(Succeeded|Failed)$/.test(event.type),
    );
    if (!finished && failedWith === 'States.Timeout') {
      record(execution, 'LambdaFunctionTimedOut', 'lambdaFunctionTimedOutEventDetails', {
        error: 'States.Timeout',
      });
    }
  }

  async function invokeTask(
    execution: Execution,
    lambda: LambdaClient,
    stateName: string,
    resource: string,
    input: JsonValue,
  ): Promise<JsonValue> {
    const attempt: HistoryEvent[] = [];
    const attempts = execution.pendingTasks.get(stateName) ?? [];
    attempts.push(attempt);
    execution.pendingTasks.set(stateName, attempts);
    const note = (type: string, detailsKey?: string, details?: Record<string, unknown>) =>
      attempt.push({
        id: 0,
        previousEventId: 0,
        timestamp: new Date(),
        type,
        ...(detailsKey === undefined ? {} : { detailsKey, details: details ?? {} }),
      });
    const payload = JSON.stringify(input);
    note('LambdaFunctionScheduled', 'lambdaFunctionScheduledEventDetails', {
      resource,
      input: payload,
      inputDetails: { truncated: false },
    });
    note('LambdaFunctionStarted');
    if (!/^arn:aws[a-z-]*:lambda:[^:]+:\d{12}:function:[^:]+(:[^:]+)?$/.test(resource)) {
      const failure = new TaskFailure(
        'States.Runtime',
        `unsupported Task resource ${resource} (harness states service)`,
      );
      note('LambdaFunctionFailed', 'lambdaFunctionFailedEventDetails', {
        error: failure.name,
        cause: failure.message,
      });
      throw failure;
    }
    let response: { FunctionError?: string; Payload?: Uint8Array };
    try {
      response = await lambda.send(
        new InvokeCommand({
          FunctionName: resource,
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(payload),
        }),
      );
    } catch (error) {
      const failure = lambdaServiceFailure(error);
      note('LambdaFunctionFailed', 'lambdaFunctionFailedEventDetails', {
        error: failure.name,
        cause: failure.message,
      });
      throw failure;
    }
    const text = response.Payload === undefined ? 'null' : Buffer.from(response.Payload).toString('utf8');
    if (response.FunctionError !== undefined) {
      const errorType = FunctionErrorPayload.safeParse(safeJson(text));
      const failure = new TaskFailure(
        errorType.success && errorType.data.errorType !== undefined
          ? errorType.data.errorType
          : 'Lambda.Unknown',
        text,
      );
      note('LambdaFunctionFailed', 'lambdaFunctionFailedEventDetails', {
        error: failure.name,
        cause: failure.message,
      });
      throw failure;
    }
    note('LambdaFunctionSucceeded', 'lambdaFunctionSucceededEventDetails', {
      output: text,
      outputDetails: { truncated: false },
    });
    const parsed = safeJson(text);
    return parsed === undefined ? text : toJson(parsed);
  }

  function describe(execution: Execution): Record<string, unknown> {
    return {
      executionArn: execution.executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: epochSeconds(execution.startDate),
      ...(execution.stopDate === undefined ? {} : { stopDate: epochSeconds(execution.stopDate) }),
      input: execution.input,
      inputDetails: { included: true },
      ...(execution.output === undefined
        ? {}
        : { output: execution.output, outputDetails: { included: true } }),
      ...(execution.error === undefined ? {} : { error: execution.error }),
      ...(execution.cause === undefined ? {} : { cause: execution.cause }),
    };
  }

  function findExecution(executionArn: string): Execution {
    const arn = parseArn(executionArn);
    if (arn.service !== 'states' || !arn.resource.startsWith('execution:')) {
      throw new ApiError(
        'InvalidArn',
        `Invalid Arn: 'Resource type not valid in this context: ${executionArn}'`,
      );
    }
    const execution = executions.get(executionArn);
    if (execution === undefined) {
      throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    }
    return execution;
  }

  async function handle(operation: string, body: unknown): Promise<Record<string, unknown> | undefined> {
    switch (operation) {
      case 'StartExecution':
        return startExecution(body);
      case 'DescribeExecution':
        return describe(findExecution(ExecutionArnInput.parse(body).executionArn));
      case 'StopExecution': {
        const request = StopExecutionInput.parse(body);
        const execution = findExecution(request.executionArn);
        if (execution.status === 'RUNNING') {
          close(execution, 'ABORTED', {
            ...(request.error === undefined ? {} : { error: request.error }),
            ...(request.cause === undefined ? {} : { cause: request.cause }),
          });
          record(execution, 'ExecutionAborted', 'executionAbortedEventDetails', {
            ...(request.error === undefined ? {} : { error: request.error }),
            ...(request.cause === undefined ? {} : { cause: request.cause }),
          });
          execution.abort();
        }
        return { stopDate: epochSeconds(execution.stopDate ?? new Date()) };
      }
      case 'ListExecutions': {
        const request = ListExecutionsInput.parse(body);
        if (request.stateMachineArn === undefined) {
          throw new ApiError(
            'ValidationException',
            'stateMachineArn is required (mapRunArn is not supported here)',
          );
        }
        await stateMachine(request.stateMachineArn);
        const matching = [...executions.values()]
          .filter((execution) => execution.stateMachineArn === request.stateMachineArn)
          .filter(
            (execution) => request.statusFilter === undefined || execution.status === request.statusFilter,
          )
          .sort((a, b) => b.startDate.getTime() - a.startDate.getTime() || b.name.localeCompare(a.name));
        const page = paginate(
          matching,
          request.maxResults,
          request.nextToken,
          `list:${request.stateMachineArn}`,
        );
        return {
          executions: page.items.map((execution) => ({
            executionArn: execution.executionArn,
            stateMachineArn: execution.stateMachineArn,
            name: execution.name,
            status: execution.status,
            startDate: epochSeconds(execution.startDate),
            ...(execution.stopDate === undefined ? {} : { stopDate: epochSeconds(execution.stopDate) }),
          })),
          ...(page.nextToken === undefined ? {} : { nextToken: page.nextToken }),
        };
      }
      case 'DescribeStateMachine':
        return describeStateMachine(DescribeStateMachineInput.parse(body).stateMachineArn);
      case 'DescribeStateMachineForExecution': {
        const execution = findExecution(ExecutionArnInput.parse(body).executionArn);
        return describeStateMachine(execution.stateMachineArn);
      }
      case 'GetExecutionHistory': {
        const request = HistoryInput.parse(body);
        const execution = findExecution(request.executionArn);
        const ordered = request.reverseOrder === true ? [...execution.history].reverse() : execution.history;
        const page = paginate(
          ordered,
          request.maxResults,
          request.nextToken,
          `history:${execution.executionArn}`,
        );
        const includeData = request.includeExecutionData !== false;
        return {
          events: page.items.map((event) => ({
            timestamp: epochSeconds(event.timestamp),
            type: event.type,
            id: event.id,
            previousEventId: event.previousEventId,
            ...(event.detailsKey === undefined
              ? {}
              : { [event.detailsKey]: includeData ? event.details : withoutData(event.details ?? {}) }),
          })),
          ...(page.nextToken === undefined ? {} : { nextToken: page.nextToken }),
        };
      }
      default:
        return undefined;
    }
  }

  async function describeStateMachine(stateMachineArn: string): Promise<Record<string, unknown>> {
    const resolved = await stateMachine(stateMachineArn);
    const described = await motoSfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
    return {
      stateMachineArn,
      name: described.name,
      status: described.status,
      definition: resolved.definition,
      roleArn: described.roleArn,
      type: described.type,
      ...(described.creationDate === undefined ? {} : { creationDate: epochSeconds(described.creationDate) }),
      ...(described.description === undefined ? {} : { description: described.description }),
      ...(described.loggingConfiguration === undefined
        ? {}
        : { loggingConfiguration: described.loggingConfiguration }),
      ...(described.tracingConfiguration === undefined
        ? {}
        : { tracingConfiguration: described.tracingConfiguration }),
    };
  }

  const server = http.createServer((request, response) => {
    void (async () => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request) {
        const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
        size += buffer.length;
        if (size > 2 * 1024 * 1024) {
          sendJson(response, 413, { __type: 'ValidationException', message: 'Request too large' });
          return;
        }
        chunks.push(buffer);
      }
      const raw = Buffer.concat(chunks);
      const target = String(request.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('AWSStepFunctions.')
        ? target.slice('AWSStepFunctions.'.length)
        : '';
      try {
        let body: unknown = {};
        if (raw.length > 0) {
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            throw new ApiError('SerializationException', 'Request body is not JSON');
          }
        }
        const answer = operation === '' ? undefined : await handle(operation, body);
        if (answer !== undefined) {
          sendJson(response, 200, answer);
          return;
        }
        const forwarded = await forward(options.moto.endpoint, {
          method: request.method ?? 'POST',
          path: request.url ?? '/',
          headers: request.headers,
          body: raw,
        });
        response.writeHead(forwarded.status, forwarded.headers);
        response.end(forwarded.body);
      } catch (error) {
        if (error instanceof ApiError) {
          sendJson(response, error.statusCode, { __type: error.code, message: error.message }, error.code);
        } else if (error instanceof z.ZodError) {
          sendJson(
            response,
            400,
            { __type: 'ValidationException', message: z.prettifyError(error) },
            'ValidationException',
          );
        } else {
          const message = error instanceof Error ? error.message : String(error);
          log(`states: ${operation || request.url} failed: ${message}`);
          sendJson(response, 500, { __type: 'InternalFailure', message }, 'InternalFailure');
        }
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? (address satisfies AddressInfo).port : 0;
  const endpoint = `http://${options.host ?? '127.0.0.1'}:${port}`;
  log(`states: Step Functions API on ${endpoint} (other operations → ${options.moto.endpoint})`);

  return {
    endpoint,
    port,
    executions: () => [...executions.values()],
    execution: (executionArn) => executions.get(executionArn),
    async waitForExecution(executionArn, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const execution = executions.get(executionArn);
        if (execution === undefined) throw new Error(`no execution ${executionArn}`);
        if (execution.status !== 'RUNNING') return execution;
        if (Date.now() > deadline) {
          const states = execution.statesEntered.map((state) => state.name).join(' → ');
          throw new Error(`${execution.name} still RUNNING after ${timeoutMs} ms (states: ${states})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      for (const execution of executions.values()) {
        if (execution.status === 'RUNNING') {
          close(execution, 'ABORTED', { error: 'States.Runtime', cause: 'states service stopped' });
          execution.abort();
        }
      }
      cfn.destroy();
      motoSfn.destroy();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive sockets of SDK clients would hold close() open.
      server.closeAllConnections();
      await closed;
    },
  };
}

// ------------------------------------------------------------------------------------------------ engine input

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const EngineEvent = z
  .object({
    type: z.string(),
    timestamp: z.number().optional(),
    state: z.unknown().optional(),
    Error: z.unknown().optional(),
    Cause: z.unknown().optional(),
    output: z.unknown().optional(),
  })
  .loose();
const StateData = z.object({
  name: z.string(),
  type: z.string(),
  input: z.unknown().optional(),
  output: z.unknown().optional(),
});
const FunctionErrorPayload = z.object({ errorType: z.string().optional() }).loose();
const AslState = z
  .object({
    Type: z.string(),
    Resource: z.string().optional(),
    TimeoutSeconds: z.number().optional(),
    TimeoutSecondsPath: z.string().optional(),
    Seconds: z.number().optional(),
    Retry: z.array(z.object({ IntervalSeconds: z.number().optional() }).loose()).optional(),
    Branches: z.array(z.unknown()).optional(),
    Iterator: z.unknown().optional(),
    ItemProcessor: z.unknown().optional(),
  })
  .loose();
const AslMachine = z.object({ StartAt: z.string(), States: z.record(z.string(), AslState) }).loose();

/** Task states without a timeout get this (AWS's default is 99 999 999 s; the library's would be 60 s). */
const TASK_DEFAULT_TIMEOUT_SECONDS = 86_400;

/**
 * Prepares a definition for aws-local-stepfunctions: every Task state (also in Parallel branches and Map processors)
 * gets the Task override and, without a timeout of its own, {@link TASK_DEFAULT_TIMEOUT_SECONDS}.
 */
function forEngine(raw: unknown): {
  definition: StateMachineDefinition;
  tasks: { stateName: string; resource: string }[];
  scaledWaits: (scale: number) => Record<string, number>;
  scaledRetries: (scale: number) => Record<string, number[]>;
} {
  const tasks: { stateName: string; resource: string }[] = [];
  const waits: Record<string, number> = {};
  const retries: Record<string, number[]> = {};
  const walk = (machine: z.infer<typeof AslMachine>): void => {
    for (const [stateName, state] of Object.entries(machine.States)) {
      if (state.Type === 'Task') {
        tasks.push({ stateName, resource: state.Resource ?? '' });
        if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
          state.TimeoutSeconds = TASK_DEFAULT_TIMEOUT_SECONDS;
        }
      }
      if (state.Type === 'Wait' && state.Seconds !== undefined) waits[stateName] = state.Seconds;
      if (state.Retry !== undefined)
        retries[stateName] = state.Retry.map((retrier) => retrier.IntervalSeconds ?? 1);
      for (const branch of state.Branches ?? []) walk(AslMachine.parse(branch));
      for (const inner of [state.Iterator, state.ItemProcessor]) {
        if (inner !== undefined) walk(AslMachine.parse(inner));
      }
    }
  };
  const parsed = AslMachine.parse(raw);
  walk(parsed);
  if (!isStateMachineDefinition(parsed)) throw new ApiError('InvalidDefinition', 'not an ASL definition');
  return {
    definition: parsed,
    tasks,
    scaledWaits: (scale) =>
      Object.fromEntries(Object.entries(waits).map(([name, s]) => [name, s * 1000 * scale])),
    scaledRetries: (scale) =>
      Object.fromEntries(
        Object.entries(retries).map(([name, list]) => [name, list.map((s) => s * 1000 * scale)]),
      ),
  };
}

/**
 * Narrows a parsed ASL document for the engine's constructor, which validates the whole definition itself
 * (asl-validator): the states and StartAt are checked here, everything else there.
 */
function isStateMachineDefinition(
  value: z.infer<typeof AslMachine>,
): value is z.infer<typeof AslMachine> & StateMachineDefinition {
  return value.StartAt in value.States;
}

// ------------------------------------------------------------------------------------------------ helpers

function lambdaServiceFailure(error: unknown): TaskFailure {
  const metadata = z
    .object({
      $metadata: z.object({ httpStatusCode: z.number().optional(), requestId: z.string().optional() }),
    })
    .loose()
    .safeParse(error);
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const status = metadata.success ? metadata.data.$metadata.httpStatusCode : undefined;
  if (status === undefined)
    return new TaskFailure('Lambda.SdkClientException', `Unable to execute HTTP request: ${message}`);
  const errorName =
    name === 'TooManyRequestsException'
      ? 'Lambda.TooManyRequestsException'
      : name === 'ServiceException' || status >= 500
        ? 'Lambda.ServiceException'
        : 'Lambda.AWSLambdaException';
  const requestId = metadata.success ? (metadata.data.$metadata.requestId ?? '') : '';
  return new TaskFailure(
    errorName,
    `${message} (Service: AWSLambda; Status Code: ${status}; Error Code: ${name}; Request ID: ${requestId}; Proxy: null)`,
  );
}

function withoutData(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    if (key !== 'input' && key !== 'output') out[key] = value;
  }
  return out;
}

function paginate<T>(
  items: readonly T[],
  maxResults: number | undefined,
  nextToken: string | undefined,
  scope: string,
): { items: T[]; nextToken?: string } {
  const size = maxResults === undefined || maxResults === 0 ? 100 : maxResults;
  let offset = 0;
  if (nextToken !== undefined) {
    const decoded = Buffer.from(nextToken, 'base64url').toString('utf8');
    const match = /^(\d+)\|(.*)$/.exec(decoded);
    if (match === null || match[2] !== scope)
      throw new ApiError('InvalidToken', `Invalid Token: '${nextToken}'`);
    offset = Number(match[1]);
  }
  const page = items.slice(offset, offset + size);
  const next =
    offset + size < items.length ? Buffer.from(`${offset + size}|${scope}`).toString('base64url') : undefined;
  return next === undefined ? { items: page } : { items: page, nextToken: next };
}

async function forward(
  endpoint: string,
  request: {
    method: string;
    path: string;
    headers: http.IncomingHttpHeaders | Record<string, string>;
    body: Buffer;
  },
): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    if (value === undefined || ['host', 'connection', 'content-length', 'transfer-encoding'].includes(key))
      continue;
    headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  const response = await fetch(new URL(request.path, endpoint), {
    method: request.method,
    headers,
    ...(request.method === 'GET' || request.method === 'HEAD' ? {} : { body: request.body }),
    signal: AbortSignal.timeout(60_000),
  });
  const out: Record<string, string> = {};
  for (const key of ['content-type', 'x-amzn-requestid', 'x-amzn-errortype', 'x-amz-crc32']) {
    const value = response.headers.get(key);
    if (value !== null) out[key] = value;
  }
  return { status: response.status, headers: out, body: Buffer.from(await response.arrayBuffer()) };
}

function sendJson(response: http.ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...(errorType === undefined ? {} : { 'x-amzn-errortype': errorType }),
  });
  response.end(text);
}

function describeSource(resolved: ResolvedStateMachine): string {
  return resolved.source.kind === 'stack'
    ? `stack ${resolved.source.stackName} (${resolved.source.logicalId})`
    : 'the emulator (no stack)';
}

function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toJson(value: unknown): JsonValue {
  return JsonValueSchema.parse(value ?? null);
}

const JsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(JsonValueSchema),
    z.record(z.string(), JsonValueSchema),
  ]),
);

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
