/**
 * Test infrastructure for the local cloud: the EC2 instance metadata service (IMDSv2) of one instance, answered
 * from the emulator's state on every request (an ENI move shows at once).
 *
 * The listening socket is opened inside the instance's network namespace on 169.254.169.254:80 by a helper started
 * with `ip netns exec` (netns.ts {@link listenInNamespace}); this process accepts on it and reads the emulator over
 * its own network view — as EC2's metadata service answers from outside the instance, never through the VPC (no
 * security group applies). Why not amazon-ec2-metadata-mock: it serves values fixed at start (flags, a config
 * file), so it cannot follow an ENI attached elsewhere or hand out credentials from the emulator's STS.
 *
 * Implemented (Source: Amazon EC2 User Guide, "Use the Instance Metadata Service to access instance metadata" and
 * "Instance metadata categories"): `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` (1–21600,
 * else 400; a request with `X-Forwarded-For` is refused with 403); `X-aws-ec2-metadata-token` on GETs (401 without a
 * valid one when HttpTokens is `required`); `meta-data/` (ami-id, hostname, instance-id, instance-type,
 * local-hostname, local-ipv4, mac, placement/availability-zone, placement/region, security-groups,
 * network/interfaces/macs/<mac>/{device-number, interface-id, local-hostname, local-ipv4s, mac, owner-id,
 * security-group-ids, subnet-id, subnet-ipv4-cidr-block, vpc-id}, iam/info, iam/security-credentials/<role> (STS
 * AssumeRole of the instance profile's role in the emulator), tags/instance/<key> (when InstanceMetadataTags is
 * enabled)), `user-data`, `dynamic/instance-identity/document`. Listings end sub-trees with `/`; unknown paths 404.
 *
 * Emulator gap handled here: moto does not apply a launch template's MetadataOptions to the instances launched
 * from it (they report HttpTokens `optional`, InstanceMetadataTags `disabled`); the options of the launch template
 * version named by the instance's `aws:ec2launchtemplate:id`/`version` tags take precedence, as on AWS.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import {
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  EC2Client,
  type Instance,
  type InstanceMetadataOptionsResponse,
  type LaunchTemplateInstanceMetadataOptions,
} from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { EmulatorClientConfig } from '../moto.ts';
import { ip, type LogLine, listenInNamespace } from './netns.ts';
import { IMDS_ADDRESS } from './network.ts';

/** Options of {@link startImds}. */
export interface ImdsOptions {
  /** The instance's network namespace. */
  readonly netns: string;
  readonly instanceId: string;
  /** How to reach the emulator from this process. */
  readonly aws: EmulatorClientConfig;
  readonly log?: LogLine;
  /** TCP port (default 80). */
  readonly port?: number;
}

/** A running metadata service. */
export interface Imds {
  /** `http://169.254.169.254` (inside the instance's namespace). */
  readonly url: string;
  /** Requests answered so far, by status code (for tests and the live view). */
  readonly stats: Readonly<Record<number, number>>;
  /** Closes the listening socket (open connections are destroyed). */
  stop(): Promise<void>;
}

type Leaf = string | (() => Promise<string | undefined>);
interface Tree {
  readonly [key: string]: Leaf | Tree | undefined;
}

const MAX_TOKEN_TTL_S = 21_600;

function isTree(value: Leaf | Tree | undefined): value is Tree {
  return typeof value === 'object' && value !== null;
}

/** Effective metadata options: the launch template's (moto does not copy them to the instance), else the instance's. */
function mergeOptions(
  instance: InstanceMetadataOptionsResponse | undefined,
  template: LaunchTemplateInstanceMetadataOptions | undefined,
): { httpTokens: string; httpEndpoint: string; instanceMetadataTags: string } {
  return {
    httpTokens: template?.HttpTokens ?? instance?.HttpTokens ?? 'optional',
    httpEndpoint: template?.HttpEndpoint ?? instance?.HttpEndpoint ?? 'enabled',
    instanceMetadataTags: template?.InstanceMetadataTags ?? instance?.InstanceMetadataTags ?? 'disabled',
  };
}

/** How often the served snapshot of the instance is refreshed from the emulator, ms. */
const SNAPSHOT_MS = 1_000;

/** What the service answers from (see {@link startImds}). */
interface Snapshot {
  readonly instance: Instance;
  readonly options: ReturnType<typeof mergeOptions>;
  readonly tree: Tree;
  /** Base64 user data ('' when none). */
  readonly userData: string;
}

/**
 * Starts IMDSv2 for one instance inside its namespace (adds 169.254.169.254/32 to its `lo` when missing).
 * @returns The service; `stop()` it before the namespace is removed.
 * @throws Error when the socket cannot be opened in the namespace (e.g. the address is in use).
 * @example const imds = await startImds({ netns: ns.netns, instanceId, aws: moto.clientConfig, log });
 * Source: Amazon EC2 instance metadata service, IMDSv2.
 */
export async function startImds(options: ImdsOptions): Promise<Imds> {
  const { instanceId } = options;
  const log = options.log ?? (() => {});
  const port = options.port ?? 80;
  const ec2 = new EC2Client({ ...options.aws, maxAttempts: 2 });
  const iam = new IAMClient({ ...options.aws, maxAttempts: 2 });
  const sts = new STSClient({ ...options.aws, maxAttempts: 2 });
  const tokens = new Map<string, number>(); // token → expiry (ms since epoch)
  const stats: Record<number, number> = {};
  let templateOptions: { key: string; value: LaunchTemplateInstanceMetadataOptions | undefined } | undefined;
  let credentials: { role: string; expiresAtMs: number; body: string } | undefined;

  const existing = await ip(options.netns, ['-o', 'addr', 'show', 'dev', 'lo']);
  if (!existing.includes(`${IMDS_ADDRESS}/32`))
    await ip(options.netns, ['addr', 'add', `${IMDS_ADDRESS}/32`, 'dev', 'lo']);

  async function describeInstance(): Promise<Instance | undefined> {
    const r = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    return r.Reservations?.[0]?.Instances?.[0];
  }

  async function launchTemplateOptions(
    instance: Instance,
  ): Promise<LaunchTemplateInstanceMetadataOptions | undefined> {
    const tag = (key: string) => instance.Tags?.find((t) => t.Key === key)?.Value;
    const id = tag('aws:ec2launchtemplate:id');
    if (!id) return undefined;
    const version = tag('aws:ec2launchtemplate:version') ?? '$Default';
    const key = `${id}:${version}`;
    if (templateOptions?.key === key) return templateOptions.value;
    const r = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: id, Versions: [version] }),
    );
    const value = r.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.MetadataOptions;
    templateOptions = { key, value };
    return value;
  }

  async function roleCredentials(profileArn: string): Promise<{ role: string; body: string } | undefined> {
    if (credentials && credentials.expiresAtMs - Date.now() > 5 * 60_000) return credentials;
    const name = profileArn.split('/').pop();
    if (!name) return undefined;
    const profile = await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }));
    const role = profile.InstanceProfile?.Roles?.[0];
    if (!role?.Arn || !role.RoleName) return undefined;
    const assumed = await sts.send(
      new AssumeRoleCommand({ RoleArn: role.Arn, RoleSessionName: instanceId, DurationSeconds: 3600 }),
    );
    const c = assumed.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) return undefined;
    const body = JSON.stringify(
      {
        Code: 'Success',
        LastUpdated: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
        Type: 'AWS-HMAC',
        AccessKeyId: c.AccessKeyId,
        SecretAccessKey: c.SecretAccessKey,
        Token: c.SessionToken,
        Expiration: c.Expiration.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
      null,
      2,
    );
    credentials = { role: role.RoleName, expiresAtMs: c.Expiration.getTime(), body };
    log(
      `imds ${instanceId}: credentials of role ${role.RoleName} (AssumeRole, expire ${c.Expiration.toISOString()})`,
    );
    return credentials;
  }

  async function metadataTree(instance: Instance, tagsEnabled: boolean): Promise<Tree> {
    const enis = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }],
      }),
    );
    // Current attachments, by device index (the ENI's own attachment is the truth).
    const attached = (enis.NetworkInterfaces ?? [])
      .filter((n) => n.Attachment?.InstanceId === instanceId && n.MacAddress)
      .sort((a, b) => (a.Attachment?.DeviceIndex ?? 0) - (b.Attachment?.DeviceIndex ?? 0));
    const primary = attached.find((n) => n.Attachment?.DeviceIndex === 0);
    const az = instance.Placement?.AvailabilityZone ?? '';
    const hostname = instance.PrivateDnsName ?? '';
    const macs: Record<string, Tree> = {};
    for (const n of attached) {
      const mac = n.MacAddress ?? '';
      const ips = [
        n.PrivateIpAddress,
        ...(n.PrivateIpAddresses ?? [])
          .map((p) => p.PrivateIpAddress)
          .filter((a) => a !== n.PrivateIpAddress),
      ].filter((a): a is string => typeof a === 'string' && a.length > 0);
      const subnetId = n.SubnetId ?? '';
      macs[mac] = {
        'device-number': String(n.Attachment?.DeviceIndex ?? 0),
        'interface-id': n.NetworkInterfaceId ?? '',
        'local-hostname': n.PrivateDnsName ?? hostname,
        'local-ipv4s': ips.join('\n'),
        mac,
        'owner-id': n.OwnerId ?? '',
        'security-group-ids': (n.Groups ?? []).map((g) => g.GroupId ?? '').join('\n'),
        'subnet-id': subnetId,
        'subnet-ipv4-cidr-block': async () => {
          const s = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }));
          return s.Subnets?.[0]?.CidrBlock;
        },
        'vpc-id': n.VpcId ?? '',
      };
    }
    const profileArn = instance.IamInstanceProfile?.Arn;
    let iamTree: Tree | undefined;
    if (profileArn) {
      const creds = await roleCredentials(profileArn);
      if (creds) {
        iamTree = {
          info: JSON.stringify(
            {
              Code: 'Success',
              LastUpdated: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
              InstanceProfileArn: profileArn,
              InstanceProfileId: instance.IamInstanceProfile?.Id ?? '',
            },
            null,
            2,
          ),
          'security-credentials': { [creds.role]: creds.body },
        };
      }
    }
    const tags: Record<string, string> = {};
    for (const t of instance.Tags ?? []) if (t.Key && !t.Key.includes('/')) tags[t.Key] = t.Value ?? '';
    return {
      'ami-id': instance.ImageId ?? '',
      'ami-launch-index': String(instance.AmiLaunchIndex ?? 0),
      hostname,
      'instance-id': instanceId,
      'instance-type': instance.InstanceType ?? '',
      'local-hostname': hostname,
      'local-ipv4': primary?.PrivateIpAddress ?? instance.PrivateIpAddress ?? '',
      mac: primary?.MacAddress ?? '',
      placement: { 'availability-zone': az, region: az.replace(/[a-z]$/, '') },
      'security-groups': (instance.SecurityGroups ?? []).map((g) => g.GroupName ?? '').join('\n'),
      network: { interfaces: { macs } },
      ...(iamTree ? { iam: iamTree } : {}),
      ...(tagsEnabled ? { tags: { instance: tags } } : {}),
      services: { domain: 'amazonaws.com', partition: 'aws' },
    };
  }

  async function resolve(tree: Tree, parts: readonly string[]): Promise<string | undefined> {
    let node: Leaf | Tree | undefined = tree;
    for (const part of parts) {
      if (!isTree(node)) return undefined;
      node = node[part];
    }
    if (node === undefined) return undefined;
    if (isTree(node))
      return Object.keys(node)
        .filter((k) => node[k] !== undefined)
        .sort()
        .map((k) => (isTree(node[k]) ? `${k}/` : k))
        .join('\n');
    return typeof node === 'function' ? node() : node;
  }

  function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
    stats[status] = (stats[status] ?? 0) + 1;
    res.writeHead(status, { 'Content-Type': 'text/plain', Server: 'EC2ws', ...headers });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://169.254.169.254');
    const path = url.pathname;
    const snap = snapshot ?? (await refresh());
    const instance = snap?.instance;
    if (!snap || !instance) return send(res, 404, 'Not Found');
    const options = snap.options;
    if (options.httpEndpoint === 'disabled') return send(res, 403, 'Forbidden');

    if (path === '/latest/api/token') {
      if (req.method !== 'PUT') return send(res, 405, 'Method Not Allowed', { Allow: 'OPTIONS, PUT' });
      if (req.headers['x-forwarded-for'] !== undefined) return send(res, 403, 'Forbidden');
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_S)
        return send(res, 400, 'Missing or Invalid Parameters');
      const token = randomBytes(42).toString('base64');
      tokens.set(token, Date.now() + ttl * 1000);
      return send(res, 200, token, { 'X-Aws-Ec2-Metadata-Token-Ttl-Seconds': String(ttl) });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method Not Allowed');
    const token = req.headers['x-aws-ec2-metadata-token'];
    if (token !== undefined) {
      const expiry = typeof token === 'string' ? tokens.get(token) : undefined;
      if (expiry === undefined || expiry < Date.now()) return send(res, 401, 'Unauthorized');
    } else if (options.httpTokens === 'required') {
      return send(res, 401, 'Unauthorized');
    }

    const parts = path.split('/').filter((p) => p.length > 0);
    if (parts.length === 0) return send(res, 200, 'latest');
    if (parts[0] !== 'latest') return send(res, 404, 'Not Found');
    if (parts.length === 1) return send(res, 200, 'dynamic\nmeta-data\nuser-data');
    const section = parts[1];
    if (section === 'user-data' && parts.length === 2) {
      const encoded = snap.userData;
      if (!encoded) return send(res, 404, 'Not Found');
      stats[200] = (stats[200] ?? 0) + 1;
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', Server: 'EC2ws' });
      res.end(Buffer.from(encoded, 'base64'));
      return;
    }
    if (section === 'dynamic') {
      const az = instance.Placement?.AvailabilityZone ?? '';
      const document = JSON.stringify(
        {
          accountId: instance.NetworkInterfaces?.[0]?.OwnerId ?? '',
          architecture: instance.Architecture ?? 'x86_64',
          availabilityZone: az,
          imageId: instance.ImageId ?? '',
          instanceId,
          instanceType: instance.InstanceType ?? '',
          pendingTime: (instance.LaunchTime ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
          privateIp: instance.PrivateIpAddress ?? '',
          region: az.replace(/[a-z]$/, ''),
          version: '2017-09-30',
        },
        null,
        2,
      );
      const body = await resolve({ 'instance-identity': { document } }, parts.slice(2));
      return body === undefined ? send(res, 404, 'Not Found') : send(res, 200, body);
    }
    if (section !== 'meta-data') return send(res, 404, 'Not Found');
    const tree = snap.tree;
    const body = await resolve(tree, parts.slice(2));
    return body === undefined ? send(res, 404, 'Not Found') : send(res, 200, body);
  }

  const http = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`imds ${instanceId}: ${req.method} ${req.url} failed: ${String(error)}`);
      if (!res.headersSent) send(res, 500, 'Internal Server Error');
      else res.destroy();
    });
  });
  // EC2's metadata service answers in milliseconds and its clients time out fast (botocore and the AWS CLI give it
  // 1 s and one attempt for credentials): requests are answered from a snapshot of the emulator's state that a
  // background loop refreshes every SNAPSHOT_MS (the ENIs an attach moves show up within that), and the role's
  // credentials are fetched before the instance boots and renewed in the background.
  let snapshot: Snapshot | undefined;
  let userData: string | undefined;
  let refreshing: Promise<Snapshot | undefined> | undefined;
  async function takeSnapshot(): Promise<Snapshot | undefined> {
    const instance = await describeInstance();
    if (!instance) return undefined;
    const options = mergeOptions(instance.MetadataOptions, await launchTemplateOptions(instance));
    const profileArn = instance.IamInstanceProfile?.Arn;
    if (profileArn) await roleCredentials(profileArn);
    if (userData === undefined) {
      const attribute = await ec2.send(
        new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }),
      );
      userData = attribute.UserData?.Value ?? '';
    }
    const tree = await metadataTree(instance, options.instanceMetadataTags === 'enabled');
    return { instance, options, tree, userData };
  }
  function refresh(): Promise<Snapshot | undefined> {
    refreshing ??= takeSnapshot()
      .then((taken) => {
        snapshot = taken;
        return taken;
      })
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  }
  await refresh().catch((error: unknown) =>
    log(`imds ${instanceId}: first snapshot failed: ${String(error)}`),
  );
  let refreshFailures = 0;
  const refresher = setInterval(() => {
    refresh().then(
      () => {
        refreshFailures = 0;
      },
      (error: unknown) => {
        if (refreshFailures++ % 30 === 0)
          log(`imds ${instanceId}: snapshot refresh failed (serving the last one): ${String(error)}`);
      },
    );
  }, SNAPSHOT_MS);
  refresher.unref();
  const listener: Server = await listenInNamespace(options.netns, IMDS_ADDRESS, port);
  listener.on('connection', (socket) => {
    socket.resume();
    http.emit('connection', socket);
  });
  log(`imds ${instanceId}: listening on ${IMDS_ADDRESS}:${port} in ${options.netns}`);
  return {
    url: `http://${IMDS_ADDRESS}${port === 80 ? '' : `:${port}`}`,
    stats,
    async stop() {
      clearInterval(refresher);
      await new Promise<void>((r) => listener.close(() => r()));
      http.closeAllConnections();
      log(`imds ${instanceId}: stopped`);
    },
  };
}
