/**
 * Test infrastructure: the Auto Scaling lifecycle layer of the local cloud — what moto lacks. moto 5.2.5 removes
 * instances at once on scale-in (no `Terminating:Wait`), ignores `TerminationPolicies` when choosing, and answers
 * HTTP 500 to `CompleteLifecycleAction` / `RecordLifecycleActionHeartbeat`. This layer sits behind the front AWS
 * endpoint for the `autoscaling` actions in {@link LIFECYCLE_LAYER_ACTIONS} (everything else is proxied to moto
 * unchanged) and, for a group with an `autoscaling:EC2_INSTANCE_TERMINATING` hook:
 *
 * - on a capacity decrease (`SetDesiredCapacity`, `UpdateAutoScalingGroup` with a lower desired/max,
 *   `TerminateInstanceInAutoScalingGroup`) chooses the instances by the group's `TerminationPolicies` — a Lambda
 *   ARN is invoked (synchronously, through the Lambda Invoke API) with the custom termination policy input; on an
 *   error or an answer that is not `{"InstanceIDs": [...]}` it falls back to `Default` (Availability Zone balance;
 *   ties broken by instance id, where AWS picks at random); fewer instances than needed: those are taken now and
 *   the function is asked again every `policyRetrySeconds`;
 * - puts them in `Terminating:Wait` — merged into moto's `DescribeAutoScalingGroups` /
 *   `DescribeAutoScalingInstances` answers, together with the group's desired capacity as AWS reports it;
 * - emits `EC2 Instance-terminate Lifecycle Action` to EventBridge with a fresh `LifecycleActionToken` (one
 *   action per hook);
 * - keeps each action for `HeartbeatTimeout`, extended by `RecordLifecycleActionHeartbeat` up to the smaller of
 *   100 × HeartbeatTimeout and 48 h from the start; `CompleteLifecycleAction` (CONTINUE/ABANDON, by token or by
 *   instance id) or the timeout (the hook's `DefaultResult`) ends it; when the last action of an instance ends,
 *   the instance is terminated in moto for real (`TerminateInstanceInAutoScalingGroup` with
 *   `ShouldDecrementDesiredCapacity`, which also terminates the EC2 instance);
 * - answers an unknown, used or expired action exactly as AWS does: `ValidationError` "No active Lifecycle
 *   Action found with token <token>" (or "… with instance ID <id>" when no token was given).
 *
 * moto's own desired capacity is kept at "instances still in the group" while some wait, so moto never removes
 * them itself and launches replacements only when AWS would. Groups without a terminating hook pass through.
 * Scale-out passes through (moto launches). {@link LocalLifecycleLayer.interruptSpotInstance} emits the Spot
 * interruption warning and terminates the instance two minutes later.
 *
 * Source: Amazon EC2 Auto Scaling User Guide — "Amazon EC2 Auto Scaling lifecycle hooks", "Complete a lifecycle
 * action", "Create a custom termination policy with Lambda", "Configure termination policies"; Amazon EC2 Auto
 * Scaling API reference (CompleteLifecycleAction, RecordLifecycleActionHeartbeat, SetDesiredCapacity,
 * UpdateAutoScalingGroup, TerminateInstanceInAutoScalingGroup, LifecycleHook.GlobalTimeout); Amazon EC2 User
 * Guide, "Spot Instance interruption notices".
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeLifecycleHooksCommand,
  type Instance,
  type LifecycleHook,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { DOMParser, type Element, type Node, XMLSerializer } from '@xmldom/xmldom';
import * as z from 'zod';
import type { EmulatorClientConfig } from '../moto.ts';
import { type EventEnvelope, lifecycleActionEvent, spotInterruptionWarningEvent } from './events.ts';
import { InvokeApiError, invokeFunction, makeInvokeClient } from './invoke-api.ts';

/** The `autoscaling` actions the front endpoint routes to this layer (everything else goes to moto). */
export const LIFECYCLE_LAYER_ACTIONS = [
  'SetDesiredCapacity',
  'UpdateAutoScalingGroup',
  'TerminateInstanceInAutoScalingGroup',
  'CompleteLifecycleAction',
  'RecordLifecycleActionHeartbeat',
  'DescribeAutoScalingGroups',
  'DescribeAutoScalingInstances',
] as const;

/** Longest wait of a lifecycle action, whatever the heartbeats (s). Source: LifecycleHook.GlobalTimeout. */
export const LIFECYCLE_GLOBAL_TIMEOUT_CAP_SECONDS = 172_800;

/** Delay between a Spot interruption warning and the interruption (s). */
export const SPOT_INTERRUPTION_NOTICE_SECONDS = 120;

/** An HTTP request in the AWS Query protocol (form body). */
export interface AwsQueryRequest {
  readonly method: string;
  /** Path and query, e.g. `/`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** The answer to an {@link AwsQueryRequest}. */
export interface AwsQueryResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** One lifecycle action, as the layer holds it. */
export interface LifecycleActionState {
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly instanceId: string;
  /** Secret-like: never logged. */
  readonly lifecycleActionToken: string;
  readonly heartbeatTimeoutSeconds: number;
  readonly defaultResult: 'CONTINUE' | 'ABANDON';
  readonly startedAtMs: number;
  /** When the action times out unless heartbeated (epoch ms, real time: already time-scaled). */
  deadlineAtMs: number;
  readonly globalDeadlineAtMs: number;
  heartbeats: number;
}

/** How an action ended. */
export interface LifecycleActionOutcome {
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly instanceId: string;
  readonly result: 'CONTINUE' | 'ABANDON';
  readonly by: 'CompleteLifecycleAction' | 'timeout';
  readonly heartbeats: number;
  /** Real ms from Terminating:Wait to the end. */
  readonly waitedMs: number;
  readonly atMs: number;
}

/** One call of a custom termination policy function. */
export interface TerminationPolicyCall {
  readonly functionArn: string;
  readonly input: TerminationPolicyInput;
  /** The instances taken from its answer (empty on fallback). */
  readonly chosen: readonly string[];
  /** Why the layer fell back to `Default`, when it did. */
  readonly fallbackReason?: string;
}

/**
 * Input of a custom termination policy function.
 * Source: Amazon EC2 Auto Scaling User Guide, "Create a custom termination policy with Lambda" (input data).
 */
export interface TerminationPolicyInput {
  readonly AutoScalingGroupARN: string;
  readonly AutoScalingGroupName: string;
  readonly CapacityToTerminate: readonly {
    readonly AvailabilityZone: string;
    readonly Capacity: number;
    readonly InstanceMarketOption: string;
  }[];
  readonly Instances: readonly {
    readonly AvailabilityZone: string;
    readonly InstanceId: string;
    readonly InstanceType: string;
    readonly InstanceMarketOption: string;
  }[];
  readonly Cause: 'SCALE_IN';
  readonly HasMoreInstances: boolean;
}

/** The running layer. */
export interface LocalLifecycleLayer {
  /** An Auto Scaling endpoint (`http://127.0.0.1:<port>`): the layer's actions answered here, others proxied. */
  readonly url: string;
  /** Answers one Auto Scaling request (for the front endpoint); actions not taken over are proxied to moto. */
  handle(request: AwsQueryRequest): Promise<AwsQueryResponse>;
  /** Whether the layer answers `action` itself. */
  takesOver(action: string): boolean;
  /** Actions now waiting (live objects). */
  activeActions(): readonly LifecycleActionState[];
  /** Every ended action. */
  readonly outcomes: readonly LifecycleActionOutcome[];
  /** Every custom termination policy invocation. */
  readonly policyCalls: readonly TerminationPolicyCall[];
  /**
   * Emits `EC2 Spot Instance Interruption Warning` for `instanceId` now and terminates the EC2 instance two
   * minutes later (× timeScale).
   * @returns The warning event and when the termination will happen (epoch ms).
   */
  interruptSpotInstance(instanceId: string): Promise<{ event: EventEnvelope; terminateAtMs: number }>;
  /** Stops timers (waiting actions are dropped, instances left as they are) and the HTTP server. */
  stop(): Promise<void>;
}

/** Options of {@link startLifecycleLayer}. */
export interface LifecycleLayerOptions {
  /** moto, directly (never the front endpoint: the layer's own reads would come back to it). */
  readonly moto: EmulatorClientConfig;
  /** The Lambda Invoke API (front endpoint in the topology; a labelled double in tests). */
  readonly invoke: EmulatorClientConfig;
  /** Where lifecycle and Spot events go (the local EventBridge). */
  readonly events: { publish(event: EventEnvelope): Promise<unknown> };
  /** Multiplies every AWS duration (HeartbeatTimeout, global timeout, Spot notice, policy retry). Default 1. */
  readonly timeScale?: number;
  /** How often the custom policy is asked again when it returned too few instances (AWS seconds, default 60). */
  readonly policyRetrySeconds?: number;
  /** Listen address of the layer's own endpoint (default 127.0.0.1, a free port). */
  readonly listen?: { readonly host?: string; readonly port?: number };
  readonly log?: (line: string) => void;
}

const XMLNS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

/** An error answered in the Query protocol's XML shape. */
class QueryError extends Error {
  override readonly name = 'QueryError';
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function errorResponse(error: QueryError): AwsQueryResponse {
  return {
    status: error.status,
    headers: { 'content-type': 'text/xml' },
    body:
      `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${xmlEscape(error.code)}</Code>` +
      `<Message>${xmlEscape(error.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  };
}

function okResponse(action: string, result = ''): AwsQueryResponse {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml' },
    body:
      `<${action}Response xmlns="${XMLNS}">${result}` +
      `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  };
}

function isElement(node: Node): node is Element {
  return node.nodeType === 1;
}

function childElements(parent: Element, name: string): Element[] {
  const out: Element[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (isElement(node) && node.nodeName === name) out.push(node);
  }
  return out;
}

function childText(parent: Element, name: string): string | undefined {
  return childElements(parent, name)[0]?.textContent ?? undefined;
}

function setChildText(parent: Element, name: string, value: string): void {
  const child = childElements(parent, name)[0];
  if (child) child.textContent = value;
}

const PolicyAnswer = z.object({ InstanceIDs: z.array(z.string()) });

function int(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new QueryError('ValidationError', `${name} must be an integer`);
  return value;
}

/**
 * Chooses `count` instances by the `Default` termination policy's first rule: from the Availability Zone with
 * the most candidates, repeatedly. Pure. Ties between instances broken by instance id (AWS: random).
 * @returns Instance ids in termination order.
 */
export function chooseByDefaultPolicy(
  candidates: readonly { readonly instanceId: string; readonly availabilityZone: string }[],
  count: number,
): string[] {
  const byZone = new Map<string, string[]>();
  for (const c of [...candidates].sort((a, b) => a.instanceId.localeCompare(b.instanceId))) {
    byZone.set(c.availabilityZone, [...(byZone.get(c.availabilityZone) ?? []), c.instanceId]);
  }
  const chosen: string[] = [];
  while (chosen.length < count) {
    const zones = [...byZone.entries()].filter(([, ids]) => ids.length > 0);
    if (zones.length === 0) break;
    zones.sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]));
    const next = zones[0]?.[1].shift();
    if (next) chosen.push(next);
  }
  return chosen;
}

/**
 * Starts the lifecycle layer and its endpoint.
 * @example
 * const events = await startEventBridge({ aws: moto.clientConfig, invoke, log });
 * const lifecycle = await startLifecycleLayer({ moto: moto.clientConfig, invoke, events, log });
 * const autoscaling = new AutoScalingClient({ ...moto.clientConfig, endpoint: lifecycle.url });
 */
export async function startLifecycleLayer(options: LifecycleLayerOptions): Promise<LocalLifecycleLayer> {
  const log = options.log ?? (() => undefined);
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0)) throw new Error(`timeScale must be > 0 (got ${timeScale})`);
  const clientConfig = {
    endpoint: options.moto.endpoint,
    region: options.moto.region,
    credentials: options.moto.credentials,
  };
  const autoscaling = new AutoScalingClient(clientConfig);
  const ec2 = new EC2Client(clientConfig);
  const invoker = makeInvokeClient(options.invoke, 60_000);
  const region = options.moto.region;
  const scaledMs = (awsSeconds: number) => awsSeconds * 1000 * timeScale;

  /** Desired capacity as AWS reports it, for groups the layer has taken over. */
  const visibleDesired = new Map<string, number>();
  /** Waiting instances: instance id → (hook name → action). */
  const waiting = new Map<string, Map<string, LifecycleActionState>>();
  const timers = new Map<string, NodeJS.Timeout>();
  const retryTimers = new Map<string, NodeJS.Timeout>();
  const outcomes: LifecycleActionOutcome[] = [];
  const policyCalls: TerminationPolicyCall[] = [];
  let stopped = false;

  // One request at a time: scale-in decisions read then write moto.
  let chain: Promise<unknown> = Promise.resolve();
  function serial<T>(work: () => Promise<T>): Promise<T> {
    const run = chain.then(work, work);
    chain = run.catch(() => undefined);
    return run;
  }

  async function describeGroup(name: string): Promise<AutoScalingGroup> {
    const out = await autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
    );
    const group = out.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === name);
    if (!group) throw new QueryError('ValidationError', `AutoScalingGroup name not found - ${name}`);
    return group;
  }

  async function terminatingHooks(name: string): Promise<LifecycleHook[]> {
    const out = await autoscaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: name }));
    return (out.LifecycleHooks ?? []).filter(
      (h) => h.LifecycleTransition === 'autoscaling:EC2_INSTANCE_TERMINATING',
    );
  }

  function waitingIn(group: AutoScalingGroup): Instance[] {
    return (group.Instances ?? []).filter((i) => waiting.has(i.InstanceId ?? ''));
  }

  function inService(group: AutoScalingGroup): Instance[] {
    return (group.Instances ?? []).filter(
      (i) => i.LifecycleState === 'InService' && !waiting.has(i.InstanceId ?? ''),
    );
  }

  /** Sets moto's desired capacity to what keeps waiting instances and launches what AWS would. */
  async function alignMoto(group: AutoScalingGroup, desired: number): Promise<void> {
    const name = group.AutoScalingGroupName ?? '';
    const inGroup = (group.Instances ?? []).filter((i) => i.LifecycleState === 'InService').length;
    const motoDesired = Math.max(inGroup, desired + waitingIn(group).length);
    if (motoDesired !== group.DesiredCapacity) {
      await autoscaling.send(
        new SetDesiredCapacityCommand({ AutoScalingGroupName: name, DesiredCapacity: motoDesired }),
      );
    }
  }

  async function invokePolicy(
    functionArn: string,
    group: AutoScalingGroup,
    candidates: Instance[],
    count: number,
  ): Promise<{ chosen: string[] } | { fallbackReason: string }> {
    const plan = chooseByDefaultPolicy(
      candidates.map((c) => ({ instanceId: c.InstanceId ?? '', availabilityZone: c.AvailabilityZone ?? '' })),
      count,
    );
    const capacity = new Map<string, number>();
    for (const id of plan) {
      const zone = candidates.find((c) => c.InstanceId === id)?.AvailabilityZone ?? '';
      capacity.set(zone, (capacity.get(zone) ?? 0) + 1);
    }
    const input: TerminationPolicyInput = {
      AutoScalingGroupARN: group.AutoScalingGroupARN ?? '',
      AutoScalingGroupName: group.AutoScalingGroupName ?? '',
      CapacityToTerminate: [...capacity.entries()].map(([zone, n]) => ({
        AvailabilityZone: zone,
        Capacity: n,
        InstanceMarketOption: 'on-demand',
      })),
      Instances: candidates
        .filter((c) => capacity.has(c.AvailabilityZone ?? ''))
        .map((c) => ({
          AvailabilityZone: c.AvailabilityZone ?? '',
          InstanceId: c.InstanceId ?? '',
          InstanceType: c.InstanceType ?? '',
          InstanceMarketOption: 'on-demand',
        })),
      Cause: 'SCALE_IN',
      HasMoreInstances: false,
    };
    let fallbackReason: string | undefined;
    let chosen: string[] = [];
    try {
      const out = await invokeFunction(invoker, functionArn, JSON.stringify(input), 'RequestResponse');
      if (out.functionError)
        fallbackReason = `function error (${out.functionError}): ${out.payload.slice(0, 300)}`;
      else {
        let json: unknown;
        try {
          json = JSON.parse(out.payload);
        } catch {
          json = undefined;
        }
        const answer = PolicyAnswer.safeParse(json);
        if (!answer.success)
          fallbackReason = `answer is not {"InstanceIDs": [...]}: ${out.payload.slice(0, 300)}`;
        else {
          const allowed = new Set(input.Instances.map((i) => i.InstanceId));
          chosen = answer.data.InstanceIDs.filter((id) => allowed.has(id)).slice(0, count);
        }
      }
    } catch (error) {
      fallbackReason = `invoke failed (${error instanceof InvokeApiError ? error.code : 'UNKNOWN'}): ${String(error)}`;
    }
    policyCalls.push({ functionArn, input, chosen, ...(fallbackReason ? { fallbackReason } : {}) });
    if (fallbackReason) {
      log(`lifecycle: termination policy ${functionArn.split(':').pop()} → Default: ${fallbackReason}`);
      return { fallbackReason };
    }
    log(
      `lifecycle: termination policy ${functionArn.split(':').pop()} chose ${chosen.join(', ') || 'nothing'} (${count} needed)`,
    );
    return { chosen };
  }

  async function choose(group: AutoScalingGroup, count: number): Promise<string[]> {
    const candidates = inService(group).filter((i) => !i.ProtectedFromScaleIn);
    if (count <= 0 || candidates.length === 0) return [];
    const defaultChoice = () =>
      chooseByDefaultPolicy(
        candidates.map((c) => ({
          instanceId: c.InstanceId ?? '',
          availabilityZone: c.AvailabilityZone ?? '',
        })),
        count,
      );
    for (const policy of group.TerminationPolicies ?? ['Default']) {
      if (policy.startsWith('arn:') && policy.includes(':lambda:')) {
        const answer = await invokePolicy(policy, group, candidates, count);
        return 'chosen' in answer ? answer.chosen : defaultChoice();
      }
    }
    return defaultChoice();
  }

  async function enterWait(
    group: AutoScalingGroup,
    instanceId: string,
    hooks: LifecycleHook[],
  ): Promise<void> {
    const name = group.AutoScalingGroupName ?? '';
    const actions = new Map<string, LifecycleActionState>();
    waiting.set(instanceId, actions);
    const now = Date.now();
    for (const hook of hooks) {
      const heartbeatTimeoutSeconds = hook.HeartbeatTimeout ?? 3600;
      const action: LifecycleActionState = {
        autoScalingGroupName: name,
        lifecycleHookName: hook.LifecycleHookName ?? '',
        instanceId,
        lifecycleActionToken: randomUUID(),
        heartbeatTimeoutSeconds,
        defaultResult: hook.DefaultResult === 'ABANDON' ? 'ABANDON' : 'CONTINUE',
        startedAtMs: now,
        deadlineAtMs: now + scaledMs(heartbeatTimeoutSeconds),
        globalDeadlineAtMs:
          now + scaledMs(Math.min(100 * heartbeatTimeoutSeconds, LIFECYCLE_GLOBAL_TIMEOUT_CAP_SECONDS)),
        heartbeats: 0,
      };
      actions.set(action.lifecycleHookName, action);
      arm(action);
      log(
        `lifecycle: ${instanceId} of ${name} → Terminating:Wait (hook ${action.lifecycleHookName}, ` +
          `HeartbeatTimeout ${heartbeatTimeoutSeconds} s, DefaultResult ${action.defaultResult})`,
      );
    }
    for (const action of actions.values()) {
      const hook = hooks.find((h) => h.LifecycleHookName === action.lifecycleHookName);
      await options.events
        .publish(
          lifecycleActionEvent({
            autoScalingGroupName: name,
            autoScalingGroupArn: group.AutoScalingGroupARN ?? '',
            lifecycleHookName: action.lifecycleHookName,
            instanceId,
            lifecycleActionToken: action.lifecycleActionToken,
            ...(hook?.NotificationMetadata ? { notificationMetadata: hook.NotificationMetadata } : {}),
            region,
          }),
        )
        .catch((error: unknown) =>
          log(`lifecycle: emitting the lifecycle event for ${instanceId} failed: ${String(error)}`),
        );
    }
  }

  function timerKey(action: LifecycleActionState): string {
    return `${action.instanceId}/${action.lifecycleHookName}`;
  }

  function arm(action: LifecycleActionState): void {
    const key = timerKey(action);
    clearTimeout(timers.get(key));
    const dueMs = Math.min(action.deadlineAtMs, action.globalDeadlineAtMs) - Date.now();
    timers.set(
      key,
      setTimeout(
        () =>
          void serial(() => finish(action, action.defaultResult, 'timeout')).catch((error: unknown) =>
            log(`lifecycle: timing out ${action.instanceId} failed: ${String(error)}`),
          ),
        Math.max(0, dueMs),
      ),
    );
  }

  async function finish(
    action: LifecycleActionState,
    result: 'CONTINUE' | 'ABANDON',
    by: LifecycleActionOutcome['by'],
  ): Promise<void> {
    const actions = waiting.get(action.instanceId);
    if (!actions || actions.get(action.lifecycleHookName) !== action) return;
    actions.delete(action.lifecycleHookName);
    clearTimeout(timers.get(timerKey(action)));
    timers.delete(timerKey(action));
    outcomes.push({
      autoScalingGroupName: action.autoScalingGroupName,
      lifecycleHookName: action.lifecycleHookName,
      instanceId: action.instanceId,
      result,
      by,
      heartbeats: action.heartbeats,
      waitedMs: Date.now() - action.startedAtMs,
      atMs: Date.now(),
    });
    log(`lifecycle: ${action.instanceId} hook ${action.lifecycleHookName} ended: ${result} by ${by}`);
    if (actions.size > 0) return;
    waiting.delete(action.instanceId);
    // Terminating:Proceed → Terminated, in moto for real.
    try {
      await autoscaling.send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: action.instanceId,
          ShouldDecrementDesiredCapacity: true,
        }),
      );
      log(`lifecycle: ${action.instanceId} terminated in the emulator`);
    } catch (error) {
      log(`lifecycle: terminating ${action.instanceId} in the emulator failed: ${String(error)}`);
    }
  }

  function findAction(params: URLSearchParams): LifecycleActionState {
    const token = params.get('LifecycleActionToken') ?? '';
    const instanceId = params.get('InstanceId') ?? '';
    const group = params.get('AutoScalingGroupName') ?? '';
    const hook = params.get('LifecycleHookName') ?? '';
    const now = Date.now();
    for (const actions of waiting.values()) {
      for (const action of actions.values()) {
        const matches = token
          ? action.lifecycleActionToken === token
          : action.instanceId === instanceId && action.lifecycleHookName === hook;
        if (
          matches &&
          action.autoScalingGroupName === group &&
          action.lifecycleHookName === hook &&
          now < action.globalDeadlineAtMs
        )
          return action;
      }
    }
    throw new QueryError(
      'ValidationError',
      token
        ? `No active Lifecycle Action found with token ${token}`
        : `No active Lifecycle Action found with instance ID ${instanceId}`,
    );
  }

  /** Brings a group with a terminating hook to `desired` instances in service (scale-in through Wait). */
  async function reconcile(group: AutoScalingGroup, desired: number, hooks: LifecycleHook[]): Promise<void> {
    const name = group.AutoScalingGroupName ?? '';
    visibleDesired.set(name, desired);
    const excess = inService(group).length - desired;
    if (excess > 0) {
      const chosen = await choose(group, excess);
      for (const id of chosen) await enterWait(group, id, hooks);
      if (chosen.length < excess) scheduleRetry(name);
    }
    await alignMoto(await describeGroup(name), desired);
  }

  function scheduleRetry(name: string): void {
    if (retryTimers.has(name) || stopped) return;
    retryTimers.set(
      name,
      setTimeout(
        () => {
          retryTimers.delete(name);
          void serial(async () => {
            const desired = visibleDesired.get(name);
            if (desired === undefined) return;
            const hooks = await terminatingHooks(name);
            if (hooks.length > 0) await reconcile(await describeGroup(name), desired, hooks);
          }).catch((error: unknown) =>
            log(`lifecycle: re-asking the termination policy of ${name} failed: ${String(error)}`),
          );
        },
        scaledMs(options.policyRetrySeconds ?? 60),
      ),
    );
  }

  async function proxy(request: AwsQueryRequest, body = request.body): Promise<AwsQueryResponse> {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(request.headers)) {
      if (
        value === undefined ||
        ['host', 'content-length', 'connection', 'transfer-encoding'].includes(key.toLowerCase())
      )
        continue;
      headers[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    const response = await fetch(new URL(request.path, options.moto.endpoint), {
      method: request.method,
      headers,
      ...(request.method === 'GET' || request.method === 'HEAD' ? {} : { body }),
    });
    return {
      status: response.status,
      headers: { 'content-type': response.headers.get('content-type') ?? 'text/xml' },
      body: await response.text(),
    };
  }

  function mergeDescribe(xml: string, action: string): string {
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const root = doc.documentElement;
    if (!root) return xml;
    if (action === 'DescribeAutoScalingGroups') {
      for (const list of Array.from(doc.getElementsByTagName('AutoScalingGroups'))) {
        for (const group of childElements(list, 'member')) {
          const name = childText(group, 'AutoScalingGroupName') ?? '';
          const desired = visibleDesired.get(name);
          if (desired !== undefined) setChildText(group, 'DesiredCapacity', String(desired));
          for (const instances of childElements(group, 'Instances'))
            for (const instance of childElements(instances, 'member'))
              if (waiting.has(childText(instance, 'InstanceId') ?? ''))
                setChildText(instance, 'LifecycleState', 'Terminating:Wait');
        }
      }
    } else {
      for (const list of Array.from(doc.getElementsByTagName('AutoScalingInstances')))
        for (const instance of childElements(list, 'member'))
          if (waiting.has(childText(instance, 'InstanceId') ?? ''))
            setChildText(instance, 'LifecycleState', 'Terminating:Wait');
    }
    return new XMLSerializer().serializeToString(doc);
  }

  async function handleAction(
    action: string,
    params: URLSearchParams,
    request: AwsQueryRequest,
  ): Promise<AwsQueryResponse> {
    switch (action) {
      case 'DescribeAutoScalingGroups':
      case 'DescribeAutoScalingInstances': {
        const answer = await proxy(request);
        return answer.status === 200 ? { ...answer, body: mergeDescribe(answer.body, action) } : answer;
      }
      case 'CompleteLifecycleAction': {
        const result = params.get('LifecycleActionResult');
        if (result !== 'CONTINUE' && result !== 'ABANDON')
          throw new QueryError('ValidationError', `Invalid value for LifecycleActionResult: ${result ?? ''}`);
        await finish(findAction(params), result, 'CompleteLifecycleAction');
        return okResponse(action, `<${action}Result/>`);
      }
      case 'RecordLifecycleActionHeartbeat': {
        const found = findAction(params);
        found.heartbeats += 1;
        found.deadlineAtMs = Math.min(
          Date.now() + scaledMs(found.heartbeatTimeoutSeconds),
          found.globalDeadlineAtMs,
        );
        arm(found);
        log(
          `lifecycle: heartbeat ${found.heartbeats} for ${found.instanceId} (hook ${found.lifecycleHookName})`,
        );
        return okResponse(action, `<${action}Result/>`);
      }
      case 'SetDesiredCapacity':
      case 'UpdateAutoScalingGroup':
      case 'TerminateInstanceInAutoScalingGroup':
        return handleCapacity(action, params, request);
      default:
        return proxy(request);
    }
  }

  async function handleCapacity(
    action: string,
    params: URLSearchParams,
    request: AwsQueryRequest,
  ): Promise<AwsQueryResponse> {
    let name = params.get('AutoScalingGroupName') ?? '';
    const instanceId = params.get('InstanceId') ?? '';
    if (action === 'TerminateInstanceInAutoScalingGroup') {
      const out = await autoscaling.send(new DescribeAutoScalingGroupsCommand({}));
      name =
        out.AutoScalingGroups?.find((g) => (g.Instances ?? []).some((i) => i.InstanceId === instanceId))
          ?.AutoScalingGroupName ?? '';
      if (!name) return proxy(request);
    }
    const hooks = await terminatingHooks(name);
    const group = await describeGroup(name);
    if (hooks.length === 0 && waitingIn(group).length === 0) {
      // No terminating hook (any more): moto's own behaviour is AWS's here.
      visibleDesired.delete(name);
      return proxy(request);
    }
    const current = visibleDesired.get(name) ?? group.DesiredCapacity ?? 0;
    const minSize = group.MinSize ?? 0;
    const maxSize = group.MaxSize ?? 0;

    if (action === 'SetDesiredCapacity') {
      const desired = int(params, 'DesiredCapacity') ?? current;
      if (desired > maxSize)
        throw new QueryError(
          'ValidationError',
          `New SetDesiredCapacity value ${desired} is above max value ${maxSize} for the AutoScalingGroup.`,
        );
      if (desired < minSize)
        throw new QueryError(
          'ValidationError',
          `New SetDesiredCapacity value ${desired} is below min value ${minSize} for the AutoScalingGroup.`,
        );
      log(`lifecycle: SetDesiredCapacity ${name} ${current} → ${desired}`);
      await reconcile(group, desired, hooks);
      return okResponse(action);
    }

    if (action === 'UpdateAutoScalingGroup') {
      const newMin = int(params, 'MinSize') ?? minSize;
      const newMax = int(params, 'MaxSize') ?? maxSize;
      let desired = int(params, 'DesiredCapacity');
      if (desired !== undefined && (desired < newMin || desired > newMax))
        throw new QueryError(
          'ValidationError',
          `Desired capacity:${desired} must be between the specified min size:${newMin} and max size:${newMax}`,
        );
      if (newMin > newMax)
        throw new QueryError(
          'ValidationError',
          `Max bound, ${newMax}, must be greater than or equal to min bound, ${newMin}`,
        );
      desired ??= Math.min(newMax, Math.max(newMin, current));
      // moto applies everything else; its desired capacity keeps the instances that will wait.
      const inGroup = (group.Instances ?? []).filter((i) => i.LifecycleState === 'InService').length;
      const motoDesired = Math.max(inGroup, desired + waitingIn(group).length);
      const forwarded = new URLSearchParams(params);
      forwarded.set('DesiredCapacity', String(motoDesired));
      const answer = await proxy(request, Buffer.from(forwarded.toString()));
      if (answer.status !== 200) return answer;
      log(
        `lifecycle: UpdateAutoScalingGroup ${name} desired ${current} → ${desired} (min ${newMin}, max ${newMax})`,
      );
      await reconcile(await describeGroup(name), desired, hooks);
      return answer;
    }

    // TerminateInstanceInAutoScalingGroup
    const decrement = params.get('ShouldDecrementDesiredCapacity') === 'true';
    if (waiting.has(instanceId))
      throw new QueryError('ValidationError', `The instance ${instanceId} is already terminating.`);
    const desired = decrement ? current - 1 : current;
    if (decrement && desired < minSize)
      throw new QueryError(
        'ValidationError',
        `Currently, desiredSize equals minSize (${minSize}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`,
      );
    visibleDesired.set(name, desired);
    await enterWait(group, instanceId, hooks);
    await alignMoto(await describeGroup(name), desired);
    const activity =
      `<Activity><ActivityId>${randomUUID()}</ActivityId><AutoScalingGroupName>${xmlEscape(name)}</AutoScalingGroupName>` +
      `<Description>Terminating EC2 instance: ${xmlEscape(instanceId)}</Description>` +
      `<Cause>At ${new Date().toISOString()} instance ${xmlEscape(instanceId)} was taken out of service in response to a user request${decrement ? ', shrinking the capacity' : ''}.</Cause>` +
      `<StartTime>${new Date().toISOString()}</StartTime><StatusCode>InProgress</StatusCode><Progress>0</Progress></Activity>`;
    return okResponse(action, `<${action}Result>${activity}</${action}Result>`);
  }

  const takeover = new Set<string>(LIFECYCLE_LAYER_ACTIONS);

  async function handle(request: AwsQueryRequest): Promise<AwsQueryResponse> {
    const query = request.path.includes('?') ? request.path.slice(request.path.indexOf('?') + 1) : '';
    const params = new URLSearchParams(request.body.length > 0 ? request.body.toString('utf8') : query);
    const action = params.get('Action') ?? '';
    if (!takeover.has(action)) return proxy(request);
    try {
      return await serial(() => handleAction(action, params, request));
    } catch (error) {
      if (error instanceof QueryError) return errorResponse(error);
      log(`lifecycle: ${action} failed: ${String(error)}`);
      return errorResponse(new QueryError('InternalFailure', String(error), 500));
    }
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
        .catch((error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen?.port ?? 0, options.listen?.host ?? '127.0.0.1', () => resolve());
  });
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string') throw new Error('the lifecycle layer has no TCP port');
  const url = `http://${options.listen?.host ?? '127.0.0.1'}:${address.port}`;
  log(`lifecycle: Auto Scaling lifecycle layer on ${url} (time scale ${timeScale})`);

  return {
    url,
    handle,
    takesOver: (action) => takeover.has(action),
    activeActions: () => [...waiting.values()].flatMap((actions) => [...actions.values()]),
    outcomes,
    policyCalls,
    async interruptSpotInstance(instanceId) {
      const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      const zone = described.Reservations?.[0]?.Instances?.[0]?.Placement?.AvailabilityZone ?? `${region}a`;
      const event = spotInterruptionWarningEvent({ instanceId, availabilityZone: zone, region });
      await options.events.publish(event);
      const terminateAtMs = Date.now() + scaledMs(SPOT_INTERRUPTION_NOTICE_SECONDS);
      const key = `spot/${instanceId}`;
      timers.set(
        key,
        setTimeout(() => {
          timers.delete(key);
          ec2
            .send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }))
            .then(() =>
              log(`lifecycle: Spot instance ${instanceId} interrupted (terminated in the emulator)`),
            )
            .catch((error: unknown) =>
              log(`lifecycle: Spot interruption of ${instanceId} failed: ${String(error)}`),
            );
        }, scaledMs(SPOT_INTERRUPTION_NOTICE_SECONDS)),
      );
      log(
        `lifecycle: Spot interruption warning for ${instanceId}; interruption in ${Math.round(scaledMs(SPOT_INTERRUPTION_NOTICE_SECONDS))} ms`,
      );
      return { event, terminateAtMs };
    },
    async stop() {
      stopped = true;
      for (const timer of [...timers.values(), ...retryTimers.values()]) clearTimeout(timer);
      timers.clear();
      retryTimers.clear();
      await chain.catch(() => undefined);
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      autoscaling.destroy();
      ec2.destroy();
      invoker.destroy();
    },
  };
}
