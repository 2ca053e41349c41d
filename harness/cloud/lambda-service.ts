/**
 * Test infrastructure (the deployed topology, issue 10): the Lambda `Invoke` API over the functions deployed in moto,
 * running each function's deployed zip unmodified under aws-lambda-rie + aws-lambda-ric (`lambda-runtime.ts`).
 *
 * Everything about a function is read back from the emulator, never from our source: `GetFunction` gives handler,
 * runtime, timeout, memory, environment, role, VPC config, `CodeSha256` and reserved concurrency;
 * `GetFunctionEventInvokeConfig` gives the asynchronous settings. The code is the zip the deployment uploaded:
 * - a function created by CloudFormation (`osls deploy`) or by `CreateFunction` with `S3Bucket`/`S3Key`: moto keeps
 *   the object key (it shows in `GetFunction`'s `Code.Location`) but not the bucket; the service looks for that key
 *   in every bucket and takes the object whose SHA-256 equals the function's `CodeSha256`;
 * - a function created by `CreateFunction` with `ZipFile`: moto keeps the bytes only in its memory (no API returns
 *   them, and `/moto-api/data.json` answers HTTP 500 once a function exists: it touches moto's Docker client). So the
 *   service takes `CreateFunction`/`UpdateFunctionCode` itself (the front endpoint routes them here, see
 *   `lambdaServiceRoutes`), keeps the zip by its SHA-256 — as Lambda copies the code at create time — and forwards
 *   the request byte for byte to moto.
 * Unzipped code is cached per `CodeSha256`, in a folder whose parent's `node_modules` is the runtime folder's, so the
 * bundles' `import '@aws-sdk/…'` resolves there as it does from /var/task in Lambda.
 *
 * Invocation types (Source: AWS Lambda API Reference, Invoke; Developer Guide, "Asynchronous invocation"):
 * - `RequestResponse`: 200 + payload; `X-Amz-Function-Error: Unhandled` when the function failed; `X-Amz-Log-Result`
 *   (last 4 KB, base64) with `X-Amz-Log-Type: Tail`.
 * - `Event`: 202 at once; run in the background with the function's `MaximumRetryAttempts` (default 2) and
 *   `MaximumEventAgeInSeconds` (default 21600), retries after 1 min then 2 min (configurable), then the invocation
 *   record goes to the on-failure destination (SQS, SNS, Lambda or EventBridge), sent with the function's role.
 *   moto's CloudFormation drops `AWS::Lambda::EventInvokeConfig` ("Tried to parse AWS::Lambda::EventInvokeConfig but
 *   it's not supported by moto's CloudFormation implementation"): when moto has no config for a function created by
 *   a stack, the service reads the resource from the stack's template (`GetTemplate`), resolves its references
 *   through the stack's resources, puts it into moto with `PutFunctionEventInvokeConfig` (a log line says so) and
 *   uses it.
 * - `DryRun`: 204 when the function exists.
 * Concurrency: each execution environment serves one invocation; a concurrent invocation starts another, up to the
 * function's reserved concurrency (else `unreservedConcurrencyLimit`); beyond it, synchronous calls get 429
 * `TooManyRequestsException` (`Reason: ReservedFunctionConcurrentInvocationLimitExceeded` or
 * `ConcurrentInvocationLimitExceeded`) and asynchronous events wait in the queue (bounded by their maximum age).
 * Payload limits: 6 MB synchronous, 1 MB asynchronous (413 `RequestTooLargeException`); a body that is not JSON
 * answers 400 `InvalidRequestContentException`.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CloudFormationClient,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  GetTemplateCommand,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  type FunctionConfiguration,
  GetFunctionCommand,
  type GetFunctionCommandOutput,
  GetFunctionConcurrencyCommand,
  GetFunctionEventInvokeConfigCommand,
  LambdaClient,
  PutFunctionEventInvokeConfigCommand,
} from '@aws-sdk/client-lambda';
import { GetObjectCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, type AssumeRoleCommandOutput, STSClient } from '@aws-sdk/client-sts';
import * as z from 'zod';
import { MOTO_REGION } from '../moto.ts';
import { forward, type ListenAddress, readBody, sendError } from './aws-endpoint.ts';
import { emfLineToPutMetricData } from './emf-extraction.ts';
import {
  createLambdaRuntime,
  ensureLambdaRuntime,
  type LambdaRuntime,
  LambdaRuntimeError,
  type LambdaRuntimeInstall,
  type RuntimeCredentials,
  type RuntimeInvokeResult,
  type RuntimePlacement,
} from './lambda-runtime.ts';

/** Static credentials the service uses to read moto (function config, code, stacks) and to assume roles. */
export interface AdminCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** Options of {@link startLambdaService}. */
export interface LambdaServiceOptions {
  /** moto's base URL: where functions, code, roles and stacks are read. */
  readonly motoUrl: string;
  /** `AWS_ENDPOINT_URL` given to every function: the front AWS endpoint (`aws-endpoint.ts`). */
  readonly endpointUrl: string;
  /** `NODE_EXTRA_CA_CERTS` of every function (see lambda-runtime.ts `caBundleFile`). */
  readonly caBundleFile?: string;
  /** Region (default us-east-1). */
  readonly region?: string;
  /** Credentials for moto (default `testing`/`testing`, what moto accepts with IAM authentication off). */
  readonly adminCredentials?: AdminCredentials;
  /** Where the service listens (default 127.0.0.1 on a free port). */
  readonly listen?: ListenAddress;
  /**
   * Where a function's execution environments run (e.g. a netns chosen from its `VpcConfig`); default: this
   * process's network namespace, RIE on 127.0.0.1.
   */
  readonly placement?: (configuration: FunctionConfiguration) => RuntimePlacement | undefined;
  /** Concurrency of a function without reserved concurrency (default 10; AWS's account default is 1000). */
  readonly unreservedConcurrencyLimit?: number;
  /** Delays before each asynchronous retry, in ms (default `[60_000, 120_000]`, Lambda's 1 min then 2 min). */
  readonly asyncRetryDelaysMs?: readonly number[];
  /** The installed runtime (default: {@link ensureLambdaRuntime}). */
  readonly install?: LambdaRuntimeInstall;
  /** Working directory for unzipped code (default: a new temporary directory, removed by `stop()`). */
  readonly workDir?: string;
  readonly log: (line: string) => void;
}

/** One invocation as the service ran it (for tests and drills). */
export interface InvocationRecord {
  readonly functionName: string;
  readonly requestId: string;
  readonly invocationType: 'RequestResponse' | 'Event';
  /** 1 for the first attempt of an asynchronous event, 2 for its first retry… (always 1 for RequestResponse). */
  readonly attempt: number;
  readonly functionError?: 'Unhandled';
  readonly errorType?: string;
  readonly durationMs: number;
  readonly coldStart: boolean;
  /** Label of the execution environment that ran it, e.g. `trino-sentinel-dev-clusterMetrics#2`. */
  readonly environment: string;
  readonly startedAt: Date;
}

/** Asynchronous event that went to an on-failure or on-success destination. */
export interface DestinationRecord {
  readonly functionName: string;
  readonly destination: string;
  readonly condition: 'RetriesExhausted' | 'EventAgeExceeded' | 'Success';
  readonly approximateInvokeCount: number;
}

/** A running Lambda service. */
export interface LambdaService {
  /** Base URL, e.g. `http://127.0.0.1:40111`. */
  readonly url: string;
  /** Invocations so far (all functions, or one function by name). */
  invocations(functionName?: string): readonly InvocationRecord[];
  /** Records sent to destinations so far. */
  readonly destinations: readonly DestinationRecord[];
  /** Running execution environments per function name. */
  environments(): ReadonlyMap<string, number>;
  /**
   * Waits until no asynchronous event is queued or running.
   * @param timeoutMs - Deadline (default 60 s).
   * @throws Error when events are still pending at the deadline.
   */
  idle(timeoutMs?: number): Promise<void>;
  /** Stops every execution environment, the server and pending retries; removes the work directory it created. */
  stop(): Promise<void>;
}

/** Asynchronous invocation settings (Source: AWS Lambda API Reference, PutFunctionEventInvokeConfig). */
interface AsyncSettings {
  readonly maximumRetryAttempts: number;
  readonly maximumEventAgeSeconds: number;
  readonly onFailure?: string;
  readonly onSuccess?: string;
}

const DEFAULT_ASYNC: AsyncSettings = { maximumRetryAttempts: 2, maximumEventAgeSeconds: 21_600 };
const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;
const ASYNC_PAYLOAD_LIMIT = 1024 * 1024;
const SUPPORTED_RUNTIMES = new Set(['nodejs22.x']);

interface Pool {
  readonly fingerprint: string;
  readonly instances: LambdaRuntime[];
  next: number;
}

/** A function as read from moto, ready to run. */
interface ResolvedFunction {
  readonly configuration: FunctionConfiguration & {
    FunctionName: string;
    FunctionArn: string;
    Handler: string;
    Role: string;
    CodeSha256: string;
  };
  readonly location?: string;
  readonly reservedConcurrency?: number;
}

class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}

const CodeUploadBody = z
  .object({ Code: z.object({ ZipFile: z.string().optional() }).loose().optional() })
  .loose();
const CodeUpdateBody = z.object({ ZipFile: z.string().optional() }).loose();
const TemplateJson = z.object({
  Resources: z.record(z.string(), z.object({ Type: z.string(), Properties: z.unknown().optional() }).loose()),
});
const EventInvokeConfigProperties = z
  .object({
    FunctionName: z.unknown(),
    MaximumRetryAttempts: z.number().int().optional(),
    MaximumEventAgeInSeconds: z.number().int().optional(),
    DestinationConfig: z
      .object({
        OnFailure: z.object({ Destination: z.unknown() }).optional(),
        OnSuccess: z.object({ Destination: z.unknown() }).optional(),
      })
      .optional(),
  })
  .loose();
const RefSchema = z.object({ Ref: z.string() });
const GetAttArnSchema = z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) });

/**
 * Starts the Lambda service.
 * @throws Error when the runtime cannot be installed or the address cannot be bound.
 * @example
 * const lambda = await startLambdaService({ motoUrl: moto.endpoint, endpointUrl: endpoint.urls[0], log });
 * endpoint.setRoutes({ default: moto.endpoint, routes: lambdaServiceRoutes(lambda.url) });
 */
export async function startLambdaService(options: LambdaServiceOptions): Promise<LambdaService> {
  const region = options.region ?? MOTO_REGION;
  const install = options.install ?? (await ensureLambdaRuntime(options.log));
  const createdWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? (await mkdtemp(path.join(tmpdir(), 'lambda-service-')));
  const codeRoot = path.join(workDir, 'code');
  await mkdir(codeRoot, { recursive: true });
  // The runtime's node_modules directly above every task root: ESM resolves @aws-sdk/* by walking up from the code.
  await symlink(path.join(install.runtimeDir, 'node_modules'), path.join(codeRoot, 'node_modules')).catch(
    (error: unknown) => {
      if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) throw error;
    },
  );
  const admin = options.adminCredentials ?? { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const clientConfig = { endpoint: options.motoUrl, region, credentials: admin };
  const lambda = new LambdaClient(clientConfig);
  const sts = new STSClient(clientConfig);
  const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
  const cloudformation = new CloudFormationClient(clientConfig);
  const sqsAdmin = new SQSClient(clientConfig);
  const cloudwatch = new CloudWatchClient(clientConfig);
  /** CloudWatch Logs' part: an EMF line in a function's log becomes metrics (emf-extraction.ts). */
  const extractMetrics = (line: string) => {
    if (stopping) return;
    for (const input of emfLineToPutMetricData(line)) {
      cloudwatch
        .send(new PutMetricDataCommand(input))
        .catch((error: unknown) => log(`lambda: EMF metrics of a log line not stored: ${String(error)}`));
    }
  };
  const limit = options.unreservedConcurrencyLimit ?? 10;
  const retryDelaysMs = options.asyncRetryDelaysMs ?? [60_000, 120_000];
  const log = options.log;

  /** Zips uploaded through CreateFunction/UpdateFunctionCode, by base64 SHA-256 (as `CodeSha256`). */
  const uploadedZips = new Map<string, Buffer>();
  const codeDirs = new Map<string, Promise<string>>();
  const pools = new Map<string, Pool>();
  const retired = new Set<LambdaRuntime>();
  /** Environments handed to an invocation and not yet released. */
  const leased = new Set<LambdaRuntime>();
  const records: InvocationRecord[] = [];
  const destinations: DestinationRecord[] = [];
  const pending = new Set<Promise<void>>();
  const stackLookups = new Map<string, Promise<AsyncSettings | undefined>>();
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<() => void>();
  let stopping = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  // ----------------------------------------------------------------------------------------- function lookup
  const resolveFunction = async (name: string, qualifier: string | undefined): Promise<ResolvedFunction> => {
    let output: GetFunctionCommandOutput;
    try {
      output = await lambda.send(new GetFunctionCommand({ FunctionName: name, Qualifier: qualifier }));
    } catch (error) {
      throw sdkToApiError(error);
    }
    const c = output.Configuration;
    if (!c?.FunctionName || !c.FunctionArn || !c.Handler || !c.Role || !c.CodeSha256) {
      throw new ApiError(500, 'ServiceException', `moto returned an incomplete configuration for ${name}`);
    }
    let reserved = output.Concurrency?.ReservedConcurrentExecutions;
    if (reserved === undefined) {
      // moto omits `Concurrency` when the reserved concurrency is 0 (it tests truthiness): ask explicitly.
      const concurrency = await lambda.send(
        new GetFunctionConcurrencyCommand({ FunctionName: c.FunctionName }),
      );
      reserved = concurrency.ReservedConcurrentExecutions ?? undefined;
    }
    return {
      configuration: {
        ...c,
        FunctionName: c.FunctionName,
        FunctionArn: c.FunctionArn,
        Handler: c.Handler,
        Role: c.Role,
        CodeSha256: c.CodeSha256,
      },
      ...(output.Code?.Location ? { location: output.Code.Location } : {}),
      ...(reserved === undefined ? {} : { reservedConcurrency: Number(reserved) }),
    };
  };

  // ----------------------------------------------------------------------------------------- code
  const zipFromS3 = async (location: string, sha: string): Promise<Buffer | undefined> => {
    // moto's Location is https://awslambda-<region>-tasks.s3.<region>.amazonaws.com/<S3Key>: the key, not the bucket.
    const key = decodeURIComponent(new URL(location).pathname.replace(/^\//, ''));
    const buckets = (await s3.send(new ListBucketsCommand({}))).Buckets ?? [];
    for (const bucket of buckets) {
      if (!bucket.Name) continue;
      const object = await s3
        .send(new GetObjectCommand({ Bucket: bucket.Name, Key: key }))
        .catch(() => undefined);
      const bytes = object?.Body ? Buffer.from(await object.Body.transformToByteArray()) : undefined;
      if (bytes && sha256(bytes) === sha) {
        log(`lambda: code ${sha} from s3://${bucket.Name}/${key}`);
        return bytes;
      }
    }
    return undefined;
  };

  const codeDirFor = (fn: ResolvedFunction): Promise<string> => {
    const sha = fn.configuration.CodeSha256;
    let dir = codeDirs.get(sha);
    if (dir === undefined) {
      dir = (async () => {
        const bytes =
          uploadedZips.get(sha) ??
          (fn.location === undefined ? undefined : await zipFromS3(fn.location, sha));
        if (bytes === undefined) {
          throw new ApiError(
            502,
            'ServiceException',
            `the code of ${fn.configuration.FunctionName} (CodeSha256 ${sha}) is neither a zip uploaded through ` +
              `this service nor an S3 object with that hash (moto does not return ZipFile code; create functions ` +
              `through the front endpoint or from S3)`,
          );
        }
        const target = path.join(codeRoot, Buffer.from(sha, 'base64').toString('hex'));
        const zip = `${target}.zip`;
        await writeFile(zip, bytes);
        await rm(target, { recursive: true, force: true });
        await mkdir(target, { recursive: true });
        await promisify(execFile)('unzip', ['-q', '-o', zip, '-d', target], { timeout: 60_000 });
        await rm(zip, { force: true });
        return target;
      })();
      codeDirs.set(sha, dir);
      dir.catch(() => codeDirs.delete(sha));
    }
    return dir;
  };

  // ----------------------------------------------------------------------------------------- environments
  const credentialsFor = async (fn: ResolvedFunction): Promise<RuntimeCredentials> => {
    let result: AssumeRoleCommandOutput;
    try {
      result = await sts.send(
        new AssumeRoleCommand({
          RoleArn: fn.configuration.Role,
          RoleSessionName: fn.configuration.FunctionName.slice(0, 64),
          DurationSeconds: 3600,
        }),
      );
    } catch (error) {
      throw new ApiError(
        502,
        'ServiceException',
        `STS AssumeRole of ${fn.configuration.Role} for ${fn.configuration.FunctionName} failed: ${String(error)}`,
      );
    }
    const c = result.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) {
      throw new ApiError(
        502,
        'ServiceException',
        `STS AssumeRole of ${fn.configuration.Role} returned no credentials`,
      );
    }
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
      ...(c.Expiration ? { expiration: c.Expiration } : {}),
    };
  };

  const fingerprintOf = (fn: ResolvedFunction) =>
    JSON.stringify([
      fn.configuration.CodeSha256,
      fn.configuration.LastModified,
      fn.configuration.Handler,
      fn.configuration.Timeout,
      fn.configuration.MemorySize,
      fn.configuration.Role,
      fn.configuration.Environment?.Variables ?? {},
    ]);

  const retire = (instance: LambdaRuntime) => {
    if (leased.has(instance)) {
      retired.add(instance);
      return;
    }
    void instance.stop();
  };

  /**
   * Leases an idle environment of the function, or a new one within its concurrency, or returns undefined
   * (throttled). Leasing is synchronous after the code is ready, so two concurrent invocations never get the same
   * environment; {@link release} ends the lease.
   */
  const acquire = async (fn: ResolvedFunction): Promise<LambdaRuntime | undefined> => {
    const name = fn.configuration.FunctionName;
    const runtimeVersion = fn.configuration.Runtime ?? '(none)';
    if (!SUPPORTED_RUNTIMES.has(runtimeVersion)) {
      throw new ApiError(
        502,
        'InvalidRuntimeException',
        `The runtime ${runtimeVersion} of ${name} is not supported by the local Lambda service (nodejs22.x only)`,
      );
    }
    const taskRoot = await codeDirFor(fn);
    // From here on, no await: the lease is decided atomically.
    const fingerprint = fingerprintOf(fn);
    let pool = pools.get(name);
    if (pool === undefined || pool.fingerprint !== fingerprint) {
      if (pool !== undefined) {
        log(`lambda: ${name} changed (code or configuration): new execution environments from now on`);
        for (const instance of pool.instances) retire(instance);
      }
      pool = { fingerprint, instances: [], next: 1 };
      pools.set(name, pool);
    }
    for (const instance of [...pool.instances]) {
      if (!leased.has(instance) && instance.expired) {
        pool.instances.splice(pool.instances.indexOf(instance), 1);
        void instance.stop();
      }
    }
    const idle = pool.instances.find((instance) => !leased.has(instance));
    if (idle) {
      leased.add(idle);
      return idle;
    }
    const max = fn.reservedConcurrency ?? limit;
    if (pool.instances.length >= max) return undefined;
    const label = `${name}#${pool.next++}`;
    const placement = options.placement?.(fn.configuration);
    const instance = createLambdaRuntime({
      install,
      fn: {
        functionName: name,
        functionArn: fn.configuration.FunctionArn,
        handler: fn.configuration.Handler,
        timeoutSeconds: fn.configuration.Timeout ?? 3,
        memorySizeMb: fn.configuration.MemorySize ?? 128,
        environment: fn.configuration.Environment?.Variables ?? {},
        taskRoot,
        region,
        version: fn.configuration.Version ?? '$LATEST',
      },
      credentials: () => credentialsFor(fn),
      endpointUrl: options.endpointUrl,
      ...(options.caBundleFile === undefined ? {} : { caBundleFile: options.caBundleFile }),
      ...(placement ? { placement } : {}),
      label,
      log,
      onOutputLine: extractMetrics,
    });
    pool.instances.push(instance);
    leased.add(instance);
    return instance;
  };

  const release = (instance: LambdaRuntime) => {
    leased.delete(instance);
    if (retired.delete(instance)) void instance.stop();
    for (const wake of [...waiters]) wake();
  };

  /** Runs one invocation on an environment. @throws ApiError 429 when the function is at its concurrency. */
  const runOnce = async (
    fn: ResolvedFunction,
    payload: Buffer,
    invocationType: InvocationRecord['invocationType'],
    attempt: number,
    requestId: string,
    clientContext?: string,
  ): Promise<RuntimeInvokeResult> => {
    const instance = await acquire(fn);
    if (instance === undefined) {
      throw new ApiError(429, 'TooManyRequestsException', 'Rate Exceeded.', {
        Reason:
          fn.reservedConcurrency === undefined
            ? 'ConcurrentInvocationLimitExceeded'
            : 'ReservedFunctionConcurrentInvocationLimitExceeded',
      });
    }
    const startedAt = new Date();
    try {
      const result = await instance.invoke(payload, {
        requestId,
        ...(clientContext ? { clientContext } : {}),
      });
      const record: InvocationRecord = {
        functionName: fn.configuration.FunctionName,
        requestId,
        invocationType,
        attempt,
        ...(result.functionError ? { functionError: result.functionError } : {}),
        ...(result.errorType ? { errorType: result.errorType } : {}),
        durationMs: result.durationMs,
        coldStart: result.coldStart,
        environment: instance.label,
        startedAt,
      };
      records.push(record);
      if (records.length > 10_000) records.shift();
      log(
        `lambda: ${instance.label} ${invocationType}${attempt > 1 ? ` attempt ${attempt}` : ''} ${requestId} → ` +
          `${result.functionError ? `Unhandled ${result.errorType}` : 'ok'} in ${result.durationMs} ms` +
          `${result.coldStart ? ' (cold start)' : ''}`,
      );
      return result;
    } catch (error) {
      if (error instanceof LambdaRuntimeError) {
        throw new ApiError(500, 'ServiceException', error.message);
      }
      throw error;
    } finally {
      release(instance);
    }
  };

  // ----------------------------------------------------------------------------------------- async settings
  const asyncSettingsFromStack = async (functionName: string): Promise<AsyncSettings | undefined> => {
    const stacks = (await cloudformation.send(new DescribeStacksCommand({}))).Stacks ?? [];
    for (const stack of stacks) {
      if (!stack.StackName) continue;
      const resources =
        (await cloudformation.send(new DescribeStackResourcesCommand({ StackName: stack.StackName })))
          .StackResources ?? [];
      const own = resources.find(
        (r) => r.ResourceType === 'AWS::Lambda::Function' && r.PhysicalResourceId === functionName,
      );
      if (!own?.LogicalResourceId) continue;
      const body = (await cloudformation.send(new GetTemplateCommand({ StackName: stack.StackName })))
        .TemplateBody;
      const template = TemplateJson.safeParse(safeJson(body ?? ''));
      if (!template.success) return undefined;
      for (const [logicalId, resource] of Object.entries(template.data.Resources)) {
        if (resource.Type !== 'AWS::Lambda::EventInvokeConfig') continue;
        const props = EventInvokeConfigProperties.safeParse(resource.Properties);
        if (!props.success) continue;
        const target = props.data.FunctionName;
        const ref = RefSchema.safeParse(target);
        if (!(target === functionName || (ref.success && ref.data.Ref === own.LogicalResourceId))) continue;
        const physical = (id: string) => resources.find((r) => r.LogicalResourceId === id);
        const arnOf = async (value: unknown): Promise<string | undefined> => {
          if (typeof value === 'string') return value;
          const getAtt = GetAttArnSchema.safeParse(value);
          const refTo = RefSchema.safeParse(value);
          const resource = physical(
            getAtt.success ? getAtt.data['Fn::GetAtt'][0] : refTo.success ? refTo.data.Ref : '',
          );
          if (!resource?.PhysicalResourceId) return undefined;
          switch (resource.ResourceType) {
            case 'AWS::SQS::Queue': {
              const attributes = await sqsAdmin.send(
                new GetQueueAttributesCommand({
                  QueueUrl: resource.PhysicalResourceId,
                  AttributeNames: ['QueueArn'],
                }),
              );
              return attributes.Attributes?.QueueArn;
            }
            case 'AWS::Lambda::Function':
              return `arn:aws:lambda:${region}:${accountOf(own.StackId)}:function:${resource.PhysicalResourceId}`;
            default:
              return resource.PhysicalResourceId;
          }
        };
        const onFailure = await arnOf(props.data.DestinationConfig?.OnFailure?.Destination);
        const onSuccess = await arnOf(props.data.DestinationConfig?.OnSuccess?.Destination);
        const settings: AsyncSettings = {
          maximumRetryAttempts: props.data.MaximumRetryAttempts ?? DEFAULT_ASYNC.maximumRetryAttempts,
          maximumEventAgeSeconds: props.data.MaximumEventAgeInSeconds ?? DEFAULT_ASYNC.maximumEventAgeSeconds,
          ...(onFailure ? { onFailure } : {}),
          ...(onSuccess ? { onSuccess } : {}),
        };
        await lambda.send(
          new PutFunctionEventInvokeConfigCommand({
            FunctionName: functionName,
            MaximumRetryAttempts: settings.maximumRetryAttempts,
            MaximumEventAgeInSeconds: settings.maximumEventAgeSeconds,
            DestinationConfig: {
              ...(onFailure ? { OnFailure: { Destination: onFailure } } : {}),
              ...(onSuccess ? { OnSuccess: { Destination: onSuccess } } : {}),
            },
          }),
        );
        log(
          `lambda: moto's CloudFormation dropped ${logicalId} (AWS::Lambda::EventInvokeConfig) of stack ` +
            `${stack.StackName}; replayed it with PutFunctionEventInvokeConfig: ${JSON.stringify(settings)}`,
        );
        return settings;
      }
      return undefined;
    }
    return undefined;
  };

  const asyncSettings = async (fn: ResolvedFunction): Promise<AsyncSettings> => {
    const name = fn.configuration.FunctionName;
    try {
      const c = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: name }));
      const onFailure = c.DestinationConfig?.OnFailure?.Destination;
      const onSuccess = c.DestinationConfig?.OnSuccess?.Destination;
      return {
        maximumRetryAttempts: c.MaximumRetryAttempts ?? DEFAULT_ASYNC.maximumRetryAttempts,
        maximumEventAgeSeconds: c.MaximumEventAgeInSeconds ?? DEFAULT_ASYNC.maximumEventAgeSeconds,
        ...(onFailure ? { onFailure } : {}),
        ...(onSuccess ? { onSuccess } : {}),
      };
    } catch (error) {
      if (!(error instanceof Error && error.name === 'ResourceNotFoundException')) throw error;
    }
    // A found config is put into moto (read above next time); a miss is remembered per function version.
    const key = `${name}|${fn.configuration.LastModified ?? ''}`;
    let fromStack = stackLookups.get(key);
    if (fromStack === undefined) {
      fromStack = asyncSettingsFromStack(name).catch((error: unknown) => {
        log(`lambda: reading the async settings of ${name} from its stack failed: ${String(error)}`);
        return undefined;
      });
      stackLookups.set(key, fromStack);
    }
    return (await fromStack) ?? DEFAULT_ASYNC;
  };

  const sendToDestination = async (
    fn: ResolvedFunction,
    destination: string,
    record: Record<string, unknown>,
    condition: DestinationRecord['condition'],
    approximateInvokeCount: number,
  ) => {
    const credentials = await credentialsFor(fn);
    const config = { endpoint: options.motoUrl, region, credentials };
    const body = JSON.stringify(record);
    const [, , service, destRegion, account, ...rest] = destination.split(':');
    if (service === 'sqs') {
      const sqs = new SQSClient(config);
      const { QueueUrl } = await sqs.send(
        new GetQueueUrlCommand({ QueueName: rest.join(':'), QueueOwnerAWSAccountId: account }),
      );
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body }));
    } else if (service === 'sns') {
      await new SNSClient(config).send(new PublishCommand({ TopicArn: destination, Message: body }));
    } else if (service === 'events') {
      await new EventBridgeClient(config).send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: destination,
              Source: 'lambda',
              DetailType: `Lambda Function Invocation Result - ${condition === 'Success' ? 'Success' : 'Failure'}`,
              Detail: body,
              Resources: [fn.configuration.FunctionArn, destination],
            },
          ],
        }),
      );
    } else if (service === 'lambda') {
      enqueueEvent(destination, Buffer.from(body), randomUUID());
    } else {
      throw new Error(`destination ${destination} (${service} in ${destRegion}) is not supported here`);
    }
    destinations.push({
      functionName: fn.configuration.FunctionName,
      destination,
      condition,
      approximateInvokeCount,
    });
    log(`lambda: ${fn.configuration.FunctionName} invocation record (${condition}) → ${destination}`);
  };

  /**
   * One asynchronous event: attempts, retries after the configured delays, then the destination.
   * Source: AWS Lambda Developer Guide, "How Lambda handles errors and retries with asynchronous invocation" and
   * "Invocation records" (the record's shape).
   */
  const processEvent = async (name: string, payload: Buffer, requestId: string, receivedAt: number) => {
    const fn = await resolveFunction(name, undefined);
    const settings = await asyncSettings(fn);
    const deadline = receivedAt + settings.maximumEventAgeSeconds * 1_000;
    let attempts = 0;
    let last: RuntimeInvokeResult | undefined;
    let condition: 'RetriesExhausted' | 'EventAgeExceeded' = 'RetriesExhausted';
    let serviceErrors = 0;
    for (;;) {
      if (stopping) return;
      if (Date.now() > deadline) {
        condition = 'EventAgeExceeded';
        break;
      }
      let result: RuntimeInvokeResult;
      try {
        result = await runOnce(fn, payload, 'Event', attempts + 1, requestId);
      } catch (error) {
        if (error instanceof ApiError && error.status >= 500) {
          // A service-side failure (RIE could not start, code not found…): Lambda keeps the event and tries again,
          // within its maximum age.
          const backoffMs = Math.min(60_000, 1_000 * 2 ** serviceErrors++);
          log(`lambda: ${name} event ${requestId}: ${error.message}; trying again in ${backoffMs} ms`);
          await sleep(Math.max(0, Math.min(backoffMs, deadline - Date.now())));
          continue;
        }
        if (error instanceof ApiError && error.status === 429) {
          // Throttled: the event stays queued until an environment frees up (bounded by its maximum age).
          await new Promise<void>((resolve) => {
            const wake = () => {
              waiters.delete(wake);
              resolve();
            };
            waiters.add(wake);
            void sleep(Math.max(0, Math.min(1_000, deadline - Date.now()))).then(wake);
          });
          continue;
        }
        throw error;
      }
      attempts += 1;
      last = result;
      if (result.functionError === undefined) {
        if (settings.onSuccess) {
          await sendToDestination(
            fn,
            settings.onSuccess,
            invocationRecord(fn, requestId, payload, result, 'Success', attempts),
            'Success',
            attempts,
          );
        }
        return;
      }
      if (attempts > settings.maximumRetryAttempts) break;
      const delay = retryDelaysMs[Math.min(attempts - 1, retryDelaysMs.length - 1)] ?? 0;
      if (Date.now() + delay > deadline) {
        condition = 'EventAgeExceeded';
        break;
      }
      await sleep(delay);
    }
    if (stopping) return;
    if (settings.onFailure) {
      await sendToDestination(
        fn,
        settings.onFailure,
        invocationRecord(fn, requestId, payload, last, condition, attempts),
        condition,
        attempts,
      );
    } else {
      log(`lambda: ${name} event ${requestId} discarded (${condition}, no on-failure destination)`);
    }
  };

  const enqueueEvent = (name: string, payload: Buffer, requestId: string) => {
    const job = processEvent(name, payload, requestId, Date.now())
      .catch((error: unknown) => log(`lambda: async event ${requestId} of ${name} failed: ${String(error)}`))
      .finally(() => pending.delete(job));
    pending.add(job);
  };

  // ----------------------------------------------------------------------------------------- HTTP
  const handleInvoke = async (req: IncomingMessage, res: ServerResponse, target: URL, body: Buffer) => {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/.exec(target.pathname);
    const name = decodeURIComponent(match?.[1] ?? '');
    const qualifier = target.searchParams.get('Qualifier') ?? undefined;
    const type = header(req, 'x-amz-invocation-type') ?? 'RequestResponse';
    if (type !== 'RequestResponse' && type !== 'Event' && type !== 'DryRun') {
      throw new ApiError(400, 'InvalidParameterValueException', `Unsupported InvocationType ${type}`);
    }
    const limitBytes = type === 'Event' ? ASYNC_PAYLOAD_LIMIT : SYNC_PAYLOAD_LIMIT;
    if (body.length > limitBytes) {
      throw new ApiError(
        413,
        'RequestTooLargeException',
        `Request must be smaller than ${limitBytes} bytes for the ${type} invocation type`,
      );
    }
    const payload = body.length === 0 ? Buffer.from('{}') : body;
    if (safeJson(payload.toString('utf8')) === undefined && payload.toString('utf8').trim() !== 'null') {
      throw new ApiError(400, 'InvalidRequestContentException', 'Could not parse request body into json');
    }
    const fn = await resolveFunction(name, qualifier);
    const requestId = randomUUID();
    const version = fn.configuration.Version ?? '$LATEST';
    if (type === 'DryRun') {
      res.writeHead(204, { 'x-amzn-requestid': requestId });
      res.end();
      return;
    }
    if (type === 'Event') {
      enqueueEvent(fn.configuration.FunctionName, payload, requestId);
      res.writeHead(202, { 'x-amzn-requestid': requestId, 'content-length': 0 });
      res.end();
      return;
    }
    const clientContext = header(req, 'x-amz-client-context');
    const result = await runOnce(fn, payload, 'RequestResponse', 1, requestId, clientContext);
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'x-amzn-requestid': requestId,
      'x-amz-executed-version': version,
      'content-length': result.payload.length,
    };
    if (result.functionError) headers['x-amz-function-error'] = result.functionError;
    if (header(req, 'x-amz-log-type') === 'Tail') {
      headers['x-amz-log-result'] = Buffer.from(result.log).subarray(-4096).toString('base64');
    }
    res.writeHead(200, headers);
    res.end(result.payload);
  };

  const handleCodeUpload = async (req: IncomingMessage, res: ServerResponse, target: URL, body: Buffer) => {
    const json = safeJson(body.toString('utf8'));
    const zipFile =
      req.method === 'POST'
        ? CodeUploadBody.safeParse(json).data?.Code?.ZipFile
        : CodeUpdateBody.safeParse(json).data?.ZipFile;
    const status = await forward(req, body, options.motoUrl, res, 60_000);
    if (zipFile !== undefined && status >= 200 && status < 300) {
      const bytes = Buffer.from(zipFile, 'base64');
      const sha = sha256(bytes);
      uploadedZips.set(sha, bytes);
      log(
        `lambda: kept the zip of ${req.method} ${target.pathname} (${bytes.length} bytes, CodeSha256 ${sha})`,
      );
    }
  };

  const server = createServer((req, res) => {
    void (async () => {
      const target = new URL(req.url ?? '/', 'http://lambda.local');
      const body = await readBody(req, SYNC_PAYLOAD_LIMIT + 1024 * 1024);
      try {
        if (body === undefined) throw new ApiError(413, 'RequestTooLargeException', 'Request too large');
        if (req.method === 'POST' && /\/invocations\/?$/.test(target.pathname)) {
          await handleInvoke(req, res, target, body);
        } else if (
          (req.method === 'POST' && /^\/2015-03-31\/functions\/?$/.test(target.pathname)) ||
          (req.method === 'PUT' && /^\/2015-03-31\/functions\/[^/]+\/code\/?$/.test(target.pathname))
        ) {
          await handleCodeUpload(req, res, target, body);
        } else {
          // Anything else of the Lambda API is moto's.
          await forward(req, body, options.motoUrl, res, 60_000);
        }
      } catch (error) {
        const api = error instanceof ApiError ? error : new ApiError(500, 'ServiceException', String(error));
        if (api.status >= 500) log(`lambda: ${req.method} ${target.pathname} → ${api.status} ${api.message}`);
        if (!res.headersSent) sendError(res, api.status, api.code, api.message, api.extra);
        else res.destroy();
      }
    })();
  });
  const url = await new Promise<string>((resolve, reject) => {
    server.once('error', reject);
    const host = options.listen?.host ?? '127.0.0.1';
    server.listen(options.listen?.port ?? 0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve(`http://${host.includes(':') ? `[${host}]` : host}:${port}`);
    });
  });
  log(
    `lambda: Invoke API on ${url} (functions from moto ${options.motoUrl}; AWS_ENDPOINT_URL=${options.endpointUrl})`,
  );

  return {
    url,
    invocations(functionName) {
      return functionName === undefined
        ? [...records]
        : records.filter((r) => r.functionName === functionName);
    },
    destinations,
    environments() {
      return new Map(
        [...pools].map(([name, pool]) => [name, pool.instances.filter((i) => i.started).length]),
      );
    },
    async idle(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (pending.size > 0) {
        if (Date.now() > deadline) throw new Error(`${pending.size} asynchronous events still pending`);
        await Promise.race([Promise.allSettled([...pending]), new Promise((r) => setTimeout(r, 200))]);
      }
    },
    async stop() {
      stopping = true;
      for (const timer of timers) clearTimeout(timer);
      for (const wake of [...waiters]) wake();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      const all = [...[...pools.values()].flatMap((p) => p.instances), ...retired];
      await Promise.all(all.map((instance) => instance.stop()));
      await Promise.race([Promise.allSettled([...pending]), new Promise((r) => setTimeout(r, 5_000))]);
      if (createdWorkDir) await rm(workDir, { recursive: true, force: true });
      log('lambda: stopped');
    },
  };
}

/** The asynchronous invocation record sent to a destination (Source: Lambda Developer Guide, "Invocation records"). */
function invocationRecord(
  fn: ResolvedFunction,
  requestId: string,
  payload: Buffer,
  result: RuntimeInvokeResult | undefined,
  condition: DestinationRecord['condition'],
  approximateInvokeCount: number,
): Record<string, unknown> {
  const version = fn.configuration.Version ?? '$LATEST';
  return {
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: {
      requestId,
      functionArn: `${fn.configuration.FunctionArn}:${version}`,
      condition,
      approximateInvokeCount,
    },
    requestPayload: safeJson(payload.toString('utf8')) ?? null,
    responseContext: {
      statusCode: 200,
      executedVersion: version,
      ...(result?.functionError ? { functionError: result.functionError } : {}),
    },
    responsePayload: result === undefined ? null : (safeJson(result.payload.toString('utf8')) ?? null),
  };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('base64');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function accountOf(stackId: string | undefined): string {
  return stackId?.split(':')[4] ?? '123456789012';
}

/** Translates an SDK error from moto into the Invoke API's error answer. */
function sdkToApiError(error: unknown): ApiError {
  const meta = z
    .object({
      name: z.string(),
      message: z.string(),
      $metadata: z.object({ httpStatusCode: z.number().optional() }),
    })
    .safeParse(error);
  if (!meta.success) return new ApiError(500, 'ServiceException', String(error));
  return new ApiError(meta.data.$metadata.httpStatusCode ?? 500, meta.data.name, meta.data.message);
}
