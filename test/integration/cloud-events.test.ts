/**
 * The local cloud's event delivery (harness/cloud/events.ts, sqs-event-sources.ts, lifecycle.ts,
 * function-urls.ts) against real moto (own server), with the resources created the way our packaged template
 * defines them: `npx osls package` writes .serverless/cloudformation-template-update-stack.json and every rule
 * (pattern, schedule, state, target retry policy and DLQ), the SQS queues (visibility, redrive), the event source
 * mapping and the Function URL are taken from it; the worker group's lifecycle hook from infra/trino-cluster.yaml.
 *
 * The Lambda Invoke API is a TEST DOUBLE here (test/helpers/lambda-invoke-double.ts: the real Lambda service is
 * harness/cloud/lambda-service.ts, another module); it records what each caller sent and answers as each test
 * says. Every payload our functions would receive is checked against the functions' own zod schemas.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  PutLifecycleHookCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DeleteRuleCommand,
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  type Target,
} from '@aws-sdk/client-eventbridge';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateEventSourceMappingCommand,
  CreateFunctionCommand,
  CreateFunctionUrlConfigCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import {
  LifecycleActionEventSchema,
  SpotInterruptionEventSchema,
  TerminationPolicyInputSchema,
} from '../../functions/worker-drain/schemas.ts';
import {
  type CertificateAuthority,
  createCertificateAuthority,
} from '../../harness/cloud/certificate-authority.ts';
import {
  type LocalEventBridge,
  lifecycleActionEvent,
  spotInterruptionWarningEvent,
  startEventBridge,
} from '../../harness/cloud/events.ts';
import { type LocalFunctionUrls, startFunctionUrls } from '../../harness/cloud/function-urls.ts';
import { type LocalLifecycleLayer, startLifecycleLayer } from '../../harness/cloud/lifecycle.ts';
import { type LocalSqsEventSources, startSqsEventSources } from '../../harness/cloud/sqs-event-sources.ts';
import { type MotoServer, REPO_ROOT, startMoto, waitUntil } from '../../harness/moto.ts';
import { CLOUDFORMATION_YAML_TAGS } from '../helpers/cloudformation-template.ts';
import { type LambdaInvokeDouble, startLambdaInvokeDouble } from '../helpers/lambda-invoke-double.ts';

const PACKAGED = path.join(REPO_ROOT, '.serverless', 'cloudformation-template-update-stack.json');
const WORKER_GROUP = 'trino-dev-workers';
/** Schedules: 1 AWS minute = 300 ms. */
const EVENTS_TIME_SCALE = 0.005;
/** Lifecycle: the infra template's HeartbeatTimeout 900 s = 1.8 s. */
const LIFECYCLE_TIME_SCALE = 0.002;

const Template = z.object({
  Resources: z.record(
    z.string(),
    z.object({ Type: z.string(), Properties: z.record(z.string(), z.unknown()).optional() }),
  ),
});
const GetAttArn = z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) });
const RuleProperties = z.object({
  Name: z.string().optional(),
  EventPattern: z.record(z.string(), z.unknown()).optional(),
  ScheduleExpression: z.string().optional(),
  State: z.enum(['ENABLED', 'DISABLED']),
  Targets: z.array(
    z.object({
      Id: z.string(),
      Arn: GetAttArn,
      RetryPolicy: z
        .object({ MaximumRetryAttempts: z.number(), MaximumEventAgeInSeconds: z.number() })
        .optional(),
      DeadLetterConfig: z.object({ Arn: GetAttArn }).optional(),
    }),
  ),
});
const QueueProperties = z.object({
  VisibilityTimeout: z.number().optional(),
  MessageRetentionPeriod: z.number().optional(),
  RedrivePolicy: z.object({ deadLetterTargetArn: GetAttArn, maxReceiveCount: z.number() }).optional(),
});
const MappingProperties = z.object({
  BatchSize: z.number(),
  MaximumBatchingWindowInSeconds: z.number(),
  EventSourceArn: GetAttArn,
  FunctionName: GetAttArn,
  Enabled: z.boolean(),
  FunctionResponseTypes: z.array(z.enum(['ReportBatchItemFailures'])),
});
const FunctionProperties = z.object({ FunctionName: z.string(), Handler: z.string(), Runtime: z.string() });
const HookSpec = z.object({
  LifecycleHookName: z.string(),
  LifecycleTransition: z.literal('autoscaling:EC2_INSTANCE_TERMINATING'),
  HeartbeatTimeout: z.object({ Ref: z.literal('WorkerDrainHeartbeatTimeout') }),
  DefaultResult: z.enum(['CONTINUE', 'ABANDON']),
});

describe('local cloud event delivery (moto + our packaged template)', () => {
  let moto: MotoServer;
  let invoke: LambdaInvokeDouble;
  let events: LocalEventBridge;
  let sources: LocalSqsEventSources;
  let lifecycle: LocalLifecycleLayer;
  let urls: LocalFunctionUrls;
  let ca: CertificateAuthority;
  let autoscaling: AutoScalingClient;
  let ec2: EC2Client;
  let sqs: SQSClient;
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(`${new Date().toISOString()} ${line}`);
  };
  /** Logical id → ARN of what the test created from the template. */
  const arns = new Map<string, string>();
  const queueUrls = new Map<string, string>();
  let template: z.infer<typeof Template>;
  let heartbeatTimeoutSeconds = 0;
  let hookName = '';

  const arnOf = (ref: z.infer<typeof GetAttArn>) => {
    const arn = arns.get(ref['Fn::GetAtt'][0]);
    if (!arn) throw new Error(`template references ${ref['Fn::GetAtt'][0]}, which the test did not create`);
    return arn;
  };
  const resources = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);

  beforeAll(async () => {
    await promisify(execFile)('npx', ['osls', 'package'], {
      cwd: REPO_ROOT,
      timeout: 180_000,
      maxBuffer: 20 * 1024 * 1024,
    });
    template = Template.parse(JSON.parse(readFileSync(PACKAGED, 'utf8')));
    moto = await startMoto();
    invoke = await startLambdaInvokeDouble();
    const config = moto.clientConfig;
    const lambda = new LambdaClient(config);
    sqs = new SQSClient(config);
    ec2 = new EC2Client(config);

    // Functions, with the zips osls wrote.
    const role = await new IAMClient(config).send(
      new CreateRoleCommand({ RoleName: 'trino-sentinel-events-test', AssumeRolePolicyDocument: '{}' }),
    );
    for (const [logicalId, resource] of resources('AWS::Lambda::Function')) {
      const props = FunctionProperties.parse(resource.Properties);
      const zipName = logicalId.replace(/LambdaFunction$/, '');
      const zip = readFileSync(
        path.join(REPO_ROOT, '.serverless', `${zipName[0]?.toLowerCase()}${zipName.slice(1)}.zip`),
      );
      const fn = await lambda.send(
        new CreateFunctionCommand({
          FunctionName: props.FunctionName,
          Handler: props.Handler,
          Runtime: props.Runtime === 'nodejs22.x' ? 'nodejs22.x' : 'nodejs20.x',
          Role: role.Role?.Arn,
          Code: { ZipFile: zip },
        }),
      );
      arns.set(logicalId, fn.FunctionArn ?? '');
    }
    // Queues (DLQs first: redrive policies point at them).
    const queues = resources('AWS::SQS::Queue').sort(([, a]) =>
      QueueProperties.parse(a.Properties).RedrivePolicy ? 1 : -1,
    );
    for (const [logicalId, resource] of queues) {
      const props = QueueProperties.parse(resource.Properties);
      const attributes: Record<string, string> = {};
      if (props.VisibilityTimeout !== undefined)
        attributes.VisibilityTimeout = String(props.VisibilityTimeout);
      if (props.MessageRetentionPeriod !== undefined)
        attributes.MessageRetentionPeriod = String(props.MessageRetentionPeriod);
      if (props.RedrivePolicy)
        attributes.RedrivePolicy = JSON.stringify({
          deadLetterTargetArn: arnOf(props.RedrivePolicy.deadLetterTargetArn),
          maxReceiveCount: props.RedrivePolicy.maxReceiveCount,
        });
      const queue = await sqs.send(new CreateQueueCommand({ QueueName: logicalId, Attributes: attributes }));
      const out = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
      );
      arns.set(logicalId, out.Attributes?.QueueArn ?? '');
      queueUrls.set(logicalId, queue.QueueUrl ?? '');
    }
    // Rules and targets.
    const eventBridge = new EventBridgeClient(config);
    for (const [logicalId, resource] of resources('AWS::Events::Rule')) {
      const props = RuleProperties.parse(resource.Properties);
      const name = props.Name ?? logicalId;
      await eventBridge.send(
        new PutRuleCommand({
          Name: name,
          State: props.State,
          ...(props.EventPattern ? { EventPattern: JSON.stringify(props.EventPattern) } : {}),
          ...(props.ScheduleExpression ? { ScheduleExpression: props.ScheduleExpression } : {}),
        }),
      );
      const targets: Target[] = props.Targets.map((t) => ({
        Id: t.Id,
        Arn: arnOf(t.Arn),
        ...(t.RetryPolicy ? { RetryPolicy: t.RetryPolicy } : {}),
        ...(t.DeadLetterConfig ? { DeadLetterConfig: { Arn: arnOf(t.DeadLetterConfig.Arn) } } : {}),
      }));
      await eventBridge.send(new PutTargetsCommand({ Rule: name, Targets: targets }));
    }
    // Event source mapping and Function URL.
    for (const [, resource] of resources('AWS::Lambda::EventSourceMapping')) {
      const props = MappingProperties.parse(resource.Properties);
      await lambda.send(
        new CreateEventSourceMappingCommand({
          EventSourceArn: arnOf(props.EventSourceArn),
          FunctionName: arnOf(props.FunctionName),
          BatchSize: props.BatchSize,
          MaximumBatchingWindowInSeconds: props.MaximumBatchingWindowInSeconds,
          Enabled: props.Enabled,
          FunctionResponseTypes: props.FunctionResponseTypes,
        }),
      );
    }
    for (const [, resource] of resources('AWS::Lambda::Url')) {
      const props = z
        .object({ AuthType: z.enum(['NONE', 'AWS_IAM']), TargetFunctionArn: GetAttArn })
        .parse(resource.Properties);
      await lambda.send(
        new CreateFunctionUrlConfigCommand({
          FunctionName: arnOf(props.TargetFunctionArn),
          AuthType: props.AuthType,
        }),
      );
    }

    // The worker group as infra/trino-cluster.yaml defines it, with the custom termination policy function.
    const infra = z
      .object({
        Parameters: z.object({ WorkerDrainHeartbeatTimeout: z.object({ Default: z.number() }) }),
        Resources: z.object({
          WorkerGroup: z.object({
            Properties: z.object({ LifecycleHookSpecificationList: z.array(HookSpec).length(1) }),
          }),
        }),
      })
      .parse(
        parseYaml(readFileSync(path.join(REPO_ROOT, 'infra', 'trino-cluster.yaml'), 'utf8'), {
          customTags: CLOUDFORMATION_YAML_TAGS,
        }),
      );
    const hookSpec = infra.Resources.WorkerGroup.Properties.LifecycleHookSpecificationList[0];
    if (!hookSpec) throw new Error('no lifecycle hook in infra/trino-cluster.yaml');
    heartbeatTimeoutSeconds = infra.Parameters.WorkerDrainHeartbeatTimeout.Default;
    hookName = hookSpec.LifecycleHookName;
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.42.0.0/16' }));
    const subnetA = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpc.Vpc?.VpcId,
        CidrBlock: '10.42.1.0/24',
        AvailabilityZone: 'us-east-1a',
      }),
    );
    const subnetB = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpc.Vpc?.VpcId,
        CidrBlock: '10.42.2.0/24',
        AvailabilityZone: 'us-east-1b',
      }),
    );
    const launchTemplate = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'trino-dev-worker',
        LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 'm7g.xlarge' },
      }),
    );
    autoscaling = new AutoScalingClient(config);
    await autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: WORKER_GROUP,
        MinSize: 0,
        MaxSize: 10,
        DesiredCapacity: 4,
        VPCZoneIdentifier: `${subnetA.Subnet?.SubnetId},${subnetB.Subnet?.SubnetId}`,
        LaunchTemplate: {
          LaunchTemplateId: launchTemplate.LaunchTemplate?.LaunchTemplateId,
          Version: '$Latest',
        },
        TerminationPolicies: [arns.get('TerminationPolicyLambdaFunction') ?? ''],
        LifecycleHookSpecificationList: [
          {
            LifecycleHookName: hookSpec.LifecycleHookName,
            LifecycleTransition: hookSpec.LifecycleTransition,
            HeartbeatTimeout: heartbeatTimeoutSeconds,
            DefaultResult: hookSpec.DefaultResult,
          },
        ],
      }),
    );
    const hooks = await autoscaling.send(
      new DescribeLifecycleHooksCommand({ AutoScalingGroupName: WORKER_GROUP }),
    );
    if ((hooks.LifecycleHooks ?? []).length === 0) {
      // moto 5.2.5 drops CreateAutoScalingGroup's LifecycleHookSpecificationList (and CloudFormation's): put it.
      log('moto ignored LifecycleHookSpecificationList; PutLifecycleHook instead');
      await autoscaling.send(
        new PutLifecycleHookCommand({
          AutoScalingGroupName: WORKER_GROUP,
          LifecycleHookName: hookSpec.LifecycleHookName,
          LifecycleTransition: hookSpec.LifecycleTransition,
          HeartbeatTimeout: heartbeatTimeoutSeconds,
          DefaultResult: hookSpec.DefaultResult,
        }),
      );
    }

    const invokeConfig = { ...moto.clientConfig, endpoint: invoke.endpoint };
    events = await startEventBridge({
      aws: moto.clientConfig,
      invoke: invokeConfig,
      timeScale: EVENTS_TIME_SCALE,
      refreshMs: 200,
      tickMs: 25,
      log,
    });
    sources = await startSqsEventSources({
      aws: moto.clientConfig,
      invoke: invokeConfig,
      refreshMs: 500,
      waitTimeSeconds: 1,
      log,
    });
    lifecycle = await startLifecycleLayer({
      moto: moto.clientConfig,
      invoke: invokeConfig,
      events,
      timeScale: LIFECYCLE_TIME_SCALE,
      log,
    });
    ca = await createCertificateAuthority();
    urls = await startFunctionUrls({
      aws: moto.clientConfig,
      invoke: invokeConfig,
      ca,
      listen: { host: '127.0.0.1', port: 0 },
      log,
    });
    autoscaling = new AutoScalingClient({ ...moto.clientConfig, endpoint: lifecycle.url });
  }, 300_000);

  afterAll(async () => {
    await urls?.stop();
    await lifecycle?.stop();
    await sources?.stop();
    await events?.stop();
    await invoke?.close();
    await moto?.stop();
    if (process.env.EVENTS_TEST_LOG) console.log(lines.join('\n'));
  });

  const fn = (logicalId: string) => (arns.get(logicalId) ?? '').split(':').pop() ?? '';

  it('matches moto 5.2.5 patterns with moto’s own EventPattern, since its TestEventPattern answers without a Result', () => {
    expect(events.matcher).toBe('moto EventPattern (python)');
  });

  it('delivers a worker lifecycle event to the drain rule only, and a non-matching event to no rule', async () => {
    const group = await autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [WORKER_GROUP] }),
    );
    const event = lifecycleActionEvent({
      autoScalingGroupName: WORKER_GROUP,
      autoScalingGroupArn: group.AutoScalingGroups?.[0]?.AutoScalingGroupARN ?? '',
      lifecycleHookName: hookName,
      instanceId: 'i-0123456789abcdef0',
      lifecycleActionToken: 'c613620e-07e2-4ed2-a9e2-ef8258911ade',
      region: moto.clientConfig.region,
    });
    const matched = await events.publish(event);
    expect(matched.matchedRules).toEqual(['trino-sentinel-trino-dev-startDrain-rule-1']);
    const other = await events.publish({
      ...event,
      id: 'other',
      detail: { ...event.detail, AutoScalingGroupName: 'trino-dev-coordinators' },
    });
    expect(other.matchedRules).toEqual([]);
    const spot = await events.publish(
      spotInterruptionWarningEvent({
        instanceId: 'i-0123456789abcdef1',
        availabilityZone: 'us-east-1a',
        region: 'us-east-1',
      }),
    );
    expect(spot.matchedRules).toEqual(['trino-sentinel-trino-dev-spotInterruption-rule-1']);
    await events.settle();
    const drains = invoke
      .calls(fn('StartDrainLambdaFunction'))
      .filter((c) => z.object({ id: z.string() }).parse(c.payload).id === event.id);
    expect(drains).toHaveLength(1);
    expect(drains[0]?.invocationType).toBe('Event');
    expect(LifecycleActionEventSchema.parse(drains[0]?.payload).detail.EC2InstanceId).toBe(
      'i-0123456789abcdef0',
    );
    expect(
      invoke.received.filter((c) => z.object({ id: z.string() }).safeParse(c.payload).data?.id === 'other'),
    ).toEqual([]);
    expect(
      SpotInterruptionEventSchema.parse(invoke.calls(fn('SpotInterruptionLambdaFunction')).at(-1)?.payload)
        .detail['instance-id'],
    ).toBe('i-0123456789abcdef1');
  });

  it('answers PutEvents itself (one delivery to an SQS target, AWS’s per-entry refusals) and proxies the rest to moto', async () => {
    const client = new EventBridgeClient({ ...moto.clientConfig, endpoint: events.url });
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: 'put-events-probe' }));
    const queueArn = (
      await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
      )
    ).Attributes?.QueueArn;
    await client.send(
      new PutRuleCommand({
        Name: 'put-events-probe',
        EventPattern: JSON.stringify({ source: ['trino-sentinel.test'] }),
      }),
    );
    await client.send(
      new PutTargetsCommand({ Rule: 'put-events-probe', Targets: [{ Id: 'q', Arn: queueArn }] }),
    );
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'trino-sentinel.test', DetailType: 'Probe', Detail: '{"n":1}' },
          { Source: 'aws.ec2', DetailType: 'EC2 Spot Instance Interruption Warning', Detail: '{}' },
          { Source: 'trino-sentinel.test', DetailType: 'Probe', Detail: 'not json' },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(2);
    expect(out.Entries?.[1]).toMatchObject({ ErrorCode: 'NotAuthorizedForSourceException' });
    expect(out.Entries?.[2]).toMatchObject({ ErrorCode: 'MalformedDetail' });
    await events.settle();
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(received.Messages?.map((m) => JSON.parse(m.Body ?? '{}').id)).toEqual([out.Entries?.[0]?.EventId]);
    await client.send(new RemoveTargetsCommand({ Rule: 'put-events-probe', Ids: ['q'] }));
    await client.send(new DeleteRuleCommand({ Name: 'put-events-probe' }));
  });

  it('fires the enabled one-minute schedules with the scheduled-event envelope and never the disabled one', async () => {
    const metrics = fn('ClusterMetricsLambdaFunction');
    await waitUntil(
      'two clusterMetrics schedule invocations',
      async () => invoke.calls(metrics).length >= 2,
      10_000,
      { intervalMs: 50 },
    );
    const [first, second] = invoke.calls(metrics);
    const Scheduled = z.object({
      'detail-type': z.literal('Scheduled Event'),
      source: z.literal('aws.events'),
      time: z.string(),
      resources: z.array(z.string()).length(1),
      detail: z.object({}).strict(),
    });
    const a = Scheduled.parse(first?.payload);
    const b = Scheduled.parse(second?.payload);
    expect(first?.invocationType).toBe('Event');
    expect(a.resources[0]).toMatch(/:rule\/ClusterMetricsEventsRuleSchedule1$/);
    // One AWS minute apart on the scaled clock.
    expect(Date.parse(b.time) - Date.parse(a.time)).toBe(60_000);
    expect(invoke.calls(fn('CoordinatorHealthLambdaFunction')).length).toBeGreaterThan(0);
    expect(invoke.calls(fn('QueryLogPollLambdaFunction'))).toEqual([]);
    expect(events.firings.some((f) => f.ruleName === 'QueryLogPollEventsRuleSchedule1')).toBe(false);
  });

  it('retries a throttled target by its RetryPolicy, then dead-letters the event with EventBridge’s attributes', async () => {
    invoke.answer(fn('SpotInterruptionLambdaFunction'), () => ({ apiError: 'throttled' }));
    const warning = spotInterruptionWarningEvent({
      instanceId: 'i-0aaaaaaaaaaaaaaa1',
      availabilityZone: 'us-east-1b',
      region: 'us-east-1',
    });
    await events.publish(warning);
    await events.settle(20_000);
    const record = events.deliveries.find((d) => d.eventId === warning.id);
    // The packaged target: MaximumRetryAttempts 3 → 4 calls.
    expect(record).toMatchObject({
      outcome: 'dead-lettered',
      attempts: 4,
      errorCode: 'THROTTLING',
      exhaustedRetryCondition: 'MaximumRetryAttempts',
    });
    expect(
      invoke
        .calls(fn('SpotInterruptionLambdaFunction'))
        .filter((c) => z.object({ id: z.string() }).parse(c.payload).id === warning.id),
    ).toHaveLength(4);
    const dlq = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrls.get('DrainDlq'),
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 1,
      }),
    );
    const message = dlq.Messages?.find((m) => m.Body?.includes(warning.id));
    expect(JSON.parse(message?.Body ?? '{}')).toEqual(warning);
    const attributes = Object.fromEntries(
      Object.entries(message?.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]),
    );
    expect(attributes).toMatchObject({
      ERROR_CODE: 'THROTTLING',
      EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttempts',
      RETRY_ATTEMPTS: '3',
      RULE_ARN: expect.stringMatching(/:rule\/trino-sentinel-trino-dev-spotInterruption-rule-1$/),
      TARGET_ARN: arns.get('SpotInterruptionLambdaFunction'),
    });
    invoke.answer(fn('SpotInterruptionLambdaFunction'), () => ({ result: null }));
  });

  it('deletes the SQS batch except the one item the shipper reports failed, which comes back for redelivery', async () => {
    const ship = fn('QueryLogShipLambdaFunction');
    const Records = z.object({
      Records: z.array(
        z.object({
          messageId: z.string(),
          body: z.string(),
          eventSource: z.literal('aws:sqs'),
          eventSourceARN: z.string(),
          attributes: z.object({ ApproximateReceiveCount: z.string() }),
        }),
      ),
    });
    invoke.answer(ship, (payload) => ({
      result: {
        batchItemFailures: Records.parse(payload)
          .Records.filter((r) => r.body === 'poison')
          .map((r) => ({ itemIdentifier: r.messageId })),
      },
    }));
    const queueUrl = queueUrls.get('QueryLogQueue') ?? '';
    // The template's 360 s visibility timeout, shortened so the redelivery happens within the test (and still
    // longer than the mapping's 5 s batching window, or the gathering poller would receive a message twice).
    await sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { VisibilityTimeout: '7' } }),
    );
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: ['q1', 'poison', 'q3'].map((body, i) => ({ Id: String(i), MessageBody: body })),
      }),
    );
    await waitUntil(
      'the poison message delivered twice',
      async () =>
        invoke
          .calls(ship)
          .flatMap((c) => Records.parse(c.payload).Records)
          .filter((r) => r.body === 'poison').length >= 2,
      30_000,
      { intervalMs: 100 },
    );
    const deliveries = invoke.calls(ship).flatMap((c) => Records.parse(c.payload).Records);
    expect(deliveries.filter((r) => r.body === 'q1')).toHaveLength(1);
    expect(deliveries.filter((r) => r.body === 'q3')).toHaveLength(1);
    const poison = deliveries.filter((r) => r.body === 'poison');
    expect(poison[0]?.eventSourceARN).toBe(arns.get('QueryLogQueue'));
    expect(Number(poison[1]?.attributes.ApproximateReceiveCount)).toBeGreaterThan(
      Number(poison[0]?.attributes.ApproximateReceiveCount),
    );
    const first = sources.batches.find((b) => b.messageIds.length > 0);
    expect(first?.outcome).toBe('returned');
    invoke.answer(ship, () => ({ result: { batchItemFailures: [] } }));
  });

  it('scales in through the custom termination policy, Terminating:Wait, the lifecycle event, a heartbeat and CompleteLifecycleAction', async () => {
    const policy = fn('TerminationPolicyLambdaFunction');
    const before = (
      await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [WORKER_GROUP] }))
    ).AutoScalingGroups?.[0];
    const instanceIds = (before?.Instances ?? []).map((i) => i.InstanceId ?? '').sort();
    expect(instanceIds).toHaveLength(4);
    // The function picks the last candidate it is offered (not what Default would pick first).
    invoke.answer(policy, (payload) => ({
      result: { InstanceIDs: [TerminationPolicyInputSchema.parse(payload).Instances.at(-1)?.InstanceId] },
    }));
    await autoscaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: WORKER_GROUP, DesiredCapacity: 3 }),
    );

    const input = TerminationPolicyInputSchema.parse(invoke.calls(policy).at(-1)?.payload);
    expect(input).toMatchObject({
      AutoScalingGroupName: WORKER_GROUP,
      Cause: 'SCALE_IN',
      AutoScalingGroupARN: before?.AutoScalingGroupARN,
    });
    expect(input.CapacityToTerminate.reduce((n, c) => n + c.Capacity, 0)).toBe(1);
    const chosen = input.Instances.at(-1)?.InstanceId ?? '';
    const [action] = lifecycle.activeActions();
    expect(action).toMatchObject({
      instanceId: chosen,
      lifecycleHookName: hookName,
      heartbeatTimeoutSeconds,
      defaultResult: 'CONTINUE',
    });

    const group = (
      await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [WORKER_GROUP] }))
    ).AutoScalingGroups?.[0];
    expect(group?.DesiredCapacity).toBe(3);
    expect(group?.Instances?.find((i) => i.InstanceId === chosen)?.LifecycleState).toBe('Terminating:Wait');
    expect(group?.Instances?.filter((i) => i.LifecycleState === 'InService')).toHaveLength(3);
    const described = await autoscaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [chosen] }),
    );
    expect(described.AutoScalingInstances?.[0]?.LifecycleState).toBe('Terminating:Wait');

    await events.settle();
    const drainEvent = invoke
      .calls(fn('StartDrainLambdaFunction'))
      .map((c) => LifecycleActionEventSchema.safeParse(c.payload).data)
      .find((e) => e?.detail.EC2InstanceId === chosen);
    const token = drainEvent?.detail.LifecycleActionToken ?? '';
    expect(token).toBe(action?.lifecycleActionToken);
    expect(drainEvent?.detail).toMatchObject({
      AutoScalingGroupName: WORKER_GROUP,
      LifecycleHookName: hookName,
    });

    const ref = {
      AutoScalingGroupName: WORKER_GROUP,
      LifecycleHookName: hookName,
      InstanceId: chosen,
      LifecycleActionToken: token,
    };
    const deadlineBefore = action?.deadlineAtMs ?? 0;
    await new Promise((r) => setTimeout(r, 200));
    await autoscaling.send(new RecordLifecycleActionHeartbeatCommand(ref));
    expect(action?.heartbeats).toBe(1);
    expect(action?.deadlineAtMs).toBeGreaterThan(deadlineBefore);

    await autoscaling.send(new CompleteLifecycleActionCommand({ ...ref, LifecycleActionResult: 'CONTINUE' }));
    const ec2State = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [chosen] }));
    expect(ec2State.Reservations?.[0]?.Instances?.[0]?.State?.Name).toBe('terminated');
    const after = (
      await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [WORKER_GROUP] }))
    ).AutoScalingGroups?.[0];
    expect(after?.DesiredCapacity).toBe(3);
    expect((after?.Instances ?? []).map((i) => i.InstanceId).sort()).toEqual(
      instanceIds.filter((id) => id !== chosen),
    );
    expect(lifecycle.outcomes.at(-1)).toMatchObject({
      instanceId: chosen,
      result: 'CONTINUE',
      by: 'CompleteLifecycleAction',
      heartbeats: 1,
    });

    await expect(
      autoscaling.send(new CompleteLifecycleActionCommand({ ...ref, LifecycleActionResult: 'CONTINUE' })),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message: `No active Lifecycle Action found with token ${token}`,
    });
  });

  it('applies the hook’s DefaultResult when nobody completes the action, after falling back to Default on a failing policy', async () => {
    invoke.answer(fn('TerminationPolicyLambdaFunction'), () => ({
      functionError: true,
      result: { errorType: 'Error', errorMessage: 'boom' },
    }));
    const startedMs = Date.now();
    await autoscaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: WORKER_GROUP, DesiredCapacity: 2 }),
    );
    expect(lifecycle.policyCalls.at(-1)?.fallbackReason).toMatch(/function error/);
    const [action] = lifecycle.activeActions();
    const waitingId = action?.instanceId ?? '';
    expect(waitingId).toMatch(/^i-/);
    await waitUntil(
      'the action to time out',
      async () => lifecycle.outcomes.some((o) => o.instanceId === waitingId),
      20_000,
      { intervalMs: 50 },
    );
    const outcome = lifecycle.outcomes.find((o) => o.instanceId === waitingId);
    expect(outcome).toMatchObject({ result: 'CONTINUE', by: 'timeout', heartbeats: 0 });
    // HeartbeatTimeout × time scale (900 s × 0.002 = 1.8 s).
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(
      heartbeatTimeoutSeconds * 1000 * LIFECYCLE_TIME_SCALE - 50,
    );
    const ec2State = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [waitingId] }));
    expect(ec2State.Reservations?.[0]?.Instances?.[0]?.State?.Name).toBe('terminated');
    const group = (
      await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [WORKER_GROUP] }))
    ).AutoScalingGroups?.[0];
    expect(group?.DesiredCapacity).toBe(2);
    expect(group?.Instances?.map((i) => i.LifecycleState)).toEqual(['InService', 'InService']);
  });

  it('serves the query-log Function URL over HTTPS (the run’s CA) as a payload format 2.0 event', async () => {
    const [deployed] = await urls.refresh();
    expect(deployed?.functionArn).toBe(arns.get('QueryLogIngestLambdaFunction'));
    const host = deployed?.host ?? '';
    invoke.answer(fn('QueryLogIngestLambdaFunction'), () => ({
      result: { statusCode: 202, headers: { 'content-type': 'application/json' }, body: '{"accepted":1}' },
    }));
    const request = (hostname: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            port: urls.address.port,
            servername: hostname,
            path: '/ingest?x=1',
            method: 'POST',
            ca: ca.certPem,
            headers: {
              host: hostname,
              'content-type': 'application/json',
              'x-trino-sentinel-secret': 's3cret',
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
            );
          },
        );
        req.on('error', reject);
        req.end('{"queryId":"20261130_000000_00000_abcde"}');
      });
    const answer = await request(host);
    expect(answer).toEqual({ status: 202, body: '{"accepted":1}' });
    const event = z
      .object({
        version: z.literal('2.0'),
        routeKey: z.literal('$default'),
        rawPath: z.literal('/ingest'),
        rawQueryString: z.literal('x=1'),
        headers: z.record(z.string(), z.string()),
        body: z.string(),
        isBase64Encoded: z.literal(false),
        requestContext: z.object({
          domainName: z.string(),
          domainPrefix: z.string(),
          http: z.object({ method: z.literal('POST') }),
        }),
      })
      .parse(invoke.calls(fn('QueryLogIngestLambdaFunction')).at(-1)?.payload);
    expect(event.requestContext.domainName).toBe(host);
    expect(event.requestContext.domainPrefix).toBe(host.split('.')[0]);
    expect(event.headers['x-trino-sentinel-secret']).toBe('s3cret');
    expect(event.headers['x-forwarded-proto']).toBe('https');
    expect(JSON.parse(event.body)).toEqual({ queryId: '20261130_000000_00000_abcde' });
    expect((await request('0123456789abcdef0123456789abcdef.lambda-url.us-east-1.on.aws')).status).toBe(403);
  });

  it('warns a Spot instance’s function two minutes (scaled) before terminating it', async () => {
    const group = (
      await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [WORKER_GROUP] }))
    ).AutoScalingGroups?.[0];
    const instanceId = group?.Instances?.[0]?.InstanceId ?? '';
    const { event, terminateAtMs } = await lifecycle.interruptSpotInstance(instanceId);
    await events.settle();
    const warned = invoke
      .calls(fn('SpotInterruptionLambdaFunction'))
      .find((c) => SpotInterruptionEventSchema.safeParse(c.payload).data?.id === event.id);
    expect(SpotInterruptionEventSchema.parse(warned?.payload).detail['instance-id']).toBe(instanceId);
    const state = async () =>
      (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations?.[0]
        ?.Instances?.[0]?.State?.Name;
    expect(await state()).toBe('running');
    await waitUntil('the Spot instance terminated', async () => (await state()) === 'terminated', 10_000, {
      intervalMs: 50,
    });
    expect(Date.now()).toBeGreaterThanOrEqual(terminateAtMs - 5);
  });
});
