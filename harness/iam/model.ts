/**
 * The control plane's IAM as deployed, with concrete values: every role of the packaged control-plane template
 * (`osls package`, recorded in test/fixtures/osls-package/ and proved equal to a fresh package by
 * `npm run check:package`) with its inline policies resolved, and the resource policies AWS consults for our calls:
 * the alarm topic's KMS key policy and topic policy (infra/trino-cluster.yaml), the control plane's SQS queue
 * policies, and the key policy of the AWS managed key `aws/ssm` that encrypts the cluster's SecureStrings.
 *
 * The two stacks are tied as CloudFormation ties them: the control plane's `Fn::ImportValue` reads the infra
 * stack's exports, resolved from infra/trino-cluster.yaml's Outputs.
 *
 * @module
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import {
  readTemplate,
  resolveIntrinsics,
  type StackScope,
  stackExports,
  type Template,
} from './cloudformation.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The packaged configuration the model reads: `cloud` (check-package.ts: region us-east-1, cluster `analytics`). */
export const PACKAGED_TEMPLATE = path.join(
  REPO_ROOT,
  'test',
  'fixtures',
  'osls-package',
  'cloud.template.json',
);

/** The cluster stack. */
export const INFRA_TEMPLATE = path.join(REPO_ROOT, 'infra', 'trino-cluster.yaml');

/** The concrete values of the model's account and cluster. */
export const MODEL_VALUES = {
  accountId: '123456789012',
  region: 'us-east-1',
  /** The `cloud` packaging's `--param=clusterName=analytics`. */
  clusterName: 'analytics',
  /** The control plane's stack (`trino-sentinel-<clusterName>`, serverless.yml `provider.stackName`). */
  controlPlaneStack: 'trino-sentinel-analytics',
  /** The cluster stack (docs/deploy.md names it `trino-<clusterName>`). */
  infraStack: 'trino-analytics',
  /** The coordinator ENI's id (infra/ `CoordinatorEni`). */
  coordinatorEniId: 'eni-0c0a0000000000e01',
  /** The AWS managed key `aws/ssm`'s id in this account (made up; its policy is AWS's, below). */
  awsSsmKeyId: '0a5a0000-0000-4000-8000-000000005500',
} as const;

/** An IAM policy document, resolved. */
export type PolicyDocument = Record<string, unknown>;

/** One role of the control plane. */
export interface RoleModel {
  /** Logical id in the packaged template, e.g. `FailoverTasksRole`. */
  readonly logicalId: string;
  /** `arn:aws:iam::<account>:role/<name>`. */
  readonly roleArn: string;
  /** The principal of a call made with the role's credentials: `arn:aws:sts::<account>:assumed-role/<name>/<session>`. */
  readonly sessionArn: string;
  /** The role's inline policies (`Policies`), resolved: name → document. */
  readonly policies: ReadonlyArray<{ readonly name: string; readonly policy: PolicyDocument }>;
}

/** A resource policy AWS consults for requests on one resource. */
export interface ResourcePolicyModel {
  /** What it is: a KMS key policy, an SNS topic policy, an SQS queue policy. */
  readonly kind: 'kms-key' | 'sns-topic' | 'sqs-queue';
  /** Where it comes from: `<stack>/<logical id>` or `AWS managed key aws/ssm`. */
  readonly source: string;
  /** The resource's ARN. */
  readonly arn: string;
  /** The policy, resolved. */
  readonly policy: PolicyDocument;
}

/** The control plane's IAM with concrete values. */
export interface IamModel {
  /** Every `AWS::IAM::Role` of the packaged template, by logical id. */
  readonly roles: Readonly<Record<string, RoleModel>>;
  /** The resource policies, by resource ARN. */
  readonly resourcePolicies: Readonly<Record<string, ResourcePolicyModel>>;
  /** Resolves any value of the control-plane template (e.g. `{ 'Fn::GetAtt': ['DrainDlq', 'Arn'] }`). */
  readonly resolveControlPlane: (value: unknown) => unknown;
  /** Resolves any value of the cluster stack's template (e.g. `{ Ref: 'AlarmTopic' }`). */
  readonly resolveInfra: (value: unknown) => unknown;
}

/** Where a role's inline policies sit in the template. */
const RolePropertiesSchema = z
  .object({
    Policies: z.array(z.object({ PolicyName: z.string(), PolicyDocument: z.unknown() })).default([]),
  })
  .loose();

const PolicyDocumentSchema = z.record(z.string(), z.unknown());

/**
 * The key policy of an AWS managed key `aws/<service>` (the one SSM uses for SecureStrings when no key is named): any
 * principal of the account may use it through the service; the account may read it. Source: AWS KMS developer
 * guide, "AWS managed keys" (the key policy of `aws/ssm`, as `kms get-key-policy` shows it).
 */
function awsManagedKeyPolicy(accountId: string, viaService: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Allow access through the service for all principals in the account that are authorized to use it',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: [
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:ReEncrypt*',
          'kms:GenerateDataKey*',
          'kms:CreateGrant',
          'kms:DescribeKey',
        ],
        Resource: '*',
        Condition: { StringEquals: { 'kms:CallerAccount': accountId, 'kms:ViaService': viaService } },
      },
      {
        Sid: 'Allow direct access to key metadata to the account',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${accountId}:root` },
        Action: ['kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:RevokeGrant'],
        Resource: '*',
      },
    ],
  };
}

/**
 * Loads the model from the packaged control-plane template and infra/trino-cluster.yaml.
 * @param options - Other template files (tests), or a role's policies edited before evaluation.
 * @returns The roles and resource policies with concrete values ({@link MODEL_VALUES}).
 * @throws Error when an intrinsic function the policies use cannot be resolved.
 */
export function loadIamModel(
  options: { readonly packagedTemplate?: string; readonly infraTemplate?: string } = {},
): IamModel {
  const values = MODEL_VALUES;
  const infraTemplate: Template = readTemplate(options.infraTemplate ?? INFRA_TEMPLATE);
  const controlPlaneTemplate: Template = readTemplate(options.packagedTemplate ?? PACKAGED_TEMPLATE);
  const infra: StackScope = {
    stackName: values.infraStack,
    region: values.region,
    accountId: values.accountId,
    template: infraTemplate,
    parameters: { ClusterName: values.clusterName },
    physicalIds: { CoordinatorEni: values.coordinatorEniId },
  };
  const controlPlane: StackScope = {
    stackName: values.controlPlaneStack,
    region: values.region,
    accountId: values.accountId,
    template: controlPlaneTemplate,
    parameters: {},
    imports: stackExports(infra),
  };
  const resolveControlPlane = (value: unknown): unknown => resolveIntrinsics(value, controlPlane);
  const resolveInfra = (value: unknown): unknown => resolveIntrinsics(value, infra);

  const roles: Record<string, RoleModel> = {};
  for (const [logicalId, resource] of Object.entries(controlPlaneTemplate.Resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    const name = String(resolveControlPlane({ Ref: logicalId }));
    const properties = RolePropertiesSchema.parse(resource.Properties ?? {});
    roles[logicalId] = {
      logicalId,
      roleArn: `arn:aws:iam::${values.accountId}:role/${name}`,
      sessionArn: `arn:aws:sts::${values.accountId}:assumed-role/${name}/${logicalId}-session`,
      policies: properties.Policies.map((policy) => ({
        name: policy.PolicyName,
        policy: PolicyDocumentSchema.parse(resolveControlPlane(policy.PolicyDocument)),
      })),
    };
  }

  const resourcePolicies: Record<string, ResourcePolicyModel> = {};
  const add = (model: ResourcePolicyModel): void => {
    resourcePolicies[model.arn] = model;
  };
  for (const [stack, resolveIn, template] of [
    [values.infraStack, resolveInfra, infraTemplate],
    [values.controlPlaneStack, resolveControlPlane, controlPlaneTemplate],
  ] as const) {
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const properties = resource.Properties ?? {};
      const source = `${stack}/${logicalId}`;
      if (resource.Type === 'AWS::KMS::Key') {
        add({
          kind: 'kms-key',
          source,
          arn: String(resolveIn({ 'Fn::GetAtt': [logicalId, 'Arn'] })),
          policy: PolicyDocumentSchema.parse(resolveIn(properties.KeyPolicy)),
        });
      } else if (resource.Type === 'AWS::SNS::TopicPolicy') {
        const policy = PolicyDocumentSchema.parse(resolveIn(properties.PolicyDocument));
        for (const arn of z.array(z.string()).parse(resolveIn(properties.Topics)))
          add({ kind: 'sns-topic', source, arn, policy });
      } else if (resource.Type === 'AWS::SQS::QueuePolicy') {
        const policy = PolicyDocumentSchema.parse(resolveIn(properties.PolicyDocument));
        for (const url of z.array(z.string()).parse(resolveIn(properties.Queues))) {
          // Queues are named by URL (https://sqs.<region>.amazonaws.com/<account>/<name>); requests by ARN.
          const [accountId, queueName] = new URL(url).pathname.split('/').slice(1);
          add({
            kind: 'sqs-queue',
            source,
            arn: `arn:aws:sqs:${values.region}:${accountId}:${queueName}`,
            policy,
          });
        }
      }
    }
  }
  add({
    kind: 'kms-key',
    source: 'AWS managed key aws/ssm',
    arn: awsSsmKeyArn(),
    policy: awsManagedKeyPolicy(values.accountId, `ssm.${values.region}.amazonaws.com`),
  });
  return { roles, resourcePolicies, resolveControlPlane, resolveInfra };
}

/** The ARN of the AWS managed key `aws/ssm` in the model's account. */
export function awsSsmKeyArn(): string {
  return `arn:aws:kms:${MODEL_VALUES.region}:${MODEL_VALUES.accountId}:key/${MODEL_VALUES.awsSsmKeyId}`;
}
