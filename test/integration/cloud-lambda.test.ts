/**
 * The deployed topology's Lambda: the zips `osls package` writes, created in moto and invoked through the front AWS
 * endpoint with the SDK's LambdaClient (`AWS_ENDPOINT_URL`), run unmodified under aws-lambda-rie + aws-lambda-ric
 * (harness/cloud/lambda-runtime.ts, lambda-service.ts, aws-endpoint.ts).
 *
 * Functions come from the packaged template (.serverless/cloudformation-template-update-stack.json): handler,
 * runtime, timeout, memory, environment and reserved concurrency as packaged; the template's intrinsic functions in
 * the environment are resolved to this test's values (the cluster stack's exports, the stack's own resources).
 * A small test function (`fixture`, test/helpers/lambda-fixture.ts, labelled as such) covers what no shipped function does on demand:
 * sleeping past its timeout, holding an environment busy, reporting its own environment.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateFunctionCommand,
  InvokeCommand,
  LambdaClient,
  PutFunctionConcurrencyCommand,
  PutFunctionEventInvokeConfigCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import * as z from 'zod';
import { createWorkerGroup } from '../../harness/aws-fixtures.ts';
import { type AwsEndpoint, lambdaServiceRoutes, startAwsEndpoint } from '../../harness/cloud/aws-endpoint.ts';
import { type LambdaService, startLambdaService } from '../../harness/cloud/lambda-service.ts';
import {
  freePort,
  MOTO_REGION,
  type MotoServer,
  REPO_ROOT,
  startMoto,
  waitUntil,
} from '../../harness/moto.ts';
import { buildFixtureZip } from '../helpers/lambda-fixture.ts';

const ACCOUNT = '123456789012';
const CLUSTER = 'trino-dev';
const ErrorDocument = z.object({ errorType: z.string(), errorMessage: z.string() }).loose();
const FunctionResource = z.object({
  Type: z.literal('AWS::Lambda::Function'),
  Properties: z
    .object({
      FunctionName: z.string(),
      Handler: z.string(),
      Runtime: z.string(),
      Timeout: z.number(),
      MemorySize: z.number(),
      Code: z.object({ S3Key: z.string() }),
      Role: z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) }),
      Environment: z.object({ Variables: z.record(z.string(), z.unknown()) }).optional(),
      ReservedConcurrentExecutions: z.number().optional(),
    })
    .loose(),
});
const Template = z.object({
  Resources: z.record(z.string(), z.object({ Type: z.string(), Properties: z.unknown().optional() }).loose()),
});

/** A packaged function as the template describes it. */
interface PackagedFunction {
  readonly key: string;
  readonly functionName: string;
  readonly handler: string;
  readonly runtime: string;
  readonly timeout: number;
  readonly memorySize: number;
  readonly zip: string;
  readonly roleLogicalId: string;
  readonly environment: Record<string, string>;
  readonly reservedConcurrency?: number;
}

let moto: MotoServer;
let endpoint: AwsEndpoint;
let service: LambdaService;
let workDir: string;
let closedPort: number;
let functions: PackagedFunction[] = [];
const logs: string[] = [];
const savedEnv: Record<string, string | undefined> = {};

function log(line: string): void {
  logs.push(line);
  if (logs.length > 4000) logs.shift();
}

/** The packaged template's value for the stack resources and the cluster stack's exports, for this test. */
function resolveIntrinsic(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const importValue = z.object({ 'Fn::ImportValue': z.string() }).safeParse(value);
  if (importValue.success) {
    const name = importValue.data['Fn::ImportValue'].split(':').pop();
    const exports: Record<string, string> = {
      CoordinatorUrl: `http://127.0.0.1:${closedPort}`,
      CoordinatorEniId: 'eni-0123456789abcdef0',
    };
    return name === undefined ? undefined : exports[name];
  }
  const ref = z.object({ Ref: z.string() }).safeParse(value);
  if (ref.success) {
    const refs: Record<string, string> = {
      WorkerDrainStateMachine: `arn:aws:states:${MOTO_REGION}:${ACCOUNT}:stateMachine:WorkerDrainStateMachine`,
      CoordinatorFailoverStateMachine: `arn:aws:states:${MOTO_REGION}:${ACCOUNT}:stateMachine:CoordinatorFailover`,
      AlarmTopic: `arn:aws:sns:${MOTO_REGION}:${ACCOUNT}:trino-sentinel-trino-dev-alarms`,
      QueryLogQueue: `${moto.endpoint}/${ACCOUNT}/trino-sentinel-trino-dev-query-log`,
      QueryLogDlq: `${moto.endpoint}/${ACCOUNT}/trino-sentinel-trino-dev-query-log-dlq`,
    };
    return refs[ref.data.Ref];
  }
  // Fn::If [HasTrinoCa, …, AWS::NoValue]: no CA parameter in this stage.
  return undefined;
}

async function packagedFunctions(): Promise<PackagedFunction[]> {
  const text = await readFile(
    path.join(REPO_ROOT, '.serverless', 'cloudformation-template-update-stack.json'),
    'utf8',
  );
  const template = Template.parse(JSON.parse(text));
  const out: PackagedFunction[] = [];
  for (const [key, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const p = FunctionResource.parse(resource).Properties;
    const environment: Record<string, string> = {};
    for (const [name, value] of Object.entries(p.Environment?.Variables ?? {})) {
      const resolved = resolveIntrinsic(value);
      if (resolved !== undefined) environment[name] = resolved;
    }
    out.push({
      key,
      functionName: p.FunctionName,
      handler: p.Handler,
      runtime: p.Runtime,
      timeout: p.Timeout,
      memorySize: p.MemorySize,
      zip: path.join(REPO_ROOT, '.serverless', p.Code.S3Key.split('/').pop() ?? ''),
      roleLogicalId: p.Role['Fn::GetAtt'][0],
      environment,
      ...(p.ReservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrency: p.ReservedConcurrentExecutions }),
    });
  }
  return out;
}

const TRUST_LAMBDA = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

function invokeClient(maxAttempts = 3): LambdaClient {
  // Configured from the environment only, as the functions' and aws-local-stepfunctions' clients are.
  return new LambdaClient({ maxAttempts });
}

function decode(payload: Uint8Array | undefined): unknown {
  return JSON.parse(Buffer.from(payload ?? new Uint8Array()).toString('utf8'));
}

async function receiveAll(
  sqs: SQSClient,
  queueUrl: string,
  count: number,
  deadlineMs: number,
): Promise<string[]> {
  const bodies: string[] = [];
  await waitUntil(
    `${count} message(s) on ${queueUrl}`,
    async () => {
      const answer = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const message of answer.Messages ?? []) if (message.Body) bodies.push(message.Body);
      return bodies.length >= count;
    },
    deadlineMs,
  );
  return bodies;
}

beforeAll(async () => {
  closedPort = await freePort();
  workDir = await mkdtemp(path.join(tmpdir(), 'cloud-lambda-'));
  moto = await startMoto();
  endpoint = await startAwsEndpoint({
    listen: [{ host: '127.0.0.1' }],
    routes: { default: moto.endpoint, routes: [] },
    log,
  });
  const endpointUrl = endpoint.urls[0] ?? '';
  service = await startLambdaService({
    motoUrl: moto.endpoint,
    endpointUrl,
    log,
    workDir,
    asyncRetryDelaysMs: [300, 300],
  });
  endpoint.setRoutes({ default: moto.endpoint, routes: lambdaServiceRoutes(service.url) });
  for (const [key, value] of Object.entries({
    AWS_ENDPOINT_URL: endpointUrl,
    AWS_REGION: MOTO_REGION,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
  })) {
    savedEnv[key] = process.env[key];
    process.env[key] = value;
  }

  // What ships: the zips and the template `osls package` writes (offline).
  await promisify(execFile)('npx', ['osls', 'package'], { cwd: REPO_ROOT, timeout: 180_000 });
  functions = await packagedFunctions();

  const iam = new IAMClient({});
  const lambda = invokeClient();
  const roles = new Set(functions.map((f) => f.roleLogicalId));
  for (const role of [...roles, 'FixtureRole']) {
    await iam.send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: TRUST_LAMBDA }));
  }
  for (const fn of functions) {
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: fn.functionName,
        Runtime: 'nodejs22.x',
        Role: `arn:aws:iam::${ACCOUNT}:role/${fn.roleLogicalId}`,
        Handler: fn.handler,
        Timeout: fn.timeout,
        MemorySize: fn.memorySize,
        Environment: { Variables: fn.environment },
        Code: { ZipFile: await readFile(fn.zip) },
      }),
    );
    if (fn.reservedConcurrency !== undefined) {
      await lambda.send(
        new PutFunctionConcurrencyCommand({
          FunctionName: fn.functionName,
          ReservedConcurrentExecutions: fn.reservedConcurrency,
        }),
      );
    }
  }
}, 600_000);

afterAll(async () => {
  await service?.stop();
  await endpoint?.stop();
  await moto?.stop();
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function dumpLogsOnFailure(): void {
  onTestFailed(() => {
    console.log(logs.slice(-150).join('\n'));
  });
}

describe('the packaged zips under aws-lambda-rie, invoked through the front AWS endpoint', () => {
  it('packages 13 functions, each with a zip, all nodejs22.x', () => {
    expect(functions).toHaveLength(13);
    for (const fn of functions) expect(fn.runtime).toBe('nodejs22.x');
  });

  it('every packaged function answers a malformed event as its contract says (issue 11 item 1, on the zips)', async () => {
    dumpLogsOnFailure();
    const lambda = invokeClient();
    const limit = pLimit(3);
    const outcomes = await Promise.all(
      functions.map((fn) =>
        limit(async () => {
          const answer = await lambda.send(
            new InvokeCommand({
              FunctionName: fn.functionName,
              Payload: Buffer.from(JSON.stringify({ malformed: true })),
            }),
          );
          return { fn, answer, payload: decode(answer.Payload) };
        }),
      ),
    );
    const rows = outcomes.map(({ fn, answer, payload }) => {
      const document = ErrorDocument.safeParse(payload);
      const response = z.object({ statusCode: z.number() }).loose().safeParse(payload);
      return {
        function: fn.key,
        statusCode: answer.StatusCode,
        functionError: answer.FunctionError ?? null,
        errorType: document.success ? document.data.errorType : null,
        httpStatus: response.success ? response.data.statusCode : null,
      };
    });
    // The Function URL handler answers HTTP 400 to a request that is not a Function URL event (its callers are
    // HTTP clients); the custom termination policy always answers Auto Scaling (here: no instance ids to order);
    // every other function throws ValidationError, which Lambda reports as the errorType that the state machines'
    // Retry/Catch match.
    const expected = rows.map((row) =>
      row.function === 'QueryLogIngestLambdaFunction'
        ? { ...row, statusCode: 200, functionError: null, errorType: null, httpStatus: 400 }
        : row.function === 'TerminationPolicyLambdaFunction'
          ? { ...row, statusCode: 200, functionError: null, errorType: null, httpStatus: null }
          : {
              ...row,
              statusCode: 200,
              functionError: 'Unhandled',
              errorType: 'ValidationError',
              httpStatus: null,
            },
    );
    expect(rows).toEqual(expected);
    // Each ran from moto's configuration and the shipped zip, in its own execution environment.
    expect(new Set(service.invocations().map((r) => r.functionName))).toEqual(
      new Set(functions.map((f) => f.functionName)),
    );
  });

  it('reports a function error in the payload Lambda returns: errorType, errorMessage and trace', async () => {
    const answer = await invokeClient().send(
      new InvokeCommand({
        FunctionName: 'trino-sentinel-trino-dev-beginDrain',
        Payload: Buffer.from('{}'),
        LogType: 'Tail',
      }),
    );
    expect(answer.FunctionError).toBe('Unhandled');
    const document = z
      .object({ errorType: z.string(), errorMessage: z.string(), trace: z.array(z.string()) })
      .parse(decode(answer.Payload));
    expect(document.errorType).toBe('ValidationError');
    expect(document.errorMessage).toContain('lifecycle');
    const logTail = Buffer.from(answer.LogResult ?? '', 'base64').toString('utf8');
    expect(logTail).toMatch(/START RequestId: [0-9a-f-]{36}/);
    expect(logTail).toContain('REPORT RequestId');
  });
});

describe('execution environments', () => {
  let fixtureZip: Buffer;
  beforeAll(async () => {
    fixtureZip = await buildFixtureZip();
    const lambda = invokeClient();
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'fixture',
        Runtime: 'nodejs22.x',
        Role: `arn:aws:iam::${ACCOUNT}:role/FixtureRole`,
        Handler: 'index.handler',
        Timeout: 2,
        MemorySize: 192,
        Environment: { Variables: { FIXTURE_VARIABLE: 'from-moto', AWS_REGION: 'eu-north-1' } },
        Code: { ZipFile: fixtureZip },
      }),
    );
    await lambda.send(
      new PutFunctionConcurrencyCommand({ FunctionName: 'fixture', ReservedConcurrentExecutions: 2 }),
    );
    await new SSMClient({}).send(
      new PutParameterCommand({ Name: '/fixture/greeting', Value: 'hello from ssm', Type: 'String' }),
    );
  });

  it("runs with Lambda's environment, the execution role's STS credentials and AWS_ENDPOINT_URL = the front endpoint", async () => {
    dumpLogsOnFailure();
    const before = endpoint.counts.get('default') ?? 0;
    const answer = await invokeClient().send(
      new InvokeCommand({
        FunctionName: 'fixture',
        Payload: Buffer.from(JSON.stringify({ parameter: '/fixture/greeting' })),
      }),
    );
    expect(answer.FunctionError).toBeUndefined();
    const result = z
      .object({
        requestId: z.string(),
        remainingMs: z.number(),
        env: z.record(z.string(), z.string().nullable()),
        parameter: z.string().nullable(),
      })
      .parse(decode(answer.Payload));
    expect(result.parameter).toBe('hello from ssm');
    expect(result.remainingMs).toBeGreaterThan(0);
    expect(result.remainingMs).toBeLessThanOrEqual(2_000);
    expect(result.env).toMatchObject({
      AWS_ENDPOINT_URL: endpoint.urls[0],
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      // A function's own variables cannot override the reserved ones.
      AWS_REGION: MOTO_REGION,
      AWS_DEFAULT_REGION: MOTO_REGION,
      AWS_LAMBDA_FUNCTION_NAME: 'fixture',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '192',
      TZ: ':UTC',
      _HANDLER: 'index.handler',
      FIXTURE_VARIABLE: 'from-moto',
    });
    // STS AssumeRole credentials (moto issues ASIA… keys with a session token), not the caller's `testing` keys.
    expect(result.env.AWS_ACCESS_KEY_ID).toMatch(/^ASIA/);
    expect(result.env.AWS_SESSION_TOKEN).toBeTruthy();
    // The SSM call went through the front endpoint (default route → moto).
    expect(endpoint.counts.get('default') ?? 0).toBeGreaterThan(before);
  });

  it('reports a timeout as Lambda does: Unhandled, Sandbox.Timedout, "Task timed out after 2.00 seconds"', async () => {
    dumpLogsOnFailure();
    const started = Date.now();
    const answer = await invokeClient().send(
      new InvokeCommand({
        FunctionName: 'fixture',
        Payload: Buffer.from(JSON.stringify({ sleepMs: 5_000 })),
      }),
    );
    const elapsedMs = Date.now() - started;
    expect(answer.StatusCode).toBe(200);
    expect(answer.FunctionError).toBe('Unhandled');
    const document = ErrorDocument.parse(decode(answer.Payload));
    expect(document.errorType).toBe('Sandbox.Timedout');
    expect(document.errorMessage).toMatch(
      /^RequestId: [0-9a-f-]{36} Error: Task timed out after 2\.00 seconds$/,
    );
    expect(elapsedMs).toBeGreaterThanOrEqual(2_000);
    expect(elapsedMs).toBeLessThan(5_000);
    // The environment was reset: the next invocation initialises the runtime again and succeeds.
    const next = await invokeClient().send(
      new InvokeCommand({ FunctionName: 'fixture', Payload: Buffer.from('{}') }),
    );
    expect(next.FunctionError).toBeUndefined();
    expect(service.invocations('fixture').at(-1)?.coldStart).toBe(true);
  });

  it('starts a second environment for a concurrent invoke and throttles beyond the reserved concurrency (429)', async () => {
    dumpLogsOnFailure();
    const lambda = invokeClient(1);
    // Warm both environments first so the three calls below overlap for sure.
    const busy = (sleepMs: number) =>
      lambda
        .send(
          new InvokeCommand({ FunctionName: 'fixture', Payload: Buffer.from(JSON.stringify({ sleepMs })) }),
        )
        .then(
          (answer) => ({ ok: answer.FunctionError === undefined, throttled: false, reason: '' }),
          (error: unknown) => ({
            ok: false,
            throttled: error instanceof TooManyRequestsException,
            reason: error instanceof TooManyRequestsException ? (error.Reason ?? '') : String(error),
          }),
        );
    await Promise.all([busy(10), busy(10)]);
    const first = busy(1_200);
    const second = busy(1_200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const third = await busy(10);
    expect(await first).toEqual({ ok: true, throttled: false, reason: '' });
    expect(await second).toEqual({ ok: true, throttled: false, reason: '' });
    expect(third).toEqual({
      ok: false,
      throttled: true,
      reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
    });
    expect(service.environments().get('fixture')).toBe(2);
    const labels = new Set(service.invocations('fixture').map((r) => r.environment));
    expect(labels.size).toBeGreaterThanOrEqual(2);
  });
});

describe('asynchronous invocation', () => {
  it('retries a failing shipped function as its EventInvokeConfig says, then sends the record to its on-failure queue', async () => {
    dumpLogsOnFailure();
    const sqs = new SQSClient({});
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: 'ClusterMetricsDlq' }));
    const queueUrl = queue.QueueUrl ?? '';
    const arn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes?.QueueArn;
    // As the packaged template's ClusterMetricsLambdaEvConf says (osls `maximumRetryAttempts: 1`).
    await invokeClient().send(
      new PutFunctionEventInvokeConfigCommand({
        FunctionName: 'trino-sentinel-trino-dev-clusterMetrics',
        MaximumRetryAttempts: 1,
        MaximumEventAgeInSeconds: 300,
        DestinationConfig: { OnFailure: { Destination: arn } },
      }),
    );
    const before = service.invocations('trino-sentinel-trino-dev-clusterMetrics').length;
    const event = { 'detail-type': 'not a scheduled event' };
    const answer = await invokeClient().send(
      new InvokeCommand({
        FunctionName: 'trino-sentinel-trino-dev-clusterMetrics',
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify(event)),
      }),
    );
    expect(answer.StatusCode).toBe(202);
    const [body] = await receiveAll(sqs, queueUrl, 1, 30_000);
    const record = z
      .object({
        version: z.literal('1.0'),
        requestContext: z.object({
          requestId: z.string(),
          functionArn: z.string(),
          condition: z.string(),
          approximateInvokeCount: z.number(),
        }),
        requestPayload: z.unknown(),
        responseContext: z.object({
          statusCode: z.number(),
          executedVersion: z.string(),
          functionError: z.string(),
        }),
        responsePayload: z.object({ errorType: z.string() }).loose(),
      })
      .parse(JSON.parse(body ?? ''));
    expect(record.requestContext).toMatchObject({
      functionArn: `arn:aws:lambda:${MOTO_REGION}:${ACCOUNT}:function:trino-sentinel-trino-dev-clusterMetrics:$LATEST`,
      condition: 'RetriesExhausted',
      approximateInvokeCount: 2,
    });
    expect(record.requestPayload).toEqual(event);
    expect(record.responseContext).toEqual({
      statusCode: 200,
      executedVersion: '$LATEST',
      functionError: 'Unhandled',
    });
    expect(record.responsePayload.errorType).toBe('ValidationError');
    const attempts = service.invocations('trino-sentinel-trino-dev-clusterMetrics').slice(before);
    expect(attempts.map((r) => [r.invocationType, r.attempt, r.errorType])).toEqual([
      ['Event', 1, 'ValidationError'],
      ['Event', 2, 'ValidationError'],
    ]);
  });

  it('runs a function created by CloudFormation: code from the deployment bucket, async settings from its template', async () => {
    dumpLogsOnFailure();
    const zip = await buildFixtureZip();
    const s3 = new S3Client({ forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'fixture-deployment-bucket' }));
    await s3.send(
      new PutObjectCommand({
        Bucket: 'fixture-deployment-bucket',
        Key: 'serverless/fixture/x.zip',
        Body: zip,
      }),
    );
    const template = {
      Resources: {
        FixtureDlq: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'fixture-stack-dlq' } },
        FixtureStackRole: {
          Type: 'AWS::IAM::Role',
          Properties: { AssumeRolePolicyDocument: JSON.parse(TRUST_LAMBDA) },
        },
        FixtureStackFunction: {
          Type: 'AWS::Lambda::Function',
          Properties: {
            FunctionName: 'fixture-stack-function',
            Runtime: 'nodejs22.x',
            Handler: 'index.handler',
            Timeout: 3,
            Role: { 'Fn::GetAtt': ['FixtureStackRole', 'Arn'] },
            Code: { S3Bucket: 'fixture-deployment-bucket', S3Key: 'serverless/fixture/x.zip' },
          },
        },
        FixtureStackEvConf: {
          Type: 'AWS::Lambda::EventInvokeConfig',
          Properties: {
            FunctionName: { Ref: 'FixtureStackFunction' },
            Qualifier: '$LATEST',
            MaximumRetryAttempts: 0,
            MaximumEventAgeInSeconds: 60,
            DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['FixtureDlq', 'Arn'] } } },
          },
        },
      },
    };
    const cloudformation = new CloudFormationClient({});
    await cloudformation.send(
      new CreateStackCommand({
        StackName: 'fixture-stack',
        TemplateBody: JSON.stringify(template),
        Capabilities: ['CAPABILITY_IAM'],
      }),
    );
    await waitUntil(
      'fixture-stack CREATE_COMPLETE',
      async () =>
        (await cloudformation.send(new DescribeStacksCommand({ StackName: 'fixture-stack' }))).Stacks?.[0]
          ?.StackStatus === 'CREATE_COMPLETE',
      30_000,
    );
    const sync = await invokeClient().send(
      new InvokeCommand({ FunctionName: 'fixture-stack-function', Payload: Buffer.from('{}') }),
    );
    expect(sync.FunctionError).toBeUndefined();
    expect(
      logs.some((line) => line.includes('from s3://fixture-deployment-bucket/serverless/fixture/x.zip')),
    ).toBe(true);

    await invokeClient().send(
      new InvokeCommand({
        FunctionName: 'fixture-stack-function',
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify({ fail: { name: 'TrinoConnectionError', message: 'refused' } })),
      }),
    );
    const sqs = new SQSClient({});
    const queueUrl =
      (await sqs.send(new GetQueueUrlCommand({ QueueName: 'fixture-stack-dlq' }))).QueueUrl ?? '';
    const [body] = await receiveAll(sqs, queueUrl, 1, 30_000);
    const record = z
      .object({
        requestContext: z.object({ condition: z.string(), approximateInvokeCount: z.number() }),
        responsePayload: z.object({ errorType: z.string() }).loose(),
      })
      .parse(JSON.parse(body ?? ''));
    expect(record.requestContext).toEqual(
      expect.objectContaining({ condition: 'RetriesExhausted', approximateInvokeCount: 1 }),
    );
    expect(record.responsePayload.errorType).toBe('TrinoConnectionError');
    expect(logs.some((line) => line.includes('replayed it with PutFunctionEventInvokeConfig'))).toBe(true);
  });
});

describe('Step Functions over the deployed zips', () => {
  it("worker-drain's BeginDrain invokes the shipped zip through AWS_ENDPOINT_URL and retries on TrinoConnectionError", async () => {
    dumpLogsOnFailure();
    // A worker whose Trino port refuses connections: BeginDrain fails with TrinoConnectionError every time.
    const group = await createWorkerGroup(moto.clientConfig, CLUSTER, [closedPort], 300);
    const instance = group.instances[0];
    if (instance === undefined) throw new Error('no worker instance');
    const text = await readFile(path.join(REPO_ROOT, 'statemachines', 'worker-drain.asl.json'), 'utf8');
    const definition = JSON.parse(
      text.replace(
        /\$\{([A-Z][A-Za-z]+)FunctionArn\}/g,
        (_, name: string) =>
          `arn:aws:lambda:${MOTO_REGION}:${ACCOUNT}:function:trino-sentinel-trino-dev-${name[0]?.toLowerCase()}${name.slice(1)}`,
      ),
    );
    const lambda = invokeClient();
    // The shipped beginDrain, with the worker URL template pointing at the refusing port.
    const beginDrain = functions.find((f) => f.functionName === 'trino-sentinel-trino-dev-beginDrain');
    if (beginDrain === undefined) throw new Error('beginDrain not packaged');
    const { UpdateFunctionConfigurationCommand } = await import('@aws-sdk/client-lambda');
    await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: beginDrain.functionName,
        Environment: {
          Variables: {
            ...beginDrain.environment,
            WORKER_URL_TEMPLATE: 'http://127.0.0.1:{tag:trino-sentinel:http-port}',
          },
        },
      }),
    );
    const before = service.invocations(beginDrain.functionName).length;
    // Validated by aws-local-stepfunctions itself; its Task states call Lambda through `new LambdaClient({})`.
    const machine = new StateMachine(z.custom<StateMachineDefinition>(() => true).parse(definition));
    const execution = machine.run(
      {
        lifecycle: {
          autoScalingGroupName: group.autoScalingGroupName,
          lifecycleHookName: group.lifecycleHookName,
          instanceId: instance.instanceId,
          lifecycleActionToken: '7b3c2a1e-0000-4000-8000-000000000001',
        },
        startedAt: new Date().toISOString(),
      },
      { overrides: { retryIntervalOverrides: { BeginDrain: 10, DrainFailed: 10 } } },
    );
    const failure = await execution.result.then(
      () => undefined,
      (error: unknown) => error,
    );
    const cause = z
      .object({ name: z.string() })
      .loose()
      .safeParse(z.object({ cause: z.unknown() }).loose().safeParse(failure).data?.cause);
    // After its retries the drain goes to DrainFailed (completeDrain's zip: complete the lifecycle action, notify),
    // then to its Fail state `DrainFailed`.
    expect(cause.success ? cause.data.name : String(failure)).toBe('DrainFailed');
    const attempts = service.invocations(beginDrain.functionName).slice(before);
    // Retry: MaxAttempts 5 after the first attempt, each a real invocation of the zip that failed the same way.
    expect(attempts.map((r) => r.errorType)).toEqual(Array(6).fill('TrinoConnectionError'));
    expect(service.invocations('trino-sentinel-trino-dev-completeDrain').length).toBeGreaterThan(0);
  });
});
