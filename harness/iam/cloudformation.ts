/**
 * CloudFormation templates read offline for the IAM evaluator: infra/trino-cluster.yaml (YAML with the short-form
 * intrinsic tags `!Ref`, `!Sub`, `!GetAtt` …) and the packaged control-plane template (JSON), and a synchronous
 * resolver of the intrinsic functions their policies use, with concrete values for the account, region, parameters,
 * the physical ids of resources and the other stack's exports.
 *
 * harness/cloud/states-service.ts resolves a deployed stack's intrinsics against the emulator (asynchronous, the
 * physical ids read from moto); this one needs no emulator: every physical id is made up from the logical id, the
 * way CloudFormation names resources, so a unit test can evaluate the policies as written.
 *
 * Source: CloudFormation "Intrinsic function reference" (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If, Fn::Equals,
 * Fn::Not, Fn::And, Fn::Or, Fn::ImportValue, Fn::Split, Fn::Select; pseudo parameters; `AWS::NoValue`).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { parse, type Tags } from 'yaml';
import * as z from 'zod';

/** The intrinsic functions' short-form YAML tags, mapped to their long form (`!Sub x` → `{"Fn::Sub": x}`). */
export const CFN_TAGS: Tags = [
  'Ref',
  'Sub',
  'GetAtt',
  'If',
  'Not',
  'Equals',
  'And',
  'Or',
  'FindInMap',
  'Base64',
  'Split',
  'Join',
  'Select',
  'ImportValue',
  'Condition',
  'GetAZs',
].flatMap((name) => {
  const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
  return (['scalar', 'seq', 'map'] as const).map((collection) => ({
    tag: `!${name}`,
    ...(collection === 'scalar' ? {} : { collection }),
    resolve: (value: unknown) => ({
      [key]:
        value instanceof Object && 'toJSON' in value && typeof value.toJSON === 'function'
          ? value.toJSON()
          : value,
    }),
  }));
});

const ResourceSchema = z
  .object({
    Type: z.string(),
    Condition: z.string().optional(),
    Properties: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

/** A CloudFormation template, as far as the evaluator reads it. */
export const TemplateSchema = z
  .object({
    Parameters: z.record(z.string(), z.object({ Default: z.unknown().optional() }).loose()).optional(),
    Conditions: z.record(z.string(), z.unknown()).optional(),
    Resources: z.record(z.string(), ResourceSchema),
    Outputs: z
      .record(
        z.string(),
        z
          .object({
            Value: z.unknown(),
            Condition: z.string().optional(),
            Export: z.object({ Name: z.unknown() }).optional(),
          })
          .loose(),
      )
      .optional(),
  })
  .loose();

/** A parsed template. */
export type Template = z.infer<typeof TemplateSchema>;

/** One resource of a {@link Template}. */
export type TemplateResource = z.infer<typeof ResourceSchema>;

/**
 * Reads a template file: YAML with CloudFormation's short-form tags, or JSON (a subset of YAML).
 * @param file - Absolute path.
 * @returns The template, validated as far as {@link TemplateSchema} goes.
 * @throws ZodError when the file is not a template.
 */
export function readTemplate(file: string): Template {
  return TemplateSchema.parse(parse(readFileSync(file, 'utf8'), { customTags: CFN_TAGS, merge: true }));
}

/** Marks a value that resolved to `AWS::NoValue`: removed from the list or object that holds it. */
const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

/** What the intrinsic functions of one stack refer to. */
export interface StackScope {
  /** Stack name (`AWS::StackName`), also the prefix of made-up physical ids. */
  readonly stackName: string;
  /** `AWS::Region`, e.g. `us-east-1`. */
  readonly region: string;
  /** `AWS::AccountId`, 12 digits. */
  readonly accountId: string;
  /** The template (its Parameters' defaults, Conditions and Resources are read). */
  readonly template: Template;
  /** Parameter values that override the template's defaults. */
  readonly parameters: Readonly<Record<string, string>>;
  /** Physical ids (`Ref`) that override the made-up ones, by logical id. */
  readonly physicalIds?: Readonly<Record<string, string>>;
  /** The exports `Fn::ImportValue` may read, by export name. */
  readonly imports?: (name: string) => string;
}

/**
 * Resolves the intrinsic functions in `value` as CloudFormation would at deploy time.
 * @param value - Any part of the template (a policy document, an output value …).
 * @param scope - The stack's values.
 * @returns The value with every intrinsic function replaced by its result; `AWS::NoValue` entries removed.
 * @throws Error naming the function and the stack when an intrinsic is not supported or refers to nothing.
 * @example
 * resolveIntrinsics({ 'Fn::Sub': 'arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:t' }, scope);
 * // 'arn:aws:sns:us-east-1:123456789012:t'
 */
export function resolveIntrinsics(value: unknown, scope: StackScope): unknown {
  const resolved = resolve(value, scope);
  if (resolved === NO_VALUE) throw new Error(`${scope.stackName}: the whole value is AWS::NoValue`);
  return resolved;
}

function resolve(value: unknown, scope: StackScope): unknown {
  if (Array.isArray(value))
    return value.map((item) => resolve(item, scope)).filter((item) => item !== NO_VALUE);
  const object = z.record(z.string(), z.unknown()).safeParse(value);
  if (!object.success) return value;
  const keys = Object.keys(object.data);
  const only = keys.length === 1 ? keys[0] : undefined;
  const argument = only === undefined ? undefined : object.data[only];
  switch (only) {
    case 'Ref':
      return ref(z.string().parse(argument), scope);
    case 'Fn::GetAtt': {
      const [logicalId, attribute] = Array.isArray(argument)
        ? z.tuple([z.string(), z.string()]).parse(argument)
        : splitOnce(z.string().parse(argument), '.');
      return getAtt(logicalId, attribute, scope);
    }
    case 'Fn::Join': {
      const [delimiter, list] = z.tuple([z.string(), z.unknown()]).parse(argument);
      return z.array(z.unknown()).parse(resolve(list, scope)).map(String).join(delimiter);
    }
    case 'Fn::Split': {
      const [delimiter, text] = z.tuple([z.string(), z.unknown()]).parse(argument);
      return String(resolve(text, scope)).split(delimiter);
    }
    case 'Fn::Select': {
      const [index, list] = z.tuple([z.union([z.string(), z.number()]), z.unknown()]).parse(argument);
      return z.array(z.unknown()).parse(resolve(list, scope))[Number(index)];
    }
    case 'Fn::Sub':
      return sub(argument, scope);
    case 'Fn::ImportValue': {
      const name = String(resolve(argument, scope));
      if (scope.imports === undefined)
        throw new Error(`${scope.stackName}: Fn::ImportValue ${name}: no exports`);
      return scope.imports(name);
    }
    case 'Fn::If': {
      const [condition, whenTrue, whenFalse] = z
        .tuple([z.string(), z.unknown(), z.unknown()])
        .parse(argument);
      return resolve(conditionHolds(condition, scope) ? whenTrue : whenFalse, scope);
    }
    case 'Fn::Equals':
    case 'Fn::Not':
    case 'Fn::And':
    case 'Fn::Or':
    case 'Condition':
      return evaluateCondition(object.data, scope);
    default:
      if (only?.startsWith('Fn::')) throw new Error(`${scope.stackName}: ${only} is not supported`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(object.data)) {
    const resolvedItem = resolve(item, scope);
    if (resolvedItem !== NO_VALUE) out[key] = resolvedItem;
  }
  return out;
}

/**
 * Whether a named condition of the template holds.
 * @throws Error when the template has no such condition.
 */
export function conditionHolds(name: string, scope: StackScope): boolean {
  const condition = scope.template.Conditions?.[name];
  if (condition === undefined) throw new Error(`${scope.stackName}: no condition ${name}`);
  return evaluateCondition(condition, scope);
}

function evaluateCondition(value: unknown, scope: StackScope): boolean {
  const object = z.record(z.string(), z.unknown()).parse(value);
  const [[name, argument] = ['', undefined]] = Object.entries(object);
  switch (name) {
    case 'Fn::Equals': {
      const [left, right] = z.tuple([z.unknown(), z.unknown()]).parse(argument);
      return String(resolve(left, scope)) === String(resolve(right, scope));
    }
    case 'Fn::Not':
      return !evaluateCondition(z.tuple([z.unknown()]).parse(argument)[0], scope);
    case 'Fn::And':
      return z
        .array(z.unknown())
        .parse(argument)
        .every((item) => evaluateCondition(item, scope));
    case 'Fn::Or':
      return z
        .array(z.unknown())
        .parse(argument)
        .some((item) => evaluateCondition(item, scope));
    case 'Condition':
      return conditionHolds(z.string().parse(argument), scope);
    default:
      throw new Error(`${scope.stackName}: ${name} is not a condition function`);
  }
}

function sub(argument: unknown, scope: StackScope): string {
  const [text, variables] = Array.isArray(argument)
    ? z.tuple([z.string(), z.record(z.string(), z.unknown())]).parse(argument)
    : [z.string().parse(argument), {}];
  return text.replace(/\$\{(!?)([^}]*)\}/g, (_, literal: string, name: string) => {
    if (literal === '!') return `\${${name}}`;
    const variable = variables[name];
    if (variable !== undefined) return String(resolve(variable, scope));
    return String(name.includes('.') ? getAtt(...splitOnce(name, '.'), scope) : ref(name, scope));
  });
}

function ref(name: string, scope: StackScope): unknown {
  const pseudo: Record<string, string> = {
    'AWS::Region': scope.region,
    'AWS::AccountId': scope.accountId,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': scope.stackName,
    'AWS::StackId': `arn:aws:cloudformation:${scope.region}:${scope.accountId}:stack/${scope.stackName}/00000000-0000-0000-0000-000000000000`,
  };
  if (name === 'AWS::NoValue') return NO_VALUE;
  const known = pseudo[name] ?? scope.parameters[name];
  if (known !== undefined) return known;
  const parameter = scope.template.Parameters?.[name];
  if (parameter !== undefined) {
    if (parameter.Default === undefined)
      throw new Error(`${scope.stackName}: Ref ${name}: a parameter without a default or a value`);
    return Array.isArray(parameter.Default) ? parameter.Default.map(String) : String(parameter.Default);
  }
  const resource = scope.template.Resources[name];
  if (resource === undefined) throw new Error(`${scope.stackName}: Ref ${name} names nothing in the stack`);
  return scope.physicalIds?.[name] ?? physicalId(name, resource, scope);
}

/** A stable 8-hex-digit suffix of a logical id, like CloudFormation's random suffixes. */
function suffix(logicalId: string): string {
  let hash = 0x811c9dc5;
  for (const char of logicalId) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0').toUpperCase();
}

/** The name CloudFormation gives a resource without an explicit name: `<stack>-<logicalId>-<suffix>`. */
function generatedName(logicalId: string, scope: StackScope): string {
  return `${scope.stackName}-${logicalId}-${suffix(logicalId)}`;
}

function property(resource: TemplateResource, name: string, scope: StackScope): string | undefined {
  const value = resource.Properties?.[name];
  return value === undefined ? undefined : String(resolve(value, scope));
}

/** What `Ref` returns for each resource type the policies refer to (CloudFormation's "Return values"). */
function physicalId(logicalId: string, resource: TemplateResource, scope: StackScope): string {
  const { region, accountId } = scope;
  switch (resource.Type) {
    case 'AWS::SNS::Topic':
      return `arn:aws:sns:${region}:${accountId}:${property(resource, 'TopicName', scope) ?? generatedName(logicalId, scope)}`;
    case 'AWS::SQS::Queue':
      return `https://sqs.${region}.amazonaws.com/${accountId}/${queueName(logicalId, resource, scope)}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:aws:states:${region}:${accountId}:stateMachine:${property(resource, 'StateMachineName', scope) ?? generatedName(logicalId, scope)}`;
    case 'AWS::KMS::Key':
      return `${suffix(logicalId).toLowerCase()}-0000-4000-8000-${suffix(`${logicalId}/key`).toLowerCase()}0000`;
    case 'AWS::EC2::NetworkInterface':
      return `eni-0${suffix(logicalId).toLowerCase()}00000000`;
    case 'AWS::IAM::Role':
    case 'AWS::Lambda::Function':
    case 'AWS::Logs::LogGroup':
    case 'AWS::AutoScaling::AutoScalingGroup':
      return (
        property(resource, 'RoleName', scope) ??
        property(resource, 'FunctionName', scope) ??
        property(resource, 'LogGroupName', scope) ??
        property(resource, 'AutoScalingGroupName', scope) ??
        generatedName(logicalId, scope)
      );
    default:
      throw new Error(`${scope.stackName}: Ref ${logicalId} (${resource.Type}) is not modelled`);
  }
}

function queueName(logicalId: string, resource: TemplateResource, scope: StackScope): string {
  return property(resource, 'QueueName', scope) ?? generatedName(logicalId, scope);
}

/** What `Fn::GetAtt` returns for the attributes the policies read (CloudFormation's "Return values"). */
function getAtt(logicalId: string, attribute: string, scope: StackScope): string {
  const resource = scope.template.Resources[logicalId];
  if (resource === undefined)
    throw new Error(`${scope.stackName}: Fn::GetAtt ${logicalId}.${attribute}: no such resource`);
  const { region, accountId } = scope;
  const id = (): string => String(ref(logicalId, scope));
  const key = `${resource.Type}.${attribute}`;
  switch (key) {
    case 'AWS::SQS::Queue.Arn':
      return `arn:aws:sqs:${region}:${accountId}:${queueName(logicalId, resource, scope)}`;
    case 'AWS::SQS::Queue.QueueName':
      return queueName(logicalId, resource, scope);
    case 'AWS::SNS::Topic.TopicArn':
      return id();
    case 'AWS::KMS::Key.Arn':
      return `arn:aws:kms:${region}:${accountId}:key/${id()}`;
    case 'AWS::IAM::Role.Arn':
      return `arn:aws:iam::${accountId}:role/${id()}`;
    case 'AWS::Lambda::Function.Arn':
      return `arn:aws:lambda:${region}:${accountId}:function:${id()}`;
    case 'AWS::Logs::LogGroup.Arn':
      return `arn:aws:logs:${region}:${accountId}:log-group:${id()}:*`;
    case 'AWS::StepFunctions::StateMachine.Arn':
      return id();
    default:
      throw new Error(
        `${scope.stackName}: Fn::GetAtt ${logicalId}.${attribute} (${resource.Type}) is not modelled`,
      );
  }
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + separator.length)];
}

/**
 * The exports of a stack, resolved lazily (only the outputs asked for are resolved).
 * @param scope - The exporting stack.
 * @returns `name → value`; throws for a name the stack does not export (or whose output's condition is false).
 */
export function stackExports(scope: StackScope): (name: string) => string {
  return (name) => {
    for (const [outputId, output] of Object.entries(scope.template.Outputs ?? {})) {
      if (output.Export === undefined) continue;
      if (output.Condition !== undefined && !conditionHolds(output.Condition, scope)) continue;
      if (String(resolve(output.Export.Name, scope)) !== name) continue;
      const value = resolve(output.Value, scope);
      if (typeof value !== 'string')
        throw new Error(`${scope.stackName}: output ${outputId} is not a string`);
      return value;
    }
    throw new Error(`${scope.stackName} exports no ${name}`);
  };
}
