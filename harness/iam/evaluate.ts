/**
 * Evaluates one AWS request of a control-plane role as AWS evaluates IAM, with `@cloud-copilot/iam-simulate`: the
 * role's identity policies plus the resource policy AWS consults for the resource — for KMS the key policy (which
 * must allow, itself or by delegating to IAM through the account's root principal) AND the identity policy; for SNS
 * and SQS the topic or queue policy (in one account, either policy's Allow suffices; any explicit Deny wins).
 *
 * Source: IAM user guide, "Policy evaluation logic" (same-account requests; explicit deny); AWS KMS developer guide,
 * "Key policies" ("no IAM policy alone is sufficient"; the root principal enabling IAM policies).
 *
 * @module
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { type IamModel, MODEL_VALUES, type PolicyDocument, type RoleModel } from './model.ts';

/** One request: what a principal asks AWS to do. */
export interface IamRequest {
  /** The role's logical id in the packaged template, e.g. `FailoverTasksRole`. */
  readonly role: string;
  /** The IAM action, e.g. `ec2:DetachNetworkInterface`. */
  readonly action: string;
  /** The resource's ARN, or `*` for actions without resource-level permissions. */
  readonly resource: string;
  /** Request context keys AWS sets, e.g. `aws:ResourceTag/trino-sentinel:cluster`, `kms:ViaService`. */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

/** A statement that decided a request. */
export interface DecidingStatement {
  /** `identity` (the role's policy) or the resource policy's kind and source. */
  readonly policyType: 'identity' | 'resource';
  /** The identity policy's name, or the resource policy's source (`<stack>/<logical id>`). */
  readonly policy: string;
  /** The statement's Sid, or its 1-based index in the policy. */
  readonly statement: string;
  readonly effect: 'Allow' | 'Deny';
}

/** The answer for one request. */
export interface IamDecision {
  readonly allowed: boolean;
  /** iam-simulate's result: `Allowed`, `ExplicitlyDenied` or `ImplicitlyDenied`. */
  readonly result: 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';
  /** The statements that decided: the Allows that granted it, or the Denies that refused it (none when implicit). */
  readonly deciding: readonly DecidingStatement[];
  /** Context keys iam-simulate dropped because they do not apply to the action (a mistake in the request table). */
  readonly ignoredContextKeys: readonly string[];
}

/** Options of {@link evaluateRequest}. */
export interface EvaluateOptions {
  /** Replaces the role's identity policies (e.g. a policy with one statement removed). */
  readonly identityPolicies?: RoleModel['policies'];
}

/**
 * Evaluates one request against the role's identity policies and the resource's policy.
 * @param model - The control plane's IAM ({@link loadIamModel}).
 * @param request - Who asks for what on which resource, with which context.
 * @param options - Identity policies to use instead of the role's.
 * @returns Allowed or denied, with the deciding statements.
 * @throws Error when the role is not in the model, or iam-simulate rejects the request (unknown action, a
 *   resource of the wrong type for the action, an invalid policy).
 * @example
 * const decision = await evaluateRequest(loadIamModel(), {
 *   role: 'FailoverTasksRole', action: 'sns:Publish', resource: topicArn,
 * });
 */
export async function evaluateRequest(
  model: IamModel,
  request: IamRequest,
  options: EvaluateOptions = {},
): Promise<IamDecision> {
  const role = model.roles[request.role];
  if (role === undefined) throw new Error(`no role ${request.role} in the packaged template`);
  const resourcePolicy = model.resourcePolicies[request.resource];
  if (request.action.startsWith('kms:') && resourcePolicy?.kind !== 'kms-key')
    throw new Error(
      `${request.action} on ${request.resource}: no key policy in the model (AWS requires one)`,
    );
  const context: Record<string, string | string[]> = {
    'aws:PrincipalArn': role.roleArn,
    'aws:PrincipalAccount': MODEL_VALUES.accountId,
    'aws:RequestedRegion': MODEL_VALUES.region,
    'aws:SecureTransport': 'true',
  };
  if (request.action.startsWith('kms:')) context['kms:CallerAccount'] = MODEL_VALUES.accountId;
  for (const [key, value] of Object.entries(request.context ?? {}))
    context[key] = typeof value === 'string' ? value : [...value];
  const identityPolicies = (options.identityPolicies ?? role.policies).map((policy) => ({
    name: policy.name,
    policy: policy.policy,
  }));
  const response = await runSimulation(
    {
      request: {
        principal: role.sessionArn,
        action: request.action,
        resource: { resource: request.resource, accountId: MODEL_VALUES.accountId },
        contextVariables: context,
      },
      identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy === undefined
        ? {}
        : { resourcePolicy: resourcePolicy.policy satisfies PolicyDocument }),
    },
    {},
  );
  if (response.resultType === 'error') {
    throw new Error(
      `iam-simulate refused ${request.role} ${request.action} ${request.resource}: ${JSON.stringify(response.errors)}`,
    );
  }
  const results = response.resultType === 'single' ? [response.result] : response.results;
  const deciding: DecidingStatement[] = [];
  const allowed = response.overallResult === 'Allowed';
  for (const { analysis } of results) {
    const pick = allowed ? 'allowStatements' : 'denyStatements';
    for (const statement of analysis.identityAnalysis?.[pick] ?? []) {
      deciding.push({
        policyType: 'identity',
        policy: statement.policyId,
        statement: statement.explain.identifier,
        effect: allowed ? 'Allow' : 'Deny',
      });
    }
    for (const statement of analysis.resourceAnalysis?.[pick] ?? []) {
      deciding.push({
        policyType: 'resource',
        policy: resourcePolicy?.source ?? 'resource policy',
        statement: statement.explain.identifier,
        effect: allowed ? 'Allow' : 'Deny',
      });
    }
  }
  return {
    allowed,
    result: response.overallResult,
    deciding,
    ignoredContextKeys: results.flatMap((result) => result.ignoredContextKeys ?? []),
  };
}
