/**
 * The local cloud's pure pieces: systemd unit reading (harness/cloud/systemd-units.ts) and the security-group
 * ruleset rendering (harness/cloud/security-groups.ts). The integration test (cloud-network.test.ts) runs both for
 * real; these pin the parsing rules and the rendered text.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderRuleset, type SecurityGroupRules } from '../../harness/cloud/security-groups.ts';
import {
  enabledUnits,
  expandCommand,
  loadServiceUnit,
  parseEnvironmentFile,
  parseExecLine,
  parseTimeSpanMs,
  parseUnitText,
  planStart,
  type ServiceUnit,
  splitWords,
} from '../../harness/cloud/systemd-units.ts';
import { REPO_ROOT } from '../../harness/moto.ts';

const FIXTURE_UNITS = path.join(REPO_ROOT, 'test/fixtures/cloud-image/etc/systemd/system');
const AMI_UNITS = path.join(REPO_ROOT, 'packer/files/systemd');

describe('systemd unit files', () => {
  it('reads sections, repeated keys, comments and continuation lines', () => {
    const sections = parseUnitText(
      '# comment\n[Unit]\nDescription = spaced out\n[Service]\nExecStartPre=/bin/a\n; other comment\nExecStartPre=/bin/b \\\n  --flag\n',
    );
    expect(sections.get('Unit')?.get('Description')).toEqual(['spaced out']);
    expect(sections.get('Service')?.get('ExecStartPre')).toEqual(['/bin/a', '/bin/b  --flag']);
  });

  it("reads the AMI's trino.service as systemd does", () => {
    const unit = loadServiceUnit(AMI_UNITS, 'trino.service');
    expect(unit).toMatchObject({
      type: 'simple',
      user: 'trino',
      group: 'trino',
      environmentFiles: [{ path: '/etc/trino/env.sh', optional: true }],
      execStart: [
        {
          command: '/opt/trino/bin/launcher run --etc-dir=/etc/trino',
          ignoreFailure: false,
          privileged: false,
        },
      ],
      execStop: [{ command: '/usr/local/bin/trino-graceful-stop', ignoreFailure: false, privileged: false }],
      timeoutStopMs: 660_000,
      killSignal: 'SIGTERM',
      restart: 'on-failure',
      restartMs: 10_000,
      requires: ['trino-render.service'],
      after: ['trino-render.service'],
      limitNofile: '131072',
    });
  });

  it("reads the AMI's trino-render.service: a oneshot with no start timeout, a condition, output appended to a log", () => {
    const unit = loadServiceUnit(AMI_UNITS, 'trino-render.service');
    expect(unit).toMatchObject({
      type: 'oneshot',
      remainAfterExit: true,
      timeoutStartMs: undefined,
      conditionPathExists: [{ path: '/etc/trino-sentinel/boot.env', negate: false }],
      standardOutput: { kind: 'file', path: '/var/log/trino-render.log', mode: 'append' },
      after: ['network-online.target', 'cloud-final.service'],
    });
  });

  it('applies drop-ins after the unit file in lexical order; an empty assignment resets a list', () => {
    const unit = loadServiceUnit(FIXTURE_UNITS, 'fixture-app.service');
    expect(unit?.environment).toEqual([
      ['FIXTURE_QUOTED', 'two words'],
      ['FIXTURE_PLAIN', 'plain'],
      ['FIXTURE_DROPIN', 'from-drop-in'],
    ]);
    expect(unit?.execStartPost.map((e) => e.command)).toEqual([
      `/bin/sh -c 'echo "post-start user=$(id -un)" >> /var/log/fixture-app/events'`,
    ]);
    expect(unit?.sources.map((s) => path.basename(s))).toEqual(['fixture-app.service', '10-dropin.conf']);
  });

  it.each([
    ['90', 90_000],
    ['5min 30s', 330_000],
    ['100ms', 100],
    ['2h', 7_200_000],
    ['infinity', undefined],
    ['0', undefined],
  ])('reads the time span %s', (text, ms) => {
    expect(parseTimeSpanMs(text)).toBe(ms);
  });

  it('refuses a malformed time span', () => {
    expect(() => parseTimeSpanMs('5 fortnights')).toThrow(/bad time unit/);
  });

  it('splits words with quotes and escapes', () => {
    expect(splitWords(`a "b c" 'd e' f\\ g "h\\"i"`)).toEqual(['a', 'b c', 'd e', 'f g', 'h"i']);
    expect(() => splitWords('"open')).toThrow(/unterminated/);
  });

  it.each([
    ['-/bin/true', { command: '/bin/true', ignoreFailure: true, privileged: false, noExpansion: false }],
    [
      '+/bin/chown x',
      { command: '/bin/chown x', ignoreFailure: false, privileged: true, noExpansion: false },
    ],
    ['-:/bin/x', { command: '/bin/x', ignoreFailure: true, privileged: false, noExpansion: true }],
  ])('reads the Exec prefixes of %s', (line, parsed) => {
    expect(parseExecLine(line)).toEqual(parsed);
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${VAR} syntax, not a template
  it('expands ${VAR} as one argument, a lone $VAR split at whitespace, $$ and specifiers', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${VAR} syntax, not a template
    const exec = parseExecLine('/bin/app --port ${PORT} $EXTRA --name=%n --x="${SPACED}" $$HOME');
    const argv = expandCommand(
      exec,
      { PORT: '8080', EXTRA: '--a 1  --b', SPACED: 'two words' },
      { unit: 'app.service', hostname: 'h' },
    );
    expect(argv).toEqual([
      '/bin/app',
      '--port',
      '8080',
      '--a',
      '1',
      '--b',
      '--name=app.service',
      '--x=two words',
      '$HOME',
    ]);
  });

  it('reads an environment file: comments, quotes, continuation; other lines ignored', () => {
    expect(parseEnvironmentFile('# c\nA=1\nB = "two words"\nC=\'x\'\nnot an assignment\nD=a\\\nb\n')).toEqual(
      [
        ['A', '1'],
        ['B', 'two words'],
        ['C', 'x'],
        ['D', 'ab'],
      ],
    );
  });

  it('lists the units a target wants and plans their start: Requires pulls units in, After orders them, missing ones are reported', () => {
    expect(enabledUnits(FIXTURE_UNITS)).toEqual([
      'fixture-agent.service',
      'fixture-app.service',
      'fixture-stubborn.service',
    ]);
    const plan = planStart(enabledUnits(FIXTURE_UNITS), (name) => loadServiceUnit(FIXTURE_UNITS, name));
    expect(plan.order.map((u) => u.name)).toEqual([
      'fixture-render.service',
      'fixture-app.service',
      'fixture-stubborn.service',
    ]);
    expect(plan.missing).toEqual(['fixture-agent.service']);
  });

  it('refuses an ordering cycle', () => {
    const base = loadServiceUnit(FIXTURE_UNITS, 'fixture-stubborn.service');
    if (!base) throw new Error('fixture-stubborn.service is missing');
    const unit = (name: string, after: string[]): ServiceUnit => ({ ...base, name, after });
    const units: Record<string, ServiceUnit> = {
      'a.service': unit('a.service', ['b.service']),
      'b.service': unit('b.service', ['a.service']),
    };
    expect(() => planStart(['a.service', 'b.service'], (n) => units[n])).toThrow(/ordering cycle/);
  });
});

describe('security groups as nftables', () => {
  const groups = new Map<string, SecurityGroupRules>([
    [
      'sg-coord',
      {
        groupId: 'sg-coord',
        ingress: [
          {
            protocol: 'tcp',
            fromPort: 8080,
            toPort: 8080,
            cidrs: ['10.42.250.0/24'],
            groupIds: ['sg-worker', 'sg-empty'],
          },
          { protocol: 'icmp', fromPort: 3, toPort: 4, cidrs: ['0.0.0.0/0'], groupIds: [] },
        ],
        egress: [{ protocol: '-1', cidrs: ['0.0.0.0/0'], groupIds: [] }],
      },
    ],
    [
      'sg-worker',
      {
        groupId: 'sg-worker',
        ingress: [],
        egress: [{ protocol: 'udp', fromPort: 1000, toPort: 2000, cidrs: [], groupIds: ['sg-coord'] }],
      },
    ],
  ]);
  const members = new Map([
    ['sg-worker', ['10.42.2.5', '10.42.1.6']],
    ['sg-coord', ['10.42.1.4', '10.42.1.10']],
  ]);

  it('renders ingress and egress per interface, source/destination groups as sets of their members, stateful, everything else dropped', () => {
    const text = renderRuleset({
      interfaces: [
        { name: 'eth0', groupIds: ['sg-worker'] },
        { name: 'eth1', groupIds: ['sg-coord'] },
      ],
      exempt: ['svc0'],
      groups,
      members,
    });
    expect(text).toBe(
      [
        'table inet sg',
        'delete table inet sg',
        'table inet sg {',
        '  set g_sg_coord { type ipv4_addr; elements = { 10.42.1.10, 10.42.1.4 } }',
        '  set g_sg_worker { type ipv4_addr; elements = { 10.42.1.6, 10.42.2.5 } }',
        '  chain input {',
        '    type filter hook input priority filter; policy drop;',
        '    iifname "lo" accept',
        '    ct state established,related accept',
        '    iifname "svc0" accept',
        '    iifname "eth0" jump in_eth0',
        '    iifname "eth1" jump in_eth1',
        '  }',
        '  chain output {',
        '    type filter hook output priority filter; policy drop;',
        '    oifname "lo" accept',
        '    ct state established,related accept',
        '    oifname "svc0" accept',
        '    oifname "eth0" jump out_eth0',
        '    oifname "eth1" jump out_eth1',
        '  }',
        '  chain in_eth0 {',
        '  }',
        '  chain out_eth0 {',
        '    ip daddr @g_sg_coord udp dport 1000-2000 accept',
        '  }',
        '  chain in_eth1 {',
        '    ip saddr 10.42.250.0/24 tcp dport 8080 accept',
        '    ip saddr @g_sg_worker tcp dport 8080 accept',
        '    ip saddr 0.0.0.0/0 icmp type 3 icmp code 4 accept',
        '  }',
        '  chain out_eth1 {',
        '    ip daddr 0.0.0.0/0 accept',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it.each([
    [{ protocol: 'tcp', cidrs: ['10.0.0.0/8'], groupIds: [] }, 'ip saddr 10.0.0.0/8 meta l4proto tcp accept'],
    [
      { protocol: '6', fromPort: 0, toPort: 65535, cidrs: ['10.0.0.0/8'], groupIds: [] },
      'ip saddr 10.0.0.0/8 meta l4proto tcp accept',
    ],
    [
      { protocol: 'icmp', fromPort: -1, toPort: -1, cidrs: ['10.0.0.0/8'], groupIds: [] },
      'ip saddr 10.0.0.0/8 meta l4proto icmp accept',
    ],
    [
      { protocol: '1', fromPort: 8, toPort: -1, cidrs: ['10.0.0.0/8'], groupIds: [] },
      'ip saddr 10.0.0.0/8 icmp type 8 accept',
    ],
    [{ protocol: '50', cidrs: ['10.0.0.0/8'], groupIds: [] }, 'ip saddr 10.0.0.0/8 meta l4proto 50 accept'],
  ])('renders the rule %o', (rule, line) => {
    const text = renderRuleset({
      interfaces: [{ name: 'eth0', groupIds: ['sg-x'] }],
      groups: new Map([['sg-x', { groupId: 'sg-x', ingress: [rule], egress: [] }]]),
      members: new Map(),
    });
    expect(text).toContain(`  chain in_eth0 {\n    ${line}\n  }`);
  });

  it('leaves out IPv6-only rules and source groups with no member', () => {
    const text = renderRuleset({
      interfaces: [{ name: 'eth0', groupIds: ['sg-x'] }],
      groups: new Map([
        [
          'sg-x',
          {
            groupId: 'sg-x',
            ingress: [
              { protocol: 'icmpv6', cidrs: ['0.0.0.0/0'], groupIds: [] },
              { protocol: 'tcp', fromPort: 1, toPort: 1, cidrs: [], groupIds: ['sg-none'] },
            ],
            egress: [],
          },
        ],
      ]),
      members: new Map(),
    });
    expect(text).toContain('  chain in_eth0 {\n  }');
    expect(text).not.toContain('sg_none');
  });
});
