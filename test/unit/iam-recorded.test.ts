/**
 * Recorded requests (the front endpoint's request log) translated into IAM requests (harness/iam/recorded.ts) and
 * evaluated against the packaged roles: the records are shaped as the SDK sends them (query-protocol list members,
 * JSON bodies), the resources' tags come from the lookup as the emulator would answer them.
 */
import { describe, expect, it } from 'vitest';
import type { AwsRequestRecord } from '../../harness/cloud/aws-endpoint.ts';
import { COORDINATOR_ENI_TAGS, nodeTags } from '../../harness/iam/calls.ts';
import { evaluateRequest } from '../../harness/iam/evaluate.ts';
import { loadIamModel, MODEL_VALUES } from '../../harness/iam/model.ts';
import { type RecordLookup, translateRecord } from '../../harness/iam/recorded.ts';

const model = loadIamModel();
const ENI = MODEL_VALUES.coordinatorEniId;
const lookup: RecordLookup = {
  roleOfAccessKey: (key) =>
    ({ ASIAFAILOVER: 'FailoverTasksRole', ASIADRAIN: 'DrainTasksRole', ASIAHEALTH: 'CoordinatorHealthRole' })[
      key
    ],
  contextOf: (resource) =>
    resource.endsWith(`network-interface/${ENI}`)
      ? COORDINATOR_ENI_TAGS
      : resource.endsWith('instance/i-0worker')
        ? nodeTags('workers')
        : resource.includes(':instance/')
          ? nodeTags('coordinators')
          : resource.includes('autoScalingGroupName/')
            ? { 'autoscaling:ResourceTag/trino-sentinel:cluster': 'analytics' }
            : {},
  attachment: (id) =>
    id === 'eni-attach-1' ? { networkInterfaceId: ENI, instanceId: 'i-0failed' } : undefined,
  groupOfInstance: (id) => (id === 'i-0failed' ? 'analytics-coordinators' : undefined),
  isSecureString: (name) => name.endsWith('/trino-secret'),
};
const record = (accessKeyId: string, service: string, operation: string, params: Record<string, unknown>) =>
  ({ accessKeyId, service, operation, params, status: 200 }) satisfies AwsRequestRecord;

async function evaluate(r: AwsRequestRecord): Promise<string[]> {
  const translated = translateRecord(model, r, lookup);
  if (translated.kind !== 'requests') throw new Error(translated.reason);
  const results: string[] = [];
  for (const request of translated.requests)
    results.push((await evaluateRequest(model, { role: translated.role, ...request })).result);
  return results;
}

describe('recorded requests, translated and evaluated', () => {
  it.each([
    [
      'the failover detaching the coordinator ENI',
      record('ASIAFAILOVER', 'ec2', 'DetachNetworkInterface', {
        AttachmentId: 'eni-attach-1',
        Force: 'true',
      }),
      2,
    ],
    [
      'the failover attaching it to a standby',
      record('ASIAFAILOVER', 'ec2', 'AttachNetworkInterface', {
        NetworkInterfaceId: ENI,
        InstanceId: 'i-0standby',
        DeviceIndex: '1',
      }),
      2,
    ],
    [
      'the failover fencing in the coordinator group',
      record('ASIAFAILOVER', 'autoscaling', 'TerminateInstanceInAutoScalingGroup', {
        InstanceId: 'i-0failed',
        ShouldDecrementDesiredCapacity: 'false',
      }),
      1,
    ],
    [
      'the drain completing the lifecycle action',
      record('ASIADRAIN', 'autoscaling', 'CompleteLifecycleAction', {
        AutoScalingGroupName: 'analytics-workers',
        LifecycleHookName: 'drain',
        LifecycleActionResult: 'CONTINUE',
      }),
      1,
    ],
    [
      'the drain reading the Trino secret (SecureString)',
      record('ASIADRAIN', 'ssm', 'GetParameter', {
        Name: '/trino-sentinel/analytics/trino-secret',
        WithDecryption: true,
      }),
      2,
    ],
    [
      'the detector publishing to the alarm topic',
      record('ASIAHEALTH', 'sns', 'Publish', {
        TopicArn: String(model.resolveInfra({ Ref: 'AlarmTopic' })),
        Message: 'm',
      }),
      3,
    ],
    [
      'the detector taking the failover lock',
      record('ASIAHEALTH', 'states', 'ListExecutions', {
        stateMachineArn: String(model.resolveControlPlane({ Ref: 'CoordinatorFailoverStateMachine' })),
        statusFilter: 'RUNNING',
      }),
      1,
    ],
    [
      'the detector publishing its metrics',
      record('ASIAHEALTH', 'monitoring', 'PutMetricData', {
        Namespace: 'Trino',
        'MetricData.member.1.MetricName': 'CoordinatorUp',
      }),
      1,
    ],
  ])('%s is allowed', async (_, r, authorizations) => {
    expect(await evaluate(r)).toEqual(Array(authorizations).fill('Allowed'));
  });

  it('the failover terminating a worker is denied', async () => {
    expect(
      await evaluate(record('ASIAFAILOVER', 'ec2', 'TerminateInstances', { 'InstanceId.1': 'i-0worker' })),
    ).toEqual(['ImplicitlyDenied']);
  });

  it('the drain deleting the coordinator ENI is not an operation of the table: not translated, never guessed', () => {
    expect(
      translateRecord(
        model,
        record('ASIADRAIN', 'ec2', 'DeleteNetworkInterface', { NetworkInterfaceId: ENI }),
        lookup,
      ),
    ).toEqual({ kind: 'untranslated', reason: 'ec2 DeleteNetworkInterface is not in the call table' });
  });

  it.each([
    [
      'an unknown access key',
      record('AKIAADMIN', 'ec2', 'DescribeInstances', {}),
      "access key AKIAADMIN is no role's",
    ],
    [
      'an unknown attachment',
      record('ASIAFAILOVER', 'ec2', 'DetachNetworkInterface', { AttachmentId: 'eni-attach-9' }),
      'ec2 DetachNetworkInterface: attachment eni-attach-9 unknown',
    ],
    [
      'an unsigned request',
      { accessKeyId: undefined, service: undefined, operation: 'GET /', params: {}, status: 200 },
      'unsigned request',
    ],
  ])('%s is reported, not evaluated', (_, r, reason) => {
    expect(translateRecord(model, r, lookup)).toEqual({ kind: 'untranslated', reason });
  });
});
