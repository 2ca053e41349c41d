/**
 * Test infrastructure for the fault matrix (harness/drills/faults.ts): SDK middleware on the functions' own AWS
 * clients that records every call (service, operation, instance and ENI ids, outcome, and which execution's Task
 * state sent it) and fails a chosen operation for its first N calls, as the SDK would surface it after its own
 * retries (the middleware sits in the `initialize` step, before the SDK's retry middleware):
 * - `aws-5xx`: the service's 5xx (`InternalError` HTTP 500 for EC2, `ServiceUnavailable` HTTP 503 for the others);
 * - `aws-throttle`: `RequestLimitExceeded` (EC2) or `Throttling` (the others);
 * - `aws-timeout`: the request is sent and takes effect, then the caller gets `TimeoutError` (the answer was lost).
 *
 * Which execution and Task state sent a call is read from {@link invocationContext} (an AsyncLocalStorage the
 * runner enters around each execution and each task invocation).
 *
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { AutoScalingServiceException } from '@aws-sdk/client-auto-scaling';
import { CloudWatchServiceException } from '@aws-sdk/client-cloudwatch';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { SFNServiceException } from '@aws-sdk/client-sfn';
import { SNSServiceException } from '@aws-sdk/client-sns';
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';
import type { CallOutcome, RecordedAwsCall } from './fault-invariants.ts';

/** Where a call comes from: the execution, and the Task state being invoked. */
export interface InvocationContext {
  readonly execution?: string;
  readonly state?: string;
}

/** The invocation a call or a handler runs in. */
export const invocationContext = new AsyncLocalStorage<InvocationContext>();

/** The AWS fault classes. */
export const AWS_FAULT_CLASSES = ['aws-5xx', 'aws-throttle', 'aws-timeout'] as const;
/** One AWS fault class. */
export type AwsFaultClass = (typeof AWS_FAULT_CLASSES)[number];

/** An AWS fault: `operation` fails for its first `count` calls from the first one `state` sends on. */
export interface AwsFault {
  readonly class: AwsFaultClass;
  readonly operation: string;
  readonly state: string;
  readonly count: number;
}

/** The services the functions call, each with its SDK's service exception class. */
const SERVICE_EXCEPTIONS = {
  EC2: EC2ServiceException,
  AutoScaling: AutoScalingServiceException,
  CloudWatch: CloudWatchServiceException,
  SNS: SNSServiceException,
  SFN: SFNServiceException,
} as const;
/** A service name of {@link SERVICE_EXCEPTIONS}. */
export type ServiceName = keyof typeof SERVICE_EXCEPTIONS;

/**
 * The error the SDK surfaces for `fault` on `service` after its retries. Shapes: AWS SDK v3 service exceptions
 * (`name` = the service's error code, `$fault`, `$metadata.httpStatusCode`); the node HTTP handler's `TimeoutError`.
 */
export function injectedError(service: ServiceName, fault: AwsFaultClass, operation: string): Error {
  const Exception = SERVICE_EXCEPTIONS[service];
  switch (fault) {
    case 'aws-5xx':
      return service === 'EC2'
        ? new Exception({
            name: 'InternalError',
            $fault: 'server',
            message: 'An internal error has occurred (injected by the fault matrix)',
            $metadata: { httpStatusCode: 500, attempts: 3 },
          })
        : new Exception({
            name: 'ServiceUnavailable',
            $fault: 'server',
            message: 'Service is unavailable (injected by the fault matrix)',
            $metadata: { httpStatusCode: 503, attempts: 3 },
          });
    case 'aws-throttle':
      return new Exception({
        name: service === 'EC2' ? 'RequestLimitExceeded' : 'Throttling',
        $fault: 'client',
        message: 'Request limit exceeded (injected by the fault matrix)',
        $metadata: { httpStatusCode: service === 'EC2' ? 503 : 400, attempts: 3 },
      });
    case 'aws-timeout':
      return Object.assign(
        new Error(
          `${service} ${operation}: connection timed out after 3000 ms (injected by the fault matrix)`,
        ),
        { name: 'TimeoutError' },
      );
  }
}

/** The shared order counter and the list of recorded calls of one case. */
export class CallLog {
  readonly calls: RecordedAwsCall[] = [];
  #seq = 0;
  /** The next order mark (calls, execution starts and ends share it). */
  next(): number {
    this.#seq += 1;
    return this.#seq;
  }
}

/** An armed AWS fault: counts down from the first matching call of its state. */
export class ArmedAwsFault {
  readonly fault: AwsFault;
  #remaining: number;
  #armed = false;
  constructor(fault: AwsFault) {
    this.fault = fault;
    this.#remaining = fault.count;
  }
  /** Whether this call (of `operation`, sent by `state`) is to fail; consumes one of the N. */
  take(operation: string, state: string | undefined): boolean {
    if (operation !== this.fault.operation || this.#remaining <= 0) return false;
    if (!this.#armed && state !== this.fault.state) return false;
    this.#armed = true;
    this.#remaining -= 1;
    return true;
  }
  /** Calls failed so far. */
  get injected(): number {
    return this.fault.count - this.#remaining;
  }
}

const Ids = (input: unknown): { instanceIds: string[]; networkInterfaceId?: string } => {
  if (typeof input !== 'object' || input === null) return { instanceIds: [] };
  const record: Record<string, unknown> = { ...input };
  const instanceIds = [
    ...(typeof record.InstanceId === 'string' ? [record.InstanceId] : []),
    ...(Array.isArray(record.InstanceIds)
      ? record.InstanceIds.filter((i): i is string => typeof i === 'string')
      : []),
  ];
  return typeof record.NetworkInterfaceId === 'string'
    ? { instanceIds, networkInterfaceId: record.NetworkInterfaceId }
    : { instanceIds };
};

/**
 * Records every call `client` sends and fails the calls `fault` selects. Added with priority `high`, so it runs
 * before any other `initialize` middleware (e.g. the lifecycle recording double, which then never sees a failed call).
 * `DetachNetworkInterface` carries an attachment id, not the ENI: `eniOfAttachment` maps it back.
 * @param stack - The client's `middlewareStack`.
 */
export function instrument<I extends object, O extends MetadataBearer>(
  stack: MiddlewareStack<I, O>,
  service: ServiceName,
  log: CallLog,
  fault: ArmedAwsFault | undefined,
  eniOfAttachment: (attachmentId: string) => string | undefined,
): void {
  stack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      const where = invocationContext.getStore() ?? {};
      const ids = Ids(args.input);
      const attachmentId =
        typeof args.input === 'object' && args.input !== null && 'AttachmentId' in args.input
          ? args.input.AttachmentId
          : undefined;
      const networkInterfaceId =
        ids.networkInterfaceId ??
        (typeof attachmentId === 'string' ? eniOfAttachment(attachmentId) : undefined);
      const seq = log.next();
      const record = (outcome: CallOutcome) =>
        log.calls.push({
          seq,
          service,
          operation,
          instanceIds: ids.instanceIds,
          ...(networkInterfaceId === undefined ? {} : { networkInterfaceId }),
          outcome,
          ...(where.execution === undefined ? {} : { execution: where.execution }),
          ...(where.state === undefined ? {} : { state: where.state }),
        });
      const failIt = fault?.take(operation, where.state) === true;
      if (failIt && fault.fault.class !== 'aws-timeout') {
        record('INJECTED');
        throw injectedError(service, fault.fault.class, operation);
      }
      try {
        const result = await next(args);
        if (failIt) {
          record('INJECTED_AFTER_EFFECT');
          throw injectedError(service, 'aws-timeout', operation);
        }
        record('OK');
        return result;
      } catch (error) {
        if (!failIt) record('FAILED');
        throw error;
      }
    },
    { step: 'initialize', name: 'faultMatrix', priority: 'high' },
  );
}
