/**
 * infra/trino-cluster.yaml as CloudFormation creates it (moto's CloudFormation, through the AWS CLI): the security
 * groups open the ports of the deployed model (clients and the control plane on TrinoHttpPort of the coordinators;
 * plain HTTP on InternalHttpPort between coordinators and workers, worker to worker, and from the control plane to
 * workers), the launch templates hand the internal port to the nodes, and coordinators cannot move the ENI.
 *
 * moto 5.2.5 does not apply egress rules from CloudFormation (neither the SecurityGroupEgress property nor
 * AWS::EC2::SecurityGroupEgress resources: every group keeps the default allow-all egress), so only ingress is
 * checked here.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { type MotoServer, REPO_ROOT, startMoto } from '../../harness/moto.ts';

const SecurityGroups = z.object({
  SecurityGroups: z.array(
    z.object({
      GroupId: z.string(),
      GroupName: z.string(),
      IpPermissions: z.array(
        z.object({
          FromPort: z.number(),
          ToPort: z.number(),
          UserIdGroupPairs: z.array(z.object({ GroupId: z.string() })),
          IpRanges: z.array(z.object({ CidrIp: z.string() })),
        }),
      ),
    }),
  ),
});

describe('cluster stack network model (infra/trino-cluster.yaml on moto CloudFormation)', () => {
  let moto: MotoServer;
  let home = '';
  let stack = 0;
  const aws = (...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(path.join(REPO_ROOT, '.venv/bin/aws'), [...args, '--output', 'json'], {
        env: { PATH: '/usr/bin:/bin', HOME: home, ...moto.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
      });
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0 ? resolve(out) : reject(new Error(`aws ${args.join(' ')}: ${err}`)),
      );
    });
  /** `Vpc.VpcId` / `Subnet.SubnetId` of a create-vpc / create-subnet answer. */
  const id = (text: string, key: 'Vpc' | 'Subnet') =>
    z.object({ [key]: z.object({ [`${key}Id`]: z.string() }) }).parse(JSON.parse(text))[key]?.[`${key}Id`] ??
    '';

  /** Creates the stack with `parameters` over a fresh VPC; returns port → source set per group role. */
  const createCluster = async (parameters: Record<string, string>) => {
    stack += 1;
    const vpc = id(await aws('ec2', 'create-vpc', '--cidr-block', '10.42.0.0/16'), 'Vpc');
    const subnet = async (cidr: string, az: string) =>
      id(
        await aws('ec2', 'create-subnet', '--vpc-id', vpc, '--cidr-block', cidr, '--availability-zone', az),
        'Subnet',
      );
    const a = await subnet('10.42.1.0/24', 'us-east-1a');
    const b = await subnet('10.42.2.0/24', 'us-east-1b');
    const images = z
      .object({ Images: z.array(z.object({ ImageId: z.string() })) })
      .parse(JSON.parse(await aws('ec2', 'describe-images', '--owners', 'amazon')));
    const all: Record<string, string> = {
      ClusterName: `net${stack}`,
      AmiId: images.Images[0]?.ImageId ?? '',
      VpcId: vpc,
      SubnetIds: `"${a},${b}"`,
      CoordinatorSubnetId: a,
      CoordinatorPrivateIp: '10.42.1.10',
      ClientCidr: '10.0.0.0/8',
      ...parameters,
    };
    const name = `cluster${stack}`;
    await aws(
      'cloudformation',
      'create-stack',
      '--stack-name',
      name,
      '--template-body',
      `file://${path.join(REPO_ROOT, 'infra/trino-cluster.yaml')}`,
      '--capabilities',
      'CAPABILITY_IAM',
      '--parameters',
      ...Object.entries(all).map(([k, v]) => `ParameterKey=${k},ParameterValue=${v}`),
    );
    const status = z
      .object({ Stacks: z.array(z.object({ StackStatus: z.string() })) })
      .parse(JSON.parse(await aws('cloudformation', 'describe-stacks', '--stack-name', name)));
    expect(status.Stacks[0]?.StackStatus).toBe('CREATE_COMPLETE');
    const groups = SecurityGroups.parse(
      JSON.parse(await aws('ec2', 'describe-security-groups', '--filters', `Name=vpc-id,Values=${vpc}`)),
    ).SecurityGroups;
    const roleOf = new Map<string, string>();
    for (const g of groups) {
      const role = /-(Coordinator|Worker|ControlPlane)SecurityGroup-/.exec(g.GroupName)?.[1];
      if (role) roleOf.set(g.GroupId, role);
    }
    const ingress = (role: string) => {
      const rules: Record<string, string[]> = {};
      for (const g of groups.filter((x) => roleOf.get(x.GroupId) === role)) {
        for (const p of g.IpPermissions) {
          expect(p.FromPort).toBe(p.ToPort);
          rules[String(p.FromPort)] = [
            ...p.UserIdGroupPairs.map((pair) => roleOf.get(pair.GroupId) ?? pair.GroupId),
            ...p.IpRanges.map((r) => r.CidrIp),
          ].sort();
        }
      }
      return rules;
    };
    const userData = async (group: string) => {
      const asg = z
        .object({
          AutoScalingGroups: z.array(
            z.object({ LaunchTemplate: z.object({ LaunchTemplateId: z.string() }) }),
          ),
        })
        .parse(
          JSON.parse(
            await aws(
              'autoscaling',
              'describe-auto-scaling-groups',
              '--auto-scaling-group-names',
              `net${stack}-${group}`,
            ),
          ),
        );
      const versions = z
        .object({
          LaunchTemplateVersions: z.array(
            z.object({ LaunchTemplateData: z.object({ UserData: z.string() }) }),
          ),
        })
        .parse(
          JSON.parse(
            await aws(
              'ec2',
              'describe-launch-template-versions',
              '--launch-template-id',
              asg.AutoScalingGroups[0]?.LaunchTemplate.LaunchTemplateId ?? '',
            ),
          ),
        );
      return Buffer.from(
        versions.LaunchTemplateVersions[0]?.LaunchTemplateData.UserData ?? '',
        'base64',
      ).toString();
    };
    /** The stack's exports, by the name after `trino-sentinel:<cluster>:`. */
    const exported = async () => {
      const list = z
        .object({ Exports: z.array(z.object({ Name: z.string(), Value: z.string() })) })
        .parse(JSON.parse(await aws('cloudformation', 'list-exports')));
      const prefix = `trino-sentinel:net${stack}:`;
      return Object.fromEntries(
        list.Exports.filter((e) => e.Name.startsWith(prefix)).map((e) => [
          e.Name.slice(prefix.length),
          e.Value,
        ]),
      );
    };
    return { name, ingress, userData, exported };
  };

  beforeAll(async () => {
    moto = await startMoto();
    home = await mkdtemp(path.join(os.tmpdir(), 'trino-sentinel-net-'));
  });
  afterAll(async () => {
    await moto?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await moto.reset();
  });

  it('https (default): clients and the control plane on 8443 of coordinators, plain 8080 between nodes and to workers', async () => {
    const cluster = await createCluster({});
    expect(cluster.ingress('Coordinator')).toEqual({
      '8443': ['10.0.0.0/8', 'ControlPlane'],
      '8080': ['Worker'],
    });
    expect(cluster.ingress('Worker')).toEqual({ '8080': ['ControlPlane', 'Coordinator', 'Worker'] });
    expect(cluster.ingress('ControlPlane')).toEqual({});
    for (const group of ['coordinators', 'workers'])
      expect(await cluster.userData(group)).toMatch(
        /TRINO_HTTP_SCHEME=https\n\s*TRINO_HTTP_PORT=8443\n\s*INTERNAL_HTTP_PORT=8080\n/,
      );
    // What serverless.yml imports as the control plane's URL templates (issue 17): the same scheme and ports.
    expect(await cluster.exported()).toMatchObject({
      WorkerUrlTemplate: 'http://{privateIp}:8080',
      CoordinatorPrimaryUrlTemplate: 'https://{privateIp}:8443',
    });
  });

  it('http: one port for clients and nodes, whatever InternalHttpPort says', async () => {
    const cluster = await createCluster({
      TrinoHttpScheme: 'http',
      TrinoHttpPort: '8081',
      InternalHttpPort: '8080',
    });
    expect(cluster.ingress('Coordinator')).toEqual({ '8081': ['10.0.0.0/8', 'ControlPlane', 'Worker'] });
    expect(cluster.ingress('Worker')).toEqual({ '8081': ['ControlPlane', 'Coordinator', 'Worker'] });
    expect(await cluster.userData('workers')).toMatch(/TRINO_HTTP_PORT=8081\n\s*INTERNAL_HTTP_PORT=8081\n/);
    // The control plane probes workers and coordinators where they listen: fixed https/8443 templates would find
    // no node and (before the all-probes-failed guard) replace every standby in a loop.
    expect(await cluster.exported()).toMatchObject({
      WorkerUrlTemplate: 'http://{privateIp}:8081',
      CoordinatorPrimaryUrlTemplate: 'http://{privateIp}:8081',
    });
  });

  it('gives coordinators no right to attach the ENI (only the control plane moves it)', async () => {
    const cluster = await createCluster({});
    const roles = z
      .object({ Roles: z.array(z.object({ RoleName: z.string() })) })
      .parse(JSON.parse(await aws('iam', 'list-roles')));
    const role = roles.Roles.find((r) => r.RoleName.startsWith(`${cluster.name}-CoordinatorRole-`))?.RoleName;
    expect(role).toBeDefined();
    const inline = z
      .object({ PolicyNames: z.array(z.string()) })
      .parse(JSON.parse(await aws('iam', 'list-role-policies', '--role-name', role ?? '')));
    expect(inline.PolicyNames).toEqual([]);
  });
});
