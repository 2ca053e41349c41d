/**
 * Recorded AWS requests (the front endpoint's request log, harness/cloud/aws-endpoint.ts `onRequest`) translated into
 * what IAM evaluates: the role that signed (by its session's access key id) and, for the operations of the call
 * table (harness/iam/calls.ts), each `{action, resource, context}` AWS authorizes. A request whose operation is not
 * translated is returned as such (never guessed), so a report can list what it did not check.
 *
 * Source: the Service Authorization Reference (each operation's action, resource types and condition keys); the
 * query protocol's list members (`InstanceId.1`); SQS queue URLs (`https://sqs.<region>.amazonaws.com/<account>/<name>`).
 *
 * @module
 */
import type { AwsRequestRecord } from '../cloud/aws-endpoint.ts';
import { type CallRequest, publishToAlarmTopic } from './calls.ts';
import { awsSsmKeyArn, type IamModel, MODEL_VALUES } from './model.ts';

/** What the translation looks up in the emulator: roles by access key, resource tags, attachments, groups. */
export interface RecordLookup {
  /** The role (logical id in the packaged template) whose session holds this access key id; undefined if none. */
  readonly roleOfAccessKey: (accessKeyId: string) => string | undefined;
  /** A resource's tags, as the request context keys AWS sets (`aws:ResourceTag/<key>` or `autoscaling:ResourceTag/<key>`). */
  readonly contextOf?: (resourceArn: string) => Readonly<Record<string, string>>;
  /** The ENI and instance of an ENI attachment (DetachNetworkInterface names only the attachment). */
  readonly attachment?: (
    attachmentId: string,
  ) => { networkInterfaceId: string; instanceId: string } | undefined;
  /** The Auto Scaling group of an instance (SetInstanceHealth, TerminateInstanceInAutoScalingGroup name only it). */
  readonly groupOfInstance?: (instanceId: string) => string | undefined;
  /** Whether an SSM parameter is a SecureString (GetParameter WithDecryption then needs kms:Decrypt). */
  readonly isSecureString?: (name: string) => boolean;
}

/** A record translated, or the reason it was not. */
export type TranslatedRecord =
  | { readonly kind: 'requests'; readonly role: string; readonly requests: readonly CallRequest[] }
  | { readonly kind: 'untranslated'; readonly reason: string };

const { accountId, region } = MODEL_VALUES;
const arn = (service: string, resource: string): string =>
  `arn:aws:${service}:${region}:${accountId}:${resource}`;

/** The ARN of an Auto Scaling group by name (the policies match any group id: `autoScalingGroup:*:…`). */
function groupArn(name: string): string {
  return arn(
    'autoscaling',
    `autoScalingGroup:00000000-0000-4000-8000-000000000000:autoScalingGroupName/${name}`,
  );
}

function queueArn(queueUrl: string): string {
  const [account, name] = new URL(queueUrl).pathname.split('/').slice(1);
  return `arn:aws:sqs:${region}:${account ?? accountId}:${name ?? ''}`;
}

function text(params: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = params[key] ?? params[`${key}.1`] ?? params[`${key}.member.1`];
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/**
 * Translates one recorded request.
 * @param model - The IAM model (the alarm topic and its key).
 * @param record - The front endpoint's record.
 * @param lookup - Roles by access key, tags, attachments, groups.
 * @returns The role and the requests IAM evaluates, or why the record was not translated.
 * @example
 * translateRecord(model, { accessKeyId: 'ASIA…', service: 'states', operation: 'StartExecution',
 *   params: { stateMachineArn }, status: 200 }, { roleOfAccessKey: () => 'StartDrainRole' });
 */
export function translateRecord(
  model: IamModel,
  record: AwsRequestRecord,
  lookup: RecordLookup,
): TranslatedRecord {
  if (record.accessKeyId === undefined) return { kind: 'untranslated', reason: 'unsigned request' };
  const role = lookup.roleOfAccessKey(record.accessKeyId);
  if (role === undefined)
    return { kind: 'untranslated', reason: `access key ${record.accessKeyId} is no role's` };
  const requests = requestsOf(model, record, lookup);
  if (typeof requests === 'string') return { kind: 'untranslated', reason: requests };
  return { kind: 'requests', role, requests };
}

function requestsOf(model: IamModel, record: AwsRequestRecord, lookup: RecordLookup): CallRequest[] | string {
  const { service, operation, params } = record;
  const context = (resource: string): Record<string, string> => ({ ...lookup.contextOf?.(resource) });
  const on = (action: string, resource: string): CallRequest => ({
    action,
    resource,
    context: context(resource),
  });
  const key = `${service ?? ''} ${operation}`;
  switch (key) {
    case 'ec2 DescribeInstances':
    case 'ec2 DescribeInstanceStatus':
    case 'ec2 DescribeNetworkInterfaces':
    case 'ec2 DescribeSubnets':
    case 'autoscaling DescribeAutoScalingGroups':
    case 'autoscaling DescribeLifecycleHooks':
      return [{ action: `${service}:${operation}`, resource: '*' }];
    case 'ec2 AttachNetworkInterface': {
      const eni = text(params, 'NetworkInterfaceId');
      const instance = text(params, 'InstanceId');
      if (eni === undefined || instance === undefined) return `${key} without NetworkInterfaceId/InstanceId`;
      return [
        on('ec2:AttachNetworkInterface', arn('ec2', `network-interface/${eni}`)),
        on('ec2:AttachNetworkInterface', arn('ec2', `instance/${instance}`)),
      ];
    }
    case 'ec2 DetachNetworkInterface': {
      const attachmentId = text(params, 'AttachmentId');
      const attached = attachmentId === undefined ? undefined : lookup.attachment?.(attachmentId);
      if (attached === undefined) return `${key}: attachment ${attachmentId ?? '(none)'} unknown`;
      return [
        on('ec2:DetachNetworkInterface', arn('ec2', `network-interface/${attached.networkInterfaceId}`)),
        on('ec2:DetachNetworkInterface', arn('ec2', `instance/${attached.instanceId}`)),
      ];
    }
    case 'ec2 TerminateInstances':
    case 'ec2 StopInstances': {
      const instance = text(params, 'InstanceId');
      if (instance === undefined) return `${key} without InstanceId`;
      return [on(`ec2:${operation}`, arn('ec2', `instance/${instance}`))];
    }
    case 'autoscaling CompleteLifecycleAction':
    case 'autoscaling RecordLifecycleActionHeartbeat':
    case 'autoscaling SetDesiredCapacity': {
      const group = text(params, 'AutoScalingGroupName');
      if (group === undefined) return `${key} without AutoScalingGroupName`;
      return [on(`autoscaling:${operation}`, groupArn(group))];
    }
    case 'autoscaling SetInstanceHealth':
    case 'autoscaling TerminateInstanceInAutoScalingGroup': {
      const instance = text(params, 'InstanceId');
      const group = instance === undefined ? undefined : lookup.groupOfInstance?.(instance);
      if (group === undefined) return `${key}: the group of ${instance ?? '(none)'} unknown`;
      return [on(`autoscaling:${operation}`, groupArn(group))];
    }
    case 'monitoring PutMetricData': {
      const namespace = text(params, 'Namespace');
      return [
        {
          action: 'cloudwatch:PutMetricData',
          resource: '*',
          context: namespace === undefined ? {} : { 'cloudwatch:namespace': namespace },
        },
      ];
    }
    case 'ssm GetParameter':
    case 'ssm PutParameter': {
      const name = text(params, 'Name');
      if (name === undefined) return `${key} without Name`;
      const parameter: CallRequest = { action: `ssm:${operation}`, resource: arn('ssm', `parameter${name}`) };
      const decrypt =
        operation === 'GetParameter' && params.WithDecryption === true && lookup.isSecureString?.(name);
      return decrypt
        ? [
            parameter,
            {
              action: 'kms:Decrypt',
              resource: awsSsmKeyArn(),
              context: { 'kms:ViaService': `ssm.${region}.amazonaws.com` },
            },
          ]
        : [parameter];
    }
    case 'sns Publish': {
      const topic = text(params, 'TopicArn');
      if (topic === undefined) return `${key} without TopicArn`;
      const alarmTopic = publishToAlarmTopic(model);
      return alarmTopic[0]?.resource === topic ? alarmTopic : [{ action: 'sns:Publish', resource: topic }];
    }
    case 'sqs SendMessage':
    case 'sqs SendMessageBatch':
    case 'sqs ReceiveMessage':
    case 'sqs DeleteMessage':
    case 'sqs DeleteMessageBatch':
    case 'sqs GetQueueAttributes': {
      const url = text(params, 'QueueUrl');
      if (url === undefined) return `${key} without QueueUrl`;
      return [{ action: `sqs:${operation.replace(/Batch$/, '')}`, resource: queueArn(url) }];
    }
    case 'states StartExecution':
    case 'states ListExecutions': {
      const stateMachine = text(params, 'stateMachineArn');
      if (stateMachine === undefined) return `${key} without stateMachineArn`;
      return [{ action: `states:${operation}`, resource: stateMachine }];
    }
    default:
      return `${key} is not in the call table`;
  }
}
