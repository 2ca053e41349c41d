/**
 * The pure parts of the local cloud's event delivery: EventBridge schedule expressions and target input, the SQS
 * event source's deletion rules for partial batch responses, and the Default termination policy's zone balance.
 */
import type { Target } from '@aws-sdk/client-eventbridge';
import type { Message } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  LifecycleActionEventSchema,
  SpotInterruptionEventSchema,
} from '../../functions/worker-drain/schemas.ts';
import {
  type EventEnvelope,
  lifecycleActionEvent,
  parseScheduleExpression,
  renderTargetInput,
  spotInterruptionWarningEvent,
} from '../../harness/cloud/events.ts';
import { chooseByDefaultPolicy } from '../../harness/cloud/lifecycle.ts';
import { type BatchOutcome, messagesToDelete, toSqsRecord } from '../../harness/cloud/sqs-event-sources.ts';

const rule = { name: 'r', arn: 'arn:aws:events:us-east-1:123456789012:rule/r' };
const event: EventEnvelope = {
  version: '0',
  id: 'e-1',
  'detail-type': 'EC2 Instance-terminate Lifecycle Action',
  source: 'aws.autoscaling',
  account: '123456789012',
  time: '2026-11-30T08:00:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:autoscaling:…'],
  detail: { EC2InstanceId: 'i-0123456789abcdef0', count: 3 },
};

describe('EventBridge schedule expressions', () => {
  it.each([
    ['rate(1 minute)', 60_000],
    ['rate(5 minutes)', 300_000],
    ['rate(1 hour)', 3_600_000],
    ['rate(2 days)', 172_800_000],
  ])('%s fires every %i ms', (expression, periodMs) => {
    expect(parseScheduleExpression(expression)).toEqual({ kind: 'rate', periodMs });
  });

  it.each(['rate(1 minutes)', 'rate(5 minute)', 'rate(0 minutes)', 'cron(0 12 * * ?)', 'every minute'])(
    'refuses %s as AWS does',
    (expression) => {
      expect(() => parseScheduleExpression(expression)).toThrow(/invalid schedule expression/);
    },
  );

  it('runs cron in UTC with the AWS fields (minute hour day-of-month month day-of-week year)', () => {
    const schedule = parseScheduleExpression('cron(15 10 ? * 6L 2026)');
    expect(schedule.kind).toBe('cron');
    if (schedule.kind !== 'cron') return;
    // The last Friday of January 2026, 10:15 UTC.
    expect(schedule.next(new Date('2026-01-01T00:00:00Z'))?.toISOString()).toBe('2026-01-30T10:15:00.000Z');
  });
});

describe('EventBridge target input', () => {
  it('sends the whole event when the target has no input setting', () => {
    expect(JSON.parse(renderTargetInput({ Id: 't', Arn: 'a' }, event, rule))).toEqual(event);
  });

  it.each<[string, Target, unknown]>([
    ['Input as given', { Id: 't', Arn: 'a', Input: '{"fixed":true}' }, { fixed: true }],
    ['InputPath', { Id: 't', Arn: 'a', InputPath: '$.detail' }, event.detail],
    [
      'InputTransformer (quoted placeholders take the text, bare ones the JSON)',
      {
        Id: 't',
        Arn: 'a',
        InputTransformer: {
          InputPathsMap: { instance: '$.detail.EC2InstanceId', count: '$.detail.count' },
          InputTemplate:
            '{"message": "drain <instance> now", "n": <count>, "rule": "<aws.events.rule-name>"}',
        },
      },
      { message: 'drain i-0123456789abcdef0 now', n: 3, rule: 'r' },
    ],
  ])('%s', (_name, target, expected) => {
    expect(JSON.parse(renderTargetInput(target, event, rule))).toEqual(expected);
  });
});

describe('event builders', () => {
  it('builds the lifecycle action event our drain function parses', () => {
    const built = lifecycleActionEvent({
      autoScalingGroupName: 'trino-dev-workers',
      autoScalingGroupArn:
        'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x:autoScalingGroupName/trino-dev-workers',
      lifecycleHookName: 'trino-sentinel-drain',
      instanceId: 'i-0123456789abcdef0',
      lifecycleActionToken: 'c613620e-07e2-4ed2-a9e2-ef8258911ade',
      region: 'us-east-1',
    });
    expect(LifecycleActionEventSchema.parse(built).detail).toMatchObject({
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      EC2InstanceId: 'i-0123456789abcdef0',
    });
    expect(built.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('builds the Spot warning our spot function parses, with the instance ARN AWS puts in resources', () => {
    const built = spotInterruptionWarningEvent({
      instanceId: 'i-0123456789abcdef0',
      availabilityZone: 'us-east-1a',
      region: 'us-east-1',
    });
    expect(SpotInterruptionEventSchema.parse(built).detail['instance-action']).toBe('terminate');
    expect(built.resources).toEqual(['arn:aws:ec2:us-east-1a:instance/i-0123456789abcdef0']);
  });
});

describe('SQS event source deletions', () => {
  const ids = ['m1', 'm2', 'm3'];
  const returned = (payload: string): BatchOutcome => ({ kind: 'returned', payload });

  it.each<[string, BatchOutcome, boolean, string[]]>([
    ['success without partial responses deletes all', returned('{"whatever":1}'), false, ids],
    ['a function error deletes none', { kind: 'function-error', payload: '{}' }, true, []],
    ['a failed Invoke deletes none', { kind: 'invoke-error', code: 'THROTTLING' }, true, []],
    ['null answer is a complete success', returned('null'), true, ids],
    ['empty answer is a complete success', returned(''), true, ids],
    ['empty batchItemFailures is a complete success', returned('{"batchItemFailures":[]}'), true, ids],
    ['null batchItemFailures is a complete success', returned('{"batchItemFailures":null}'), true, ids],
    [
      'one reported failure keeps exactly it',
      returned('{"batchItemFailures":[{"itemIdentifier":"m2"}]}'),
      true,
      ['m1', 'm3'],
    ],
    [
      'an unknown itemIdentifier fails the whole batch',
      returned('{"batchItemFailures":[{"itemIdentifier":"x"}]}'),
      true,
      [],
    ],
    [
      'an empty itemIdentifier fails the whole batch',
      returned('{"batchItemFailures":[{"itemIdentifier":""}]}'),
      true,
      [],
    ],
    ['an answer that is not JSON fails the whole batch', returned('not json'), true, []],
  ])('%s', (_name, outcome, partial, expected) => {
    expect(messagesToDelete(ids, outcome, partial).deleteIds).toEqual(expected);
  });

  it('hands each message to the function with the SQS record fields', () => {
    const message: Message = {
      MessageId: 'm1',
      ReceiptHandle: 'rh',
      Body: 'hello',
      MD5OfBody: 'md5',
      Attributes: {
        ApproximateReceiveCount: '2',
        SentTimestamp: '1',
        SenderId: 's',
        ApproximateFirstReceiveTimestamp: '2',
      },
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'query' } },
    };
    expect(toSqsRecord(message, 'arn:aws:sqs:us-east-1:123456789012:q', 'us-east-1')).toEqual({
      messageId: 'm1',
      receiptHandle: 'rh',
      body: 'hello',
      attributes: {
        ApproximateReceiveCount: '2',
        SentTimestamp: '1',
        SenderId: 's',
        ApproximateFirstReceiveTimestamp: '2',
      },
      messageAttributes: {
        kind: { stringValue: 'query', stringListValues: [], binaryListValues: [], dataType: 'String' },
      },
      md5OfBody: 'md5',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:q',
      awsRegion: 'us-east-1',
    });
  });
});

describe('Default termination policy (Availability Zone balance)', () => {
  it('takes from the zone with the most instances each time (ties: zone name, then instance id)', () => {
    const candidates = [
      { instanceId: 'i-a1', availabilityZone: 'us-east-1a' },
      { instanceId: 'i-a2', availabilityZone: 'us-east-1a' },
      { instanceId: 'i-a3', availabilityZone: 'us-east-1a' },
      { instanceId: 'i-b1', availabilityZone: 'us-east-1b' },
    ];
    expect(chooseByDefaultPolicy(candidates, 3)).toEqual(['i-a1', 'i-a2', 'i-a3']);
    expect(chooseByDefaultPolicy(candidates.slice(1), 2)).toEqual(['i-a2', 'i-a3']);
    expect(chooseByDefaultPolicy(candidates, 9)).toHaveLength(4);
  });
});
