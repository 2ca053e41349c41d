/**
 * Bench figure `terminationPolicy1000`: the termination-policy Lambda (functions/worker-drain/termination-policy.ts,
 * through its handler) answering Auto Scaling for 1,000 candidate instances. EC2 is moto with 1,000 real instances
 * in a /22 subnet; the coordinator is the scale double (harness/scale-double.ts: the recorded statement-protocol
 * pages of Trino 476 answering the task-load query with one row per instance's worker URI). DescribeInstances calls
 * are counted on the function's EC2 client by an SDK middleware (bench/aws-calls.ts), not taken from its log.
 *
 * One warm-up invocation, then the median of `runs`.
 *
 * @module
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { AUTO_SCALING_POLICY_MAX_RUN_MS } from '../functions/worker-drain/decide.ts';
import type { DrainDeps } from '../functions/worker-drain/deps.ts';
import { DrainEnvSchema } from '../functions/worker-drain/schemas.ts';
import { makeTerminationPolicyHandler } from '../functions/worker-drain/termination-policy.ts';
import { localContext } from '../harness/invoke.ts';
import type { MotoServer } from '../harness/moto.ts';
import { loadScaleFixtures, scaledTaskLoadRows, startScaleDouble } from '../harness/scale-double.ts';
import { loadConfig } from '../lib/config.ts';
import { lazyTrinoClient } from '../lib/trino/connect.ts';
import { countCalls } from './aws-calls.ts';
import { median } from './figures.ts';

/** Result of {@link terminationPolicyBench}. */
export interface TerminationPolicyFigures {
  readonly instances: number;
  /** Median duration of one answer, ms. */
  readonly ms: number;
  readonly runsMs: readonly number[];
  /** First invocation (credentials and client resolved, connections opened), ms. */
  readonly firstMs: number;
  /** DescribeInstances calls of one answer (counted on the EC2 client). */
  readonly describeInstancesCalls: number;
  /** Instances the answer ordered (must equal `instances`). */
  readonly answered: number;
  /** One DescribeInstances of all ids from the bench's own client: moto's share of {@link TerminationPolicyFigures.ms}. */
  readonly motoDescribeInstancesMs: number;
  /** Task-load queries the coordinator double answered per answer (1: the coordinator's load was read). */
  readonly taskLoadQueries: number;
  /** Invocations (first included) that failed, e.g. stopped by the handler's early timeout. */
  readonly failedAnswers: number;
  /** The function's timeout in serverless.yml, ms. */
  readonly timeoutMs: number;
  /**
   * `ms` ≤ Auto Scaling's 2-s limit on a custom termination policy (the policy's own deadline answers by then,
   * with the loads it could read: functions/worker-drain/termination-policy.ts).
   */
  readonly withinTimeout: boolean;
  /** `ms` − moto's own DescribeInstances time: our code, the coordinator query and the SDK. */
  readonly msWithoutMoto: number;
  readonly double: string;
  readonly goals: { readonly ms: number; readonly describeInstancesCallsPer1000Ids: 1 };
}

/**
 * Launches `instances` instances in moto and measures the policy's answer.
 * @param moto - A running moto (state is added to it: a VPC, a subnet, the instances).
 */
export async function terminationPolicyBench(
  moto: MotoServer,
  log: (line: string) => void,
  options: { instances?: number; runs?: number; latencyMs?: number } = {},
): Promise<TerminationPolicyFigures> {
  const instances = options.instances ?? 1_000;
  const runs = options.runs ?? 5;
  const setup = new EC2Client(moto.clientConfig);
  const vpc = await setup.send(new CreateVpcCommand({ CidrBlock: '10.50.0.0/16' }));
  const subnet = await setup.send(
    new CreateSubnetCommand({
      VpcId: vpc.Vpc?.VpcId,
      CidrBlock: '10.50.0.0/22',
      AvailabilityZone: `${moto.clientConfig.region}a`,
    }),
  );
  const imageId = (await setup.send(new DescribeImagesCommand({}))).Images?.[0]?.ImageId;
  const ids: string[] = [];
  for (let launched = 0; launched < instances; launched += 250) {
    const count = Math.min(250, instances - launched);
    const run = await setup.send(
      new RunInstancesCommand({
        ImageId: imageId,
        InstanceType: 'r7gd.2xlarge',
        MinCount: count,
        MaxCount: count,
        SubnetId: subnet.Subnet?.SubnetId,
      }),
    );
    for (const instance of run.Instances ?? []) if (instance.InstanceId) ids.push(instance.InstanceId);
  }
  const describeStart = performance.now();
  const described = await setup.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  const motoDescribeInstancesMs = Math.round(performance.now() - describeStart);
  const ips = (described.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .flatMap((i) => (i.PrivateIpAddress ? [i.PrivateIpAddress] : []));
  setup.destroy();

  const double = await startScaleDouble({ workers: 0, latencyMs: options.latencyMs ?? 2 });
  try {
    double.setTaskLoadRows(
      scaledTaskLoadRows(
        loadScaleFixtures().statementPages,
        ips.map((ip) => `http://${ip}:8080`),
      ),
    );
    const config = loadConfig(DrainEnvSchema, {
      CLUSTER_NAME: 'bench-termination',
      TRINO_URL: double.coordinatorUrl,
    });
    const ec2 = new EC2Client(moto.clientConfig);
    const calls = countCalls(ec2);
    const deps: DrainDeps = {
      config,
      autoscaling: new AutoScalingClient(moto.clientConfig),
      ec2,
      sfn: new SFNClient(moto.clientConfig),
      cloudwatch: new CloudWatchClient(moto.clientConfig),
      sns: new SNSClient(moto.clientConfig),
      coordinator: lazyTrinoClient(config),
      now: () => Date.now(),
    };
    const handler = makeTerminationPolicyHandler(() => deps);
    const event = {
      AutoScalingGroupARN: `arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:bench:autoScalingGroupName/bench-workers`,
      AutoScalingGroupName: 'bench-workers',
      CapacityToTerminate: [{ AvailabilityZone: `${moto.clientConfig.region}a`, Capacity: 10 }],
      Instances: ids.map((InstanceId) => ({
        AvailabilityZone: `${moto.clientConfig.region}a`,
        InstanceId,
        InstanceType: 'r7gd.2xlarge',
      })),
      Cause: 'SCALE_IN',
      HasMoreInstances: false,
    };
    const timeoutMs = 10_000; // serverless.yml: terminationPolicy timeout 10
    // The invocations get 120 s so that a slow emulator still yields a complete answer to measure; whether it fits
    // the deployed timeout is judged from the figures (moto's own DescribeInstances time is printed beside).
    const measureTimeoutMs = 120_000;
    // A failed answer (e.g. the handler's early timeout on a loaded machine: Auto Scaling would then apply its
    // default order) is counted, not fatal to the bench.
    let failures = 0;
    const answer = async () =>
      handler(event, localContext('terminationPolicy', measureTimeoutMs)).catch((error: unknown) => {
        failures += 1;
        log(`termination policy: answer failed: ${error instanceof Error ? error.name : String(error)}`);
        return { InstanceIDs: [] as string[] };
      });
    let start = performance.now();
    await answer();
    const firstMs = Math.round((performance.now() - start) * 10) / 10;
    const runsMs: number[] = [];
    let answered = 0;
    let perAnswer = 0;
    let taskLoadQueries = 0;
    for (let i = 0; i < runs; i += 1) {
      calls.DescribeInstancesCommand = 0;
      double.resetCounts();
      start = performance.now();
      const result = await answer();
      runsMs.push(Math.round((performance.now() - start) * 10) / 10);
      answered = result.InstanceIDs.length;
      perAnswer = calls.DescribeInstancesCommand ?? 0;
      taskLoadQueries = double.requests['coordinator POST /v1/statement'] ?? 0;
    }
    const figures: TerminationPolicyFigures = {
      instances: ids.length,
      ms: median(runsMs),
      runsMs,
      firstMs,
      describeInstancesCalls: perAnswer,
      answered,
      motoDescribeInstancesMs,
      taskLoadQueries,
      failedAnswers: failures,
      timeoutMs,
      // Auto Scaling's own limit (2 s), not the Lambda's 10-s timeout, is what the answer must meet.
      withinTimeout: median(runsMs) <= AUTO_SCALING_POLICY_MAX_RUN_MS,
      msWithoutMoto: Math.round((median(runsMs) - motoDescribeInstancesMs) * 10) / 10,
      double: double.label,
      goals: { ms: AUTO_SCALING_POLICY_MAX_RUN_MS, describeInstancesCallsPer1000Ids: 1 },
    };
    log(
      `termination policy   ${ids.length} instances: ${figures.ms} ms (median of ${runs}; first ${firstMs} ms), ` +
        `${perAnswer} DescribeInstances per answer (moto alone answers it in ${motoDescribeInstancesMs} ms), ${answered} ordered  [moto EC2; coordinator: ${double.label}]`,
    );
    return figures;
  } finally {
    await double.close();
  }
}
