/**
 * `npx tsx harness/iam/report.ts`: evaluates every call of the table (harness/iam/calls.ts) against the packaged
 * control-plane template and infra/trino-cluster.yaml as AWS evaluates IAM, and prints one JSON object:
 * `{callsChecked, requestsChecked, denied:[…], unusedActions:{<role>:[…]}}`. `denied` lists each denied request with
 * its deciding statements; `unusedActions` lists, per role, the actions its Allow statements grant that no call of
 * the table requests. Exit code 1 when a call is denied.
 *
 * @module
 */
import { fileURLToPath } from 'node:url';
import { type ControlPlaneCall, controlPlaneCalls } from './calls.ts';
import { type DecidingStatement, evaluateRequest } from './evaluate.ts';
import { type IamModel, loadIamModel } from './model.ts';

/** One denied request of a call. */
export interface DeniedRequest {
  readonly caller: string;
  readonly role: string;
  readonly operation: string;
  readonly action: string;
  readonly resource: string;
  readonly result: string;
  readonly deciding: readonly DecidingStatement[];
}

/** The report {@link iamReport} returns and the script prints. */
export interface IamReport {
  /** Calls of the table evaluated. */
  readonly callsChecked: number;
  /** Authorizations evaluated (a call may need several). */
  readonly requestsChecked: number;
  readonly denied: readonly DeniedRequest[];
  /** Per role, the actions (as granted, wildcards kept) no call requests. */
  readonly unusedActions: Readonly<Record<string, readonly string[]>>;
}

/** Whether an IAM action pattern (`kms:GenerateDataKey*`) matches an action; case-insensitive, as IAM compares. */
export function actionMatches(pattern: string, action: string): boolean {
  const expression = pattern
    .toLowerCase()
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\?/g, '.'))
    .join('.*');
  return new RegExp(`^${expression}$`).test(action.toLowerCase());
}

/** The actions a role's Allow statements grant, as written. */
export function grantedActions(model: IamModel, role: string): string[] {
  const actions = new Set<string>();
  for (const { policy } of model.roles[role]?.policies ?? []) {
    const statements = Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement];
    for (const statement of statements) {
      if (typeof statement !== 'object' || statement === null) continue;
      const { Effect, Action } = statement as { Effect?: unknown; Action?: unknown };
      if (Effect !== 'Allow') continue;
      for (const action of Array.isArray(Action) ? Action : [Action])
        if (typeof action === 'string') actions.add(action);
    }
  }
  return [...actions];
}

/**
 * Evaluates the table and computes the unused grants.
 * @param model - The IAM model (default: the recorded packaged template and infra/).
 * @param calls - The calls (default: the whole table).
 */
export async function iamReport(
  model: IamModel = loadIamModel(),
  calls: readonly ControlPlaneCall[] = controlPlaneCalls(model),
): Promise<IamReport> {
  const denied: DeniedRequest[] = [];
  let requestsChecked = 0;
  for (const call of calls) {
    for (const request of call.requests) {
      requestsChecked += 1;
      const decision = await evaluateRequest(model, { role: call.role, ...request });
      if (!decision.allowed) {
        denied.push({
          caller: call.caller,
          role: call.role,
          operation: call.operation,
          action: request.action,
          resource: request.resource,
          result: decision.result,
          deciding: decision.deciding,
        });
      }
    }
  }
  const unusedActions: Record<string, string[]> = {};
  for (const role of Object.keys(model.roles).sort()) {
    const used = calls
      .filter((call) => call.role === role)
      .flatMap((call) => call.requests.map((r) => r.action));
    const unused = grantedActions(model, role).filter(
      (granted) => !used.some((action) => actionMatches(granted, action)),
    );
    if (unused.length > 0) unusedActions[role] = unused;
  }
  return { callsChecked: calls.length, requestsChecked, denied, unusedActions };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const report = await iamReport();
  console.log(JSON.stringify(report, null, 2));
  if (report.denied.length > 0) process.exitCode = 1;
}
