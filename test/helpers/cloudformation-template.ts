/**
 * Test helper: reads a CloudFormation YAML template (short-form intrinsic tags such as `!Sub`, `!Ref`, `!If` read
 * as their long forms `Fn::Sub`, `Ref`, `Fn::If`) and resolves the intrinsics of a part of it for given parameter
 * values, as CloudFormation would at create time. Only what the tests read is resolved: `Ref` (parameters, pseudo
 * parameters, `AWS::NoValue`, resources through a callback), `Fn::Sub`, `Fn::If` with the template's conditions
 * (`Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`, `Condition`), `Fn::GetAtt` (through a callback), `Fn::Join`,
 * `Fn::Split`, `Fn::Select`, `Fn::FindInMap`.
 *
 * Source: AWS CloudFormation User Guide, "Intrinsic function reference" and "Pseudo parameters reference".
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { CFN_TAGS } from '../../harness/iam/cloudformation.ts';

/** The short-form tags of CloudFormation YAML, for `yaml`'s `customTags` (one list: harness/iam/cloudformation.ts). */
export const CLOUDFORMATION_YAML_TAGS = CFN_TAGS;

/**
 * Reads a CloudFormation YAML template.
 * @param file - Path of the template.
 * @returns The template as plain data, intrinsics in their long forms.
 */
export function readCloudFormationYaml(file: string): unknown {
  return parse(readFileSync(file, 'utf8'), { customTags: CLOUDFORMATION_YAML_TAGS });
}

/** What {@link resolveIntrinsics} resolves against. */
export interface IntrinsicContext {
  /** Parameter values (a parameter left out takes its `Default`). */
  readonly parameters: Readonly<Record<string, string>>;
  /** `AWS::Region`, `AWS::AccountId`; `AWS::Partition` is `aws`, `AWS::URLSuffix` `amazonaws.com`. */
  readonly region: string;
  readonly accountId: string;
  /** The template's `Parameters`, `Conditions` and `Mappings`. */
  readonly template: {
    readonly Parameters?: Readonly<Record<string, { readonly Default?: unknown }>>;
    readonly Conditions?: Readonly<Record<string, unknown>>;
    readonly Mappings?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
  };
  /** `Ref` of a resource (logical id) → its value. */
  readonly ref: (logicalId: string) => unknown;
  /** `Fn::GetAtt` of a resource → its value. */
  readonly getAtt: (logicalId: string, attribute: string) => unknown;
}

/** Marks a `Ref: AWS::NoValue`: removed from the list or map holding it. */
const NO_VALUE = Symbol('AWS::NoValue');

/**
 * Resolves the intrinsic functions in `value`.
 * @param value - A part of a template read by {@link readCloudFormationYaml}.
 * @param context - Parameter values, account and region, the template, resources' `Ref`/`GetAtt`.
 * @returns The value as CloudFormation would pass it to the resource.
 * @throws Error on an intrinsic this helper does not resolve, or an unknown parameter, condition or mapping.
 */
export function resolveIntrinsics(value: unknown, context: IntrinsicContext): unknown {
  const resolved = resolve(value, context);
  return resolved === NO_VALUE ? undefined : resolved;
}

function pseudo(name: string, context: IntrinsicContext): string | undefined {
  switch (name) {
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::Region':
      return context.region;
    case 'AWS::AccountId':
      return context.accountId;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    default:
      return undefined;
  }
}

function refValue(name: string, context: IntrinsicContext): unknown {
  const fromPseudo = pseudo(name, context);
  if (fromPseudo !== undefined) return fromPseudo;
  if (name === 'AWS::NoValue') return NO_VALUE;
  const parameter = context.template.Parameters?.[name];
  if (parameter !== undefined) {
    const given = context.parameters[name];
    if (given !== undefined) return given;
    if (parameter.Default === undefined) throw new Error(`parameter ${name} has no value and no Default`);
    return String(parameter.Default);
  }
  return context.ref(name);
}

function condition(name: string, context: IntrinsicContext): boolean {
  const definition = context.template.Conditions?.[name];
  if (definition === undefined) throw new Error(`unknown condition ${name}`);
  return truth(definition, context);
}

function truth(value: unknown, context: IntrinsicContext): boolean {
  if (!isRecord(value)) throw new Error(`not a condition: ${JSON.stringify(value)}`);
  const [key, argument] = singleEntry(value);
  if (key === 'Condition' && typeof argument === 'string') return condition(argument, context);
  if (key === 'Fn::Not' && Array.isArray(argument)) return !truth(argument[0], context);
  if (key === 'Fn::And' && Array.isArray(argument)) return argument.every((a) => truth(a, context));
  if (key === 'Fn::Or' && Array.isArray(argument)) return argument.some((a) => truth(a, context));
  if (key === 'Fn::Equals' && Array.isArray(argument)) {
    return JSON.stringify(resolve(argument[0], context)) === JSON.stringify(resolve(argument[1], context));
  }
  throw new Error(`unsupported condition function ${key}`);
}

function substitute(
  template: string,
  variables: Readonly<Record<string, unknown>>,
  context: IntrinsicContext,
) {
  return template.replace(/\$\{([^}!]+)\}/g, (_all, name: string) => {
    const local = variables[name];
    const value =
      local !== undefined
        ? local
        : name.includes('.')
          ? context.getAtt(name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1))
          : refValue(name, context);
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new Error(`\${${name}} in Fn::Sub is not a string: ${String(value)}`);
    }
    return String(value);
  });
}

function resolve(value: unknown, context: IntrinsicContext): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => resolve(item, context)).filter((item) => item !== NO_VALUE);
  }
  if (!isRecord(value)) return value;
  const entries = Object.entries(value);
  const first = entries[0];
  if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
    const [key, argument] = first;
    switch (key) {
      case 'Ref':
        return refValue(String(argument), context);
      case 'Fn::Sub': {
        if (typeof argument === 'string') return substitute(argument, {}, context);
        if (Array.isArray(argument) && typeof argument[0] === 'string' && isRecord(argument[1])) {
          const variables = Object.fromEntries(
            Object.entries(argument[1]).map(([name, v]) => [name, resolve(v, context)]),
          );
          return substitute(argument[0], variables, context);
        }
        break;
      }
      case 'Fn::If':
        if (Array.isArray(argument) && typeof argument[0] === 'string') {
          return resolve(condition(argument[0], context) ? argument[1] : argument[2], context);
        }
        break;
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = Array.isArray(argument) ? argument : String(argument).split('.');
        return context.getAtt(String(logicalId), String(attribute));
      }
      case 'Fn::Join':
        if (Array.isArray(argument)) {
          const items = resolve(argument[1], context);
          if (Array.isArray(items)) return items.map(String).join(String(argument[0]));
        }
        break;
      case 'Fn::Split':
        if (Array.isArray(argument)) return String(resolve(argument[1], context)).split(String(argument[0]));
        break;
      case 'Fn::Select':
        if (Array.isArray(argument)) {
          const items = resolve(argument[1], context);
          if (Array.isArray(items)) return items[Number(resolve(argument[0], context))];
        }
        break;
      case 'Fn::FindInMap':
        if (Array.isArray(argument)) {
          const [map, top, second] = argument.map((a) => String(resolve(a, context)));
          const found = context.template.Mappings?.[map ?? '']?.[top ?? '']?.[second ?? ''];
          if (found === undefined) throw new Error(`no mapping ${map}.${top}.${second}`);
          return found;
        }
        break;
      default:
        break;
    }
    throw new Error(`unsupported intrinsic ${key}: ${JSON.stringify(argument)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    const resolvedItem = resolve(item, context);
    if (resolvedItem !== NO_VALUE) out[key] = resolvedItem;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function singleEntry(value: Record<string, unknown>): [string, unknown] {
  const entries = Object.entries(value);
  const first = entries[0];
  if (entries.length !== 1 || !first) throw new Error(`not one function: ${JSON.stringify(value)}`);
  return first;
}
