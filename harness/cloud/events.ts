/**
 * Test infrastructure: Amazon EventBridge delivery for the local cloud. moto stores rules and targets but
 * delivers nothing to Lambda (its invocations need Docker); this module delivers, reading every rule, pattern,
 * schedule and target **from the emulator as deployed** (ListEventBuses, ListRules, ListTargetsByRule) — there
 * is no routing table of ours.
 *
 * - An EventBridge endpoint ({@link LocalEventBridge.url}, {@link LocalEventBridge.handle}) answers `PutEvents`
 *   and proxies every other action to moto; the front endpoint routes `AWSEvents.PutEvents` here.
 * - Pattern rules: {@link LocalEventBridge.publish} / {@link LocalEventBridge.putEvents} match each rule of the
 *   event's bus with moto's own matcher — the `TestEventPattern` API when moto answers it; moto 5.2.5 answers
 *   it with HTTP 200 and an empty body, so then moto's matcher class itself (`moto.events.models.EventPattern`,
 *   what moto uses to route its own PutEvents) runs in a Python helper from the project's .venv
 *   (`moto_event_pattern.py`). The matcher in use is {@link LocalEventBridge.matcher}.
 * - Schedules: rules with `rate(...)` / `cron(...)` fire on time (UTC, `aws-cron-parser` for cron), with the
 *   scheduled-event envelope; `ENABLED` / `DISABLED` honoured; `timeScale` shrinks time for tests.
 * - Targets: Lambda (asynchronous Invoke through the Lambda Invoke API at `invoke.endpoint`, the front AWS
 *   endpoint in the topology) and SQS (SendMessage); `Input`, `InputPath`, `InputTransformer` applied; when the
 *   call itself fails, the target's `RetryPolicy` (MaximumRetryAttempts, MaximumEventAgeInSeconds; defaults 185
 *   and 24 h) with exponential back-off and full jitter, then the target's `DeadLetterConfig` queue with the
 *   attributes EventBridge sets. Non-retryable failures (no such function, no permission) go to the DLQ at once.
 *   A function error after an accepted asynchronous invoke is the Lambda service's business (its own retries
 *   and destinations), not EventBridge's.
 *
 * Source: Amazon EventBridge User Guide — "Creating a rule that runs on a schedule" (rate/cron syntax, scheduled
 * event example), "Event retry policy and using dead-letter queues", "Transforming target input"; EventBridge
 * API reference PutEvents / PutTargets.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  EventBridgeClient,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  type Rule,
  type Target,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import awsCronParser from 'aws-cron-parser';
import { JSONPath } from 'jsonpath-plus';
import * as z from 'zod';
import { type EmulatorClientConfig, REPO_ROOT } from '../moto.ts';
import { classifyAwsCallError, InvokeApiError, invokeFunction, makeInvokeClient } from './invoke-api.ts';

/** Account of the local cloud (moto's default). */
export const LOCAL_ACCOUNT_ID = '123456789012';

/**
 * An event as EventBridge delivers it to targets.
 * Source: Amazon EventBridge User Guide, "Amazon EventBridge events" (event structure).
 */
export const EventEnvelopeSchema = z.object({
  version: z.string(),
  id: z.string().min(1),
  'detail-type': z.string(),
  source: z.string(),
  account: z.string(),
  time: z.string(),
  region: z.string(),
  resources: z.array(z.string()),
  detail: z.record(z.string(), z.unknown()),
});
/** Parsed {@link EventEnvelopeSchema}. */
export type EventEnvelope = z.infer<typeof EventEnvelopeSchema>;

/** One `PutEvents` request entry (the API's field names). Source: EventBridge API reference, PutEventsRequestEntry. */
export interface PutEventsRequestEntry {
  readonly Source: string;
  readonly DetailType: string;
  /** JSON object as a string. */
  readonly Detail: string;
  readonly Resources?: readonly string[];
  readonly Time?: Date;
  /** Default `default`. */
  readonly EventBusName?: string;
}

/** AWS timestamps in events: ISO 8601 without milliseconds (`2026-11-30T08:55:16Z`). */
export function eventTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The `EC2 Instance-terminate Lifecycle Action` event Auto Scaling sends to EventBridge.
 * Source: Amazon EC2 Auto Scaling User Guide, "Amazon EventBridge events for Amazon EC2 Auto Scaling"
 * (EC2 Instance-terminate Lifecycle Action).
 * @param input.autoScalingGroupArn - Goes to `resources`.
 * @param input.notificationMetadata - The hook's NotificationMetadata, when it has one.
 * @example
 * lifecycleActionEvent({ autoScalingGroupName: 'trino-dev-workers', autoScalingGroupArn, lifecycleHookName:
 *   'trino-sentinel-drain', instanceId: 'i-0123456789abcdef0', lifecycleActionToken: randomUUID(), region })
 */
export function lifecycleActionEvent(input: {
  readonly autoScalingGroupName: string;
  readonly autoScalingGroupArn: string;
  readonly lifecycleHookName: string;
  readonly instanceId: string;
  readonly lifecycleActionToken: string;
  readonly notificationMetadata?: string;
  readonly region: string;
  readonly account?: string;
  readonly time?: Date;
}): EventEnvelope {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: input.account ?? LOCAL_ACCOUNT_ID,
    time: eventTime(input.time ?? new Date()),
    region: input.region,
    resources: [input.autoScalingGroupArn],
    detail: {
      LifecycleActionToken: input.lifecycleActionToken,
      AutoScalingGroupName: input.autoScalingGroupName,
      LifecycleHookName: input.lifecycleHookName,
      EC2InstanceId: input.instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      ...(input.notificationMetadata === undefined
        ? {}
        : { NotificationMetadata: input.notificationMetadata }),
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
    },
  };
}

/**
 * The `EC2 Spot Instance Interruption Warning` event EC2 sends two minutes before it reclaims a Spot instance.
 * Source: Amazon EC2 User Guide, "Spot Instance interruption notices" (EC2 Spot Instance Interruption Warning
 * example: `resources` holds `arn:aws:ec2:<az>:instance/<id>`).
 * @param input.instanceAction - `terminate` (default), `stop` or `hibernate`.
 */
export function spotInterruptionWarningEvent(input: {
  readonly instanceId: string;
  readonly availabilityZone: string;
  readonly region: string;
  readonly instanceAction?: 'terminate' | 'stop' | 'hibernate';
  readonly account?: string;
  readonly time?: Date;
}): EventEnvelope {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'EC2 Spot Instance Interruption Warning',
    source: 'aws.ec2',
    account: input.account ?? LOCAL_ACCOUNT_ID,
    time: eventTime(input.time ?? new Date()),
    region: input.region,
    resources: [`arn:aws:ec2:${input.availabilityZone}:instance/${input.instanceId}`],
    detail: { 'instance-id': input.instanceId, 'instance-action': input.instanceAction ?? 'terminate' },
  };
}

/**
 * The event a schedule rule sends. Source: Amazon EventBridge User Guide, scheduled event example.
 * @param ruleArn - Goes to `resources`.
 * @param time - The scheduled time.
 */
export function scheduledEventEnvelope(ruleArn: string, time: Date, region: string): EventEnvelope {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: arnAccount(ruleArn) ?? LOCAL_ACCOUNT_ID,
    time: eventTime(time),
    region,
    resources: [ruleArn],
    detail: {},
  };
}

function arnAccount(arn: string): string | undefined {
  const account = arn.split(':')[4];
  return account === undefined || account === '' ? undefined : account;
}

/** A parsed `ScheduleExpression`. */
export type Schedule =
  | { readonly kind: 'rate'; readonly periodMs: number }
  | { readonly kind: 'cron'; readonly next: (after: Date) => Date | undefined };

/**
 * Parses `rate(value unit)` or `cron(min hour dom month dow year)` (UTC).
 * Source: Amazon EventBridge User Guide, "Schedule expressions for rules".
 * @throws Error naming the expression when it is not valid (a singular unit for 1 and plural otherwise, as AWS
 *   requires).
 */
export function parseScheduleExpression(expression: string): Schedule {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2] ?? '';
    if (value <= 0 || (value === 1) !== !unit.endsWith('s'))
      throw new Error(`invalid schedule expression ${expression}`);
    const unitMs = unit.startsWith('minute') ? 60_000 : unit.startsWith('hour') ? 3_600_000 : 86_400_000;
    return { kind: 'rate', periodMs: value * unitMs };
  }
  const cron = /^cron\((.+)\)$/.exec(expression.trim());
  if (cron?.[1]) {
    const fields = cron[1].trim().split(/\s+/);
    if (fields.length !== 6) throw new Error(`invalid schedule expression ${expression} (6 fields expected)`);
    const parsed = awsCronParser.parse(cron[1]);
    return {
      kind: 'cron',
      next: (after) => awsCronParser.next(parsed, after) ?? undefined,
    };
  }
  throw new Error(`invalid schedule expression ${expression}`);
}

/** Whether a pattern matches an event, with the engine named. */
interface PatternMatcher {
  readonly name: LocalEventBridge['matcher'];
  matches(pattern: string, event: EventEnvelope): Promise<boolean>;
  stop(): Promise<void>;
}

const MatcherReply = z.object({
  id: z.number().nullable(),
  result: z.boolean().optional(),
  error: z.string().optional(),
});

function startPythonMatcher(python: string, log: (line: string) => void): PatternMatcher {
  const script = path.join(REPO_ROOT, 'harness', 'cloud', 'moto_event_pattern.py');
  const child: ChildProcess = spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  const pending = new Map<number, { resolve: (v: boolean) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const failAll = (message: string) => {
    for (const waiter of pending.values()) waiter.reject(new Error(message));
    pending.clear();
  };
  child.once('exit', (code) => failAll(`moto pattern matcher exited (${code}): ${stderr}`));
  if (child.stdout) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      const reply = MatcherReply.safeParse(parsed);
      if (!reply.success || reply.data.id === null) {
        log(`events: matcher answered an unreadable line: ${line.slice(0, 200)}`);
        return;
      }
      const waiter = pending.get(reply.data.id);
      pending.delete(reply.data.id);
      if (!waiter) return;
      if (reply.data.error !== undefined) waiter.reject(new Error(reply.data.error));
      else waiter.resolve(reply.data.result === true);
    });
  }
  return {
    name: 'moto EventPattern (python)',
    matches: (pattern, event) =>
      new Promise<boolean>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`moto pattern matcher did not answer within 10000 ms: ${stderr}`));
        }, 10_000);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.stdin?.write(`${JSON.stringify({ id, pattern, event })}\n`);
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Finds out whether the emulator's `TestEventPattern` answers (a match and a non-match, both correct).
 * @returns The SDK matcher, or undefined when moto's answer carries no `Result` (moto 5.2.5: HTTP 200, empty
 *   body) or is wrong.
 */
async function probeTestEventPattern(
  client: EventBridgeClient,
  log: (line: string) => void,
): Promise<PatternMatcher | undefined> {
  const probe = scheduledEventEnvelope(
    `arn:aws:events:us-east-1:${LOCAL_ACCOUNT_ID}:rule/probe`,
    new Date(),
    'us-east-1',
  );
  const ask = async (pattern: object) =>
    (
      await client.send(
        new TestEventPatternCommand({ EventPattern: JSON.stringify(pattern), Event: JSON.stringify(probe) }),
      )
    ).Result;
  const yes = await ask({ source: ['aws.events'] });
  const no = await ask({ source: ['aws.autoscaling'] });
  if (yes !== true || no !== false) {
    log(
      `events: the emulator's TestEventPattern answered Result=${String(yes)} / ${String(no)} for a match / ` +
        'non-match (moto 5.2.5: HTTP 200 with an empty body); matching with moto.events.models.EventPattern instead',
    );
    return undefined;
  }
  return {
    name: 'TestEventPattern',
    matches: async (pattern, event) =>
      (
        await client.send(
          new TestEventPatternCommand({ EventPattern: pattern, Event: JSON.stringify(event) }),
        )
      ).Result === true,
    stop: async () => undefined,
  };
}

/** How one delivery to one target ended. */
export interface DeliveryRecord {
  readonly ruleName: string;
  readonly ruleArn: string;
  readonly targetId: string;
  readonly targetArn: string;
  readonly eventId: string;
  readonly detailType: string;
  /** Calls made to the target (1 = first try succeeded or failed for good). */
  readonly attempts: number;
  readonly outcome: 'delivered' | 'dead-lettered' | 'dropped';
  /** EventBridge ERROR_CODE of the last failure. */
  readonly errorCode?: string;
  readonly errorMessage?: string;
  /** `MaximumRetryAttempts` or `MaximumEventAgeInSeconds` when retries ran out. */
  readonly exhaustedRetryCondition?: string;
  /** The payload the target received (after Input/InputPath/InputTransformer). */
  readonly payload: string;
  /** When the outcome was reached (epoch ms, real time). */
  readonly atMs: number;
}

/** What {@link LocalEventBridge.publish} matched. */
export interface PublishResult {
  readonly eventId: string;
  /** Names of the rules whose pattern matched (ENABLED rules of the event's bus). */
  readonly matchedRules: readonly string[];
}

/** A running local EventBridge. */
export interface LocalEventBridge {
  /** Which matcher answers patterns. */
  readonly matcher: 'TestEventPattern' | 'moto EventPattern (python)';
  /** Every finished delivery, in completion order. */
  readonly deliveries: readonly DeliveryRecord[];
  /** Names of schedule rules fired so far, with the scheduled time (ISO), in firing order. */
  readonly firings: readonly { readonly ruleName: string; readonly time: string }[];
  /**
   * Matches a complete event against every ENABLED pattern rule of `eventBusName` (default `default`) and starts
   * delivery to each target of each match; resolves once matching is done (deliveries go on: see {@link settle}).
   * @throws Error when the emulator cannot be read or a pattern cannot be evaluated.
   */
  publish(event: EventEnvelope, eventBusName?: string): Promise<PublishResult>;
  /**
   * `PutEvents`: builds each envelope (id, time, account, region) and {@link publish}es it. An entry whose
   * `Detail` is not a JSON object (`MalformedDetail`) or whose `Source` starts with `aws.`
   * (`NotAuthorizedForSourceException`) fails alone, as AWS answers; the others go on.
   */
  putEvents(entries: readonly PutEventsRequestEntry[]): Promise<PutEventsResult>;
  /**
   * An EventBridge endpoint (`http://127.0.0.1:<port>`): `PutEvents` answered here (delivered by this module,
   * not by moto, whose own PutEvents would deliver to SQS targets a second time and to Lambda never); every
   * other EventBridge action proxied to moto unchanged.
   */
  readonly url: string;
  /** Answers one EventBridge API request (for the front endpoint): `AWSEvents.PutEvents` here, the rest to moto. */
  handle(request: JsonApiRequest): Promise<JsonApiResponse>;
  /**
   * Waits until no delivery is in flight.
   * @throws Error when deliveries are still running after `deadlineMs`.
   */
  settle(deadlineMs?: number): Promise<void>;
  /** Stops schedules and retries (in-flight retries are abandoned), and the matcher process. */
  stop(): Promise<void>;
}

/** Answer of {@link LocalEventBridge.putEvents} (the API's shape). */
export interface PutEventsResult {
  FailedEntryCount: number;
  Entries: ({ EventId: string } | { ErrorCode: string; ErrorMessage: string })[];
}

/** An HTTP request of an AWS JSON protocol API (`X-Amz-Target` names the action). */
export interface JsonApiRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** The answer to a {@link JsonApiRequest}. */
export interface JsonApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const PutEventsBody = z.object({
  Entries: z.array(
    z.object({
      Source: z.string().optional(),
      DetailType: z.string().optional(),
      Detail: z.string().optional(),
      Resources: z.array(z.string()).optional(),
      Time: z.number().optional(),
      EventBusName: z.string().optional(),
    }),
  ),
});

/** Options of {@link startEventBridge}. */
export interface EventBridgeOptions {
  /** Where rules, targets and queues live (moto, directly). */
  readonly aws: EmulatorClientConfig;
  /** The Lambda Invoke API (the front AWS endpoint in the topology; a labelled double in tests). */
  readonly invoke: EmulatorClientConfig;
  /** Multiplies every AWS duration (schedule periods, retry back-off, event age): 0.01 → 100× faster. Default 1. */
  readonly timeScale?: number;
  /** How often schedules re-read the rules (real ms, default 1000). */
  readonly refreshMs?: number;
  /** Schedule clock tick (real ms, default 100). */
  readonly tickMs?: number;
  /** First retry back-off before scaling (ms, default 1000; doubles per attempt, capped at 5 min, full jitter). */
  readonly retryBaseDelayMs?: number;
  /** Python of the project's .venv (default `<repo>/.venv/bin/python`). */
  readonly python?: string;
  /** Listen address of the module's EventBridge endpoint (default 127.0.0.1, a free port). */
  readonly listen?: { readonly host?: string; readonly port?: number };
  readonly log?: (line: string) => void;
}

const DEFAULT_MAX_RETRY_ATTEMPTS = 185;
const DEFAULT_MAX_EVENT_AGE_SECONDS = 86_400;
/** Occurrences of one schedule fired by one late tick, at most. */
const MAX_CATCH_UP = 10;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/**
 * Renders what a target receives. Source: EventBridge API reference, Target (Input, InputPath,
 * InputTransformer); User Guide "Transforming target input" (placeholders inside quotes take the value's text,
 * outside quotes its JSON; reserved `aws.events.*` variables).
 * @returns The payload text.
 */
export function renderTargetInput(
  target: Target,
  event: EventEnvelope,
  rule: { name: string; arn: string },
): string {
  if (target.Input !== undefined) return target.Input;
  if (target.InputPath !== undefined) {
    const value: unknown = JSONPath({ path: target.InputPath, json: event, wrap: false });
    return JSON.stringify(value ?? null);
  }
  const transformer = target.InputTransformer;
  if (transformer?.InputTemplate === undefined) return JSON.stringify(event);
  const values = new Map<string, unknown>();
  for (const [name, jsonPath] of Object.entries(transformer.InputPathsMap ?? {}))
    values.set(name, JSONPath({ path: jsonPath, json: event, wrap: false }));
  values.set('aws.events.rule-arn', rule.arn);
  values.set('aws.events.rule-name', rule.name);
  values.set('aws.events.event.ingestion-time', eventTime(new Date()));
  values.set('aws.events.event', event);
  values.set('aws.events.event.json', event);
  const template = transformer.InputTemplate;
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i] ?? '';
    if (c === '"' && template[i - 1] !== '\\') inString = !inString;
    if (c === '<') {
      const end = template.indexOf('>', i);
      const name = end > i ? template.slice(i + 1, end) : '';
      if (values.has(name)) {
        const value = values.get(name);
        if (inString)
          out +=
            typeof value === 'string'
              ? JSON.stringify(value).slice(1, -1)
              : JSON.stringify(value ?? null).replace(/"/g, '\\"');
        else out += typeof value === 'string' ? value : JSON.stringify(value ?? null);
        i = end;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/**
 * Starts the local EventBridge: schedules begin at once; pattern delivery on {@link LocalEventBridge.publish}.
 * @example
 * const events = await startEventBridge({ aws: moto.clientConfig, invoke: front.clientConfig, log });
 * await events.publish(lifecycleActionEvent({ ... }));
 */
export async function startEventBridge(options: EventBridgeOptions): Promise<LocalEventBridge> {
  const log = options.log ?? (() => undefined);
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0)) throw new Error(`timeScale must be > 0 (got ${timeScale})`);
  const clientOptions = {
    endpoint: options.aws.endpoint,
    region: options.aws.region,
    credentials: options.aws.credentials,
  };
  const eventBridge = new EventBridgeClient(clientOptions);
  const sqs = new SQSClient({ ...clientOptions, maxAttempts: 1 });
  const invoker: LambdaClient = makeInvokeClient(options.invoke);
  const region = options.aws.region;
  const stopping = new AbortController();
  const deliveries: DeliveryRecord[] = [];
  const firings: { ruleName: string; time: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  const queueUrls = new Map<string, string>();
  const retryBaseDelayMs = options.retryBaseDelayMs ?? 1_000;

  const matcher =
    (await probeTestEventPattern(eventBridge, log)) ??
    startPythonMatcher(options.python ?? path.join(REPO_ROOT, '.venv', 'bin', 'python'), log);
  log(`events: matching patterns with ${matcher.name}`);

  async function listRules(eventBusName: string): Promise<Rule[]> {
    const rules: Rule[] = [];
    let token: string | undefined;
    for (let page = 0; page < 100; page++) {
      const out = await eventBridge.send(
        new ListRulesCommand({ EventBusName: eventBusName, ...(token ? { NextToken: token } : {}) }),
      );
      rules.push(...(out.Rules ?? []));
      token = out.NextToken;
      if (!token) break;
    }
    return rules;
  }

  async function listTargets(rule: Rule): Promise<Target[]> {
    const targets: Target[] = [];
    let token: string | undefined;
    for (let page = 0; page < 100; page++) {
      const out = await eventBridge.send(
        new ListTargetsByRuleCommand({
          Rule: rule.Name,
          EventBusName: rule.EventBusName ?? 'default',
          ...(token ? { NextToken: token } : {}),
        }),
      );
      targets.push(...(out.Targets ?? []));
      token = out.NextToken;
      if (!token) break;
    }
    return targets;
  }

  async function queueUrl(queueArn: string): Promise<string> {
    const cached = queueUrls.get(queueArn);
    if (cached) return cached;
    const [, , , , account, name] = queueArn.split(':');
    const out = await sqs.send(
      new GetQueueUrlCommand({ QueueName: name, ...(account ? { QueueOwnerAWSAccountId: account } : {}) }),
    );
    if (!out.QueueUrl) throw new Error(`no queue URL for ${queueArn}`);
    queueUrls.set(queueArn, out.QueueUrl);
    return out.QueueUrl;
  }

  async function callTarget(target: Target, payload: string): Promise<void> {
    const arn = target.Arn ?? '';
    const service = arn.split(':')[2];
    if (service === 'lambda') {
      await invokeFunction(invoker, arn, payload, 'Event', stopping.signal);
      return;
    }
    if (service === 'sqs') {
      try {
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: await queueUrl(arn),
            MessageBody: payload,
            ...(target.SqsParameters?.MessageGroupId
              ? { MessageGroupId: target.SqsParameters.MessageGroupId }
              : {}),
          }),
        );
      } catch (error) {
        throw classifyAwsCallError(error);
      }
      return;
    }
    throw new InvokeApiError(`target type of ${arn} is not delivered by the local EventBridge`, {
      code: 'INVALID_PARAMETER',
      statusCode: undefined,
      retryable: false,
      sdkError: 'UnsupportedTarget',
      cause: undefined,
    });
  }

  async function deadLetter(
    target: Target,
    rule: { name: string; arn: string },
    event: EventEnvelope,
    failure: InvokeApiError,
    attempts: number,
    exhausted: string | undefined,
  ): Promise<boolean> {
    const dlqArn = target.DeadLetterConfig?.Arn;
    if (!dlqArn) return false;
    const attribute = (value: string) => ({ DataType: 'String', StringValue: value });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: await queueUrl(dlqArn),
        MessageBody: JSON.stringify(event),
        MessageAttributes: {
          RULE_ARN: attribute(rule.arn),
          TARGET_ARN: attribute(target.Arn ?? ''),
          ERROR_CODE: attribute(failure.code),
          ERROR_MESSAGE: attribute(failure.message.slice(0, 1024) || failure.code),
          RETRY_ATTEMPTS: attribute(String(Math.max(0, attempts - 1))),
          ...(exhausted ? { EXHAUSTED_RETRY_CONDITION: attribute(exhausted) } : {}),
        },
      }),
    );
    return true;
  }

  async function deliver(
    rule: { name: string; arn: string },
    target: Target,
    event: EventEnvelope,
  ): Promise<void> {
    const payload = renderTargetInput(target, event, rule);
    const maxRetries = target.RetryPolicy?.MaximumRetryAttempts ?? DEFAULT_MAX_RETRY_ATTEMPTS;
    const maxAgeMs =
      (target.RetryPolicy?.MaximumEventAgeInSeconds ?? DEFAULT_MAX_EVENT_AGE_SECONDS) * 1000 * timeScale;
    const startedMs = Date.now();
    const base = {
      ruleName: rule.name,
      ruleArn: rule.arn,
      targetId: target.Id ?? '',
      targetArn: target.Arn ?? '',
      eventId: event.id,
      detailType: event['detail-type'],
      payload,
    };
    for (let attempt = 1; attempt <= maxRetries + 1; attempt++) {
      try {
        await callTarget(target, payload);
        deliveries.push({ ...base, attempts: attempt, outcome: 'delivered', atMs: Date.now() });
        log(
          `events: ${rule.name} → ${target.Id}: delivered ${event['detail-type']} ${event.id} (attempt ${attempt})`,
        );
        return;
      } catch (error) {
        if (stopping.signal.aborted) return;
        const failure = error instanceof InvokeApiError ? error : classifyAwsCallError(error);
        const retriesLeft = attempt <= maxRetries;
        const delayMs = Math.random() * Math.min(300_000, retryBaseDelayMs * 2 ** (attempt - 1)) * timeScale;
        const ageAfterMs = Date.now() + delayMs - startedMs;
        const exhausted = !failure.retryable
          ? undefined
          : !retriesLeft
            ? 'MaximumRetryAttempts'
            : ageAfterMs > maxAgeMs
              ? 'MaximumEventAgeInSeconds'
              : undefined;
        if (failure.retryable && exhausted === undefined) {
          log(
            `events: ${rule.name} → ${target.Id}: attempt ${attempt} failed (${failure.code}: ${failure.message}); retry in ${Math.round(delayMs)} ms`,
          );
          await sleep(delayMs, stopping.signal);
          if (stopping.signal.aborted) return;
          continue;
        }
        const dlq = await deadLetter(target, rule, event, failure, attempt, exhausted).catch(
          (dlqError: unknown) => {
            log(
              `events: ${rule.name} → ${target.Id}: the dead-letter queue refused the event: ${String(dlqError)}`,
            );
            return false;
          },
        );
        deliveries.push({
          ...base,
          attempts: attempt,
          outcome: dlq ? 'dead-lettered' : 'dropped',
          errorCode: failure.code,
          errorMessage: failure.message,
          ...(exhausted ? { exhaustedRetryCondition: exhausted } : {}),
          atMs: Date.now(),
        });
        log(
          `events: ${rule.name} → ${target.Id}: ${dlq ? 'sent to the dead-letter queue' : 'dropped'} after ${attempt} attempt(s) (${failure.code}${exhausted ? `, ${exhausted}` : ''})`,
        );
        return;
      }
    }
  }

  function startDelivery(rule: Rule, targets: readonly Target[], event: EventEnvelope): void {
    const ref = { name: rule.Name ?? '', arn: rule.Arn ?? '' };
    for (const target of targets) {
      const run = deliver(ref, target, event).catch((error: unknown) => {
        log(`events: ${ref.name} → ${target.Id}: delivery failed: ${String(error)}`);
      });
      inFlight.add(run);
      void run.finally(() => inFlight.delete(run));
    }
  }

  async function publish(event: EventEnvelope, eventBusName = 'default'): Promise<PublishResult> {
    const matched: string[] = [];
    for (const rule of await listRules(eventBusName)) {
      if (!rule.EventPattern || rule.State !== 'ENABLED') continue;
      let matches: boolean;
      try {
        matches = await matcher.matches(rule.EventPattern, event);
      } catch (error) {
        throw new Error(`events: rule ${rule.Name}: pattern could not be evaluated: ${String(error)}`, {
          cause: error,
        });
      }
      if (!matches) continue;
      matched.push(rule.Name ?? '');
      const targets = await listTargets(rule);
      log(
        `events: ${event.source}/${event['detail-type']} ${event.id} matched ${rule.Name} (${targets.length} target(s))`,
      );
      startDelivery(rule, targets, event);
    }
    if (matched.length === 0)
      log(`events: ${event.source}/${event['detail-type']} ${event.id} matched no rule`);
    return { eventId: event.id, matchedRules: matched };
  }

  // ------------------------------------------------------------------------------------------- schedules
  const startRealMs = Date.now();
  const virtualNowMs = () => startRealMs + (Date.now() - startRealMs) / timeScale;
  const schedules = new Map<string, { expression: string; schedule: Schedule; nextMs: number | undefined }>();
  let lastRefreshMs = 0;

  async function refreshSchedules(): Promise<Rule[]> {
    const rules = (await listRules('default')).filter((r) => r.ScheduleExpression);
    const seen = new Set<string>();
    for (const rule of rules) {
      const name = rule.Name ?? '';
      const expression = rule.ScheduleExpression ?? '';
      seen.add(name);
      const known = schedules.get(name);
      if (known && known.expression === expression) continue;
      try {
        const schedule = parseScheduleExpression(expression);
        const now = virtualNowMs();
        const nextMs =
          schedule.kind === 'rate' ? now + schedule.periodMs : schedule.next(new Date(now))?.getTime();
        schedules.set(name, { expression, schedule, nextMs });
        log(
          `events: schedule ${name} ${expression} ${rule.State}, next ${nextMs ? new Date(nextMs).toISOString() : 'never'}`,
        );
      } catch (error) {
        log(`events: schedule ${name}: ${String(error)}`);
      }
    }
    for (const name of schedules.keys()) if (!seen.has(name)) schedules.delete(name);
    return rules;
  }

  let scheduleRules: Rule[] = [];
  let ticking = false;
  async function tick(): Promise<void> {
    if (ticking || stopping.signal.aborted) return;
    ticking = true;
    try {
      if (Date.now() - lastRefreshMs >= (options.refreshMs ?? 1_000)) {
        scheduleRules = await refreshSchedules();
        lastRefreshMs = Date.now();
      }
      const now = virtualNowMs();
      for (const rule of scheduleRules) {
        const entry = schedules.get(rule.Name ?? '');
        if (!entry) continue;
        // Every occurrence that came due fires with its own scheduled time (a slow tick catches up, at most
        // MAX_CATCH_UP per tick; beyond that the schedule skips ahead, keeping its phase).
        const due: number[] = [];
        while (entry.nextMs !== undefined && entry.nextMs <= now && due.length < MAX_CATCH_UP) {
          due.push(entry.nextMs);
          entry.nextMs =
            entry.schedule.kind === 'rate'
              ? entry.nextMs + entry.schedule.periodMs
              : entry.schedule.next(new Date(entry.nextMs))?.getTime();
        }
        if (entry.nextMs !== undefined && entry.nextMs <= now) {
          entry.nextMs =
            entry.schedule.kind === 'rate'
              ? entry.nextMs +
                entry.schedule.periodMs * (Math.floor((now - entry.nextMs) / entry.schedule.periodMs) + 1)
              : entry.schedule.next(new Date(now))?.getTime();
        }
        if (due.length === 0 || rule.State !== 'ENABLED') continue;
        const targets = await listTargets(rule);
        for (const firedAt of due) {
          const event = scheduledEventEnvelope(rule.Arn ?? '', new Date(firedAt), region);
          firings.push({ ruleName: rule.Name ?? '', time: event.time });
          log(`events: schedule ${rule.Name} fired for ${event.time} (${targets.length} target(s))`);
          startDelivery(rule, targets, event);
        }
      }
    } catch (error) {
      log(`events: schedule tick failed: ${String(error)}`);
    } finally {
      ticking = false;
    }
  }
  const timer = setInterval(() => void tick(), options.tickMs ?? 100);
  await tick();

  async function putEvents(entries: readonly PutEventsRequestEntry[]): Promise<PutEventsResult> {
    const out: PutEventsResult['Entries'] = [];
    let failed = 0;
    for (const entry of entries) {
      let detail: Record<string, unknown> | undefined;
      try {
        detail = z.record(z.string(), z.unknown()).parse(JSON.parse(entry.Detail));
      } catch {
        detail = undefined;
      }
      if (detail === undefined) {
        failed += 1;
        out.push({ ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' });
        continue;
      }
      if (entry.Source.startsWith('aws.')) {
        // Only AWS services emit aws.* events (they use publish(), not PutEvents).
        failed += 1;
        out.push({
          ErrorCode: 'NotAuthorizedForSourceException',
          ErrorMessage: 'Not authorized for the source.',
        });
        continue;
      }
      const event: EventEnvelope = {
        version: '0',
        id: randomUUID(),
        'detail-type': entry.DetailType,
        source: entry.Source,
        account: LOCAL_ACCOUNT_ID,
        time: eventTime(entry.Time ?? new Date()),
        region,
        resources: [...(entry.Resources ?? [])],
        detail,
      };
      await publish(event, entry.EventBusName ?? 'default');
      out.push({ EventId: event.id });
    }
    return { FailedEntryCount: failed, Entries: out };
  }

  async function proxy(request: JsonApiRequest): Promise<JsonApiResponse> {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(request.headers)) {
      if (
        value === undefined ||
        ['host', 'content-length', 'connection', 'transfer-encoding'].includes(key.toLowerCase())
      )
        continue;
      headers[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    const response = await fetch(new URL(request.path, options.aws.endpoint), {
      method: request.method,
      headers,
      ...(request.method === 'GET' || request.method === 'HEAD' ? {} : { body: request.body }),
    });
    return {
      status: response.status,
      headers: { 'content-type': response.headers.get('content-type') ?? 'application/x-amz-json-1.1' },
      body: await response.text(),
    };
  }

  async function handle(request: JsonApiRequest): Promise<JsonApiResponse> {
    const target = request.headers['x-amz-target'] ?? request.headers['X-Amz-Target'];
    if (target !== 'AWSEvents.PutEvents') return proxy(request);
    const json = { 'content-type': 'application/x-amz-json-1.1' };
    let body: z.infer<typeof PutEventsBody>;
    try {
      body = PutEventsBody.parse(JSON.parse(request.body.toString('utf8')));
    } catch (error) {
      return {
        status: 400,
        headers: json,
        body: JSON.stringify({ __type: 'ValidationException', message: String(error) }),
      };
    }
    const missing = body.Entries.findIndex((e) => !e.Source || !e.DetailType || e.Detail === undefined);
    if (missing >= 0)
      return {
        status: 400,
        headers: json,
        body: JSON.stringify({
          __type: 'ValidationException',
          message: `Entries[${missing}]: Source, DetailType and Detail are required`,
        }),
      };
    const result = await putEvents(
      body.Entries.map((e) => ({
        Source: e.Source ?? '',
        DetailType: e.DetailType ?? '',
        Detail: e.Detail ?? '',
        ...(e.Resources ? { Resources: e.Resources } : {}),
        ...(e.Time === undefined ? {} : { Time: new Date(e.Time * 1000) }),
        ...(e.EventBusName ? { EventBusName: e.EventBusName } : {}),
      })),
    );
    return { status: 200, headers: json, body: JSON.stringify(result) };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      handle({
        method: req.method ?? 'POST',
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
      })
        .then((answer) => res.writeHead(answer.status, answer.headers).end(answer.body))
        .catch((error: unknown) =>
          res
            .writeHead(500, { 'content-type': 'application/x-amz-json-1.1' })
            .end(JSON.stringify({ __type: 'InternalException', message: String(error) })),
        );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen?.port ?? 0, options.listen?.host ?? '127.0.0.1', () => resolve());
  });
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('the EventBridge endpoint has no TCP port');
  const url = `http://${options.listen?.host ?? '127.0.0.1'}:${address.port}`;
  log(`events: EventBridge endpoint (PutEvents here, the rest to moto) on ${url}`);

  return {
    matcher: matcher.name,
    deliveries,
    firings,
    url,
    handle,
    publish,
    putEvents,
    async settle(deadlineMs = 30_000) {
      const deadline = Date.now() + deadlineMs;
      while (inFlight.size > 0) {
        if (Date.now() > deadline)
          throw new Error(`events: ${inFlight.size} deliveries still in flight after ${deadlineMs} ms`);
        await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, 100))]);
      }
    },
    async stop() {
      clearInterval(timer);
      stopping.abort();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await Promise.allSettled([...inFlight]);
      await matcher.stop();
      eventBridge.destroy();
      sqs.destroy();
      invoker.destroy();
    },
  };
}
