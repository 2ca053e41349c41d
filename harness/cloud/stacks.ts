/**
 * Test infrastructure (deployed topology): deploys what users deploy, in the runbook's order (docs/deploy.md), into
 * the AWS emulator: the account setup (VPC, two subnets, an AMI id, the SSM parameters the stacks and the nodes
 * read), the cluster stack `infra/trino-cluster.yaml` through CloudFormation `CreateStack`, then the control plane
 * with the real `osls deploy` (`npx osls deploy --stage … --param="clusterName=…"`) against `AWS_ENDPOINT_URL`.
 *
 * Emulator gaps and their workarounds (docs/harness.md, "The stacks as deployed"):
 * - moto must run with {@link motoPatchEnv} (harness/cloud/moto-patches/sitecustomize.py, nine fixes): its
 *   ValidateTemplate fails on cfn-lint warnings (osls's W3005 DependsOn); its CloudFormation has no AWS::Lambda::Url
 *   model, which makes `validate_outputs` answer HTTP 500 for the `QueryLogIngestUrl` output; it ignores an Auto
 *   Scaling group's `LifecycleHookSpecificationList` (no drain hook); it registers exports on CreateStack only
 *   (osls deploys with UpdateStack); it drops security-group egress rules (inline and AWS::EC2::SecurityGroupEgress);
 *   its Auto Scaling launches instances without their launch template's IamInstanceProfile (no IMDS credentials);
 *   AWS::EC2::NetworkInterface ignores `GroupSet` and `Tags`; UpdateAutoScalingGroup ignores `TerminationPolicies`;
 *   an ENI's addresses are not reserved in its subnet (a later instance could get the coordinator ENI's address).
 * - The endpoint must be an IP literal (`http://127.0.0.1:…`, `http://10.42.250.2:443`): for those the AWS SDK's S3
 *   endpoint rules use path-style addressing; with `localhost` the deployment-bucket upload fails with
 *   `getaddrinfo ENOTFOUND <bucket>.localhost` (virtual-hosted addressing).
 * - moto's CloudFormation creates AWS::StepFunctions::StateMachine from `DefinitionString` only: the deployed state
 *   machines have an empty definition; harness/cloud/states-service.ts resolves `Definition` +
 *   `DefinitionSubstitutions` from the stack's template.
 *
 * Nothing here is imported by `functions/` or `lib/`.
 *
 * @module
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  GetTemplateCommand,
  ListExportsCommand,
  paginateListStackResources,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import {
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  EC2Client,
  RegisterImageCommand,
} from '@aws-sdk/client-ec2';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { type EmulatorClientConfig, type MotoServer, REPO_ROOT, startMoto } from '../moto.ts';
import { watchdog } from '../trino.ts';

const execFileAsync = promisify(execFile);

/** Directory holding moto's `sitecustomize.py` patches (see {@link motoPatchEnv}). */
export const MOTO_PATCHES_DIR = path.join(REPO_ROOT, 'harness', 'cloud', 'moto-patches');

/**
 * Environment for the moto_server process so its CloudFormation deploys serverless.yml: puts
 * {@link MOTO_PATCHES_DIR} first on `PYTHONPATH`, where Python loads `sitecustomize.py` at start-up (a moto_server
 * that cannot apply the patches exits with status 70). Pass it to the moto child's environment, e.g. by merging it
 * into `process.env` before `startMoto()` (which inherits `process.env`).
 * @param base - The environment to extend (default `process.env`).
 * @returns `{ PYTHONPATH }`.
 * @example Object.assign(process.env, motoPatchEnv()); const moto = await startMoto();
 */
export function motoPatchEnv(base: NodeJS.ProcessEnv = process.env): { PYTHONPATH: string } {
  const rest = base.PYTHONPATH;
  return { PYTHONPATH: rest ? `${MOTO_PATCHES_DIR}${path.delimiter}${rest}` : MOTO_PATCHES_DIR };
}

/**
 * Starts moto (harness/moto.ts `startMoto`) with the patches of {@link MOTO_PATCHES_DIR}: `PYTHONPATH` is set in
 * `process.env` while moto_server is spawned (startMoto passes `process.env` to the child) and restored afterwards.
 * @param options - As `startMoto`.
 * @returns The running moto.
 * @throws Error from `startMoto` (moto_server exits with status 70 when the patches cannot be applied).
 * @example const moto = await startPatchedMoto(); await deployStacks({ aws: moto.clientConfig });
 */
export async function startPatchedMoto(options: { port?: number } = {}): Promise<MotoServer> {
  const previous = process.env.PYTHONPATH;
  process.env.PYTHONPATH = motoPatchEnv().PYTHONPATH;
  try {
    return await startMoto(options);
  } finally {
    if (previous === undefined) delete process.env.PYTHONPATH;
    else process.env.PYTHONPATH = previous;
  }
}

/** The VPC layout of the deployed topology (harness/cloud/DESIGN.md). */
export const TOPOLOGY_NETWORK = {
  vpcCidr: '10.42.0.0/16',
  subnetA: { cidr: '10.42.1.0/24', availabilityZoneSuffix: 'a' },
  subnetB: { cidr: '10.42.2.0/24', availabilityZoneSuffix: 'b' },
  coordinatorPrivateIp: '10.42.1.10',
} as const;

/** Options of {@link deployStacks}. */
export interface DeployStacksOptions {
  /** The AWS endpoint (moto or the front endpoint); its host must be an IP literal (S3 path-style addressing). */
  readonly aws: EmulatorClientConfig;
  /** ClusterName of both stacks and the SSM path `/trino-sentinel/<clusterName>/` (default `analytics`). */
  readonly clusterName?: string;
  /** osls stage of the control plane (default `cloud`): stack `trino-sentinel-<stage>`. */
  readonly stage?: string;
  /** Trino release tagged on the AMI and passed as `TrinoVersion` (default `476`). */
  readonly trinoVersion?: string;
  /** Extra or overriding CloudFormation parameters of the infra stack (e.g. `WorkerMinSize`, `TrinoHttpScheme`). */
  readonly infraParameters?: Readonly<Record<string, string>>;
  /** Extra or overriding osls params (`--param="<name>=<value>"`), e.g. `searchEngine`, `drainPollSeconds`. */
  readonly controlPlaneParams?: Readonly<Record<string, string>>;
  /**
   * Node settings stored as SSM String parameters `/trino-sentinel/<cluster>/common/<NAME>` (read by every node's
   * render-config.sh at boot; docs/deploy.md, "Node configuration (SSM)"). Default `{ TRINO_HEAP: '1024M', QUERY_MAX_MEMORY: '512MB' }`: this machine's size,
   * where the renderer's default (70 % of RAM per node) would not fit several nodes.
   */
  readonly nodeConfig?: Readonly<Record<string, string>>;
  /**
   * Files for `ConfigS3Uri` (docs/deploy.md step 2: catalogs, `config-extra.properties`, access control, password
   * files), by relative path. When given, a bucket `trino-sentinel-<cluster>-config` is created with them under
   * `<cluster>/` and the infra stack gets `ConfigS3Uri=s3://…/<cluster>`. A function receives the account's
   * generated secrets (e.g. to write the control plane's user into a password file).
   */
  readonly configFiles?:
    | Readonly<Record<string, string>>
    | ((secrets: AccountSetup['secrets']) => Readonly<Record<string, string>>);
  /** Deadline of `osls deploy` in ms (default 600 000). */
  readonly deployTimeoutMs?: number;
  /** Deadline of the infra stack's CreateStack in ms (default 180 000). */
  readonly stackTimeoutMs?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** The account as a user has it before deploying (docs/deploy.md steps 1–2). */
export interface AccountSetup {
  readonly vpcId: string;
  /** Subnet A `10.42.1.0/24` (coordinators and workers) and B `10.42.2.0/24` (workers). */
  readonly subnets: {
    readonly a: { readonly subnetId: string; readonly cidr: string; readonly availabilityZone: string };
    readonly b: { readonly subnetId: string; readonly cidr: string; readonly availabilityZone: string };
  };
  /** The AMI id registered in the emulator for the Packer image. */
  readonly imageId: string;
  /** `/trino-sentinel/<clusterName>`. */
  readonly ssmPrefix: string;
  /** Every SSM parameter created, by name, with its type. */
  readonly parameters: Readonly<Record<string, 'String' | 'SecureString'>>;
  /** The values behind the SecureStrings, for the topology (password files, the listener header). */
  readonly secrets: {
    /** `<prefix>/trino-secret`: the control plane's password for Trino user `sentinel` (trinoAuth=basic). */
    readonly trinoPassword: string;
    /** `<prefix>/common/INTERNAL_SHARED_SECRET` (both node roles). */
    readonly internalSharedSecret: string;
    /** `<prefix>/query-log-secret` (base64url, no commas: docs/query-logs-ingest.md). */
    readonly queryLogSecret: string;
    /** `<prefix>/search-credentials` as `user:password`. */
    readonly searchCredentials: { readonly user: string; readonly password: string };
  };
  /** The coordinator's TLS material. */
  readonly tls: {
    /** PEM of the CA (also stored as the String parameter `<prefix>/trino-ca`, the control plane's trust). */
    readonly caPem: string;
    /**
     * Key + certificate + CA (`<prefix>/coordinator/TLS_KEYSTORE_PEM`: coordinators only); SAN IP 10.42.1.10, DNS
     * <clusterName>.
     */
    readonly keystorePem: string;
  };
  /** `s3://…/<cluster>` when {@link DeployStacksOptions.configFiles} was given. */
  readonly configS3Uri?: string;
}

/** One resource of a stack as the emulator reports it. */
export interface StackResource {
  readonly type: string;
  readonly physicalId: string;
  readonly status: string;
}

/** A deployed stack. */
export interface DeployedStack {
  readonly stackName: string;
  readonly stackId: string;
  /** Final status (the infra stack `CREATE_COMPLETE`; the control plane `UPDATE_COMPLETE`: osls creates, then updates). */
  readonly status: string;
  /** Outputs by OutputKey. */
  readonly outputs: Readonly<Record<string, string>>;
  /** Exports of this stack by export name. */
  readonly exports: Readonly<Record<string, string>>;
  /** Resources by logical id. */
  readonly resources: Readonly<Record<string, StackResource>>;
  /**
   * Logical ids in the template that the emulator did not create (moto skips types it has no model for), when the
   * template is JSON (the control plane's); `undefined` for YAML templates.
   */
  readonly notCreatedByEmulator: readonly string[] | undefined;
}

/** Wall-clock durations of a deployment, ms. */
export interface DeployTimings {
  readonly accountMs: number;
  readonly infraMs: number;
  readonly controlPlaneMs: number;
  readonly totalMs: number;
}

/** What {@link deployStacks} deployed. */
export interface DeployedStacks {
  readonly region: string;
  readonly clusterName: string;
  readonly stage: string;
  readonly account: AccountSetup;
  /** `trino-<clusterName>` from infra/trino-cluster.yaml. */
  readonly infra: DeployedStack;
  /** `trino-sentinel-<stage>` from serverless.yml. */
  readonly controlPlane: DeployedStack;
  readonly timings: DeployTimings;
  /** Deletes both stacks (control plane with `osls remove`, then the infra stack), see {@link deleteStacks}. */
  deleteStacks(): Promise<void>;
}

const DEFAULT_NODE_CONFIG: Readonly<Record<string, string>> = {
  TRINO_HEAP: '1024M',
  QUERY_MAX_MEMORY: '512MB',
};

/**
 * Deploys the account setup, the infra stack and the control plane, in the runbook's order.
 * Source: docs/deploy.md ("a new account, from zero to `serverless deploy`"); CloudFormation CreateStack /
 * DescribeStacks / ListStackResources / ListExports; osls `deploy`.
 * @returns The stacks' outputs, exports and resources, the account setup and the timings.
 * @throws Error when the endpoint's host is not an IP literal, when a stack does not reach its final status before
 *   its deadline (with the emulator's reason and failed events), or when `osls deploy` fails (with its output).
 * @example
 * const moto = await startPatchedMoto();
 * const stacks = await deployStacks({ aws: moto.clientConfig, log: console.log });
 * stacks.controlPlane.outputs.WorkerDrainStateMachineArn; // arn:aws:states:…:stateMachine:trino-sentinel-analytics-worker-drain
 */
export async function deployStacks(options: DeployStacksOptions): Promise<DeployedStacks> {
  const log = options.log ?? (() => undefined);
  const aws = options.aws;
  assertPathStyleEndpoint(aws.endpoint);
  const clusterName = options.clusterName ?? 'analytics';
  const stage = options.stage ?? 'cloud';
  const trinoVersion = options.trinoVersion ?? '476';
  const started = Date.now();

  log(`stacks: account setup for cluster ${clusterName} in ${aws.region} (${aws.endpoint})`);
  const account = await setUpAccount(aws, clusterName, trinoVersion, options, log);
  const accountDone = Date.now();

  const infraStackName = `trino-${clusterName}`;
  const infraParameters: Record<string, string> = {
    ClusterName: clusterName,
    TrinoVersion: trinoVersion,
    AmiId: account.imageId,
    VpcId: account.vpcId,
    SubnetIds: `${account.subnets.a.subnetId},${account.subnets.b.subnetId}`,
    CoordinatorSubnetId: account.subnets.a.subnetId,
    CoordinatorPrivateIp: TOPOLOGY_NETWORK.coordinatorPrivateIp,
    ClientCidr: TOPOLOGY_NETWORK.vpcCidr,
    ...(account.configS3Uri === undefined ? {} : { ConfigS3Uri: account.configS3Uri }),
    ...options.infraParameters,
  };
  log(`stacks: CreateStack ${infraStackName} (infra/trino-cluster.yaml)`);
  const infra = await createInfraStack(
    aws,
    infraStackName,
    infraParameters,
    options.stackTimeoutMs ?? 180_000,
    log,
  );
  const infraDone = Date.now();

  const params: Record<string, string> = {
    clusterName,
    trinoAuth: 'basic',
    trinoCaSsmParameter: `${account.ssmPrefix}/trino-ca`,
    ...options.controlPlaneParams,
  };
  await runOsls(aws, 'deploy', stage, params, options.deployTimeoutMs ?? 600_000, log);
  const controlPlane = await describeDeployedStack(aws, `trino-sentinel-${clusterName}`);
  if (controlPlane.status !== 'UPDATE_COMPLETE' && controlPlane.status !== 'CREATE_COMPLETE') {
    throw new Error(
      `control plane stack ${controlPlane.stackName} is ${controlPlane.status} after osls deploy`,
    );
  }
  const done = Date.now();
  const timings: DeployTimings = {
    accountMs: accountDone - started,
    infraMs: infraDone - accountDone,
    controlPlaneMs: done - infraDone,
    totalMs: done - started,
  };
  log(
    `stacks: deployed in ${timings.totalMs} ms (account ${timings.accountMs}, infra ${timings.infraMs}, ` +
      `control plane ${timings.controlPlaneMs}); not created by the emulator: ` +
      `${controlPlane.notCreatedByEmulator?.join(', ') || 'none'}`,
  );
  return {
    region: aws.region,
    clusterName,
    stage,
    account,
    infra,
    controlPlane,
    timings,
    deleteStacks: () =>
      deleteStacks({
        aws,
        stage,
        clusterName,
        params,
        infraStackName,
        timeoutMs: options.deployTimeoutMs ?? 600_000,
        log,
      }),
  };
}

/** Options of {@link deleteStacks}. */
export interface DeleteStacksOptions {
  readonly aws: EmulatorClientConfig;
  readonly stage: string;
  readonly clusterName: string;
  /** The osls params used for the deploy (`osls remove` resolves the same configuration). */
  readonly params: Readonly<Record<string, string>>;
  /** Default `trino-<clusterName>`. */
  readonly infraStackName?: string;
  /** Deadline of each step in ms (default 600 000). */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

/**
 * Deletes the control plane with `osls remove` (empties the deployment bucket, DeleteStack, waits), then the infra
 * stack with DeleteStack, waiting until DescribeStacks no longer lists it or says DELETE_COMPLETE.
 * Source: osls `remove`; CloudFormation DeleteStack / DescribeStacks.
 * @throws Error when `osls remove` fails or the infra stack is still there at the deadline.
 */
export async function deleteStacks(options: DeleteStacksOptions): Promise<void> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 600_000;
  await runOsls(options.aws, 'remove', options.stage, options.params, timeoutMs, log);
  const cfn = new CloudFormationClient(options.aws);
  try {
    const name = options.infraStackName ?? `trino-${options.clusterName}`;
    log(`stacks: DeleteStack ${name}`);
    await cfn.send(new DeleteStackCommand({ StackName: name }));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stack = await findStack(cfn, name);
      if (stack === undefined || stack.StackStatus === 'DELETE_COMPLETE') break;
      if (stack.StackStatus === 'DELETE_FAILED') {
        throw new Error(`DeleteStack ${name}: DELETE_FAILED ${stack.StackStatusReason ?? ''}`);
      }
      if (Date.now() > deadline)
        throw new Error(`DeleteStack ${name}: still ${stack.StackStatus} after ${timeoutMs} ms`);
      await sleep(500);
    }
    log(`stacks: ${name} deleted`);
  } finally {
    cfn.destroy();
  }
}

/**
 * Reads a deployed stack: status, outputs, its exports and its resources.
 * Source: CloudFormation DescribeStacks, ListExports, ListStackResources, GetTemplate.
 * @throws Error when the stack does not exist.
 */
export async function describeDeployedStack(
  aws: EmulatorClientConfig,
  stackName: string,
): Promise<DeployedStack> {
  const cfn = new CloudFormationClient(aws);
  try {
    const stack = await findStack(cfn, stackName);
    if (stack === undefined || stack.StackId === undefined)
      throw new Error(`stack ${stackName} does not exist`);
    const outputs: Record<string, string> = {};
    for (const output of stack.Outputs ?? []) {
      if (output.OutputKey !== undefined) outputs[output.OutputKey] = output.OutputValue ?? '';
    }
    const exports: Record<string, string> = {};
    let nextToken: string | undefined;
    for (let page = 0; page < 100; page++) {
      const listed = await cfn.send(new ListExportsCommand({ NextToken: nextToken }));
      for (const item of listed.Exports ?? []) {
        if (item.ExportingStackId === stack.StackId && item.Name !== undefined)
          exports[item.Name] = item.Value ?? '';
      }
      nextToken = listed.NextToken;
      if (nextToken === undefined) break;
    }
    const resources: Record<string, StackResource> = {};
    for await (const page of paginateListStackResources({ client: cfn }, { StackName: stackName })) {
      for (const summary of page.StackResourceSummaries ?? []) {
        // moto lists a resource type it skipped as an entry with empty ids.
        if (!summary.LogicalResourceId) continue;
        resources[summary.LogicalResourceId] = {
          type: summary.ResourceType ?? '',
          physicalId: summary.PhysicalResourceId ?? '',
          status: summary.ResourceStatus ?? '',
        };
      }
    }
    const template = await cfn.send(new GetTemplateCommand({ StackName: stackName }));
    const notCreatedByEmulator = templateLogicalIds(template.TemplateBody)?.filter(
      (id) => !(id in resources),
    );
    return {
      stackName,
      stackId: stack.StackId,
      status: stack.StackStatus ?? 'UNKNOWN',
      outputs,
      exports,
      resources,
      notCreatedByEmulator,
    };
  } finally {
    cfn.destroy();
  }
}

// ------------------------------------------------------------------------------------------------ account setup

async function setUpAccount(
  aws: EmulatorClientConfig,
  clusterName: string,
  trinoVersion: string,
  options: DeployStacksOptions,
  log: (line: string) => void,
): Promise<AccountSetup> {
  const ec2 = new EC2Client(aws);
  const ssm = new SSMClient(aws);
  try {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: TOPOLOGY_NETWORK.vpcCidr }));
    const vpcId = required(vpc.Vpc?.VpcId, 'CreateVpc VpcId');
    const subnet = async (spec: { cidr: string; availabilityZoneSuffix: string }, name: string) => {
      const availabilityZone = `${aws.region}${spec.availabilityZoneSuffix}`;
      const created = await ec2.send(
        new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: spec.cidr, AvailabilityZone: availabilityZone }),
      );
      const subnetId = required(created.Subnet?.SubnetId, 'CreateSubnet SubnetId');
      await ec2.send(new CreateTagsCommand({ Resources: [subnetId], Tags: [{ Key: 'Name', Value: name }] }));
      return { subnetId, cidr: spec.cidr, availabilityZone };
    };
    const a = await subnet(TOPOLOGY_NETWORK.subnetA, `${clusterName}-private-a`);
    const b = await subnet(TOPOLOGY_NETWORK.subnetB, `${clusterName}-private-b`);
    await ec2.send(
      new CreateTagsCommand({ Resources: [vpcId], Tags: [{ Key: 'Name', Value: `${clusterName}-vpc` }] }),
    );
    // packer/trino.pkr.hcl's output: an arm64 EBS-backed AMI named after the Trino release.
    const image = await ec2.send(
      new RegisterImageCommand({
        Name: `trino-sentinel-${trinoVersion}-${Date.now()}`,
        Description: `trino-sentinel Trino ${trinoVersion} (packer/trino.pkr.hcl)`,
        Architecture: 'arm64',
        RootDeviceName: '/dev/xvda',
        VirtualizationType: 'hvm',
        EnaSupport: true,
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 50, VolumeType: 'gp3' } }],
      }),
    );
    const imageId = required(image.ImageId, 'RegisterImage ImageId');
    await ec2.send(
      new CreateTagsCommand({
        Resources: [imageId],
        Tags: [{ Key: 'trino-sentinel:trino-version', Value: trinoVersion }],
      }),
    );
    log(`stacks: VPC ${vpcId}, subnets ${a.subnetId} (${a.cidr}), ${b.subnetId} (${b.cidr}), AMI ${imageId}`);

    const ssmPrefix = `/trino-sentinel/${clusterName}`;
    const tls = await makeCoordinatorTls(clusterName);
    const secrets = {
      trinoPassword: token(24),
      internalSharedSecret: token(48),
      queryLogSecret: token(32),
      searchCredentials: { user: 'trino-sentinel', password: token(24) },
    };
    const parameters: Record<string, 'String' | 'SecureString'> = {};
    const put = async (name: string, value: string, type: 'String' | 'SecureString', description: string) => {
      await ssm.send(
        new PutParameterCommand({
          Name: name,
          Value: value,
          Type: type,
          Description: description,
          Overwrite: true,
        }),
      );
      parameters[name] = type;
    };
    await put(
      `${ssmPrefix}/trino-secret`,
      secrets.trinoPassword,
      'SecureString',
      'Control plane Trino password',
    );
    await put(`${ssmPrefix}/trino-ca`, tls.caPem, 'String', 'PEM of the CA of the coordinator certificate');
    await put(
      `${ssmPrefix}/query-log-secret`,
      secrets.queryLogSecret,
      'SecureString',
      'Query-log listener secret',
    );
    await put(
      `${ssmPrefix}/search-credentials`,
      `${secrets.searchCredentials.user}:${secrets.searchCredentials.password}`,
      'SecureString',
      'Search engine basic auth user:password',
    );
    await put(
      `${ssmPrefix}/common/INTERNAL_SHARED_SECRET`,
      secrets.internalSharedSecret,
      'SecureString',
      'Trino internal-communication.shared-secret',
    );
    await put(
      `${ssmPrefix}/coordinator/TLS_KEYSTORE_PEM`,
      tls.keystorePem,
      'SecureString',
      'Coordinator key + chain',
    );
    for (const [name, value] of Object.entries(options.nodeConfig ?? DEFAULT_NODE_CONFIG)) {
      await put(`${ssmPrefix}/common/${name}`, value, 'String', 'Node setting (render-config.sh)');
    }
    log(`stacks: ${Object.keys(parameters).length} SSM parameters under ${ssmPrefix}/`);

    let configS3Uri: string | undefined;
    if (options.configFiles !== undefined) {
      const files =
        typeof options.configFiles === 'function' ? options.configFiles(secrets) : options.configFiles;
      configS3Uri = await uploadConfigFiles(aws, clusterName, files);
      log(`stacks: ${Object.keys(files).length} config files in ${configS3Uri}`);
    }
    return {
      vpcId,
      subnets: { a, b },
      imageId,
      ssmPrefix,
      parameters,
      secrets,
      tls,
      ...(configS3Uri === undefined ? {} : { configS3Uri }),
    };
  } finally {
    ec2.destroy();
    ssm.destroy();
  }
}

async function uploadConfigFiles(
  aws: EmulatorClientConfig,
  clusterName: string,
  files: Readonly<Record<string, string>>,
): Promise<string> {
  const s3 = new S3Client(aws);
  try {
    const bucket = `trino-sentinel-${clusterName}-config`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const [relative, body] of Object.entries(files)) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${clusterName}/${relative}`, Body: body }));
    }
    return `s3://${bucket}/${clusterName}`;
  } finally {
    s3.destroy();
  }
}

/**
 * A CA and a coordinator certificate (P-256 keys, so the keystore fits a standard SSM parameter's 4 KB) for the ENI
 * address and the cluster's DNS name, plus loopback (a standby's discovery URI is https://127.0.0.1). Made with the
 * `openssl` CLI in a temporary directory that is removed afterwards.
 */
async function makeCoordinatorTls(clusterName: string): Promise<{ caPem: string; keystorePem: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ts-stacks-tls-'));
  try {
    const run = (args: string[]) => execFileAsync('openssl', args, { cwd: dir });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await run([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '30',
      '-subj',
      `/CN=trino-sentinel ${clusterName} test CA`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await writeFile(
      path.join(dir, 'san.ext'),
      `subjectAltName=IP:${TOPOLOGY_NETWORK.coordinatorPrivateIp},DNS:${clusterName},IP:127.0.0.1,DNS:localhost\n` +
        'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n',
    );
    await run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${clusterName}`]);
    await run([
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '30',
      '-extfile',
      'san.ext',
    ]);
    const read = (file: string) => readFile(path.join(dir, file), 'utf8');
    const caPem = await read('ca.pem');
    return { caPem, keystorePem: `${await read('server.key')}${await read('server.crt')}${caPem}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------------ infra stack

async function createInfraStack(
  aws: EmulatorClientConfig,
  stackName: string,
  parameters: Readonly<Record<string, string>>,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<DeployedStack> {
  const cfn = new CloudFormationClient(aws);
  try {
    const body = await readFile(path.join(REPO_ROOT, 'infra', 'trino-cluster.yaml'), 'utf8');
    await cfn.send(
      new CreateStackCommand({
        StackName: stackName,
        TemplateBody: body,
        Parameters: Object.entries(parameters).map(([ParameterKey, ParameterValue]) => ({
          ParameterKey,
          ParameterValue,
        })),
        Capabilities: ['CAPABILITY_IAM'],
        Tags: [{ Key: 'trino-sentinel:cluster', Value: parameters.ClusterName ?? '' }],
      }),
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stack = await findStack(cfn, stackName);
      const status = stack?.StackStatus ?? 'MISSING';
      if (status === 'CREATE_COMPLETE') break;
      if (!status.endsWith('_IN_PROGRESS')) {
        throw new Error(
          `CreateStack ${stackName}: ${status} ${stack?.StackStatusReason ?? ''}\n${await failedEvents(cfn, stackName)}`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(`CreateStack ${stackName}: still ${status} after ${timeoutMs} ms`);
      await sleep(500);
    }
  } finally {
    cfn.destroy();
  }
  const deployed = await describeDeployedStack(aws, stackName);
  log(`stacks: ${stackName} ${deployed.status}, ${Object.keys(deployed.resources).length} resources`);
  return deployed;
}

async function failedEvents(cfn: CloudFormationClient, stackName: string): Promise<string> {
  const events = await cfn
    .send(new DescribeStackEventsCommand({ StackName: stackName }))
    .catch(() => undefined);
  return (events?.StackEvents ?? [])
    .filter((event) => event.ResourceStatus?.endsWith('FAILED'))
    .map((event) => `${event.LogicalResourceId} ${event.ResourceStatus} ${event.ResourceStatusReason ?? ''}`)
    .join('\n');
}

async function findStack(cfn: CloudFormationClient, stackName: string): Promise<Stack | undefined> {
  try {
    const described = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    return described.Stacks?.[0];
  } catch (error) {
    if (error instanceof Error && /does not exist/.test(error.message)) return undefined;
    throw error;
  }
}

const TemplateJson = z.object({ Resources: z.record(z.string(), z.unknown()) }).loose();

function templateLogicalIds(body: string | undefined): string[] | undefined {
  if (body === undefined) return undefined;
  try {
    return Object.keys(TemplateJson.parse(JSON.parse(body)).Resources);
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------ osls

const OSLS_BIN = path.join(REPO_ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');

/**
 * Runs `osls <command> --stage <stage> --region <region> --param="<k>=<v>" … --verbose` in the repository root (what
 * `npx osls …` runs: the project's osls on this Node), with the emulator's endpoint, region and credentials and no
 * AWS profile. Each output line goes to `log`.
 */
async function runOsls(
  aws: EmulatorClientConfig,
  command: 'deploy' | 'remove',
  stage: string,
  params: Readonly<Record<string, string>>,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<void> {
  const args = [
    command,
    '--stage',
    stage,
    '--region',
    aws.region,
    ...Object.entries(params).map(([name, value]) => `--param=${name}=${value}`),
    '--verbose',
  ];
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('AWS_')) delete env[key];
  }
  Object.assign(env, {
    AWS_ENDPOINT_URL: aws.endpoint,
    AWS_REGION: aws.region,
    AWS_DEFAULT_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
    AWS_SDK_LOAD_CONFIG: '0',
  });
  log(`stacks: npx osls ${args.map((arg) => (arg.includes(' ') ? `"${arg}"` : arg)).join(' ')}`);
  const child = spawn(process.execPath, [OSLS_BIN, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const guard = child.pid === undefined ? undefined : watchdog(child.pid, 'serverless.js');
  const tail: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let buffered = '';
    stream?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        log(`osls ${command}: ${line}`);
        tail.push(line);
        if (tail.length > 80) tail.shift();
      }
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const exitCode = await waitForExit(child, timeoutMs);
  guard?.kill();
  if (exitCode !== 0) {
    const output = tail.join('\n');
    const hint = /dependency already enforced/.test(output)
      ? '\nmoto runs without harness/cloud/moto-patches: start it with startPatchedMoto() (or motoPatchEnv())'
      : '';
    throw new Error(`osls ${command} failed (${exitCode ?? 'timeout'}):\n${output}${hint}`);
  }
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
      resolve(undefined);
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? undefined);
    });
  });
}

// ------------------------------------------------------------------------------------------------ helpers

function assertPathStyleEndpoint(endpoint: string): void {
  const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) === 0) {
    throw new Error(
      `endpoint ${endpoint}: use an IP literal (e.g. http://127.0.0.1:<port>); with a host name the AWS SDK ` +
        'addresses S3 virtual-hosted style and the deployment-bucket upload fails with ENOTFOUND <bucket>.<host>',
    );
  }
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the emulator answered without ${what}`);
  return value;
}

function token(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
