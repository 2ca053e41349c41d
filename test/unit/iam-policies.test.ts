/**
 * The control plane's IAM evaluated as AWS evaluates it (harness/iam/, `@cloud-copilot/iam-simulate`): the roles of
 * the packaged template (test/fixtures/osls-package/cloud.template.json, which `npm run check:package` proves equal
 * to a fresh `osls package`) and the resource policies of infra/trino-cluster.yaml (the alarm topic's KMS key
 * policy and topic policy) and of the control plane (queue policies).
 *
 * 1. Every AWS call each function makes (harness/iam/calls.ts, read from lib/aws and the functions' code, plus the
 *    requests Lambda and Step Functions make with the roles) is allowed.
 * 2. What must never be allowed is denied, each with the statement that decides.
 * 3. No role is granted an action that no call uses.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  COORDINATOR_ENI_TAGS,
  type ControlPlaneCall,
  controlPlaneCalls,
  groupTags,
  nodeTags,
  publishToAlarmTopic,
  FIXTURE_RESOURCES as R,
} from '../../harness/iam/calls.ts';
import { evaluateRequest, type IamRequest } from '../../harness/iam/evaluate.ts';
import { type IamModel, loadIamModel, MODEL_VALUES } from '../../harness/iam/model.ts';
import { actionMatches, grantedActions, iamReport } from '../../harness/iam/report.ts';

const model: IamModel = loadIamModel();
const calls: ControlPlaneCall[] = controlPlaneCalls(model);
const lambdaRoles = Object.keys(model.roles).filter((role) => !role.endsWith('StateMachineRole'));

describe('the model of the packaged template and infra/', () => {
  it('holds every role of the control plane and the resource policies AWS consults', () => {
    expect(lambdaRoles.length).toBeGreaterThanOrEqual(11);
    expect(Object.values(model.resourcePolicies).map((policy) => policy.source)).toEqual(
      expect.arrayContaining([
        'trino-analytics/AlarmTopicKey',
        'trino-analytics/AlarmTopicPolicy',
        'trino-sentinel-analytics/DrainDlqPolicy',
        'AWS managed key aws/ssm',
      ]),
    );
  });

  it('covers every role: each has at least one call in the table', () => {
    const rolesWithCalls = new Set(calls.map((call) => call.role));
    expect(Object.keys(model.roles).filter((role) => !rolesWithCalls.has(role))).toEqual([]);
  });
});

describe('every call of the control plane is allowed', () => {
  it.each(calls.map((call) => [`${call.caller}: ${call.operation}`, call] as const))(
    '%s',
    async (_, call) => {
      for (const request of call.requests) {
        const decision = await evaluateRequest(model, { role: call.role, ...request });
        expect({ ...request, result: decision.result }).toEqual({ ...request, result: 'Allowed' });
        expect(decision.deciding.length).toBeGreaterThan(0);
        // A context key that does not apply to the action would be dropped, and its condition never tested.
        expect(decision.ignoredContextKeys).toEqual([]);
      }
    },
  );
});

describe('the alarm topic is encrypted with a customer-managed key (issue 17)', () => {
  const publishers = Object.keys(model.roles).filter((role) =>
    grantedActions(model, role).some((action) => actionMatches(action, 'sns:Publish')),
  );

  it('has publishers: the detector, the failover tasks and the drain tasks (DrainFailed)', () => {
    expect(publishers.sort()).toEqual(['CoordinatorHealthRole', 'DrainTasksRole', 'FailoverTasksRole']);
  });

  it.each(publishers)(
    '%s may use the key, granted by its role through the key policy root statement',
    async (role) => {
      for (const request of publishToAlarmTopic(model).filter((r) => r.action.startsWith('kms:'))) {
        const decision = await evaluateRequest(model, { role, ...request });
        expect(decision.allowed).toBe(true);
        expect(decision.deciding).toEqual(
          expect.arrayContaining([
            {
              policyType: 'identity',
              policy: expect.any(String),
              statement: 'AlarmTopicKey',
              effect: 'Allow',
            },
            {
              policyType: 'resource',
              policy: 'trino-analytics/AlarmTopicKey',
              statement: 'AccountAdministers',
              effect: 'Allow',
            },
          ]),
        );
      }
    },
  );

  it.each(publishers)(
    '%s without the AlarmTopicKey statement cannot publish (SNS needs the data key)',
    async (role) => {
      const withoutKey = (model.roles[role]?.policies ?? []).map((policy) => ({
        name: policy.name,
        policy: {
          ...policy.policy,
          Statement: (policy.policy.Statement as Array<{ Sid?: string }>).filter(
            (s) => s.Sid !== 'AlarmTopicKey',
          ),
        },
      }));
      const [publish, ...kms] = publishToAlarmTopic(model);
      if (publish === undefined) throw new Error('no Publish request');
      expect(
        (await evaluateRequest(model, { role, ...publish }, { identityPolicies: withoutKey })).allowed,
      ).toBe(true);
      for (const request of kms) {
        const decision = await evaluateRequest(model, { role, ...request }, { identityPolicies: withoutKey });
        expect(decision.result).toBe('ImplicitlyDenied');
      }
    },
  );

  it('a role that is not a publisher can neither publish nor use the key', async () => {
    for (const request of publishToAlarmTopic(model)) {
      expect((await evaluateRequest(model, { role: 'ClusterMetricsRole', ...request })).allowed).toBe(false);
    }
  });
});

describe('what must be denied is denied', () => {
  const denied = async (request: IamRequest): Promise<string[]> => {
    const decision = await evaluateRequest(model, request);
    expect(decision.allowed).toBe(false);
    expect(decision.ignoredContextKeys).toEqual([]);
    return decision.deciding.map((statement) => statement.statement);
  };

  it.each(lambdaRoles)('%s cannot delete the coordinator ENI, by its id (explicit deny)', async (role) => {
    const request = {
      role,
      action: 'ec2:DeleteNetworkInterface',
      resource: R.coordinatorEni,
      context: COORDINATOR_ENI_TAGS,
    };
    expect(await denied(request)).toEqual(expect.arrayContaining(['NeverDeleteCoordinatorEni']));
    expect((await evaluateRequest(model, request)).result).toBe('ExplicitlyDenied');
  });

  it.each(lambdaRoles)(
    '%s cannot delete any ENI tagged as the coordinator ENI (another id)',
    async (role) => {
      const decision = await evaluateRequest(model, {
        role,
        action: 'ec2:DeleteNetworkInterface',
        resource: `arn:aws:ec2:${MODEL_VALUES.region}:${MODEL_VALUES.accountId}:network-interface/eni-0f0000000000000f9`,
        context: COORDINATOR_ENI_TAGS,
      });
      expect(decision.result).toBe('ExplicitlyDenied');
      expect(decision.deciding.map((s) => s.statement)).toEqual(['NeverDeleteTaggedCoordinatorEni']);
    },
  );

  it('the failover role cannot detach a worker ENI, nor detach from a worker instance', async () => {
    const worker = nodeTags('workers');
    expect(
      await denied({
        role: 'FailoverTasksRole',
        action: 'ec2:DetachNetworkInterface',
        resource: R.workerEni,
      }),
    ).toEqual([]);
    expect(
      await denied({
        role: 'FailoverTasksRole',
        action: 'ec2:DetachNetworkInterface',
        resource: R.workerInstance,
        context: worker,
      }),
    ).toEqual([]);
  });

  it('the failover role cannot fence a worker: terminate, stop, or terminate it in the worker group', async () => {
    const worker = nodeTags('workers');
    for (const action of ['ec2:TerminateInstances', 'ec2:StopInstances']) {
      await denied({ role: 'FailoverTasksRole', action, resource: R.workerInstance, context: worker });
    }
    await denied({
      role: 'FailoverTasksRole',
      action: 'autoscaling:TerminateInstanceInAutoScalingGroup',
      resource: R.workerGroup,
      context: groupTags(),
    });
  });

  it("the failover role cannot terminate another cluster's coordinator", async () => {
    await denied({
      role: 'FailoverTasksRole',
      action: 'ec2:TerminateInstances',
      resource: R.coordinatorInstance,
      context: nodeTags('coordinators', 'other'),
    });
  });

  it("the drain role cannot complete a lifecycle action on another cluster's group, by name or by tag", async () => {
    for (const action of [
      'autoscaling:CompleteLifecycleAction',
      'autoscaling:RecordLifecycleActionHeartbeat',
    ]) {
      await denied({
        role: 'DrainTasksRole',
        action,
        resource: R.otherClusterWorkerGroup,
        context: groupTags('other'),
      });
      // A group named like ours but tagged for another cluster.
      await denied({ role: 'DrainTasksRole', action, resource: R.workerGroup, context: groupTags('other') });
    }
  });
});

describe('the report (npx tsx harness/iam/report.ts)', () => {
  let report: Awaited<ReturnType<typeof iamReport>>;
  beforeAll(async () => {
    report = await iamReport(model, calls);
  }, 120_000);

  it('checks every call and denies none', () => {
    expect(report.callsChecked).toBe(calls.length);
    expect(report.requestsChecked).toBe(calls.reduce((sum, call) => sum + call.requests.length, 0));
    expect(report.denied).toEqual([]);
  });

  it('finds no action granted to a role that no call of the table uses', () => {
    expect(report.unusedActions).toEqual({});
  });

  it('would list a grant no call uses', async () => {
    const withoutPublish = calls.filter((call) => !call.operation.startsWith('SNS Publish'));
    const partial = await iamReport(model, withoutPublish);
    // kms:Decrypt stays in use: the SecureString reads through SSM request it too.
    expect(partial.unusedActions).toEqual({
      CoordinatorHealthRole: ['sns:Publish', 'kms:GenerateDataKey*'],
      DrainTasksRole: ['sns:Publish', 'kms:GenerateDataKey*'],
      FailoverTasksRole: ['sns:Publish', 'kms:GenerateDataKey*'],
    });
  }, 120_000);
});

describe('actionMatches (IAM action patterns)', () => {
  it.each([
    ['kms:GenerateDataKey*', 'kms:GenerateDataKey', true],
    ['kms:GenerateDataKey*', 'kms:GenerateDataKeyWithoutPlaintext', true],
    ['kms:Decrypt', 'kms:decrypt', true],
    ['ec2:Describe*', 'ec2:DeleteNetworkInterface', false],
    ['*', 'sns:Publish', true],
  ])('%s matches %s: %s', (pattern, action, expected) => {
    expect(actionMatches(pattern, action)).toBe(expected);
  });
});
