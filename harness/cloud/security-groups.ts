/**
 * Test infrastructure for the local cloud: renders EC2 security groups as one nftables table for a network
 * namespace (an instance's or the control-plane Lambdas'). Pure: no I/O; network.ts gathers the groups from the
 * emulator and loads the text with `nft -f`.
 *
 * Semantics (Source: Amazon VPC User Guide, "Security group rules"): stateful (replies of an allowed flow pass:
 * `ct state established,related`), allow-only rules, everything else dropped; rules of every group of an interface
 * apply together; a source/destination security group stands for the private IPv4 addresses of every network
 * interface in that group; IpProtocol `-1` is all traffic; for ICMP, FromPort is the type and ToPort the code
 * (`-1` = any). Loopback traffic and 169.254.169.254 (on `lo`) are never filtered, as on EC2.
 *
 * @module
 */

/** One rule of a group (ingress or egress), as DescribeSecurityGroups returns it. */
export interface SecurityGroupRule {
  /** `tcp`, `udp`, `icmp`, `-1` (all) or a protocol number as text (`6`, `17`, `1`, …). */
  readonly protocol: string;
  /** First port (TCP/UDP) or ICMP type; undefined or -1 = any. */
  readonly fromPort?: number;
  /** Last port (TCP/UDP) or ICMP code; undefined or -1 = any. */
  readonly toPort?: number;
  /** IPv4 CIDRs (`CidrIp`). */
  readonly cidrs: readonly string[];
  /** Referenced groups (`UserIdGroupPairs[].GroupId`). */
  readonly groupIds: readonly string[];
}

/** A security group's rules. */
export interface SecurityGroupRules {
  readonly groupId: string;
  readonly ingress: readonly SecurityGroupRule[];
  readonly egress: readonly SecurityGroupRule[];
}

/** What one namespace's ruleset is made of. */
export interface RulesetInput {
  /** Filtered interfaces (`eth0`, `eth1`, …) and the groups of the ENI behind each. */
  readonly interfaces: readonly { readonly name: string; readonly groupIds: readonly string[] }[];
  /** Interfaces never filtered (the Lambda namespace's service link). */
  readonly exempt?: readonly string[];
  /** Every group of the VPC by id. */
  readonly groups: ReadonlyMap<string, SecurityGroupRules>;
  /** Private IPv4 addresses of the members of each group (for source/destination group rules). */
  readonly members: ReadonlyMap<string, readonly string[]>;
}

/** Name of the nftables table network.ts manages in each namespace (`inet` family). */
export const SG_TABLE = 'sg';

const ident = (text: string) => text.replace(/[^A-Za-z0-9_]/g, '_');
const setName = (groupId: string) => `g_${ident(groupId)}`;

function protocolMatch(rule: SecurityGroupRule): string | undefined {
  const proto = rule.protocol.toLowerCase();
  const any = (value: number | undefined) => value === undefined || value === -1;
  const ports = () => {
    if (any(rule.fromPort) || (rule.fromPort === 0 && rule.toPort === 65535)) return '';
    const to = any(rule.toPort) ? rule.fromPort : rule.toPort;
    return to === rule.fromPort ? ` dport ${rule.fromPort}` : ` dport ${rule.fromPort}-${to}`;
  };
  if (proto === '-1' || proto === 'all') return '';
  if (proto === 'tcp' || proto === '6') {
    const p = ports();
    return p ? `tcp${p}` : 'meta l4proto tcp';
  }
  if (proto === 'udp' || proto === '17') {
    const p = ports();
    return p ? `udp${p}` : 'meta l4proto udp';
  }
  if (proto === 'icmp' || proto === '1') {
    if (any(rule.fromPort)) return 'meta l4proto icmp';
    return any(rule.toPort)
      ? `icmp type ${rule.fromPort}`
      : `icmp type ${rule.fromPort} icmp code ${rule.toPort}`;
  }
  if (proto === 'icmpv6' || proto === '58') return undefined; // no IPv6 in this VPC
  if (/^\d+$/.test(proto)) return `meta l4proto ${proto}`;
  return undefined;
}

function ruleLines(
  rules: readonly SecurityGroupRule[],
  direction: 'saddr' | 'daddr',
  members: ReadonlyMap<string, readonly string[]>,
  referenced: Set<string>,
): string[] {
  const lines: string[] = [];
  for (const rule of rules) {
    const proto = protocolMatch(rule);
    if (proto === undefined) continue;
    const tail = proto ? ` ${proto}` : '';
    for (const cidr of rule.cidrs) lines.push(`ip ${direction} ${cidr}${tail} accept`);
    for (const groupId of rule.groupIds) {
      referenced.add(groupId);
      if ((members.get(groupId) ?? []).length > 0)
        lines.push(`ip ${direction} @${setName(groupId)}${tail} accept`);
    }
  }
  return [...new Set(lines)];
}

/**
 * Renders the `inet sg` table of one namespace: an input and an output chain (policy drop) that accept loopback,
 * established/related traffic and the exempt interfaces, then jump to one chain per interface holding the
 * interface's groups' ingress (resp. egress) rules; a named set per referenced group holds its members' addresses.
 * The text first creates then deletes the table, so `nft -f` replaces it atomically.
 * @returns nft script text.
 * @example nftApply(netns, renderRuleset({ interfaces: [{ name: 'eth0', groupIds: ['sg-1'] }], groups, members }))
 * Source: nft(8) (tables, sets, `ct state`, `iifname`/`oifname`, `jump`); Amazon VPC security group rules.
 */
export function renderRuleset(input: RulesetInput): string {
  const referenced = new Set<string>();
  const chains: string[] = [];
  const inputJumps: string[] = [];
  const outputJumps: string[] = [];
  for (const iface of input.interfaces) {
    const ingress: string[] = [];
    const egress: string[] = [];
    for (const groupId of iface.groupIds) {
      const group = input.groups.get(groupId);
      if (!group) continue;
      ingress.push(...ruleLines(group.ingress, 'saddr', input.members, referenced));
      egress.push(...ruleLines(group.egress, 'daddr', input.members, referenced));
    }
    const name = ident(iface.name);
    chains.push(`  chain in_${name} {`, ...[...new Set(ingress)].map((l) => `    ${l}`), '  }');
    chains.push(`  chain out_${name} {`, ...[...new Set(egress)].map((l) => `    ${l}`), '  }');
    inputJumps.push(`    iifname "${iface.name}" jump in_${name}`);
    outputJumps.push(`    oifname "${iface.name}" jump out_${name}`);
  }
  const sets = [...referenced]
    .sort()
    .filter((groupId) => (input.members.get(groupId) ?? []).length > 0)
    .map((groupId) => {
      const addresses = [...new Set(input.members.get(groupId) ?? [])].sort();
      return `  set ${setName(groupId)} { type ipv4_addr; elements = { ${addresses.join(', ')} } }`;
    });
  const exempt = input.exempt ?? [];
  return [
    `table inet ${SG_TABLE}`,
    `delete table inet ${SG_TABLE}`,
    `table inet ${SG_TABLE} {`,
    ...sets,
    '  chain input {',
    '    type filter hook input priority filter; policy drop;',
    '    iifname "lo" accept',
    '    ct state established,related accept',
    ...exempt.map((name) => `    iifname "${name}" accept`),
    ...inputJumps,
    '  }',
    '  chain output {',
    '    type filter hook output priority filter; policy drop;',
    '    oifname "lo" accept',
    '    ct state established,related accept',
    ...exempt.map((name) => `    oifname "${name}" accept`),
    ...outputJumps,
    '  }',
    ...chains,
    '}',
    '',
  ].join('\n');
}
