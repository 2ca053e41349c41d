/**
 * Test infrastructure for the local cloud (harness/cloud/DESIGN.md): the VPC as Linux networking, reconciled from
 * the emulator's EC2 state.
 *
 * - one Linux bridge per subnet of the VPC in the outer namespace, with the VPC router's address (subnet base + 1);
 *   the outer namespace forwards between them (`ip_forward`) and holds the endpoints subnet's addresses on a port-less bridge;
 * - one network namespace `<p>-<instance id>` (e.g. `ts1a2b-i-0abc…`) per running instance;
 * - one veth pair per ENI: the bridge end stays on its subnet's bridge; the other end carries the ENI's MAC and is
 *   moved into the namespace of the instance the ENI is attached to, renamed `eth<device index>`, with the ENI's
 *   private IPs (policy routing for secondary interfaces, as amazon-ec2-net-utils does), or parked down without
 *   addresses in the outer namespace while the ENI is detached. An ENI move therefore keeps its MAC and bridge port;
 *   nothing answers on the address while it is detached;
 * - the ENIs' security groups as nftables in every instance namespace (security-groups.ts);
 * - the control-plane Lambdas' namespace ({@link VpcNetwork.addLambdaNamespace}).
 *
 * Emulator facts it copes with (docs/harness.md has the exact behaviour): moto accepts attaching an ENI that is
 * attached elsewhere (AWS refuses) — the ENI's own attachment is the truth, and the refused-on-AWS attach is
 * logged; moto reports an attached ENI's groups as its own plus its instance's — its own groups (what AWS
 * enforces) are read with the `group-id` filter; moto leaves secondary and primary ENIs attached to terminated
 * instances — they are parked, and a terminated instance's primary ENI (which AWS deletes with the instance) counts
 * in no group. A failed read of the emulator changes nothing (unknown is not "gone").
 *
 * Runs in the host namespace or inside the outer one: every command names its namespace.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import {
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  type Filter,
  type IpPermission,
} from '@aws-sdk/client-ec2';
import * as z from 'zod';
import type { EmulatorClientConfig } from '../moto.ts';
import { type CloudRun, ip, ipBatch, type LogLine, netnsSysctl, nftApply, runCommand } from './netns.ts';
import { renderRuleset, type SecurityGroupRule, type SecurityGroupRules } from './security-groups.ts';

/** The instance metadata service address (on each instance namespace's `lo`). */
export const IMDS_ADDRESS = '169.254.169.254';
/** The endpoints subnet of the design (AWS endpoint `.2`, OpenSearch `.3`). */
export const ENDPOINTS_CIDR = '10.42.250.0/24';
/** Default addresses of the endpoints subnet in the outer namespace (services there listen on them). */
export const DEFAULT_ENDPOINT_ADDRESSES = ['10.42.250.2', '10.42.250.3'] as const;
/** First /30 of the Lambda service links. */
const SERVICE_LINK_BASE = '169.254.100.0';

/** What the reconciler reports about one instance namespace to {@link VpcNetworkOptions.onInstance}. */
export interface InstanceNamespace {
  readonly instanceId: string;
  /** `<p>-<instance id>` (e.g. `ts1a2b-i-0abc…`). */
  readonly netns: string;
  /** Availability Zone (from the emulator). */
  readonly availabilityZone: string;
  /** Primary private IPv4 address (eth0). */
  readonly privateIp: string;
}

/** Something started for an instance (IMDS, its boot) that must stop before its namespace goes. */
export interface InstanceServices {
  stop(): Promise<void>;
}

/** Options of {@link startVpcNetwork}. */
export interface VpcNetworkOptions {
  /** How to reach the emulator (endpoint, region, credentials). */
  readonly aws: EmulatorClientConfig;
  readonly vpcId: string;
  /** The run (prefix, outer namespace, namespace registry) from createOuterNamespace()/joinRun(). */
  readonly run: CloudRun;
  readonly log?: LogLine;
  /** Poll interval of the emulator in ms (default 200). */
  readonly pollIntervalMs?: number;
  /** Addresses of the endpoints subnet to put on the outer namespace (default 10.42.250.2 and .3). */
  readonly endpointAddresses?: readonly string[];
  /**
   * Called (not awaited by the reconciler) once an instance's namespace exists with its ENIs and rules; what it
   * returns is stopped before the namespace is removed (instance stopped or terminated, or {@link VpcNetwork.stop}).
   * A removal waits at most 30 s for it to finish starting, then removes the namespace (killing its processes) and
   * stops what it returns once it does. A hook that fails must release what it had started itself.
   */
  readonly onInstance?: (instance: InstanceNamespace) => Promise<InstanceServices | undefined>;
}

/** One interface inside a namespace, as the kernel shows it. */
export interface InterfaceView {
  readonly name: string;
  readonly mac: string;
  readonly addresses: readonly string[];
  readonly up: boolean;
  /** The ENI behind it (undefined for the Lambda service link). */
  readonly eniId?: string;
}

/** What exists now (see {@link VpcNetwork.snapshot}). */
export interface NetworkSnapshot {
  readonly prefix: string;
  readonly outer: string;
  readonly bridges: readonly { subnetId: string; name: string; cidr: string; gateway: string }[];
  readonly instances: readonly {
    instanceId: string;
    netns: string;
    interfaces: readonly InterfaceView[];
    ruleset: string;
  }[];
  /** ENIs whose interface is parked (detached, or attached to an instance that is not running). */
  readonly parked: readonly { eniId: string; interface: string; mac: string }[];
  readonly lambdas: readonly LambdaNamespace[];
  readonly endpointAddresses: readonly string[];
}

/** The control-plane Lambdas' namespace (see {@link VpcNetwork.addLambdaNamespace}). */
export interface LambdaNamespace {
  readonly name: string;
  readonly netns: string;
  readonly subnetId: string;
  readonly securityGroupIds: readonly string[];
  /** Its address in the subnet (eth0). */
  readonly address: string;
  readonly gateway: string;
  /** The point-to-point invoke-plane link, never filtered by the security groups. */
  readonly serviceLink: {
    /** Interface and address on the outer namespace's side (e.g. `ts1a2b-sl0`, 169.254.100.1). */
    readonly outerInterface: string;
    readonly outerAddress: string;
    /** Interface and address inside the Lambda namespace (`svc0`, e.g. 169.254.100.2). */
    readonly innerInterface: string;
    readonly innerAddress: string;
  };
}

/** Options of {@link VpcNetwork.addLambdaNamespace}. */
export interface LambdaNamespaceOptions {
  /** Suffix of the namespace: `<p>-<name>` (e.g. `lambda`). */
  readonly name: string;
  readonly subnetId: string;
  readonly securityGroupIds: readonly string[];
  /** IPv4 address in the subnet (not used by an ENI). */
  readonly address: string;
}

/** The running reconciler. */
export interface VpcNetwork {
  readonly prefix: string;
  readonly outer: string;
  /** Runs one reconciliation now (after any running one) and resolves when the network matches the emulator. */
  reconcileNow(): Promise<void>;
  /**
   * Creates the control-plane Lambdas' namespace: an address in the subnet with the groups enforced like an
   * instance's ENI (and counted as a member of those groups by other namespaces' rules), plus a service link to the
   * outer namespace that the groups do not filter (Lambda's own invoke plane).
   * @returns Its addresses.
   * @throws Error when the subnet is unknown to the emulator or the address is outside it.
   */
  addLambdaNamespace(options: LambdaNamespaceOptions): Promise<LambdaNamespace>;
  /** What exists now: bridges, instance namespaces with their interfaces as the kernel shows them, parked ENIs. */
  snapshot(): Promise<NetworkSnapshot>;
  /** Stops polling, stops every instance's services, removes the namespaces, interfaces and bridges it created. */
  stop(): Promise<void>;
}

/** @internal Observed EC2 state of the VPC. */
interface Observed {
  readonly subnets: Map<string, { cidr: string; az: string }>;
  readonly instances: Map<string, { state: string; az: string; privateIp: string; reportedEnis: string[] }>;
  readonly enis: Map<
    string,
    {
      mac: string;
      subnetId: string;
      ips: string[];
      attachment?: { instanceId: string; deviceIndex: number };
      reportedGroups: string[];
    }
  >;
  readonly groups: Map<string, SecurityGroupRules>;
  /** ENI id → its own groups (the `group-id` filter). */
  readonly ownGroups: Map<string, string[]>;
}

interface EniLink {
  readonly eniId: string;
  readonly hostEnd: string;
  readonly parkedName: string;
  readonly mac: string;
  readonly subnetId: string;
  /** Namespace holding the ENI end (the outer namespace while parked). */
  netns: string;
  /** Current name of the ENI end. */
  name: string;
  deviceIndex?: number;
  ips: string[];
}

interface InstanceState {
  readonly instanceId: string;
  readonly netns: string;
  ruleset: string;
  services?: Promise<InstanceServices | undefined>;
  announced: boolean;
}

interface LambdaState extends LambdaNamespace {
  ruleset: string;
  readonly hostEnd: string;
}

const RUNNING_STATES = new Set(['pending', 'running']);
/** How long an instance's removal waits for `onInstance` to finish starting its services. */
const SERVICES_START_WAIT_MS = 30_000;

function ipv4ToInt(address: string): number {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new Error(`not an IPv4 address: ${address}`);
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/**
 * Splits a CIDR into its base, prefix length and the VPC router address (base + 1).
 * @throws Error on a malformed CIDR.
 */
export function subnetGateway(cidr: string): { base: string; prefixLength: number; gateway: string } {
  const [base, length] = cidr.split('/');
  const prefixLength = Number(length);
  if (!base || !Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 30)
    throw new Error(`bad subnet CIDR ${cidr}`);
  return { base, prefixLength, gateway: intToIpv4(ipv4ToInt(base) + 1) };
}

function inCidr(address: string, cidr: string): boolean {
  const { base, prefixLength } = subnetGateway(cidr);
  const size = 2 ** (32 - prefixLength);
  return Math.floor(ipv4ToInt(address) / size) === Math.floor(ipv4ToInt(base) / size);
}

async function paginate<T>(
  fetchPage: (token?: string) => Promise<{ items: T[]; next?: string }>,
): Promise<T[]> {
  const all: T[] = [];
  let token: string | undefined;
  for (let page = 0; page < 100; page++) {
    const { items, next } = await fetchPage(token);
    all.push(...items);
    if (!next) return all;
    token = next;
  }
  throw new Error('more than 100 pages from the emulator');
}

function toRules(permissions: readonly IpPermission[] | undefined): SecurityGroupRule[] {
  return (permissions ?? []).map((p) => ({
    protocol: p.IpProtocol ?? '-1',
    ...(p.FromPort === undefined ? {} : { fromPort: p.FromPort }),
    ...(p.ToPort === undefined ? {} : { toPort: p.ToPort }),
    cidrs: (p.IpRanges ?? []).flatMap((r) => (r.CidrIp ? [r.CidrIp] : [])),
    groupIds: (p.UserIdGroupPairs ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : [])),
  }));
}

const LinkJson = z.array(
  z.object({
    ifname: z.string(),
    address: z.string().optional(),
    flags: z.array(z.string()).default([]),
    addr_info: z.array(z.object({ family: z.string(), local: z.string() })).default([]),
  }),
);

/**
 * Starts the VPC reconciler: puts the endpoints subnet's addresses on the outer namespace, then polls the emulator (every `pollIntervalMs`) and
 * makes bridges, instance namespaces, ENI interfaces and nftables match it.
 * @returns The running network (call `stop()` before the run's cleanup).
 * @throws CommandError when the outer namespace is missing; emulator errors during polling are logged, not thrown.
 * @example const net = await startVpcNetwork({ aws: moto.clientConfig, vpcId, run, log });
 * Source: EC2 DescribeSubnets, DescribeInstances, DescribeNetworkInterfaces (filters vpc-id, group-id),
 *   DescribeSecurityGroups; iproute2 (bridge, veth, `ip link set … netns`), nftables.
 */
export async function startVpcNetwork(options: VpcNetworkOptions): Promise<VpcNetwork> {
  const { run, vpcId } = options;
  const log = options.log ?? run.log;
  const prefix = run.prefix;
  const outer = run.outer;
  const ec2 = new EC2Client({ ...options.aws, maxAttempts: 2 });
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const endpointAddresses = [...(options.endpointAddresses ?? DEFAULT_ENDPOINT_ADDRESSES)];

  const bridges = new Map<string, { name: string; cidr: string; gateway: string; prefixLength: number }>();
  const enis = new Map<string, EniLink>();
  const instances = new Map<string, InstanceState>();
  const lambdas = new Map<string, LambdaState>();
  const warned = new Set<string>();
  /** Instances being shut down in the background, by id. */
  const removing = new Map<string, { readonly netns: string; readonly done: Promise<void> }>();
  let counter = 0;
  let bridgeCounter = 0;
  let serviceLinks = 0;
  let lastObserved: Observed | undefined;
  let stopped = false;
  let readFailures = 0;
  const warnOnce = (key: string, line: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    log(line);
  };

  // Endpoints subnet: a port-less bridge holding the endpoint addresses, which services in the outer namespace bind
  // (a bridge, not a dummy: this machine's kernel has no dummy driver: "Error: Unknown device type.");
  // a forward rule keeps the Lambda service links off the VPC (they reach only the outer namespace itself).
  const endpointsDevice = `${prefix}-ep`;
  const { prefixLength: endpointsLength, gateway: endpointsGateway } = subnetGateway(ENDPOINTS_CIDR);
  await ipBatch(outer, [
    `link add ${endpointsDevice} type bridge`,
    `addr add ${endpointsGateway}/${endpointsLength} dev ${endpointsDevice}`,
    ...endpointAddresses.map((a) => `addr add ${a}/${endpointsLength} dev ${endpointsDevice}`),
    `link set ${endpointsDevice} up`,
  ]);
  await nftApply(
    outer,
    [
      'table inet cloud',
      'delete table inet cloud',
      'table inet cloud {',
      '  chain forward {',
      '    type filter hook forward priority filter; policy accept;',
      `    iifname "${prefix}-sl*" drop`,
      `    oifname "${prefix}-sl*" drop`,
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  log(`vpc ${vpcId}: router in ${outer}, endpoints ${endpointAddresses.join(', ')} on ${endpointsDevice}`);

  async function observe(): Promise<Observed> {
    const vpcFilter: Filter[] = [{ Name: 'vpc-id', Values: [vpcId] }];
    const [subnetList, reservations, eniList, groupList] = await Promise.all([
      paginate(async (NextToken) => {
        const r = await ec2.send(new DescribeSubnetsCommand({ Filters: vpcFilter, NextToken }));
        return { items: r.Subnets ?? [], next: r.NextToken };
      }),
      paginate(async (NextToken) => {
        const r = await ec2.send(new DescribeInstancesCommand({ Filters: vpcFilter, NextToken }));
        return { items: (r.Reservations ?? []).flatMap((res) => res.Instances ?? []), next: r.NextToken };
      }),
      paginate(async (NextToken) => {
        const r = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: vpcFilter, NextToken }));
        return { items: r.NetworkInterfaces ?? [], next: r.NextToken };
      }),
      paginate(async (NextToken) => {
        const r = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: vpcFilter, NextToken }));
        return { items: r.SecurityGroups ?? [], next: r.NextToken };
      }),
    ]);
    const subnets = new Map<string, { cidr: string; az: string }>();
    for (const s of subnetList)
      if (s.SubnetId && s.CidrBlock)
        subnets.set(s.SubnetId, { cidr: s.CidrBlock, az: s.AvailabilityZone ?? '' });
    const instanceMap = new Map<
      string,
      { state: string; az: string; privateIp: string; reportedEnis: string[] }
    >();
    for (const i of reservations) {
      if (!i.InstanceId) continue;
      instanceMap.set(i.InstanceId, {
        state: i.State?.Name ?? 'unknown',
        az: i.Placement?.AvailabilityZone ?? '',
        privateIp: i.PrivateIpAddress ?? '',
        reportedEnis: (i.NetworkInterfaces ?? []).flatMap((n) =>
          n.NetworkInterfaceId ? [n.NetworkInterfaceId] : [],
        ),
      });
    }
    const eniMap: Observed['enis'] = new Map();
    for (const n of eniList) {
      if (!n.NetworkInterfaceId || !n.MacAddress || !n.SubnetId) continue;
      const primary = n.PrivateIpAddress;
      const ips = [
        ...(primary ? [primary] : []),
        ...(n.PrivateIpAddresses ?? []).flatMap((p) =>
          p.PrivateIpAddress && p.PrivateIpAddress !== primary ? [p.PrivateIpAddress] : [],
        ),
      ];
      const attachment =
        n.Attachment?.InstanceId &&
        n.Attachment.DeviceIndex !== undefined &&
        n.Attachment.Status !== 'detached'
          ? { instanceId: n.Attachment.InstanceId, deviceIndex: n.Attachment.DeviceIndex }
          : undefined;
      eniMap.set(n.NetworkInterfaceId, {
        mac: n.MacAddress,
        subnetId: n.SubnetId,
        ips,
        ...(attachment ? { attachment } : {}),
        reportedGroups: (n.Groups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : [])),
      });
    }
    const groups = new Map<string, SecurityGroupRules>();
    for (const g of groupList) {
      if (!g.GroupId) continue;
      groups.set(g.GroupId, {
        groupId: g.GroupId,
        ingress: toRules(g.IpPermissions),
        egress: toRules(g.IpPermissionsEgress),
      });
    }
    // Own groups of each ENI: moto reports an attached ENI's groups as its own plus its instance's; the group-id
    // filter matches its own only (what AWS enforces).
    const ownGroups = new Map<string, string[]>();
    const memberships = await Promise.all(
      [...groups.keys()].map(async (groupId) => {
        const members = await paginate(async (NextToken) => {
          const r = await ec2.send(
            new DescribeNetworkInterfacesCommand({
              Filters: [...vpcFilter, { Name: 'group-id', Values: [groupId] }],
              NextToken,
            }),
          );
          return { items: r.NetworkInterfaces ?? [], next: r.NextToken };
        });
        return {
          groupId,
          eniIds: members.flatMap((m) => (m.NetworkInterfaceId ? [m.NetworkInterfaceId] : [])),
        };
      }),
    );
    for (const { groupId, eniIds } of memberships)
      for (const eniId of eniIds) ownGroups.set(eniId, [...(ownGroups.get(eniId) ?? []), groupId]);
    return { subnets, instances: instanceMap, enis: eniMap, groups, ownGroups };
  }

  async function ensureBridge(subnetId: string, cidr: string): Promise<void> {
    if (bridges.has(subnetId)) return;
    const { gateway, prefixLength } = subnetGateway(cidr);
    const name = `${prefix}-br${bridgeCounter++}`;
    await ipBatch(outer, [
      `link add ${name} type bridge`,
      `addr add ${gateway}/${prefixLength} dev ${name}`,
      `link set ${name} up`,
    ]);
    bridges.set(subnetId, { name, cidr, gateway, prefixLength });
    log(`subnet ${subnetId} ${cidr}: bridge ${name}, router ${gateway}`);
  }

  async function ensureInstanceNamespace(instanceId: string): Promise<InstanceState> {
    const existing = instances.get(instanceId);
    if (existing) return existing;
    const netns = await run.addNamespace(instanceId);
    // Each interface answers ARP only for its own addresses (two ENIs on one bridge), loose reverse-path check
    // (policy routing), the metadata address on lo, and a drop-everything ruleset until the real one is rendered.
    await netnsSysctl(netns, {
      'net.ipv4.conf.all.arp_ignore': '1',
      'net.ipv4.conf.all.arp_announce': '2',
      'net.ipv4.conf.all.rp_filter': '2',
      'net.ipv4.conf.default.rp_filter': '2',
    });
    await ip(netns, ['addr', 'add', `${IMDS_ADDRESS}/32`, 'dev', 'lo']);
    const ruleset = renderRuleset({ interfaces: [], groups: new Map(), members: new Map() });
    await nftApply(netns, ruleset);
    const state: InstanceState = { instanceId, netns, ruleset, announced: false };
    instances.set(instanceId, state);
    return state;
  }

  async function createEniLink(eniId: string, mac: string, subnetId: string): Promise<EniLink> {
    const bridge = bridges.get(subnetId);
    if (!bridge) throw new Error(`no bridge for subnet ${subnetId}`);
    const n = counter++;
    const hostEnd = `${prefix}-v${n}`;
    const parkedName = `${prefix}-e${n}`;
    await ipBatch(outer, [
      `link add ${hostEnd} type veth peer name ${parkedName}`,
      `link set ${parkedName} address ${mac}`,
      `link set ${hostEnd} master ${bridge.name}`,
      `link set ${hostEnd} up`,
    ]);
    const link: EniLink = {
      eniId,
      hostEnd,
      parkedName,
      mac,
      subnetId,
      netns: outer,
      name: parkedName,
      ips: [],
    };
    enis.set(eniId, link);
    log(`eni ${eniId} (${mac}): veth ${hostEnd} on ${bridge.name}, parked as ${parkedName}`);
    return link;
  }

  /** Takes the ENI end out of its namespace's configuration and moves it (down, no addresses) to `target`. */
  async function detachLink(link: EniLink, target: string): Promise<void> {
    const lines = [`link set dev ${link.name} down`];
    if (link.netns !== outer) {
      lines.push(`addr flush dev ${link.name}`);
      if (link.deviceIndex !== undefined && link.deviceIndex > 0) {
        const table = 10000 + link.deviceIndex;
        await ip(link.netns, ['rule', 'del', 'pref', String(table)]).catch(() => undefined);
        await ip(link.netns, ['route', 'flush', 'table', String(table)]).catch(() => undefined);
      }
    }
    if (link.name !== link.parkedName) lines.push(`link set dev ${link.name} name ${link.parkedName}`);
    if (target !== link.netns) lines.push(`link set dev ${link.parkedName} netns ${target}`);
    await ipBatch(link.netns, lines);
    link.netns = target;
    link.name = link.parkedName;
    delete link.deviceIndex;
    link.ips = [];
  }

  /** Configures the ENI end inside an instance namespace as eth<deviceIndex> with its addresses and routes. */
  async function configureLink(
    link: EniLink,
    netns: string,
    deviceIndex: number,
    ips: readonly string[],
    taken: ReadonlySet<string>,
  ): Promise<void> {
    const bridge = bridges.get(link.subnetId);
    if (!bridge) throw new Error(`no bridge for subnet ${link.subnetId}`);
    let name = `eth${deviceIndex}`;
    if (taken.has(name)) {
      warnOnce(
        `index:${netns}:${name}:${link.eniId}`,
        `WARNING ${link.eniId}: device index ${deviceIndex} of ${netns} is already used by another ENI (moto ` +
          `accepted an attach AWS refuses); it stays ${link.parkedName} there`,
      );
      name = link.parkedName;
    }
    const lines: string[] = [];
    if (name !== link.name) lines.push(`link set dev ${link.name} name ${name}`);
    for (const address of ips) lines.push(`addr add ${address}/${bridge.prefixLength} dev ${name}`);
    lines.push(`link set dev ${name} up`);
    const primary = ips[0];
    if (deviceIndex === 0) {
      lines.push(`route replace default via ${bridge.gateway} dev ${name}`);
    } else if (primary) {
      // Secondary interface: replies from its addresses leave through it (amazon-ec2-net-utils' policy routing).
      const table = 10000 + deviceIndex;
      lines.push(
        `route replace ${bridge.cidr} dev ${name} src ${primary} table ${table}`,
        `route replace default via ${bridge.gateway} dev ${name} table ${table}`,
        ...ips.map((address) => `rule add from ${address} lookup ${table} pref ${table}`),
      );
    }
    await ipBatch(netns, lines);
    link.name = name;
    link.deviceIndex = deviceIndex;
    link.ips = [...ips];
  }

  function rulesetFor(
    observed: Observed,
    interfaces: readonly { name: string; groupIds: readonly string[] }[],
    exempt: readonly string[] = [],
  ): string {
    const members = new Map<string, string[]>();
    for (const [eniId, eni] of observed.enis) {
      if (deletedOnTermination(observed, eniId)) continue;
      for (const groupId of observed.ownGroups.get(eniId) ?? [])
        members.set(groupId, [...(members.get(groupId) ?? []), ...eni.ips]);
    }
    for (const lambda of lambdas.values())
      for (const groupId of lambda.securityGroupIds)
        members.set(groupId, [...(members.get(groupId) ?? []), lambda.address]);
    return renderRuleset({ interfaces, exempt, groups: observed.groups, members });
  }

  /**
   * moto keeps the primary ENI of a terminated instance, attached and in use (it creates it with
   * DeleteOnTermination false); AWS deletes the interface it created at launch. Such an ENI counts in no group.
   */
  function deletedOnTermination(observed: Observed, eniId: string): boolean {
    const attachment = observed.enis.get(eniId)?.attachment;
    if (attachment?.deviceIndex !== 0) return false;
    const state = observed.instances.get(attachment.instanceId)?.state;
    if (state !== 'terminated' && state !== 'shutting-down') return false;
    warnOnce(
      `primary:${eniId}`,
      `eni ${eniId}: primary interface of terminated ${attachment.instanceId}, still attached in moto; AWS deletes ` +
        'it with the instance: not counted in its security groups',
    );
    return true;
  }

  async function removeInstance(state: InstanceState, observed: Observed | undefined): Promise<void> {
    // Services still starting (a boot in progress) are not waited for past SERVICES_START_WAIT_MS: the namespace's
    // processes are killed with it, and what the hook returns later is stopped then.
    const pending = state.services;
    const services = pending
      ? await Promise.race([
          pending.catch((error: unknown) => {
            log(`instance ${state.instanceId}: its services had failed to start: ${String(error)}`);
            return undefined;
          }),
          new Promise<'starting'>((resolve) =>
            setTimeout(() => resolve('starting'), SERVICES_START_WAIT_MS).unref(),
          ),
        ])
      : undefined;
    if (services === 'starting') {
      log(
        `instance ${state.instanceId}: services still starting after ${SERVICES_START_WAIT_MS} ms; removing it anyway`,
      );
      pending
        ?.then((late) => late?.stop())
        .catch((error: unknown) => log(`instance ${state.instanceId}: late stop: ${String(error)}`));
    } else if (services) {
      await services
        .stop()
        .catch((error: unknown) => log(`instance ${state.instanceId}: stop: ${String(error)}`));
    }
    for (const link of enis.values()) {
      if (link.netns !== state.netns) continue;
      if (observed && !observed.enis.has(link.eniId)) continue; // deleted with the instance: goes with the netns
      await detachLink(link, outer);
      log(`eni ${link.eniId}: parked (instance ${state.instanceId} is gone)`);
    }
    await run.deleteNamespace(state.netns);
    for (const [eniId, link] of enis) if (link.netns === state.netns) enis.delete(eniId);
    instances.delete(state.instanceId);
    log(`instance ${state.instanceId}: namespace removed`);
  }

  async function reconcile(): Promise<void> {
    let observed: Observed;
    try {
      observed = await observe();
      if (readFailures > 0) log(`emulator readable again after ${readFailures} failed reads`);
      readFailures = 0;
    } catch (error) {
      // Could not read: change nothing (an unknown is not a termination).
      if (readFailures++ % 25 === 0)
        log(`could not read the emulator (network left as is): ${String(error)}`);
      return;
    }
    lastObserved = observed;
    for (const [subnetId, subnet] of observed.subnets) await ensureBridge(subnetId, subnet.cidr);

    const wanted = new Set(
      [...observed.instances]
        .filter(([, i]) => RUNNING_STATES.has(i.state))
        .map(([instanceId]) => instanceId),
    );
    // Instances that stopped or terminated: stop their services first, then their ENIs move out (below).
    const leaving = [...instances.values()].filter((s) => !wanted.has(s.instanceId));
    for (const instanceId of wanted) await ensureInstanceNamespace(instanceId);

    // The ENI's own attachment is the truth; an instance that still lists an ENI attached elsewhere shows an
    // attach moto accepted and AWS refuses.
    for (const [instanceId, instance] of observed.instances) {
      for (const eniId of instance.reportedEnis) {
        const holder = observed.enis.get(eniId)?.attachment?.instanceId;
        if (holder && holder !== instanceId)
          warnOnce(
            `double:${eniId}:${instanceId}:${holder}`,
            `WARNING ${eniId}: moto lists it on ${instanceId} and attached to ${holder} — it accepted attaching an ` +
              `ENI that was attached already (AWS refuses: the ENI is in use); following the ENI's attachment (${holder})`,
          );
      }
    }
    for (const [eniId, eni] of observed.enis) {
      const reported = [...eni.reportedGroups].sort().join(',');
      const own = [...(observed.ownGroups.get(eniId) ?? [])].sort().join(',');
      if (reported !== own)
        warnOnce(
          `groups:${eniId}:${reported}:${own}`,
          `eni ${eniId}: moto reports groups [${reported}] (its own plus its instance's); enforcing its own [${own}] as AWS does`,
        );
    }

    // An instance that stops or terminates is shut down in the background (its units' ExecStop may take a minute,
    // as on EC2): the pass goes on, so an ENI its attachment moved to another instance moves now, not after.
    for (const state of leaving) {
      if (!instances.has(state.instanceId) || removing.has(state.instanceId)) continue;
      const removal = removeInstance(state, observed)
        .catch((error: unknown) => log(`instance ${state.instanceId}: removal failed: ${String(error)}`))
        .finally(() => removing.delete(state.instanceId));
      removing.set(state.instanceId, { netns: state.netns, done: removal });
    }
    const removingNetns = new Set([...removing.values()].map((r) => r.netns));

    // ENIs: create, move, rename, re-address.
    const used = new Map<string, Set<string>>(); // netns → interface names already placed this pass
    const plan = [...observed.enis].sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [eniId, eni] of plan) {
      if (!bridges.has(eni.subnetId)) continue;
      const link = enis.get(eniId) ?? (await createEniLink(eniId, eni.mac, eni.subnetId));
      const holder = eni.attachment && wanted.has(eni.attachment.instanceId) ? eni.attachment : undefined;
      const target = holder ? instances.get(holder.instanceId)?.netns : undefined;
      if (!holder || !target) {
        // Still in an instance that is shutting down (its primary ENI, or one still attached to it): it goes
        // with the instance's removal.
        if (removingNetns.has(link.netns)) continue;
        if (link.netns !== outer) {
          const from = link.netns;
          await detachLink(link, outer);
          log(`eni ${eniId} (${eni.ips.join(', ')}): detached from ${from}, parked`);
        }
        continue;
      }
      const names = used.get(target) ?? new Set<string>();
      used.set(target, names);
      const sameIps = link.ips.join(',') === eni.ips.join(',');
      if (link.netns === target && link.deviceIndex === holder.deviceIndex && sameIps) {
        names.add(link.name);
        continue;
      }
      const from = link.netns;
      await detachLink(link, target);
      const taken = new Set([
        ...names,
        ...[...enis.values()].filter((l) => l.netns === target && l !== link).map((l) => l.name),
      ]);
      await configureLink(link, target, holder.deviceIndex, eni.ips, taken);
      names.add(link.name);
      log(
        from === target
          ? `eni ${eniId}: reconfigured in ${target} as ${link.name} (${eni.ips.join(', ')})`
          : `eni ${eniId} (${eni.mac}, ${eni.ips.join(', ')}): ${from === outer ? 'attached' : `moved from ${from}`} to ${holder.instanceId} as ${link.name}`,
      );
    }
    for (const [eniId, link] of enis) {
      if (observed.enis.has(eniId)) continue;
      await ip(outer, ['link', 'del', link.hostEnd]).catch(() => undefined);
      enis.delete(eniId);
      log(`eni ${eniId}: deleted in the emulator, veth removed`);
    }

    // Security groups of every namespace (those shutting down keep theirs).
    for (const state of instances.values()) {
      if (removing.has(state.instanceId)) continue;
      const interfaces = [...enis.values()]
        .filter((l) => l.netns === state.netns)
        .map((l) => ({ name: l.name, groupIds: observed.ownGroups.get(l.eniId) ?? [] }));
      const ruleset = rulesetFor(observed, interfaces);
      if (ruleset !== state.ruleset) {
        await nftApply(state.netns, ruleset);
        state.ruleset = ruleset;
      }
    }
    for (const lambda of lambdas.values()) {
      const ruleset = rulesetFor(
        observed,
        [{ name: 'eth0', groupIds: lambda.securityGroupIds }],
        [lambda.serviceLink.innerInterface],
      );
      if (ruleset !== lambda.ruleset) {
        await nftApply(lambda.netns, ruleset);
        lambda.ruleset = ruleset;
      }
    }

    // Announce new instances once their network is in place.
    for (const state of instances.values()) {
      if (state.announced) continue;
      state.announced = true;
      const info = observed.instances.get(state.instanceId);
      log(`instance ${state.instanceId}: namespace ${state.netns} ready (${info?.privateIp ?? '?'})`);
      if (options.onInstance && info) {
        state.services = options.onInstance({
          instanceId: state.instanceId,
          netns: state.netns,
          availabilityZone: info.az,
          privateIp: info.privateIp,
        });
        state.services.catch((error: unknown) =>
          log(`instance ${state.instanceId}: onInstance failed: ${String(error)}`),
        );
      }
    }
  }

  // Serialised reconciliations: reconcileNow() waits for a running one and then runs its own.
  let chain: Promise<void> = Promise.resolve();
  const enqueue = <T>(task: () => Promise<T>): Promise<T> => {
    const result = chain.then(task);
    chain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  };

  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      enqueue(reconcile)
        .catch((error: unknown) =>
          log(`reconcile failed: ${error instanceof Error ? error.message : String(error)}`),
        )
        .finally(schedule);
    }, pollIntervalMs);
  };

  const network: VpcNetwork = {
    prefix,
    outer,
    reconcileNow: () => enqueue(reconcile),
    addLambdaNamespace: (lambdaOptions) =>
      enqueue(async () => {
        const observed = lastObserved ?? (await observe());
        const subnet = observed.subnets.get(lambdaOptions.subnetId);
        if (!subnet) throw new Error(`subnet ${lambdaOptions.subnetId} is not in ${vpcId}`);
        if (!inCidr(lambdaOptions.address, subnet.cidr))
          throw new Error(`${lambdaOptions.address} is not in ${subnet.cidr}`);
        await ensureBridge(lambdaOptions.subnetId, subnet.cidr);
        const bridge = bridges.get(lambdaOptions.subnetId);
        if (!bridge) throw new Error(`no bridge for ${lambdaOptions.subnetId}`);
        const netns = await run.addNamespace(lambdaOptions.name);
        const n = counter++;
        const hostEnd = `${prefix}-v${n}`;
        const k = serviceLinks++;
        const base = ipv4ToInt(SERVICE_LINK_BASE) + 4 * k;
        const outerAddress = intToIpv4(base + 1);
        const innerAddress = intToIpv4(base + 2);
        const outerInterface = `${prefix}-sl${k}`;
        const mac = `02:${randomBytes(5).toString('hex').match(/../g)?.join(':') ?? '00:00:00:00:00'}`;
        await ipBatch(outer, [
          `link add ${hostEnd} type veth peer name eth0 netns ${netns}`,
          `link set ${hostEnd} master ${bridge.name}`,
          `link set ${hostEnd} up`,
          `link add ${outerInterface} type veth peer name svc0 netns ${netns}`,
          `addr add ${outerAddress}/30 dev ${outerInterface}`,
          `link set ${outerInterface} up`,
        ]);
        const lambda: LambdaState = {
          name: lambdaOptions.name,
          netns,
          subnetId: lambdaOptions.subnetId,
          securityGroupIds: [...lambdaOptions.securityGroupIds],
          address: lambdaOptions.address,
          gateway: bridge.gateway,
          serviceLink: { outerInterface, outerAddress, innerInterface: 'svc0', innerAddress },
          ruleset: '',
          hostEnd,
        };
        const ruleset = rulesetFor(
          observed,
          [{ name: 'eth0', groupIds: lambda.securityGroupIds }],
          [lambda.serviceLink.innerInterface],
        );
        await nftApply(netns, ruleset);
        lambda.ruleset = ruleset;
        await ipBatch(netns, [
          `link set eth0 address ${mac}`,
          `addr add ${lambda.address}/${bridge.prefixLength} dev eth0`,
          'link set eth0 up',
          `addr add ${innerAddress}/30 dev svc0`,
          'link set svc0 up',
          `route replace default via ${bridge.gateway} dev eth0`,
        ]);
        lambdas.set(lambdaOptions.name, lambda);
        log(
          `lambda namespace ${netns}: ${lambda.address} in ${lambdaOptions.subnetId} (groups ${lambda.securityGroupIds.join(', ')}), ` +
            `service link ${innerAddress} ↔ ${outerAddress} (${outerInterface}, not filtered)`,
        );
        const { ruleset: _r, hostEnd: _h, ...view } = lambda;
        return view;
      }),
    async snapshot() {
      const views: NetworkSnapshot['instances'][number][] = [];
      for (const state of instances.values()) {
        const raw = await ip(state.netns, ['-j', 'addr', 'show']).catch(() => '[]');
        const links = LinkJson.parse(JSON.parse(raw));
        views.push({
          instanceId: state.instanceId,
          netns: state.netns,
          ruleset: state.ruleset,
          interfaces: links
            .filter((l) => l.ifname !== 'lo')
            .map((l) => {
              const eniId = [...enis.values()].find(
                (e) => e.netns === state.netns && e.name === l.ifname,
              )?.eniId;
              return {
                name: l.ifname,
                mac: l.address ?? '',
                addresses: l.addr_info.filter((a) => a.family === 'inet').map((a) => a.local),
                up: l.flags.includes('UP'),
                ...(eniId ? { eniId } : {}),
              };
            }),
        });
      }
      return {
        prefix,
        outer,
        bridges: [...bridges].map(([subnetId, b]) => ({
          subnetId,
          name: b.name,
          cidr: b.cidr,
          gateway: b.gateway,
        })),
        instances: views,
        parked: [...enis.values()]
          .filter((l) => l.netns === outer)
          .map((l) => ({ eniId: l.eniId, interface: l.name, mac: l.mac })),
        lambdas: [...lambdas.values()].map(({ ruleset: _r, hostEnd: _h, ...view }) => view),
        endpointAddresses,
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      await enqueue(async () => {
        await Promise.all([...removing.values()].map((r) => r.done));
        for (const state of [...instances.values()]) await removeInstance(state, undefined);
        for (const lambda of lambdas.values()) await run.deleteNamespace(lambda.netns);
        lambdas.clear();
        for (const link of enis.values())
          await ip(outer, ['link', 'del', link.hostEnd]).catch(() => undefined);
        enis.clear();
        for (const bridge of bridges.values())
          await ip(outer, ['link', 'del', bridge.name]).catch(() => undefined);
        bridges.clear();
        await ip(outer, ['link', 'del', endpointsDevice]).catch(() => undefined);
        await runCommand(['ip', 'netns', 'exec', outer, 'nft', 'delete', 'table', 'inet', 'cloud']).catch(
          () => undefined,
        );
        log(`vpc ${vpcId}: network removed`);
      });
    },
  };
  await network.reconcileNow();
  schedule();
  return network;
}
