/**
 * The node roles of infra/trino-cluster.yaml evaluated as AWS evaluates IAM (issue 17 item 3): the template's
 * policies, resolved for a cluster, through `@cloud-copilot/iam-simulate`. A worker's role reads `common/` and
 * `worker/` parameters only; the coordinator's key, the listener secret and the control plane's own parameters
 * stay out of its reach, and `kms:Decrypt` follows the parameter the encryption context names.
 *
 * KMS: SSM encrypts a SecureString with the encryption context `PARAMETER_ARN` = the parameter's ARN and calls KMS
 * with the caller's credentials (AWS Systems Manager User Guide, "How AWS Systems Manager Parameter Store uses AWS
 * KMS"). The key here is a customer-managed key whose key policy delegates to IAM (the account root), so the
 * identity policy decides; with the AWS managed key `aws/ssm` the key policy itself admits every principal of the
 * account through SSM, and `ssm:GetParameter` is the only barrier (tested first below).
 */
import path from 'node:path';
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { REPO_ROOT } from '../../harness/moto.ts';
import { readCloudFormationYaml, resolveIntrinsics } from '../helpers/cloudformation-template.ts';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const CLUSTER = 'analytics';
const PREFIX = `/trino-sentinel/${CLUSTER}`;
const parameterArn = (name: string) => `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}`;
const secretArn = (name: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbCdEf`;
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

/**
 * AWS managed policies a role of the template may attach, with their documents (for evaluating the template as it
 * was). AmazonSSMManagedInstanceCore v2: AWS Managed Policy Reference,
 * https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMManagedInstanceCore.html
 */
const AWS_MANAGED: Readonly<Record<string, unknown>> = {
  'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'ssm:DescribeAssociation',
          'ssm:GetDeployablePatchSnapshotForInstance',
          'ssm:GetDocument',
          'ssm:DescribeDocument',
          'ssm:GetManifest',
          'ssm:GetParameter',
          'ssm:GetParameters',
          'ssm:ListAssociations',
          'ssm:ListInstanceAssociations',
          'ssm:PutInventory',
          'ssm:PutComplianceItems',
          'ssm:PutConfigurePackageResult',
          'ssm:UpdateAssociationStatus',
          'ssm:UpdateInstanceAssociationStatus',
          'ssm:UpdateInstanceInformation',
        ],
        Resource: '*',
      },
      {
        Effect: 'Allow',
        Action: [
          'ssmmessages:CreateControlChannel',
          'ssmmessages:CreateDataChannel',
          'ssmmessages:OpenControlChannel',
          'ssmmessages:OpenDataChannel',
        ],
        Resource: '*',
      },
      {
        Effect: 'Allow',
        Action: [
          'ec2messages:AcknowledgeMessage',
          'ec2messages:DeleteMessage',
          'ec2messages:FailMessage',
          'ec2messages:GetEndpoint',
          'ec2messages:GetMessages',
          'ec2messages:SendReply',
        ],
        Resource: '*',
      },
    ],
  },
};

const Resource = z.object({ Type: z.string(), Properties: z.record(z.string(), z.unknown()).optional() });
const Template = z.object({
  Parameters: z.record(z.string(), z.object({ Default: z.unknown().optional() })),
  Conditions: z.record(z.string(), z.unknown()),
  Mappings: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown()))),
  Resources: z.record(z.string(), Resource),
});
const RoleProperties = z.object({
  ManagedPolicyArns: z.array(z.string()).default([]),
  Policies: z.array(z.object({ PolicyName: z.string(), PolicyDocument: z.unknown() })).default([]),
});

type RoleName = 'CoordinatorRole' | 'WorkerRole';

/** The identity policies of each node role, resolved for cluster `analytics` with the template's defaults. */
function nodeRolePolicies(): Record<RoleName, Simulation['identityPolicies']> {
  const template = Template.parse(
    readCloudFormationYaml(path.join(REPO_ROOT, 'infra', 'trino-cluster.yaml')),
  );
  const context = {
    parameters: { ClusterName: CLUSTER },
    region: REGION,
    accountId: ACCOUNT,
    template,
    // A managed policy of the template is referenced by its logical id; any other resource by a stand-in id.
    ref: (logicalId: string) =>
      template.Resources[logicalId]?.Type === 'AWS::IAM::ManagedPolicy'
        ? `template-policy:${logicalId}`
        : `${logicalId}-id`,
    getAtt: (logicalId: string, attribute: string) =>
      logicalId === 'TrinoLogGroup' && attribute === 'Arn'
        ? `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${PREFIX}/trino:*`
        : `${logicalId}.${attribute}`,
  };
  const policiesOf = (role: RoleName): Simulation['identityPolicies'] => {
    const properties = RoleProperties.parse(
      resolveIntrinsics(template.Resources[role]?.Properties ?? {}, context),
    );
    const managed = properties.ManagedPolicyArns.map((arn) => {
      if (arn.startsWith('template-policy:')) {
        const logicalId = arn.slice('template-policy:'.length);
        const policy = z
          .object({ PolicyDocument: z.unknown() })
          .parse(resolveIntrinsics(template.Resources[logicalId]?.Properties, context));
        return { name: logicalId, policy: policy.PolicyDocument };
      }
      const document = AWS_MANAGED[arn];
      if (document === undefined) throw new Error(`${role} attaches ${arn}, whose document this test lacks`);
      return { name: arn, policy: document };
    });
    return [
      ...managed,
      ...properties.Policies.map((p) => ({ name: p.PolicyName, policy: p.PolicyDocument })),
    ];
  };
  return { CoordinatorRole: policiesOf('CoordinatorRole'), WorkerRole: policiesOf('WorkerRole') };
}

const policies = nodeRolePolicies();

/**
 * iam-simulate 0.1.173 drops `kms:EncryptionContext:<key>` from a request (it recognises a variable condition key
 * only at a '/', as in `aws:ResourceTag/<key>`), so every condition on it would fail as if the key were absent: a
 * denial would prove nothing. The test carries the encryption context under `aws:ResourceTag/<key>` instead, a
 * variable key the library evaluates with the same string operators, renamed alike in the policies and the request.
 */
const ENCRYPTION_CONTEXT = /^kms:EncryptionContext:/i;
const CONTEXT_STAND_IN = 'aws:ResourceTag/kms-encryption-context-';
function withContextStandIn(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withContextStandIn);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key.replace(ENCRYPTION_CONTEXT, CONTEXT_STAND_IN),
      withContextStandIn(item),
    ]),
  );
}

/** `Allowed`, `ImplicitlyDenied` or `ExplicitlyDenied`, as AWS would answer `role` calling `action` on `resource`. */
async function decide(
  role: RoleName,
  action: string,
  resource: string,
  contextVariables: Record<string, string> = {},
  resourcePolicy?: unknown,
): Promise<string> {
  const result = await runSimulation(
    {
      request: {
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${CLUSTER}-${role}/i-0123456789abcdef0`,
        action,
        resource: { resource, accountId: ACCOUNT },
        contextVariables: z
          .record(z.string(), z.string())
          .parse(withContextStandIn({ 'aws:PrincipalAccount': ACCOUNT, ...contextVariables })),
      },
      identityPolicies: policies[role].map((p) => ({ name: p.name, policy: withContextStandIn(p.policy) })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy === undefined ? {} : { resourcePolicy }),
    },
    {},
  );
  if (result.resultType === 'error') throw new Error(JSON.stringify(result.errors));
  // Every context variable given must have been evaluated (none silently dropped).
  const evaluated = result.resultType === 'single' ? [result.result] : result.results;
  for (const one of evaluated) expect(one.ignoredContextKeys ?? []).toEqual([]);
  return result.overallResult;
}

/** A customer-managed key whose key policy delegates to IAM (the account root may do everything). */
const KEY_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
  ],
};
const decryptViaSsm = (role: RoleName, parameter: string) =>
  decide(
    role,
    'kms:Decrypt',
    KEY_ARN,
    {
      'kms:ViaService': `ssm.${REGION}.amazonaws.com`,
      'kms:CallerAccount': ACCOUNT,
      'kms:EncryptionContext:PARAMETER_ARN': parameterArn(parameter),
    },
    KEY_POLICY,
  );

describe('node roles of infra/trino-cluster.yaml under IAM evaluation (issue 17 item 3)', () => {
  it('attaches no AWS managed policy (AmazonSSMManagedInstanceCore grants ssm:GetParameter on *)', () => {
    for (const role of ['CoordinatorRole', 'WorkerRole'] as const) {
      expect({ role, managed: policies[role].filter((p) => p.name.startsWith('arn:aws:iam::aws:')) }).toEqual(
        {
          role,
          managed: [],
        },
      );
    }
  });

  it.each([
    ['WorkerRole', `${PREFIX}/coordinator/TLS_KEYSTORE_PEM`, 'ImplicitlyDenied'],
    ['CoordinatorRole', `${PREFIX}/coordinator/TLS_KEYSTORE_PEM`, 'Allowed'],
    ['WorkerRole', `${PREFIX}/query-log-secret`, 'ImplicitlyDenied'],
    ['CoordinatorRole', `${PREFIX}/query-log-secret`, 'Allowed'],
    ['WorkerRole', `${PREFIX}/config/EVENT_LISTENER_URI`, 'ImplicitlyDenied'],
    ['CoordinatorRole', `${PREFIX}/config/EVENT_LISTENER_URI`, 'Allowed'],
    ['WorkerRole', `${PREFIX}/worker/TRINO_HEAP`, 'Allowed'],
    ['CoordinatorRole', `${PREFIX}/worker/TRINO_HEAP`, 'ImplicitlyDenied'],
    ['WorkerRole', `${PREFIX}/common/INTERNAL_SHARED_SECRET`, 'Allowed'],
    ['CoordinatorRole', `${PREFIX}/common/INTERNAL_SHARED_SECRET`, 'Allowed'],
    // The control plane's own: no node role.
    ['WorkerRole', `${PREFIX}/trino-secret`, 'ImplicitlyDenied'],
    ['CoordinatorRole', `${PREFIX}/trino-secret`, 'ImplicitlyDenied'],
    ['CoordinatorRole', `${PREFIX}/search-credentials`, 'ImplicitlyDenied'],
    ['CoordinatorRole', `${PREFIX}/node-health`, 'ImplicitlyDenied'],
    ['WorkerRole', `${PREFIX}/config/TLS_KEYSTORE_PEM`, 'ImplicitlyDenied'],
    // Another application's parameter in the same account.
    ['WorkerRole', '/payments/prod/db-password', 'ImplicitlyDenied'],
    ['CoordinatorRole', '/payments/prod/db-password', 'ImplicitlyDenied'],
  ] as const)('%s: ssm:GetParameter %s is %s', async (role, name, expected) => {
    expect(await decide(role, 'ssm:GetParameter', parameterArn(name))).toBe(expected);
  });

  it.each([
    ['WorkerRole', `${PREFIX}/worker`, 'Allowed'],
    ['WorkerRole', `${PREFIX}/common`, 'Allowed'],
    ['WorkerRole', `${PREFIX}/coordinator`, 'ImplicitlyDenied'],
    ['WorkerRole', PREFIX, 'ImplicitlyDenied'],
    ['CoordinatorRole', `${PREFIX}/coordinator`, 'Allowed'],
    ['CoordinatorRole', `${PREFIX}/common`, 'Allowed'],
    ['CoordinatorRole', `${PREFIX}/worker`, 'ImplicitlyDenied'],
    ['CoordinatorRole', PREFIX, 'ImplicitlyDenied'],
  ] as const)('%s: ssm:GetParametersByPath %s is %s', async (role, pathName, expected) => {
    expect(await decide(role, 'ssm:GetParametersByPath', parameterArn(pathName))).toBe(expected);
  });

  it.each([
    ['WorkerRole', `${PREFIX}/worker/SOME_SECRET`, 'Allowed'],
    ['WorkerRole', `${PREFIX}/common/INTERNAL_SHARED_SECRET`, 'Allowed'],
    ['WorkerRole', `${PREFIX}/coordinator/TLS_KEYSTORE_PEM`, 'ImplicitlyDenied'],
    ['WorkerRole', `${PREFIX}/query-log-secret`, 'ImplicitlyDenied'],
    ['CoordinatorRole', `${PREFIX}/coordinator/TLS_KEYSTORE_PEM`, 'Allowed'],
    ['CoordinatorRole', `${PREFIX}/query-log-secret`, 'Allowed'],
    ['CoordinatorRole', `${PREFIX}/trino-secret`, 'ImplicitlyDenied'],
    ['CoordinatorRole', '/payments/prod/db-password', 'ImplicitlyDenied'],
  ] as const)('%s: kms:Decrypt through SSM for %s is %s', async (role, name, expected) => {
    expect(await decryptViaSsm(role, name)).toBe(expected);
  });

  it('refuses kms:Decrypt outside SSM and Secrets Manager, even with the role own encryption context', async () => {
    expect(
      await decide(
        'WorkerRole',
        'kms:Decrypt',
        KEY_ARN,
        { 'kms:EncryptionContext:PARAMETER_ARN': parameterArn(`${PREFIX}/worker/SOME_SECRET`) },
        KEY_POLICY,
      ),
    ).toBe('ImplicitlyDenied');
  });

  it.each([
    ['WorkerRole', `trino-sentinel/${CLUSTER}/coordinator/keystore`, 'ImplicitlyDenied'],
    ['CoordinatorRole', `trino-sentinel/${CLUSTER}/coordinator/keystore`, 'Allowed'],
    ['WorkerRole', `trino-sentinel/${CLUSTER}/worker/credentials`, 'Allowed'],
    ['CoordinatorRole', `trino-sentinel/${CLUSTER}/worker/credentials`, 'ImplicitlyDenied'],
    ['WorkerRole', `trino-sentinel/${CLUSTER}/common/credentials`, 'Allowed'],
  ] as const)('%s: secretsmanager:GetSecretValue %s is %s', async (role, name, expected) => {
    expect(await decide(role, 'secretsmanager:GetSecretValue', secretArn(name))).toBe(expected);
    expect(
      await decide(
        role,
        'kms:Decrypt',
        KEY_ARN,
        {
          'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
          'kms:EncryptionContext:SecretARN': secretArn(name),
        },
        KEY_POLICY,
      ),
    ).toBe(expected);
  });

  it.each(['ssm:UpdateInstanceInformation', 'ssmmessages:CreateControlChannel', 'ec2messages:GetMessages'])(
    'keeps what SSM Agent needs (Run Command, Session Manager): %s',
    async (action) => {
      for (const role of ['CoordinatorRole', 'WorkerRole'] as const) {
        const fromInstance = {
          'ec2:SourceInstanceARN': `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0123456789abcdef0`,
        };
        expect({ role, decision: await decide(role, action, '*', fromInstance) }).toEqual({
          role,
          decision: 'Allowed',
        });
        // The same credentials used elsewhere (no instance behind them): refused.
        expect({ role, decision: await decide(role, action, '*') }).toEqual({
          role,
          decision: 'ImplicitlyDenied',
        });
      }
    },
  );
});
