/**
 * The states service (harness/cloud/states-service.ts) executing our real state machines: a CloudFormation stack
 * in moto declares the task functions and both state machines exactly as serverless.yml does (Definition from
 * statemachines/*.asl.json + DefinitionSubstitutions with Fn::GetAtt [<Function>, Arn]); the service resolves the
 * definitions from that stack and runs them with aws-local-stepfunctions. Clients are the real
 * `@aws-sdk/client-sfn` pointed at the service.
 *
 * The Lambda service is a TEST DOUBLE here: a loopback HTTP server answering Lambda's Invoke API
 * (`POST /2015-03-31/functions/<name>/invocations`) for the test functions with scripted results, standing for
 * harness/cloud/lambda-service.ts (which runs the deployed zips) in this test only.
 */

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  InvalidExecutionInput,
  InvalidName,
  InvalidToken,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  ListTagsForResourceCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { type StatesService, startStatesService } from '../../harness/cloud/states-service.ts';
import { type MotoServer, REPO_ROOT, startMoto } from '../../harness/moto.ts';

const DRAIN_FUNCTIONS = ['BeginDrain', 'CheckDrain', 'CompleteDrain'] as const;
/** One function runs every Task state of the failover state machine (`{task, state}` in). */
const FAILOVER_FUNCTIONS = ['FailoverTask'] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const JsonSchema: z.ZodType<Json> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(JsonSchema),
    z.record(z.string(), JsonSchema),
  ]),
);

/** What the double answers for one invocation. */
type Answer =
  | { readonly result: Json }
  | { readonly functionError: { readonly errorType: string; readonly errorMessage: string } }
  | { readonly serviceError: { readonly status: number; readonly type: string; readonly message: string } };

interface Invocation {
  readonly functionName: string;
  readonly input: Json;
  /** The SigV4 access key id the request was signed with. */
  readonly accessKeyId: string;
}

/** TEST DOUBLE for the Lambda service's Invoke API (see the module comment). */
async function startLambdaInvokeDouble(
  script: (functionName: string, input: Json, invocations: readonly Invocation[]) => Answer,
) {
  const invocations: Invocation[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(request.url ?? '');
      const target = decodeURIComponent(match?.[1] ?? '');
      const functionName = target.split(':function:').pop()?.split(':')[0] ?? target;
      const input = JsonSchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'));
      const accessKeyId = /Credential=([^/]+)\//.exec(String(request.headers.authorization ?? ''))?.[1] ?? '';
      invocations.push({ functionName, input, accessKeyId });
      const answer = script(functionName, input, invocations);
      if ('serviceError' in answer) {
        response.writeHead(answer.serviceError.status, {
          'content-type': 'application/json',
          'x-amzn-errortype': answer.serviceError.type,
          'x-amzn-requestid': `req-${invocations.length}`,
        });
        response.end(JSON.stringify({ Type: 'User', Message: answer.serviceError.message }));
        return;
      }
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-amz-executed-version': '$LATEST',
      };
      if ('functionError' in answer) {
        headers['x-amz-function-error'] = 'Unhandled';
        response.writeHead(200, headers);
        response.end(
          JSON.stringify({ ...answer.functionError, trace: [`${answer.functionError.errorType}: at test`] }),
        );
        return;
      }
      response.writeHead(200, headers);
      response.end(JSON.stringify(answer.result));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    invocations,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const Lifecycle = z.object({ lifecycle: z.object({ instanceId: z.string() }) }).loose();
const instanceOf = (input: Json) => Lifecycle.safeParse(input).data?.lifecycle.instanceId ?? '';

/** Per-function behaviour: the drain's instance id and the failover's mode pick the path. */
function script(functionName: string, input: Json, invocations: readonly Invocation[]): Answer {
  const instance = instanceOf(input);
  const calls = (name: string) =>
    invocations.filter((i) => i.functionName === name && instanceOf(i.input) === instance).length;
  switch (functionName) {
    case 'states-it-BeginDrain':
      if (instance === 'i-gone')
        return { functionError: { errorType: 'LifecycleActionGoneError', errorMessage: 'token used' } };
      if (instance === 'i-denied') {
        return {
          serviceError: {
            status: 403,
            type: 'AccessDeniedException',
            message:
              'User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to perform: lambda:InvokeFunction',
          },
        };
      }
      if (instance === 'i-slow') return { result: { waitSeconds: 30 } };
      // First attempt: a transient Trino error the Retry block names; the retry succeeds.
      if (calls(functionName) === 1) {
        return {
          functionError: {
            errorType: 'TrinoConnectionError',
            errorMessage: 'connect ECONNREFUSED 10.42.1.20:8080',
          },
        };
      }
      return { result: { waitSeconds: 1 } };
    case 'states-it-CheckDrain':
      return calls(functionName) === 1
        ? { result: { done: false, waitSeconds: 1 } }
        : { result: { done: true } };
    case 'states-it-CompleteDrain':
      return { result: { lifecycleResult: 'CONTINUE', outcome: 'DRAINED', instanceId: instance } };
    case 'states-it-FailoverTask': {
      const task = z.object({ task: z.string(), state: JsonSchema }).safeParse(input).data;
      switch (task?.task) {
        case 'PlanFailover': {
          const mode = z.object({ mode: z.string() }).loose().safeParse(task.state).data?.mode;
          if (mode === 'broken')
            return { functionError: { errorType: 'ValidationError', errorMessage: 'bad input' } };
          const base = z.record(z.string(), JsonSchema).safeParse(task.state).data ?? {};
          return { result: { ...base, plan: { action: 'DRY_RUN' } } };
        }
        case 'CompleteFailover':
          return { result: { outcome: 'DRY_RUN_COMPLETE' } };
        case 'NotifyFailure':
          return { result: { notified: true } };
        default:
          return {
            functionError: { errorType: 'ValidationError', errorMessage: `unexpected task ${task?.task}` },
          };
      }
    }
    default:
      return {
        serviceError: {
          status: 404,
          type: 'ResourceNotFoundException',
          message: `Function not found: ${functionName}`,
        },
      };
  }
}

async function stackTemplate(): Promise<string> {
  const definition = async (file: string) =>
    JsonSchema.parse(JSON.parse(await readFile(path.join(REPO_ROOT, 'statemachines', file), 'utf8')));
  const resources: Record<string, unknown> = {
    FunctionRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
      },
    },
    StateMachineRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
        Policies: [
          {
            PolicyName: 'invoke',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '*' }],
            },
          },
        ],
      },
    },
  };
  for (const name of [...DRAIN_FUNCTIONS, ...FAILOVER_FUNCTIONS]) {
    resources[`${name}LambdaFunction`] = {
      Type: 'AWS::Lambda::Function',
      Properties: {
        FunctionName: `states-it-${name}`,
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Role: { 'Fn::GetAtt': ['FunctionRole', 'Arn'] },
        Code: { ZipFile: 'exports.handler = async () => ({});' },
      },
    };
  }
  const substitutions = (names: readonly string[]) =>
    Object.fromEntries(
      names.map((name) => [`${name}FunctionArn`, { 'Fn::GetAtt': [`${name}LambdaFunction`, 'Arn'] }]),
    );
  resources.WorkerDrainStateMachine = {
    Type: 'AWS::StepFunctions::StateMachine',
    Properties: {
      StateMachineName: 'states-it-worker-drain',
      StateMachineType: 'STANDARD',
      RoleArn: { 'Fn::GetAtt': ['StateMachineRole', 'Arn'] },
      Definition: await definition('worker-drain.asl.json'),
      DefinitionSubstitutions: substitutions(DRAIN_FUNCTIONS),
      Tags: [{ Key: 'suite', Value: 'states-it' }],
    },
  };
  resources.CoordinatorFailoverStateMachine = {
    Type: 'AWS::StepFunctions::StateMachine',
    Properties: {
      StateMachineName: 'states-it-coordinator-failover',
      StateMachineType: 'STANDARD',
      RoleArn: { 'Fn::GetAtt': ['StateMachineRole', 'Arn'] },
      Definition: await definition('coordinator-failover.asl.json'),
      DefinitionSubstitutions: substitutions(FAILOVER_FUNCTIONS),
    },
  };
  return JSON.stringify({ AWSTemplateFormatVersion: '2010-09-09', Resources: resources });
}

const DRAIN_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:states-it-worker-drain';
const FAILOVER_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:states-it-coordinator-failover';
const drainInput = (instanceId: string) =>
  JSON.stringify({
    lifecycle: {
      autoScalingGroupName: 'analytics-workers',
      lifecycleHookName: 'trino-sentinel-drain',
      instanceId,
      lifecycleActionToken: `token-${instanceId}`,
    },
    startedAt: '2026-11-30T10:00:00.000Z',
  });

describe('the states service runs our state machines as deployed (definitions from the stack)', () => {
  let moto: MotoServer;
  let lambda: Awaited<ReturnType<typeof startLambdaInvokeDouble>>;
  let states: StatesService;
  let sfn: SFNClient;
  const lines: string[] = [];

  beforeAll(async () => {
    moto = await startMoto();
    const cfn = new CloudFormationClient(moto.clientConfig);
    await cfn.send(new CreateStackCommand({ StackName: 'states-it', TemplateBody: await stackTemplate() }));
    const status = (await cfn.send(new DescribeStacksCommand({ StackName: 'states-it' }))).Stacks?.[0]
      ?.StackStatus;
    expect(status).toBe('CREATE_COMPLETE');
    cfn.destroy();
    lambda = await startLambdaInvokeDouble(script);
    // Test-only time scale: Retry pauses 100× shorter; WaitForDrain (SecondsPath) still waits in real time.
    states = await startStatesService({
      moto: moto.clientConfig,
      lambdaEndpoint: lambda.endpoint,
      timeScale: 0.01,
      log: (line) => lines.push(line),
    });
    sfn = new SFNClient({ ...moto.clientConfig, endpoint: states.endpoint });
  });

  afterAll(async () => {
    sfn?.destroy();
    await states?.stop();
    await lambda?.close();
    await moto?.stop();
  });

  it('resolves DescribeStateMachine from the stack: the ASL with the functions’ ARNs', async () => {
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: DRAIN_ARN }));
    const definition = z
      .object({ States: z.record(z.string(), z.object({ Resource: z.string().optional() }).loose()) })
      .parse(JSON.parse(described.definition ?? '{}'));
    expect(definition.States.BeginDrain?.Resource).toBe(
      'arn:aws:lambda:us-east-1:123456789012:function:states-it-BeginDrain',
    );
    expect(described.definition).not.toContain('${');
    expect(described.roleArn).toMatch(/^arn:aws:iam::123456789012:role\/states-it-StateMachineRole-/);
    expect(described.name).toBe('states-it-worker-drain');
  });

  it('drains with a Retry on TrinoConnectionError, the Choice loop and real-time Waits, invoking as the role', async () => {
    const started = Date.now();
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: DRAIN_ARN,
        name: 'i-ok-token',
        input: drainInput('i-ok'),
      }),
    );
    const done = await states.waitForExecution(executionArn ?? '', 30_000);
    const elapsedMs = Date.now() - started;
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? 'null')).toEqual({
      lifecycleResult: 'CONTINUE',
      outcome: 'DRAINED',
      instanceId: 'i-ok',
    });
    expect(done.statesEntered.map((state) => state.name)).toEqual([
      'BeginDrain',
      'WaitForDrain',
      'CheckDrain',
      'IsDrainDone',
      'WaitForDrain',
      'CheckDrain',
      'IsDrainDone',
      'CompleteLifecycleAction',
    ]);
    // Two WaitForDrain states of $.drain.waitSeconds = 1 s each, in real time.
    expect(elapsedMs).toBeGreaterThanOrEqual(2_000);
    const calls = lambda.invocations.filter((call) => instanceOf(call.input) === 'i-ok');
    expect(calls.map((call) => call.functionName)).toEqual([
      'states-it-BeginDrain',
      'states-it-BeginDrain',
      'states-it-CheckDrain',
      'states-it-CheckDrain',
      'states-it-CompleteDrain',
    ]);
    // Signed with the role's session credentials from STS (moto issues ASIA… keys), not the caller's.
    for (const call of calls) expect(call.accessKeyId).toMatch(/^ASIA/);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({ status: 'SUCCEEDED', name: 'i-ok-token', stateMachineArn: DRAIN_ARN });
    expect(described.stopDate?.getTime()).toBeGreaterThanOrEqual(
      described.startDate?.getTime() ?? Number.NaN,
    );
    const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
    const types = (history.events ?? []).map((event) => event.type);
    expect(types[0]).toBe('ExecutionStarted');
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    const failed = (history.events ?? []).find((event) => event.type === 'LambdaFunctionFailed');
    expect(failed?.lambdaFunctionFailedEventDetails?.error).toBe('TrinoConnectionError');
    expect(JSON.parse(failed?.lambdaFunctionFailedEventDetails?.cause ?? '{}')).toMatchObject({
      errorType: 'TrinoConnectionError',
      errorMessage: 'connect ECONNREFUSED 10.42.1.20:8080',
    });
    expect(types.filter((type) => type === 'WaitStateEntered')).toHaveLength(2);
    expect(types.filter((type) => type === 'LambdaFunctionSucceeded')).toHaveLength(4);
  });

  it('catches LifecycleActionGoneError into EndQuietly, keeping the error with its payload as Cause', async () => {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: DRAIN_ARN,
        name: 'i-gone-token',
        input: drainInput('i-gone'),
      }),
    );
    const done = await states.waitForExecution(executionArn ?? '', 10_000);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.statesEntered.map((state) => state.name)).toEqual(['BeginDrain', 'EndQuietly']);
    const output = z
      .object({
        lifecycleResult: z.string(),
        outcome: z.string(),
        error: z.object({ Error: z.string(), Cause: z.string() }),
      })
      .parse(JSON.parse(done.output ?? 'null'));
    expect(output).toMatchObject({ lifecycleResult: 'NONE', outcome: 'LIFECYCLE_ACTION_GONE' });
    expect(output.error.Error).toBe('LifecycleActionGoneError');
    expect(JSON.parse(output.error.Cause)).toMatchObject({
      errorType: 'LifecycleActionGoneError',
      errorMessage: 'token used',
    });
  });

  it('reports a Lambda refusal as Lambda.AWSLambdaException, retried by the ASL, then DrainFailed completes the lifecycle action and the execution fails', async () => {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: DRAIN_ARN,
        name: 'i-denied-token',
        input: drainInput('i-denied'),
      }),
    );
    const done = await states.waitForExecution(executionArn ?? '', 20_000);
    expect(done.status).toBe('FAILED');
    expect(done.statesEntered.map((state) => state.name)).toEqual([
      'BeginDrain',
      'DrainFailed',
      'DrainFailedState',
    ]);
    expect(done.error).toBe('DrainFailed');
    const denied = lambda.invocations.filter((call) => instanceOf(call.input) === 'i-denied');
    // BeginDrain's Retry: MaxAttempts 5 → 6 invocations, each refused; then DrainFailed (the CompleteDrain
    // function with `failed: true` and the refusal as the error) once.
    expect(denied.filter((call) => call.functionName === 'states-it-BeginDrain')).toHaveLength(6);
    const failed = denied.filter((call) => call.functionName === 'states-it-CompleteDrain');
    expect(failed).toHaveLength(1);
    expect(JSON.stringify(failed[0]?.input)).toContain('"failed":true');
    expect(JSON.stringify(failed[0]?.input)).toContain('Lambda.AWSLambdaException');
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({ status: 'FAILED', error: 'DrainFailed' });
  });

  it('runs the failover dry run through the Choice default, and a planning error through Catch to the Fail state', async () => {
    const dry = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: FAILOVER_ARN,
        name: 'drill-1',
        input: JSON.stringify({ mode: 'drill', dryRun: true }),
      }),
    );
    const dryDone = await states.waitForExecution(dry.executionArn ?? '', 10_000);
    expect(dryDone.status).toBe('SUCCEEDED');
    expect(dryDone.statesEntered.map((state) => state.name)).toEqual([
      'PlanFailover',
      'ChooseAction',
      'CompleteFailover',
      'Done',
    ]);
    const broken = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: FAILOVER_ARN,
        name: 'broken-1',
        input: JSON.stringify({ mode: 'broken' }),
      }),
    );
    const brokenDone = await states.waitForExecution(broken.executionArn ?? '', 10_000);
    expect(brokenDone.statesEntered.map((state) => state.name)).toEqual([
      'PlanFailover',
      'NotifyFailure',
      'FailoverFailed',
    ]);
    expect(brokenDone).toMatchObject({
      status: 'FAILED',
      error: 'FailoverFailed',
      cause:
        "The coordinator failover did not complete; see NotifyFailure's input for the error and the timeline.",
    });
    const notified = lambda.invocations.find(
      (call) =>
        call.functionName === 'states-it-FailoverTask' &&
        JSON.stringify(call.input).includes('"task":"NotifyFailure"') &&
        JSON.stringify(call.input).includes('broken'),
    );
    expect(
      z.object({ state: z.object({ error: z.object({ Error: z.string() }) }).loose() }).parse(notified?.input)
        .state.error.Error,
    ).toBe('ValidationError');
    const history = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn: broken.executionArn,
        reverseOrder: true,
        maxResults: 1,
      }),
    );
    expect(history.events?.[0]).toMatchObject({
      type: 'ExecutionFailed',
      executionFailedEventDetails: { error: 'FailoverFailed' },
    });
    expect(history.nextToken).toBeDefined();
  });

  it('applies the execution name rules of StartExecution as AWS documents them', async () => {
    const input = drainInput('i-slow');
    const first = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: DRAIN_ARN, name: 'slow-1', input }),
    );
    // Open + same input: the same execution.
    const again = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: DRAIN_ARN, name: 'slow-1', input }),
    );
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate?.getTime()).toBe(first.startDate?.getTime());
    // Open + different input.
    await expect(
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: DRAIN_ARN,
          name: 'slow-1',
          input: drainInput('i-other'),
        }),
      ),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    // RUNNING is listed as such.
    const running = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: DRAIN_ARN, statusFilter: 'RUNNING' }),
    );
    expect(running.executions?.map((execution) => execution.name)).toEqual(['slow-1']);
    const succeeded = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: DRAIN_ARN, statusFilter: 'SUCCEEDED' }),
    );
    expect(succeeded.executions?.map((execution) => execution.name).sort()).toEqual([
      'i-gone-token',
      'i-ok-token',
    ]);
    // Stop it: ABORTED with the caller's error and cause; no longer RUNNING.
    const stopped = await sfn.send(
      new StopExecutionCommand({
        executionArn: first.executionArn,
        error: 'Drill',
        cause: 'stopped by the test',
      }),
    );
    expect(stopped.stopDate).toBeInstanceOf(Date);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: first.executionArn }));
    expect(described).toMatchObject({ status: 'ABORTED', error: 'Drill', cause: 'stopped by the test' });
    const runningAfter = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: DRAIN_ARN, statusFilter: 'RUNNING' }),
    );
    expect(runningAfter.executions).toEqual([]);
    // Closed: the name is taken whatever the input.
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: DRAIN_ARN, name: 'slow-1', input })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await expect(
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: DRAIN_ARN,
          name: 'i-ok-token',
          input: drainInput('i-ok'),
        }),
      ),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    // Unknown state machine, bad JSON, bad name, unknown execution.
    await expect(
      sfn.send(
        new StartExecutionCommand({ stateMachineArn: `${DRAIN_ARN}-missing`, name: 'x', input: '{}' }),
      ),
    ).rejects.toBeInstanceOf(StateMachineDoesNotExist);
    await expect(
      sfn.send(
        new StartExecutionCommand({ stateMachineArn: DRAIN_ARN, name: 'bad-json', input: '{"lifecycle":' }),
      ),
    ).rejects.toBeInstanceOf(InvalidExecutionInput);
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: DRAIN_ARN, name: 'has space', input: '{}' })),
    ).rejects.toBeInstanceOf(InvalidName);
    await expect(
      sfn.send(new DescribeExecutionCommand({ executionArn: `${first.executionArn}-missing` })),
    ).rejects.toBeInstanceOf(ExecutionDoesNotExist);
  });

  it('pages ListExecutions newest first and refuses a foreign token', async () => {
    const all = await sfn.send(new ListExecutionsCommand({ stateMachineArn: DRAIN_ARN }));
    const names = all.executions?.map((execution) => execution.name) ?? [];
    expect(names).toHaveLength(4);
    const starts = (all.executions ?? []).map((execution) => execution.startDate?.getTime() ?? 0);
    expect([...starts].sort((a, b) => b - a)).toEqual(starts);
    const first = await sfn.send(new ListExecutionsCommand({ stateMachineArn: DRAIN_ARN, maxResults: 3 }));
    expect(first.executions).toHaveLength(3);
    const second = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: DRAIN_ARN, maxResults: 3, nextToken: first.nextToken }),
    );
    expect(second.nextToken).toBeUndefined();
    expect(
      [...(first.executions ?? []), ...(second.executions ?? [])].map((execution) => execution.name),
    ).toEqual(names);
    await expect(
      sfn.send(new ListExecutionsCommand({ stateMachineArn: FAILOVER_ARN, nextToken: first.nextToken })),
    ).rejects.toBeInstanceOf(InvalidToken);
  });

  it('forwards the other operations to moto (ListStateMachines, ListTagsForResource)', async () => {
    const listed = await sfn.send(new ListStateMachinesCommand({}));
    expect(listed.stateMachines?.map((machine) => machine.name).sort()).toEqual([
      'states-it-coordinator-failover',
      'states-it-worker-drain',
    ]);
    const tags = await sfn.send(new ListTagsForResourceCommand({ resourceArn: DRAIN_ARN }));
    expect(tags.tags).toContainEqual({ key: 'suite', value: 'states-it' });
    expect(
      lines.some((line) => line.includes('definition of states-it-worker-drain from stack states-it')),
    ).toBe(true);
  });
});
