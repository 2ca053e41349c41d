/**
 * Test infrastructure: the deployed topology (issue 10) — what users deploy, run as one local cloud inside the outer
 * network namespace of a run (harness/cloud/DESIGN.md):
 * - moto (with the documented CloudFormation fixes) behind the front AWS endpoint, which routes Step Functions to
 *   the states service, Lambda Invoke to the Lambda service, the Auto Scaling lifecycle actions to the lifecycle
 *   layer and PutEvents to the local EventBridge;
 * - the account setup, `infra/trino-cluster.yaml` by CloudFormation and the control plane by the real
 *   `osls deploy` (stacks.ts);
 * - the control plane's deployed zips under aws-lambda-rie + aws-lambda-ric in the Lambda namespace with the
 *   control-plane security group; EventBridge schedules and patterns, SQS event sources and Function URLs from the
 *   stacks as deployed;
 * - every instance the emulator's Auto Scaling launched as a namespace booting the AMI's own boot path (ami.ts,
 *   instance.ts) with IMDSv2, its ENIs as real interfaces and its security groups as nftables (network.ts);
 * - OpenSearch for the query logs on the endpoints subnet.
 *
 * The process calling {@link startDeployedTopology} must already run inside the run's outer namespace (see
 * cli/drill.ts `--deployed`, which re-executes itself there).
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { EmulatorClientConfig, MotoServer } from '../moto.ts';
import { type SearchEngine, startSearchEngine } from '../search-engine.ts';
import { passwordLine } from '../trino/config.ts';
import { buildImageRoot, type ImageRoot } from './ami.ts';
import { type AwsRouteTable, lambdaServiceRoutes, queryActions, startAwsEndpoint } from './aws-endpoint.ts';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueServerCertificate,
} from './certificate-authority.ts';
import { TOPOLOGY_TRINO_VERSION } from './deployed-types.ts';
import { type LocalEventBridge, startEventBridge } from './events.ts';
import { type LocalFunctionUrls, startFunctionUrls } from './function-urls.ts';
import { startImds } from './imds.ts';
import { type BootedInstance, bootInstance } from './instance.ts';
import { type LambdaService, startLambdaService } from './lambda-service.ts';
import { LIFECYCLE_LAYER_ACTIONS, type LocalLifecycleLayer, startLifecycleLayer } from './lifecycle.ts';
import { type CloudRun, type LogLine, runCommand } from './netns.ts';
import { type LambdaNamespace, startVpcNetwork, type VpcNetwork } from './network.ts';
import { type LocalSqsEventSources, startSqsEventSources } from './sqs-event-sources.ts';
import { type AccountSetup, type DeployedStacks, deployStacks, startPatchedMoto } from './stacks.ts';
import { type StatesService, startStatesService } from './states-service.ts';

/** Addresses of the endpoints subnet (DESIGN.md). */
export const TOPOLOGY_ADDRESSES = {
  awsEndpoint: '10.42.250.2',
  openSearch: '10.42.250.3',
  functionUrls: '10.42.250.4',
  /**
   * Interface VPC endpoints' private DNS names (`sqs.us-east-1.amazonaws.com`: SQS's SDK sends each call to the
   * host of the `QueueUrl`, which the emulator answers with that name): the front endpoint over HTTPS with a
   * certificate from the run's CA.
   */
  privateDns: '10.42.250.5',
  /** The control-plane Lambdas' address in subnet A. */
  lambda: '10.42.1.200',
  /** The coordinator ENI (infra's CoordinatorPrivateIp). */
  coordinatorEni: '10.42.1.10',
} as const;

/** Options of {@link startDeployedTopology}. */
export interface TopologyOptions {
  /** The run (created by the parent process, joined here). */
  readonly run: CloudRun;
  readonly clusterName?: string;
  /** Workers the worker group starts with (infra's WorkerMinSize, default 2). */
  readonly workers?: number;
  /** Start OpenSearch for the query logs (default true). */
  readonly search?: boolean;
  /** Extra control-plane params (osls `--param`). */
  readonly controlPlaneParams?: Readonly<Record<string, string>>;
  /** Extra infra stack parameters (e.g. `CoordinatorStandbyCount`). */
  readonly infraParameters?: Readonly<Record<string, string>>;
  readonly log?: LogLine;
}

/** The Trino user the drills' client queries run as (a password in the coordinators' password file). */
export const DRILL_USER = 'analyst';

/**
 * The operator's `ConfigS3Uri` files for the topology (docs/deploy.md, "The cluster: … configuration"): a tpch
 * catalog on every node; file access control allowing every user's queries and the control plane's user
 * (`sentinel`) to read and write `system_information` (metrics, graceful shutdown); on the coordinators the file
 * password authenticator with `sentinel` (the `<prefix>/trino-secret` password) and the drills' user.
 * @param secrets - The account's generated secrets (stacks.ts).
 * @param drillPassword - Password of {@link DRILL_USER}.
 */
export function topologyConfigFiles(
  secrets: AccountSetup['secrets'],
  drillPassword: string,
): Record<string, string> {
  return {
    'common/catalog/tpch.properties': 'connector.name=tpch\n',
    'common/access-control.properties':
      'access-control.name=file\nsecurity.config-file=/etc/trino/rules.json\n',
    'common/rules.json': JSON.stringify({
      catalogs: [{ allow: 'all' }],
      queries: [{ allow: ['execute', 'kill', 'view'] }],
      system_information: [{ user: 'sentinel', allow: ['read', 'write'] }],
    }),
    'coordinator/password-authenticator.properties':
      'password-authenticator.name=file\nfile.password-file=/etc/trino/password.db\n',
    'coordinator/password.db': `${passwordLine('sentinel', secrets.trinoPassword)}${passwordLine(DRILL_USER, drillPassword)}`,
    'coordinator/config-extra.properties': 'http-server.authentication.type=PASSWORD\n',
  };
}

/** A running deployed topology. */
export interface DeployedTopology {
  readonly run: CloudRun;
  readonly moto: MotoServer;
  /** The front AWS endpoint as the outer namespace's processes use it (127.0.0.1) and as nodes/Lambdas do. */
  readonly aws: EmulatorClientConfig;
  readonly endpointUrlInVpc: string;
  readonly stacks: DeployedStacks;
  readonly lambda: LambdaService;
  readonly states: StatesService;
  readonly events: LocalEventBridge;
  readonly lifecycle: LocalLifecycleLayer;
  readonly sqs: LocalSqsEventSources;
  readonly functionUrls: LocalFunctionUrls;
  readonly network: VpcNetwork;
  readonly lambdaNamespace: LambdaNamespace;
  readonly image: ImageRoot;
  readonly search?: SearchEngine;
  readonly ca: CertificateAuthority;
  /** Booted instances by instance id (they come and go with the emulator's Auto Scaling). */
  readonly instances: ReadonlyMap<string, BootedInstance>;
  /** The coordinator's client URL: the ENI address over HTTPS. */
  readonly coordinatorUrl: string;
  /** Password of {@link DRILL_USER}. */
  readonly drillPassword: string;
  stop(): Promise<void>;
}

/**
 * Brings the deployed topology up: emulator and services, the stacks as deployed, the network and the instances
 * booting the AMI path. Returns once the stacks are deployed and the network runs; the instances keep booting
 * (wait with the drills' readiness checks).
 * @throws Error with the failing component's message; everything started is stopped first.
 */
export async function startDeployedTopology(options: TopologyOptions): Promise<DeployedTopology> {
  const log = options.log ?? options.run.log;
  const clusterName = options.clusterName ?? 'analytics';
  const stoppers: (() => Promise<void>)[] = [];
  const drillPassword = randomBytes(18).toString('base64url');
  let abortBoot: (error: Error) => void = () => undefined;
  const stopAll = async () => {
    for (const stop of stoppers.reverse())
      await stop().catch((error: unknown) => log(`stop: ${String(error)}`));
  };
  try {
    const moto = await startPatchedMoto();
    stoppers.push(() => moto.stop());
    log(`topology: moto at ${moto.endpoint}`);
    const image = await buildImageRoot({ trinoVersion: TOPOLOGY_TRINO_VERSION, log });
    log(`topology: AMI image root ${image.root} (${image.distribution}, ${image.plugins.length} plugins)`);
    const ca = await createCertificateAuthority('trino-sentinel topology CA');
    const endpointUrlInVpc = `http://${TOPOLOGY_ADDRESSES.awsEndpoint}:443`;
    const privateDnsNames = [`sqs.${moto.clientConfig.region}.amazonaws.com`];
    const privateDnsCertificate = await issueServerCertificate(ca, privateDnsNames);
    const caBundleFile = path.join(options.run.stateDir, 'ca-bundle.pem');
    await writeFile(caBundleFile, ca.certPem);
    // The nodes' JDK trusts the run's CA as AL2023's Corretto trusts the public CAs that sign AWS's endpoints (the
    // Function URL the query-log listener posts to): a copy of its cacerts with the CA added, bound over it inside
    // each instance.
    const jdkCacerts = path.join(image.jdkHome, 'lib', 'security', 'cacerts');
    const runCacerts = path.join(options.run.stateDir, 'cacerts');
    await copyFile(jdkCacerts, runCacerts);
    await runCommand([
      path.join(image.jdkHome, 'bin', 'keytool'),
      '-importcert',
      '-noprompt',
      '-alias',
      'trino-sentinel-run-ca',
      '-file',
      caBundleFile,
      '-keystore',
      runCacerts,
      '-storepass',
      'changeit',
    ]);

    // The services behind the front endpoint. Their own reads go to moto directly.
    let lambdaNamespace: LambdaNamespace | undefined;
    const lambda = await startLambdaService({
      motoUrl: moto.endpoint,
      endpointUrl: endpointUrlInVpc,
      caBundleFile,
      placement: () =>
        lambdaNamespace === undefined
          ? undefined
          : { netns: lambdaNamespace.netns, listenHost: lambdaNamespace.serviceLink.innerAddress },
      log,
    });
    stoppers.push(() => lambda.stop());
    const local = await startAwsEndpoint({
      listen: [{ host: '127.0.0.1' }],
      routes: { default: moto.endpoint, routes: [] },
      log,
    });
    stoppers.push(() => local.stop());
    const aws: EmulatorClientConfig = { ...moto.clientConfig, endpoint: local.urls[0] ?? '' };
    const states = await startStatesService({ moto: moto.clientConfig, lambdaEndpoint: aws.endpoint, log });
    stoppers.push(() => states.stop());
    const events = await startEventBridge({ aws: moto.clientConfig, invoke: aws, log });
    stoppers.push(() => events.stop());
    const lifecycle = await startLifecycleLayer({ moto: moto.clientConfig, invoke: aws, events, log });
    stoppers.push(() => lifecycle.stop());
    const routes: AwsRouteTable = {
      default: moto.endpoint,
      routes: [
        ...lambdaServiceRoutes(lambda.url),
        { service: 'states', url: states.endpoint },
        { service: 'events', url: events.url },
        {
          service: 'autoscaling',
          url: lifecycle.url,
          match: queryActions(...LIFECYCLE_LAYER_ACTIONS),
          name: 'lifecycle',
        },
      ],
    };
    local.setRoutes(routes);

    const stacks = await deployStacks({
      aws,
      clusterName,
      infraParameters: {
        WorkerMinSize: String(options.workers ?? 2),
        ClientCidr: '10.42.0.0/16',
        ...(options.infraParameters ?? {}),
      },
      // Small heaps for 2 cores / 24 GB; a short grace period so a drain takes seconds, not minutes.
      nodeConfig: { TRINO_HEAP: '768M', QUERY_MAX_MEMORY: '256MB', SHUTDOWN_GRACE_PERIOD: '10s' },
      configFiles: (secrets) => topologyConfigFiles(secrets, drillPassword),
      controlPlaneParams: {
        searchEngine: 'opensearch',
        searchEndpoint: `http://${TOPOLOGY_ADDRESSES.openSearch}:443`,
        ...(options.controlPlaneParams ?? {}),
      },
      log,
    });
    stoppers.push(async () => {
      // The stacks live in this run's moto, which stops with the run: nothing to delete.
    });
    log(`topology: stacks deployed in ${Math.round(stacks.timings.totalMs / 1000)} s`);

    // The network and the instances. Nodes reach AWS through the endpoint on the endpoints subnet.
    const instances = new Map<string, BootedInstance>();
    let vpcReady: () => void = () => undefined;
    const vpcReadyPromise = new Promise<void>((resolve, reject) => {
      vpcReady = resolve;
      // A topology that fails before the instances may boot stops them at once (no 30 s wait per instance).
      abortBoot = reject;
    });
    vpcReadyPromise.catch(() => undefined); // awaited by each instance's boot; none may have started
    const functionUrlHost = new URL(stacks.controlPlane.outputs.QueryLogIngestUrl ?? 'https://none').host;
    const ec2 = new EC2Client(moto.clientConfig);
    stoppers.push(async () => ec2.destroy());
    const network = await startVpcNetwork({
      aws: moto.clientConfig,
      vpcId: stacks.account.vpcId,
      run: options.run,
      endpointAddresses: [
        TOPOLOGY_ADDRESSES.awsEndpoint,
        TOPOLOGY_ADDRESSES.openSearch,
        TOPOLOGY_ADDRESSES.functionUrls,
        TOPOLOGY_ADDRESSES.privateDns,
      ],
      log,
      onInstance: async (instance) => {
        await vpcReadyPromise;
        const imds = await startImds({
          netns: instance.netns,
          instanceId: instance.instanceId,
          aws: moto.clientConfig,
          log,
        });
        try {
          const booted = await bootInstance({
            instanceId: instance.instanceId,
            netns: instance.netns,
            imageRoot: image.root,
            imagePaths: image.paths.filter((p) => p.kind === 'dir').map((p) => p.path),
            aws: moto.clientConfig,
            awsEndpointUrl: endpointUrlInVpc,
            extraHosts: [{ host: functionUrlHost, address: TOPOLOGY_ADDRESSES.functionUrls }],
            fileBinds: [{ source: runCacerts, target: jdkCacerts }],
            environment: { AWS_DEFAULT_REGION: moto.clientConfig.region },
            log,
          });
          instances.set(instance.instanceId, booted);
          return {
            stop: async () => {
              instances.delete(instance.instanceId);
              await booted.stop(60_000).catch(() => undefined);
              await imds.stop();
            },
          };
        } catch (error) {
          log(`topology: instance ${instance.instanceId} failed to boot: ${String(error)}`);
          await imds.stop();
          throw error;
        }
      },
    });
    stoppers.push(() => network.stop());
    const inVpc = await startAwsEndpoint({
      listen: [
        { host: TOPOLOGY_ADDRESSES.awsEndpoint, port: 443 },
        { host: TOPOLOGY_ADDRESSES.privateDns, port: 443, tls: privateDnsCertificate },
      ],
      routes,
      log,
    });
    stoppers.push(() => inVpc.stop());
    const controlPlaneGroup =
      stacks.infra.exports[`trino-sentinel:${clusterName}:ControlPlaneSecurityGroupId`] ?? '';
    lambdaNamespace = await network.addLambdaNamespace({
      name: 'lambda',
      subnetId: stacks.account.subnets.a.subnetId,
      securityGroupIds: [controlPlaneGroup],
      address: TOPOLOGY_ADDRESSES.lambda,
    });
    // The VPC's DNS for the Lambdas: `ip netns exec` binds /etc/netns/<netns>/hosts over /etc/hosts.
    const netnsEtc = path.join('/etc/netns', lambdaNamespace.netns);
    await mkdir(netnsEtc, { recursive: true });
    stoppers.push(() => rm(netnsEtc, { recursive: true, force: true }));
    await writeFile(
      path.join(netnsEtc, 'hosts'),
      [
        '127.0.0.1 localhost',
        ...privateDnsNames.map((n) => `${TOPOLOGY_ADDRESSES.privateDns} ${n}`),
        '',
      ].join('\n'),
    );
    log(`topology: Lambda namespace ${lambdaNamespace.netns} at ${lambdaNamespace.address}`);
    const functionUrls = await startFunctionUrls({
      aws: moto.clientConfig,
      invoke: aws,
      ca,
      listen: { host: TOPOLOGY_ADDRESSES.functionUrls, port: 443 },
      log,
    });
    stoppers.push(() => functionUrls.stop());
    const sqs = await startSqsEventSources({ aws: moto.clientConfig, invoke: aws, waitTimeSeconds: 0, log });
    stoppers.push(() => sqs.stop());
    // The instances may boot now: everything they reach exists (the query-log listener retries until OpenSearch,
    // behind the ingest path, is up).
    vpcReady();
    let search: SearchEngine | undefined;
    if (options.search ?? true) {
      search = await startSearchEngine({
        engine: 'opensearch',
        host: TOPOLOGY_ADDRESSES.openSearch,
        httpPort: 443,
        heapMb: 512,
      });
      const engine = search;
      stoppers.push(() => engine.stop());
    }
    return {
      run: options.run,
      moto,
      aws,
      endpointUrlInVpc,
      stacks,
      lambda,
      states,
      events,
      lifecycle,
      sqs,
      functionUrls,
      network,
      lambdaNamespace,
      image,
      ...(search === undefined ? {} : { search }),
      ca,
      instances,
      coordinatorUrl: `https://${TOPOLOGY_ADDRESSES.coordinatorEni}:8443`,
      drillPassword,
      stop: stopAll,
    };
  } catch (error) {
    abortBoot(new Error('the topology failed to start'));
    await stopAll();
    throw error;
  }
}
