/**
 * Test infrastructure: the **fault matrix** of the failover and drain state machines on the fast path (issue 17,
 * item 1). For every Task state of statemachines/coordinator-failover.asl.json and statemachines/worker-drain.asl.json
 * and every fault class, one execution of the real ASL (aws-local-stepfunctions, harness/local-sfn.ts) with the real
 * handlers, against moto (EC2, Auto Scaling, CloudWatch, SNS, SQS) and the Trino doubles of ./fault-doubles.ts; then
 * the invariants of ./fault-invariants.ts over what the case recorded. It asserts invariants, not outcomes.
 *
 * Fault classes:
 * - on the AWS calls a Task makes (./fault-injection.ts, SDK middleware on the functions' own clients): `aws-5xx`,
 *   `aws-throttle`, `aws-timeout`; one case per operation the Task sends in the fault-free run, each with N = 1
 *   (recovers after the ASL's retries) and N = MaxAttempts + 1 (still failing after them) calls failed;
 * - on the Lambda: `lambda-timeout` (the invocation runs, its effects happen, then Lambda kills it at its timeout:
 *   Step Functions sees `Sandbox.Timedout`), `handler-timeout` (middy's early stop, `HandlerTimeoutError`, before any
 *   effect), each for the first N invocations of the state (N as above); `lambda-crash` (a `TypeError` thrown inside
 *   the handler, outside the error contract; not retried, so once); `runs-twice` (Step Functions' at-least-once: every invocation of the state runs twice
 *   with the same input, the second result is used);
 * - `concurrent-drill` (failover only): when the execution first enters the state, a second execution is started by
 *   hand (`{"mode":"drill"}`, as the runbook's `start-execution` does), and both run to their end;
 * - `none`: the fault-free run of each scenario (its Task states and operations span the matrix).
 *
 * Scenarios: `failover` (the ENI's holder hung: accepts, never answers; two healthy standbys), `failover-no-standby`
 * (the holder hung, no standby: AwaitStandby, then NotifyFailure), `drain` (one worker behind the termination hook).
 * Each case starts from a reset moto. Wait states and Retry intervals are shortened with aws-local-stepfunctions'
 * `waitTimeOverrides`/`retryIntervalOverrides` (the ASL's MaxAttempts and Catch run as written).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';
import type { Context } from 'aws-lambda';
import { makeFailoverHandler } from '../../functions/coordinator-failover/handler.ts';
import { FAILOVER_TASK_NAMES, FailoverEnvSchema } from '../../functions/coordinator-failover/schemas.ts';
import { DrainEnvSchema } from '../../functions/worker-drain/schemas.ts';
import { makeDrainTaskHandlers } from '../../functions/worker-drain/tasks.ts';
import { loadConfig } from '../../lib/config.ts';
import { HandlerTimeoutError } from '../../lib/errors.ts';
import { TrinoClient } from '../../lib/trino/client.ts';
import { createCoordinatorSet, createWorkerGroup, tagPorts } from '../aws-fixtures.ts';
import { recordLifecycleActions } from '../lifecycle-recorder.ts';
import { type LocalExecution, type LocalLambda, LocalStepFunctions, loadDefinition } from '../local-sfn.ts';
import { type EmulatorClientConfig, type MotoServer, REPO_ROOT, startMoto } from '../moto.ts';
import {
  type ProcessState,
  startTrinoDoubles,
  TRINO_DOUBLE_LABEL,
  type TrinoDoubles,
} from './fault-doubles.ts';
import {
  ArmedAwsFault,
  AWS_FAULT_CLASSES,
  type AwsFault,
  CallLog,
  instrument,
  invocationContext,
  type ServiceName,
} from './fault-injection.ts';
import {
  type CaseHistory,
  checkInvariants,
  contractErrorNames,
  type RecordedExecution,
  type Violation,
} from './fault-invariants.ts';

/** The Lambda fault classes. */
export const LAMBDA_FAULT_CLASSES = [
  'lambda-timeout',
  'handler-timeout',
  'lambda-crash',
  'runs-twice',
] as const;
/** One Lambda fault class. */
export type LambdaFaultClass = (typeof LAMBDA_FAULT_CLASSES)[number];

/** Every fault class of the matrix. */
export const FAULT_CLASSES = [
  ...AWS_FAULT_CLASSES,
  ...LAMBDA_FAULT_CLASSES,
  'concurrent-drill',
  'none',
] as const;

/** The scenarios a case runs in. */
export type Scenario = 'failover' | 'failover-no-standby' | 'drain' | 'drain-worker-dead';

/** What a case injects. */
export type CaseFault =
  | { readonly class: 'none' }
  | AwsFault
  | { readonly class: LambdaFaultClass; readonly state: string; readonly count: number }
  | { readonly class: 'concurrent-drill'; readonly state: string };

/** One case of the matrix. */
export interface FaultCase {
  /** e.g. `failover/DetachEni/aws-5xx:DetachNetworkInterface×7`. */
  readonly name: string;
  readonly scenario: Scenario;
  readonly fault: CaseFault;
}

/** The matrix's result, as `drill faults --json` prints it. */
export interface FaultMatrixResult {
  readonly cases: number;
  /** Invariant checks that held, summed over the cases. */
  readonly invariantsHeld: number;
  readonly violations: readonly Violation[];
  /** Task states no fault-free scenario reached (so no case covers them). */
  readonly unreached: readonly string[];
  readonly durationMs: number;
  readonly doubles: string;
}

/** Options of {@link runFaultMatrix}. */
export interface FaultMatrixOptions {
  /** A running moto (default: one is started and stopped). */
  readonly moto?: MotoEndpoint;
  /** Keep only the cases whose state, fault class, operation or scenario equals one of these. */
  readonly only?: readonly string[];
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** Per-case limit for the executions to end, ms (default 60 000). */
  readonly caseTimeoutMs?: number;
}

/** What the matrix needs of a running moto: its client configuration and its reset. */
export type MotoEndpoint = Pick<MotoServer, 'clientConfig' | 'reset'>;

const CLUSTER = 'faults';
/** Wait states and Retry intervals during the matrix, ms. */
const SHORT_MS = 5;

/** A Task state with its Retry MaxAttempts (the largest of its retriers). */
interface TaskState {
  readonly machine: 'failover' | 'drain';
  readonly name: string;
  readonly maxAttempts: number;
}

interface Definitions {
  readonly failover: Awaited<ReturnType<typeof loadDefinition>>['definition'];
  readonly drain: Awaited<ReturnType<typeof loadDefinition>>['definition'];
  readonly tasks: readonly TaskState[];
  readonly waits: Readonly<Record<'failover' | 'drain', readonly string[]>>;
  readonly contract: ReadonlySet<string>;
}

/** Task states (with MaxAttempts) and Wait states of one definition. */
function statesOf(
  machine: 'failover' | 'drain',
  definition: unknown,
): { tasks: TaskState[]; waits: string[] } {
  const tasks: TaskState[] = [];
  const waits: string[] = [];
  const states =
    typeof definition === 'object' && definition !== null && 'States' in definition
      ? definition.States
      : undefined;
  for (const [name, state] of Object.entries(typeof states === 'object' && states !== null ? states : {})) {
    if (typeof state !== 'object' || state === null || !('Type' in state)) continue;
    if (state.Type === 'Wait') waits.push(name);
    if (state.Type !== 'Task') continue;
    const retries = 'Retry' in state && Array.isArray(state.Retry) ? state.Retry : [];
    const maxAttempts = Math.max(
      0,
      ...retries.map((r: unknown) =>
        typeof r === 'object' && r !== null && 'MaxAttempts' in r && typeof r.MaxAttempts === 'number'
          ? r.MaxAttempts
          : 3,
      ),
    );
    tasks.push({ machine, name, maxAttempts });
  }
  return { tasks, waits };
}

async function loadDefinitions(): Promise<Definitions> {
  const failover = await loadDefinition('coordinator-failover.asl.json');
  const drain = await loadDefinition('worker-drain.asl.json');
  const f = statesOf('failover', failover.definition);
  const d = statesOf('drain', drain.definition);
  const registered = new Set<string>(FAILOVER_TASK_NAMES);
  const missing = f.tasks.filter((t) => !registered.has(t.name)).map((t) => t.name);
  if (missing.length > 0) throw new Error(`Task states not in FAILOVER_TASK_NAMES: ${missing.join(', ')}`);
  const errors = await readFile(path.join(REPO_ROOT, 'lib', 'errors.ts'), 'utf8');
  return {
    failover: failover.definition,
    drain: drain.definition,
    tasks: [...f.tasks, ...d.tasks],
    waits: { failover: f.waits, drain: d.waits },
    contract: contractErrorNames(errors, [failover.definition, drain.definition]),
  };
}

/** The drain's Task states → its handlers (makeDrainTaskHandlers), as serverless/drain.yml binds them. */
const DRAIN_TASK_HANDLERS = {
  BeginDrain: 'beginDrain',
  CheckDrain: 'checkDrain',
  CompleteLifecycleAction: 'completeDrain',
  DrainFailed: 'completeDrain',
} as const;

/** The Lambda faults of one case, applied around and inside the handlers. */
class LambdaFaults {
  readonly #fault: CaseFault;
  #remaining: number;
  #concurrentStarted = false;
  constructor(fault: CaseFault) {
    this.#fault = fault;
    this.#remaining = 'count' in fault ? fault.count : 0;
  }
  /** Consumes one of the N when `state` is the target of a `class` fault. */
  take(state: string, cls: LambdaFaultClass): boolean {
    if (this.#fault.class !== cls || !('state' in this.#fault) || this.#fault.state !== state) return false;
    if (cls === 'runs-twice') return true;
    if (this.#remaining <= 0) return false;
    this.#remaining -= 1;
    return true;
  }
  /** True once, when `state` is the concurrent-drill case's trigger. */
  startsConcurrent(state: string): boolean {
    if (this.#fault.class !== 'concurrent-drill' || this.#fault.state !== state || this.#concurrentStarted)
      return false;
    this.#concurrentStarted = true;
    return true;
  }
}

/** Instruments a client (./fault-injection.ts `instrument`) and returns it. */
function withFaults<
  C extends { readonly middlewareStack: MiddlewareStack<I, O> },
  I extends object,
  O extends MetadataBearer,
>(
  client: C & { readonly middlewareStack: MiddlewareStack<I, O> },
  service: ServiceName,
  log: CallLog,
  fault: ArmedAwsFault | undefined,
  eniOfAttachment: (attachmentId: string) => string | undefined,
): C {
  instrument(client.middlewareStack, service, log, fault, eniOfAttachment);
  return client;
}

/** The deps getter every handler calls inside its invocation: the crash fault throws there. */
function crashingDeps<D>(deps: D, faults: LambdaFaults): () => D {
  return () => {
    const state = invocationContext.getStore()?.state;
    if (state !== undefined && faults.take(state, 'lambda-crash')) {
      throw new TypeError(
        "Cannot read properties of undefined (reading 'networkInterfaceId') (injected crash)",
      );
    }
    return deps;
  };
}

/** Wraps one Task state's handler with the case's Lambda faults and the invocation context. */
function wrapTask(
  state: string,
  handler: LocalLambda,
  faults: LambdaFaults,
  onEnter: () => void,
): LocalLambda {
  return async (event, context: Context) => {
    const execution = invocationContext.getStore()?.execution;
    return invocationContext.run({ ...(execution === undefined ? {} : { execution }), state }, async () => {
      if (faults.startsConcurrent(state)) onEnter();
      if (faults.take(state, 'handler-timeout')) {
        throw new HandlerTimeoutError(
          'Stopped 1000 ms before the Lambda timeout; every call in flight was aborted (injected)',
        );
      }
      if (faults.take(state, 'lambda-timeout')) {
        await handler(event, context).catch(() => undefined);
        throw Object.assign(new Error('Task timed out after 60.00 seconds (injected)'), {
          name: 'Sandbox.Timedout',
        });
      }
      if (faults.take(state, 'runs-twice')) {
        await handler(event, context).catch(() => undefined);
      }
      return handler(event, context);
    });
  };
}

/** The alarm topic with an SQS queue subscribed, to count what reached subscribers. */
async function alarmTopic(
  aws: EmulatorClientConfig,
): Promise<{ topicArn: string; delivered: () => Promise<number> }> {
  const sns = new SNSClient(aws);
  const sqs = new SQSClient(aws);
  const topic = await sns.send(new CreateTopicCommand({ Name: `${CLUSTER}-alarms` }));
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: `${CLUSTER}-alarm-subscriber` }));
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await sns.send(
    new SubscribeCommand({
      TopicArn: topic.TopicArn,
      Protocol: 'sqs',
      Endpoint: attributes.Attributes?.QueueArn,
    }),
  );
  sns.destroy();
  return {
    topicArn: topic.TopicArn ?? '',
    async delivered() {
      let count = 0;
      for (;;) {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queue.QueueUrl,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: 60,
          }),
        );
        const n = out.Messages?.length ?? 0;
        if (n === 0) break;
        count += n;
      }
      sqs.destroy();
      return count;
    },
  };
}

/** What one case's setup gives the runner. */
interface CaseRun {
  readonly local: LocalStepFunctions;
  readonly first: { readonly name: string; readonly input: unknown };
  readonly second?: { readonly name: string; readonly input: unknown };
  readonly gather: () => Promise<Pick<CaseHistory, 'eni' | 'notificationsDelivered' | 'lifecycle'>>;
  readonly close: () => Promise<void>;
}

/** Builds one failover case: the coordinator set, the doubles, the instrumented clients and the local machine. */
async function setUpFailover(
  aws: EmulatorClientConfig,
  defs: Definitions,
  scenario: 'failover' | 'failover-no-standby',
  log: CallLog,
  awsFault: ArmedAwsFault | undefined,
  faults: LambdaFaults,
  startSecond: () => void,
): Promise<CaseRun> {
  const set = await createCoordinatorSet(aws, CLUSTER, scenario === 'failover' ? 2 : 0);
  const doubles: TrinoDoubles = await startTrinoDoubles(aws, set.networkInterfaceId);
  await tagPorts(aws, set.activeInstanceId, {
    http: await doubles.addNode(set.activeInstanceId, 'coordinator', 'dead'),
  });
  for (const standby of set.standbyInstanceIds) {
    await tagPorts(aws, standby, { http: await doubles.addNode(standby, 'coordinator', 'up') });
  }
  const topic = await alarmTopic(aws);
  const config = loadConfig(FailoverEnvSchema, {
    CLUSTER_NAME: CLUSTER,
    TRINO_URL: doubles.eniUrl,
    COORDINATOR_ENI_ID: set.networkInterfaceId,
    PRIMARY_URL_TEMPLATE: 'http://127.0.0.1:{tag:trino-sentinel:http-port}',
    COORDINATOR_ASG_NAME: set.coordinatorGroupName,
    DETACH_FORCE_AFTER_MS: '500',
    DETACH_GIVE_UP_AFTER_MS: '2000',
    ATTACH_TIMEOUT_MS: '2000',
    SERVING_TIMEOUT_MS: '2000',
    STANDBY_WAIT_SECONDS: '1',
    STANDBY_MAX_WAITS: '1',
    STANDBY_BOOT_GRACE_SECONDS: '0',
    PROBE_TIMEOUT_MS: '1000',
    ALARM_TOPIC_ARN: topic.topicArn,
  });
  const eniOf = () => set.networkInterfaceId; // the one ENI that moves in these cases
  const sfn = new SFNClient(aws);
  const deps = {
    config,
    ec2: withFaults(new EC2Client(aws), 'EC2', log, awsFault, eniOf),
    autoscaling: withFaults(new AutoScalingClient(aws), 'AutoScaling', log, awsFault, eniOf),
    cloudwatch: withFaults(new CloudWatchClient(aws), 'CloudWatch', log, awsFault, eniOf),
    sns: withFaults(new SNSClient(aws), 'SNS', log, awsFault, eniOf),
    // Not a failover dependency today; given (bridged to the local executions) for a lock that lists executions.
    sfn: withFaults(sfn, 'SFN', log, awsFault, eniOf),
    coordinator: async () => new TrinoClient({ baseUrl: doubles.eniUrl, user: 'sentinel', timeoutMs: 500 }),
    now: () => Date.now(),
  };
  const handler = makeFailoverHandler(crashingDeps(deps, faults));
  const { tasks, waits } = statesOf('failover', defs.failover);
  const local = new LocalStepFunctions(
    defs.failover,
    Object.fromEntries(tasks.map((t) => [t.name, wrapTask(t.name, handler, faults, startSecond)])),
    `arn:aws:states:${aws.region}:123456789012:stateMachine:${CLUSTER}-coordinator-failover`,
    {
      waitTimeOverrides: Object.fromEntries(waits.map((w) => [w, SHORT_MS])),
      retryIntervalOverrides: Object.fromEntries(tasks.map((t) => [t.name, SHORT_MS])),
    },
  );
  local.bridge(sfn);
  const ec2 = new EC2Client(aws);
  return {
    local,
    first: {
      name: `failover-${CLUSTER}-${set.attachmentId}`,
      input: {
        mode: 'failover',
        attachmentId: set.attachmentId,
        instanceId: set.activeInstanceId,
        detectedAfterMs: 3_000,
        reason: 'fault matrix: the coordinator stopped answering',
      },
    },
    second: { name: `drill-by-hand-${randomUUID().slice(0, 8)}`, input: { mode: 'drill' } },
    async gather() {
      const out = await ec2.send(new DescribeInstancesCommand({}));
      const finalHolders = (out.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .filter(
          (i) =>
            i.State?.Name === 'running' &&
            (i.NetworkInterfaces ?? []).some((n) => n.NetworkInterfaceId === set.networkInterfaceId),
        )
        .flatMap((i) => (i.InstanceId === undefined ? [] : [i.InstanceId]));
      return {
        eni: {
          networkInterfaceId: set.networkInterfaceId,
          originalHolder: set.activeInstanceId,
          deadProcesses: [],
          finalHolders,
          serves: await doubles.serves(),
        },
        notificationsDelivered: await topic.delivered(),
      };
    },
    async close() {
      ec2.destroy();
      await doubles.close();
    },
  };
}

/** Builds one drain case: the worker group with its hook, a worker double, the recording double, the machine. */
async function setUpDrain(
  aws: EmulatorClientConfig,
  defs: Definitions,
  log: CallLog,
  awsFault: ArmedAwsFault | undefined,
  faults: LambdaFaults,
  workerProcess: ProcessState = 'up',
): Promise<CaseRun> {
  const doubles = await startTrinoDoubles(aws, undefined);
  const topic = await alarmTopic(aws);
  // The worker's port is known only once its instance exists: the group is created with a placeholder port and the
  // tag rewritten once the double listens.
  const group = await createWorkerGroup(aws, CLUSTER, [1], 30);
  const worker = group.instances[0];
  if (worker === undefined) throw new Error('moto launched no worker');
  await tagPorts(aws, worker.instanceId, {
    http: await doubles.addNode(worker.instanceId, 'worker', workerProcess),
  });
  const coordinatorPort = await doubles.addNode('coordinator', 'coordinator', 'up', false);
  const config = loadConfig(DrainEnvSchema, {
    CLUSTER_NAME: CLUSTER,
    TRINO_URL: `http://127.0.0.1:${coordinatorPort}`,
    WORKER_URL_TEMPLATE: 'http://127.0.0.1:{tag:trino-sentinel:http-port}',
    DRAIN_POLL_SECONDS: '1',
    HEARTBEAT_MARGIN_SECONDS: '10',
    DRAIN_TIMEOUT_SECONDS: '600',
    ALARM_TOPIC_ARN: topic.topicArn,
  });
  const autoscaling = new AutoScalingClient(aws);
  const lifecycleCalls = recordLifecycleActions(autoscaling);
  const none = () => undefined;
  const sfn = new SFNClient(aws);
  const deps = {
    config,
    autoscaling: withFaults(autoscaling, 'AutoScaling', log, awsFault, none),
    ec2: withFaults(new EC2Client(aws), 'EC2', log, awsFault, none),
    sfn: withFaults(sfn, 'SFN', log, awsFault, none),
    cloudwatch: withFaults(new CloudWatchClient(aws), 'CloudWatch', log, awsFault, none),
    sns: withFaults(new SNSClient(aws), 'SNS', log, awsFault, none),
    coordinator: async () => new TrinoClient({ baseUrl: config.TRINO_URL, user: 'sentinel', timeoutMs: 500 }),
    now: () => Date.now(),
  };
  const handlers = makeDrainTaskHandlers(crashingDeps(deps, faults));
  const { tasks, waits } = statesOf('drain', defs.drain);
  const handlerOf = (state: string): LocalLambda => {
    const key = Object.entries(DRAIN_TASK_HANDLERS).find(([s]) => s === state)?.[1];
    if (key === undefined) throw new Error(`no drain handler bound to the Task state ${state}`);
    return handlers[key];
  };
  const local = new LocalStepFunctions(
    defs.drain,
    Object.fromEntries(
      tasks.map((t) => [t.name, wrapTask(t.name, handlerOf(t.name), faults, () => undefined)]),
    ),
    `arn:aws:states:${aws.region}:123456789012:stateMachine:${CLUSTER}-worker-drain`,
    {
      waitTimeOverrides: Object.fromEntries(waits.map((w) => [w, SHORT_MS])),
      retryIntervalOverrides: Object.fromEntries(tasks.map((t) => [t.name, SHORT_MS])),
    },
  );
  local.bridge(sfn);
  const token = randomUUID();
  return {
    local,
    first: {
      name: `drain-${worker.instanceId}`,
      input: {
        lifecycle: {
          autoScalingGroupName: group.autoScalingGroupName,
          lifecycleHookName: group.lifecycleHookName,
          instanceId: worker.instanceId,
          lifecycleActionToken: token,
        },
        startedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    },
    async gather() {
      return {
        notificationsDelivered: await topic.delivered(),
        lifecycle: {
          recordedCompletions: lifecycleCalls.filter((c) => c.command === 'CompleteLifecycleAction').length,
        },
      };
    },
    async close() {
      await doubles.close();
    },
  };
}

function isAwsFault(fault: CaseFault): fault is AwsFault {
  return 'operation' in fault;
}

/** Error names that reached Step Functions in one execution's history. */
function errorNames(execution: LocalExecution): RecordedExecution['errorNames'] {
  const names: { where: string; name: string }[] = [];
  for (const event of execution.events) {
    if (event.type === 'StateFailed') names.push({ where: event.state.name, name: event.Error });
    if (event.type === 'ExecutionFailed') names.push({ where: 'the execution', name: event.Error });
  }
  return names;
}

/** One case's run and its invariants. */
export interface CaseOutcome {
  readonly case: string;
  readonly checked: number;
  readonly violations: readonly Violation[];
  /** Task state → operations sent in it (the fault-free runs span the matrix with these). */
  readonly operations: ReadonlyMap<string, readonly string[]>;
  readonly statesEntered: readonly string[];
  readonly durationMs: number;
  /** Where the time went, ms: moto reset and fixtures, the executions, the final reads. */
  readonly phasesMs: { readonly setUp: number; readonly run: number; readonly gather: number };
}

/**
 * Runs one case from a reset moto and checks the invariants.
 * @throws Error when the case cannot be set up (moto, fixtures): a harness failure, not a violation.
 */
export async function runFaultCase(
  moto: MotoEndpoint,
  defs: Definitions,
  fault: FaultCase,
  caseTimeoutMs = 60_000,
): Promise<CaseOutcome> {
  const startedMs = Date.now();
  await moto.reset();
  const aws = moto.clientConfig;
  const log = new CallLog();
  const awsFault = isAwsFault(fault.fault) ? new ArmedAwsFault(fault.fault) : undefined;
  const faults = new LambdaFaults(fault.fault);
  const started: {
    name: string;
    mode: string;
    execution: LocalExecution;
    startSeq: number;
    endSeq?: number;
  }[] = [];
  let run: CaseRun | undefined;
  const start = (name: string, input: unknown) => {
    if (run === undefined) return;
    const mode =
      typeof input === 'object' && input !== null && 'mode' in input && typeof input.mode === 'string'
        ? input.mode
        : 'drain';
    const startSeq = log.next();
    const execution = invocationContext.run({ execution: name }, () => run?.local.start(name, input));
    if (execution === undefined) return;
    const entry: (typeof started)[number] = { name, mode, execution, startSeq };
    started.push(entry);
    execution.result.then(
      () => {
        entry.endSeq = log.next();
      },
      () => {
        entry.endSeq = log.next();
      },
    );
  };
  const startSecond = () => {
    const second = run?.second;
    if (second !== undefined) start(second.name, second.input);
  };
  run =
    fault.scenario === 'drain' || fault.scenario === 'drain-worker-dead'
      ? await setUpDrain(
          aws,
          defs,
          log,
          awsFault,
          faults,
          fault.scenario === 'drain-worker-dead' ? 'dead' : 'up',
        )
      : await setUpFailover(aws, defs, fault.scenario, log, awsFault, faults, startSecond);
  const setUpMs = Date.now() - startedMs;
  try {
    start(run.first.name, run.first.input);
    const deadline = Date.now() + caseTimeoutMs;
    // Wait for every execution, including one started while waiting (the concurrent drill).
    for (;;) {
      const open = started.filter((s) => s.execution.status() === 'RUNNING');
      if (open.length === 0 || Date.now() > deadline) break;
      await Promise.race([
        Promise.allSettled(open.map((s) => s.execution.result)),
        new Promise((r) => setTimeout(r, 200)),
      ]);
    }
    await new Promise((r) => setTimeout(r, 20)); // let the history loggers drain
    const runMs = Date.now() - startedMs - setUpMs;
    const gathered = await run.gather();
    const history: CaseHistory = {
      case: fault.name,
      calls: log.calls,
      executions: started.map((s) => ({
        name: s.name,
        mode: s.mode,
        startSeq: s.startSeq,
        ...(s.endSeq === undefined ? {} : { endSeq: s.endSeq }),
        lockOrder: { startDateMs: s.execution.startDate.getTime(), executionArn: s.execution.executionArn },
        status: s.execution.status(),
        errorNames: errorNames(s.execution),
      })),
      ...gathered,
    };
    const { checked, violations } = checkInvariants(history, defs.contract);
    const operations = new Map<string, string[]>();
    for (const call of log.calls) {
      if (call.state === undefined) continue;
      const ops = operations.get(call.state) ?? [];
      if (!ops.includes(call.operation)) ops.push(call.operation);
      operations.set(call.state, ops);
    }
    return {
      case: fault.name,
      checked: checked.length,
      violations,
      operations,
      statesEntered: started[0]?.execution.statesEntered ?? [],
      durationMs: Date.now() - startedMs,
      phasesMs: { setUp: setUpMs, run: runMs, gather: Date.now() - startedMs - setUpMs - runMs },
    };
  } finally {
    await run.close();
  }
}

/**
 * The operations of a state that get their own AWS fault cases: every operation that changes something, and the
 * first read (a failed read ends the task before any effect, whichever read it is, so one stands for all).
 */
export function faultedOperations(operations: readonly string[]): string[] {
  const read = (op: string) => /^(Describe|List|Get)/.test(op);
  const firstRead = operations.find(read);
  return operations.filter((op) => !read(op) || op === firstRead);
}

/** The cases of the matrix, spanned from the fault-free runs' states and operations. */
export function matrixCases(
  tasks: readonly TaskState[],
  baselines: ReadonlyMap<Scenario, CaseOutcome>,
): { cases: FaultCase[]; unreached: string[] } {
  const cases: FaultCase[] = [];
  const unreached: string[] = [];
  // The failure paths (NotifyFailure, DrainFailed) are reached by their own scenarios: no standby, a dead worker.
  const scenarios: readonly Scenario[] = ['failover', 'failover-no-standby', 'drain', 'drain-worker-dead'];
  for (const task of tasks) {
    const scenario = scenarios.find(
      (s) =>
        (task.machine === 'drain') === s.startsWith('drain') &&
        baselines.get(s)?.statesEntered.includes(task.name) === true,
    );
    if (scenario === undefined) {
      unreached.push(`${task.machine}/${task.name}`);
      continue;
    }
    // The failure paths' own AWS calls (NotifyFailure, DrainFailed) are faulted once, not beyond their retries: past
    // them nothing of ours is left to act, and what AWS does then is by design, not in this matrix's view: the state
    // machine's failure alarm (ExecutionsFailed → the alarm topic, published by CloudWatch) and the lifecycle hook's
    // default result at its heartbeat timeout (docs/harness.md, "The fault matrix").
    const failurePath = task.name === 'NotifyFailure' || task.name === 'DrainFailed';
    const counts = failurePath ? [1] : [1, task.maxAttempts + 1];
    const operations = faultedOperations(baselines.get(scenario)?.operations.get(task.name) ?? []);
    const at = `${scenario}/${task.name}`;
    for (const cls of AWS_FAULT_CLASSES) {
      for (const operation of operations) {
        for (const count of counts) {
          cases.push({
            name: `${at}/${cls}:${operation}×${count}`,
            scenario,
            fault: { class: cls, operation, state: task.name, count },
          });
        }
      }
    }
    for (const cls of ['lambda-timeout', 'handler-timeout', 'lambda-crash'] as const) {
      // A crash is not retried: once is the case.
      for (const count of cls === 'lambda-crash' ? [1] : counts) {
        cases.push({
          name: `${at}/${cls}×${count}`,
          scenario,
          fault: { class: cls, state: task.name, count },
        });
      }
    }
    cases.push({
      name: `${at}/runs-twice`,
      scenario,
      fault: { class: 'runs-twice', state: task.name, count: 0 },
    });
    if (scenario === 'failover') {
      cases.push({
        name: `${at}/concurrent-drill`,
        scenario,
        fault: { class: 'concurrent-drill', state: task.name },
      });
    }
  }
  return { cases, unreached };
}

/** Whether a case passes the `--only` filter (state, fault class, operation, or scenario). */
export function selected(fault: FaultCase, only: readonly string[] | undefined): boolean {
  if (only === undefined || only.length === 0) return true;
  const keys = [
    fault.scenario,
    fault.fault.class,
    ...('state' in fault.fault ? [fault.fault.state] : []),
    ...('operation' in fault.fault ? [fault.fault.operation] : []),
  ];
  return only.some((o) => keys.includes(o));
}

/**
 * Runs the matrix: the fault-free run of each scenario, then every case of {@link matrixCases} that passes `only`.
 * @returns `{cases, invariantsHeld, violations, unreached, durationMs, doubles}`.
 */
export async function runFaultMatrix(options: FaultMatrixOptions = {}): Promise<FaultMatrixResult> {
  const log = options.log ?? (() => undefined);
  const startedMs = Date.now();
  const own = options.moto === undefined ? await startMoto() : undefined;
  const moto: MotoEndpoint = own ?? options.moto ?? (await startMoto());
  try {
    const defs = await loadDefinitions();
    const violations: Violation[] = [];
    let invariantsHeld = 0;
    let count = 0;
    const record = (outcome: CaseOutcome) => {
      count += 1;
      invariantsHeld += outcome.checked - new Set(outcome.violations.map((v) => v.invariant)).size;
      violations.push(...outcome.violations);
      log(
        `faults: ${outcome.case} ${outcome.violations.length === 0 ? 'ok' : `${outcome.violations.length} violation(s)`} (${outcome.durationMs} ms: set-up ${outcome.phasesMs.setUp}, run ${outcome.phasesMs.run}, gather ${outcome.phasesMs.gather})`,
      );
    };
    const baselines = new Map<Scenario, CaseOutcome>();
    for (const scenario of ['failover', 'failover-no-standby', 'drain', 'drain-worker-dead'] as const) {
      const baseline: FaultCase = { name: `${scenario}/none`, scenario, fault: { class: 'none' } };
      const outcome = await runFaultCase(moto, defs, baseline, options.caseTimeoutMs);
      baselines.set(scenario, outcome);
      if (selected(baseline, options.only)) record(outcome);
    }
    const { cases, unreached } = matrixCases(defs.tasks, baselines);
    for (const fault of cases.filter((c) => selected(c, options.only))) {
      record(await runFaultCase(moto, defs, fault, options.caseTimeoutMs));
    }
    return {
      cases: count,
      invariantsHeld,
      violations,
      unreached,
      durationMs: Date.now() - startedMs,
      doubles: TRINO_DOUBLE_LABEL,
    };
  } finally {
    await own?.stop();
  }
}
