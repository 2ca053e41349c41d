/**
 * The front AWS endpoint (harness/cloud/aws-endpoint.ts) against moto with IAM authentication ON, and what moto's
 * IAM enforcement evaluates for our calls made with STS-assumed-role credentials and our packaged policies.
 *
 * 1. Byte for byte: with IAM authentication on, moto recomputes every SigV4 signature from the method, path, query,
 *    signed headers (Host included) and body it receives. Calls of every protocol we use succeed through the
 *    endpoint; the same call with its Host header changed after signing is refused. Routing by the credential-scope
 *    service and the query `Action` sends exactly the signed bytes to another upstream.
 * 2. IAM (moto 5.2.5, moto/iam/access_control.py): each row is one of our calls, with the outcome AWS gives and the
 *    outcome moto gives. The rows where they differ are moto's gaps (docs/harness.md); this test fails when moto's
 *    behaviour changes, so the table stays true.
 */

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateNetworkInterfaceCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  IAMClient,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { type AwsEndpoint, queryActions, startAwsEndpoint } from '../../harness/cloud/aws-endpoint.ts';
import { MOTO_REGION, type MotoServer, REPO_ROOT, startMoto } from '../../harness/moto.ts';

const ACCOUNT = '123456789012';
const TRUST_LAMBDA = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

interface Keys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

let moto: MotoServer;
let endpoint: AwsEndpoint;
let recorder: Server;
let recorded: { method: string; url: string; rawHeaders: string[]; body: Buffer }[] = [];
let admin: Keys;
let role: Keys;
let dlqUrl = '';
let otherQueueUrl = '';
let probeQueueUrl = '';
let subnetId = '';

/** moto's switch for IAM authentication: the first `count` requests after it are not checked. */
async function resetAuth(count: number | 'inf'): Promise<void> {
  const response = await fetch(`${moto.endpoint}/moto-api/reset-auth`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: String(count),
  });
  if (!response.ok) throw new Error(`reset-auth answered ${response.status}`);
}

function config(keys: Keys, url = endpoint.urls[0] ?? '') {
  return { endpoint: url, region: MOTO_REGION, credentials: keys, maxAttempts: 1 };
}

/** The packaged template's policies of one role, with the deploy-time values of this account and region. */
/** Marks an `AWS::NoValue` element (removed from its list). */
const NO_VALUE = Symbol('AWS::NoValue');

async function packagedRolePolicies(
  roleLogicalId: string,
  arns: Record<string, string>,
): Promise<{ name: string; document: string }[]> {
  const text = await readFile(
    path.join(REPO_ROOT, '.serverless', 'cloudformation-template-update-stack.json'),
    'utf8',
  );
  const template = z
    .object({ Resources: z.record(z.string(), z.object({ Properties: z.unknown().optional() }).loose()) })
    .parse(JSON.parse(text));
  const policies = z
    .object({ Policies: z.array(z.object({ PolicyName: z.string(), PolicyDocument: z.unknown() })) })
    .parse(template.Resources[roleLogicalId]?.Properties).Policies;
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const sub = z.object({ 'Fn::Sub': z.string() }).safeParse(value);
    if (sub.success) {
      const pseudo: Record<string, string> = { Partition: 'aws', Region: MOTO_REGION, AccountId: ACCOUNT };
      return sub.data['Fn::Sub'].replace(/\$\{AWS::(\w+)\}/g, (whole, name: string) => pseudo[name] ?? whole);
    }
    const getAtt = z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) }).safeParse(value);
    if (getAtt.success) return arns[getAtt.data['Fn::GetAtt'][0]] ?? 'arn:aws:unresolved';
    // This stage's conditions (no CA parameter, no Secrets Manager secret) are false: Fn::If takes its else
    // branch, and AWS::NoValue drops the element, as CloudFormation does.
    const fnIf = z.object({ 'Fn::If': z.tuple([z.string(), z.unknown(), z.unknown()]) }).safeParse(value);
    if (fnIf.success) return resolve(fnIf.data['Fn::If'][2]);
    if (z.object({ Ref: z.literal('AWS::NoValue') }).safeParse(value).success) return NO_VALUE;
    const ref = z
      .object({ Ref: z.enum(['AWS::Partition', 'AWS::Region', 'AWS::AccountId']) })
      .safeParse(value);
    if (ref.success)
      return { 'AWS::Partition': 'aws', 'AWS::Region': MOTO_REGION, 'AWS::AccountId': ACCOUNT }[ref.data.Ref];
    const join = z.object({ 'Fn::Join': z.tuple([z.string(), z.array(z.unknown())]) }).safeParse(value);
    if (join.success)
      return join.data['Fn::Join'][1].map((part) => String(resolve(part))).join(join.data['Fn::Join'][0]);
    // The cluster stack's exports (e.g. the coordinator ENI's id in the Deny on deleting it): a stand-in value.
    const imported = z.object({ 'Fn::ImportValue': z.string() }).safeParse(value);
    if (imported.success) return `imported-${imported.data['Fn::ImportValue'].split(':').pop() ?? ''}`;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  };
  const drop = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.filter((v) => v !== NO_VALUE).map(drop);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, drop(v)]));
  };
  return policies.map((p) => ({
    name: p.PolicyName,
    document: JSON.stringify(drop(resolve(p.PolicyDocument))),
  }));
}

/** The outcome of a call: `allowed`, or the error code moto answered. */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return 'allowed';
  } catch (error) {
    const e = z
      .object({ name: z.string(), $metadata: z.object({ httpStatusCode: z.number().optional() }).optional() })
      .safeParse(error);
    if (!e.success) return String(error);
    // An answer the SDK cannot parse (moto's XML or HTML error body for a JSON-protocol service): its status.
    const raw = z
      .object({ $response: z.object({ statusCode: z.number() }).loose() })
      .loose()
      .safeParse(error);
    if (raw.success && (e.data.name === 'SyntaxError' || e.data.name === 'Error')) {
      return `HTTP ${raw.data.$response.statusCode} (body not parseable by the SDK)`;
    }
    return e.data.name;
  }
}

beforeAll(async () => {
  moto = await startMoto();
  recorder = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      recorded.push({
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
      });
      const body =
        '<CompleteLifecycleActionResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">' +
        '<CompleteLifecycleActionResult/><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>' +
        '</CompleteLifecycleActionResponse>';
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', () => resolve()));
  const recorderAddress = recorder.address();
  const recorderPort =
    typeof recorderAddress === 'object' && recorderAddress !== null ? recorderAddress.port : 0;
  endpoint = await startAwsEndpoint({
    listen: [{ host: '127.0.0.1' }],
    routes: {
      default: moto.endpoint,
      routes: [
        {
          service: 'autoscaling',
          name: 'lifecycle',
          url: `http://127.0.0.1:${recorderPort}`,
          match: queryActions('CompleteLifecycleAction', 'RecordLifecycleActionHeartbeat'),
        },
      ],
    },
    log: () => {},
  });

  // Account setup while authentication is off: an administrator, the packaged clusterMetrics role, queues, a
  // parameter. (`testing` keys are accepted only while authentication is off.)
  const setup = config({ accessKeyId: 'testing', secretAccessKey: 'testing' }, moto.endpoint);
  const iam = new IAMClient(setup);
  await iam.send(new CreateUserCommand({ UserName: 'admin' }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'admin',
      PolicyName: 'all',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
      }),
    }),
  );
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'admin' }))).AccessKey;
  admin = { accessKeyId: key?.AccessKeyId ?? '', secretAccessKey: key?.SecretAccessKey ?? '' };
  const sqs = new SQSClient(setup);
  dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'ClusterMetricsDlq' }))).QueueUrl ?? '';
  otherQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'other-queue' }))).QueueUrl ?? '';
  probeQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'probe-queue' }))).QueueUrl ?? '';
  const arnOf = async (url: string) =>
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })))
      .Attributes?.QueueArn ?? '';
  await promisify(execFile)('npx', ['osls', 'package'], {
    cwd: REPO_ROOT,
    timeout: 180_000,
    env: { ...process.env, AWS_REGION: MOTO_REGION },
  });
  await iam.send(
    new CreateRoleCommand({ RoleName: 'ClusterMetricsRole', AssumeRolePolicyDocument: TRUST_LAMBDA }),
  );
  for (const policy of await packagedRolePolicies('ClusterMetricsRole', {
    ClusterMetricsDlq: await arnOf(dlqUrl),
  })) {
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'ClusterMetricsRole',
        PolicyName: policy.name,
        PolicyDocument: policy.document,
      }),
    );
  }
  // One statement our policies do not have, to see whether moto evaluates a Condition at all: in AWS it does not
  // match (the queue has no such tag), so SendMessage to probe-queue would be denied.
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: 'ClusterMetricsRole',
      PolicyName: 'condition-probe',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Resource: await arnOf(probeQueueUrl),
            Condition: { StringEquals: { 'aws:ResourceTag/team': 'no-such-team' } },
          },
        ],
      }),
    }),
  );
  await new SSMClient(setup).send(
    new PutParameterCommand({
      Name: '/trino-sentinel/trino-dev/trino-secret',
      Value: 's3cret',
      Type: 'SecureString',
    }),
  );
  const ec2 = new EC2Client(setup);
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.77.0.0/16' }));
  subnetId =
    (await ec2.send(new CreateSubnetCommand({ VpcId: vpc.Vpc?.VpcId, CidrBlock: '10.77.1.0/24' }))).Subnet
      ?.SubnetId ?? '';
  await resetAuth(0);
}, 300_000);

afterAll(async () => {
  await endpoint?.stop();
  await new Promise<void>((resolve) => (recorder ? recorder.close(() => resolve()) : resolve()));
  await moto?.stop();
});

describe('the front endpoint forwards byte for byte (moto checks every SigV4 signature)', () => {
  it('calls of every protocol we use succeed through it with IAM authentication on', async () => {
    await resetAuth(0);
    const results = {
      ec2: await outcome(() => new EC2Client(config(admin)).send(new DescribeVpcsCommand({}))),
      autoscaling: await outcome(() =>
        new AutoScalingClient(config(admin)).send(new DescribeAutoScalingGroupsCommand({})),
      ),
      sqs: await outcome(() =>
        new SQSClient(config(admin)).send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'x' })),
      ),
      ssm: await outcome(() =>
        new SSMClient(config(admin)).send(
          new GetParameterCommand({ Name: '/trino-sentinel/trino-dev/trino-secret', WithDecryption: true }),
        ),
      ),
      cloudwatch: await outcome(() =>
        new CloudWatchClient(config(admin)).send(
          new PutMetricDataCommand({ Namespace: 'Trino', MetricData: [{ MetricName: 'm', Value: 1 }] }),
        ),
      ),
      s3: await outcome(async () => {
        const s3 = new S3Client({ ...config(admin), forcePathStyle: true });
        await s3.send(new CreateBucketCommand({ Bucket: 'byte-for-byte' }));
        await s3.send(new PutObjectCommand({ Bucket: 'byte-for-byte', Key: 'a b/ü.json', Body: '{"x":1}' }));
        const object = await s3.send(new GetObjectCommand({ Bucket: 'byte-for-byte', Key: 'a b/ü.json' }));
        if ((await object.Body?.transformToString()) !== '{"x":1}') throw new Error('object changed');
      }),
    };
    expect(results).toEqual({
      ec2: 'allowed',
      autoscaling: 'allowed',
      sqs: 'allowed',
      ssm: 'allowed',
      cloudwatch: 'allowed',
      s3: 'allowed',
    });
  });

  it('the same call with its Host header changed after signing is refused (the check is real)', async () => {
    const ec2 = new EC2Client(config(admin));
    ec2.middlewareStack.add(
      (next) => async (args) => {
        // The signed request object itself (a parsed copy would not reach the wire).
        const request: unknown = args.request;
        if (typeof request === 'object' && request !== null && 'headers' in request) {
          const headers: unknown = request.headers;
          if (typeof headers === 'object' && headers !== null)
            Reflect.set(headers, 'host', 'tampered.example');
        }
        return next(args);
      },
      // Innermost: after the request was serialized, built and signed, just before it is sent.
      { step: 'deserialize', priority: 'low', name: 'tamperHost' },
    );
    expect(await outcome(() => ec2.send(new DescribeVpcsCommand({})))).toBe('AuthFailure');
  });

  it('routes autoscaling CompleteLifecycleAction to its own upstream with the signed bytes unchanged', async () => {
    recorded = [];
    let sent: { headers: Record<string, string>; body: string } | undefined;
    const autoscaling = new AutoScalingClient(config(admin));
    autoscaling.middlewareStack.add(
      (next) => async (args) => {
        const request = z
          .object({ headers: z.record(z.string(), z.string()), body: z.string() })
          .loose()
          .parse(args.request);
        sent ??= { headers: { ...request.headers }, body: request.body };
        return next(args);
      },
      { step: 'deserialize', priority: 'low', name: 'capture' },
    );
    await autoscaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: 'g',
        LifecycleHookName: 'h',
        InstanceId: 'i-0123456789abcdef0',
        LifecycleActionResult: 'CONTINUE',
      }),
    );
    await autoscaling.send(new DescribeAutoScalingGroupsCommand({}));
    expect(recorded).toHaveLength(1);
    const [got] = recorded;
    expect(got?.method).toBe('POST');
    expect(got?.body.toString('utf8')).toBe(sent?.body);
    const receivedHeaders = new Map<string, string>();
    for (let i = 0; i + 1 < (got?.rawHeaders.length ?? 0); i += 2) {
      receivedHeaders.set(got?.rawHeaders[i]?.toLowerCase() ?? '', got?.rawHeaders[i + 1] ?? '');
    }
    for (const [name, value] of Object.entries(sent?.headers ?? {})) {
      expect([name, receivedHeaders.get(name.toLowerCase())]).toEqual([name, value]);
    }
    expect(endpoint.counts.get('lifecycle')).toBe(1);
  });
});

describe("moto 5.2.5's IAM enforcement with STS-assumed-role credentials and the packaged clusterMetrics policies", () => {
  it("AssumeRole of a role that trusts lambda.amazonaws.com fails with HTTP 500 (moto's trust check crashes)", async () => {
    await resetAuth(0);
    const sts = new STSClient(config(admin));
    const result = await outcome(() =>
      sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/ClusterMetricsRole`,
          RoleSessionName: 's',
        }),
      ),
    );
    // moto/iam/access_control.py _check_principal: `principal in aws_expected_principals` with no "AWS" principal
    // → TypeError: argument of type 'NoneType' is not iterable.
    expect(result).toMatch(/HTTP 500|InternalFailure|Deserialization|SyntaxError/);
  });

  it('evaluates, ignores or wrongly denies each call as the table says', async () => {
    // The role's credentials, obtained while one request is let through unchecked (the AssumeRole above crashes).
    await resetAuth(1);
    const assumed = await new STSClient(config(admin)).send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/ClusterMetricsRole`,
        RoleSessionName: 'trino-sentinel-trino-dev-clusterMetrics',
      }),
    );
    await resetAuth(0);
    role = {
      accessKeyId: assumed.Credentials?.AccessKeyId ?? '',
      secretAccessKey: assumed.Credentials?.SecretAccessKey ?? '',
      sessionToken: assumed.Credentials?.SessionToken ?? '',
    };
    const ec2 = new EC2Client(config(role));
    const sqs = new SQSClient(config(role));
    const table = [
      {
        call: 'sts:GetCallerIdentity',
        aws: 'allowed',
        moto: await outcome(async () => {
          const identity = await new STSClient(config(role)).send(new GetCallerIdentityCommand({}));
          if (
            identity.Arn !==
            `arn:aws:sts::${ACCOUNT}:assumed-role/ClusterMetricsRole/trino-sentinel-trino-dev-clusterMetrics`
          )
            throw new Error(`caller is ${identity.Arn}`);
        }),
      },
      {
        call: 'ec2:DescribeNetworkInterfaces (Resource "*")',
        aws: 'allowed',
        moto: await outcome(() => ec2.send(new DescribeNetworkInterfacesCommand({}))),
      },
      {
        call: 'ec2:CreateNetworkInterface (Resource network-interface/*, subnet/*, security-group/*)',
        aws: 'allowed',
        moto: await outcome(() => ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId }))),
      },
      {
        call: 'ec2:DescribeInstances (not granted)',
        aws: 'AccessDenied',
        moto: await outcome(() => ec2.send(new DescribeInstancesCommand({}))),
      },
      {
        call: 'cloudwatch:PutMetricData Namespace=Trino (Condition cloudwatch:namespace=Trino)',
        aws: 'allowed',
        moto: await outcome(() =>
          new CloudWatchClient(config(role)).send(
            new PutMetricDataCommand({ Namespace: 'Trino', MetricData: [{ MetricName: 'm', Value: 1 }] }),
          ),
        ),
      },
      {
        call: 'ssm:GetParameter /trino-sentinel/trino-dev/trino-secret (Resource parameter/trino-sentinel/trino-dev/*)',
        aws: 'allowed',
        moto: await outcome(() =>
          new SSMClient(config(role)).send(
            new GetParameterCommand({ Name: '/trino-sentinel/trino-dev/trino-secret', WithDecryption: true }),
          ),
        ),
      },
      {
        call: 'sqs:SendMessage ClusterMetricsDlq (Resource = its ARN)',
        aws: 'allowed',
        moto: await outcome(() => sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'x' }))),
      },
      {
        call: 'sqs:SendMessage other-queue (not granted)',
        aws: 'AccessDenied',
        moto: await outcome(() =>
          sqs.send(new SendMessageCommand({ QueueUrl: otherQueueUrl, MessageBody: 'x' })),
        ),
      },
      {
        call: 'sqs:SendMessage probe-queue (Condition aws:ResourceTag/team that does not hold)',
        aws: 'AccessDenied',
        moto: await outcome(() =>
          sqs.send(new SendMessageCommand({ QueueUrl: probeQueueUrl, MessageBody: 'x' })),
        ),
      },
      {
        call: 'lambda:GetFunction by the administrator (Action "*")',
        aws: 'ResourceNotFoundException',
        moto: await outcome(() =>
          new LambdaClient(config(admin)).send(new GetFunctionCommand({ FunctionName: 'nope' })),
        ),
      },
      {
        call: 'lambda:GetFunction by the role (not granted)',
        aws: 'AccessDeniedException',
        moto: await outcome(() =>
          new LambdaClient(config(role)).send(new GetFunctionCommand({ FunctionName: 'nope' })),
        ),
      },
    ];
    await resetAuth('inf');
    // What moto 5.2.5 answers (the differences from `aws` are its gaps, see docs/harness.md).
    const denied403 = 'HTTP 403 (body not parseable by the SDK)';
    expect(table.map(({ call, moto: got }) => ({ call, got }))).toEqual([
      { call: table[0]?.call, got: 'allowed' },
      { call: table[1]?.call, got: 'allowed' },
      // Wrong deny: moto authorizes every EC2 action against the resource "*", which no ARN pattern matches.
      { call: table[2]?.call, got: 'AccessDenied' },
      { call: table[3]?.call, got: 'AccessDenied' },
      // Wrong deny: moto names the action after the SigV4 signing name (`monitoring:PutMetricData`); and its
      // AccessDenied is an XML body the SDK's CloudWatch protocol cannot parse.
      { call: table[4]?.call, got: denied403 },
      // Wrong deny: resource "*" again (XML body for a JSON-protocol service).
      { call: table[5]?.call, got: denied403 },
      // Evaluated: SQS passes the queue ARN as the resource.
      { call: table[6]?.call, got: 'allowed' },
      { call: table[7]?.call, got: denied403 },
      // Ignored condition: moto passes no request context to identity policies, so the statement allows.
      { call: table[8]?.call, got: 'allowed' },
      { call: table[9]?.call, got: 'ResourceNotFoundException' },
      // Denied, as in AWS, but as an XML body the SDK's restJson protocol cannot parse.
      { call: table[10]?.call, got: denied403 },
    ]);
    // …and where AWS would answer otherwise.
    expect(table.filter((row) => row.moto !== row.aws).map((row) => row.call)).toEqual([
      table[2]?.call,
      table[4]?.call,
      table[5]?.call,
      table[7]?.call,
      table[8]?.call,
      table[10]?.call,
    ]);
  });
});
