/**
 * Every AWS request the control plane's roles make, as IAM sees it: each call of lib/aws that a function reaches
 * (read from the function's code), each request Lambda or Step Functions makes with the function's or the state
 * machine's role (logs, VPC network interfaces, the SQS event source, onFailure destinations, log delivery), with
 * the resource each acts on and the request context AWS evaluates (resource tags, `kms:ViaService`).
 *
 * A call may need several authorizations: SNS Publish to the KMS-encrypted alarm topic needs `sns:Publish` on the
 * topic and `kms:GenerateDataKey`/`kms:Decrypt` on its key; EC2 AttachNetworkInterface is authorized on the network
 * interface and on the instance; SSM GetParameter of a SecureString needs `kms:Decrypt` through SSM.
 *
 * Source: the Service Authorization Reference (actions, resource types, condition keys of EC2, Auto Scaling, SNS,
 * SQS, SSM, KMS, CloudWatch, Step Functions, OpenSearch Service, CloudWatch Logs, Lambda); the Lambda developer
 * guide (execution role: VPC, SQS event source, destinations); the Step Functions developer guide (logging).
 *
 * @module
 */
import type { IamRequest } from './evaluate.ts';
import { awsSsmKeyArn, type IamModel, MODEL_VALUES } from './model.ts';

/** One authorization a call needs (the role is the call's). */
export type CallRequest = Omit<IamRequest, 'role'>;

/** One AWS call a control-plane role makes. */
export interface ControlPlaneCall {
  /** The function (serverless/functions.yml) or state machine whose role makes it. */
  readonly caller: string;
  /** The role's logical id in the packaged template. */
  readonly role: string;
  /** Service and operation, as lib/aws names it (`EC2 DetachNetworkInterface`). */
  readonly operation: string;
  /** Where it is made: the code path, or the service that makes it with the role. */
  readonly madeBy: string;
  /** When the call happens only in one configuration (e.g. `METRICS_SINK=put-metric-data`). */
  readonly when?: string;
  /** The authorizations AWS checks; the call succeeds only if every one is allowed. */
  readonly requests: readonly CallRequest[];
}

const { accountId, region, clusterName, coordinatorEniId } = MODEL_VALUES;
const arn = (service: string, resource: string): string =>
  `arn:aws:${service}:${region}:${accountId}:${resource}`;

/** The instances and groups the calls act on, with the tags infra/ gives them (launch template, group tags). */
export const FIXTURE_RESOURCES = {
  coordinatorInstance: arn('ec2', 'instance/i-0c00000000000c0a1'),
  standbyInstance: arn('ec2', 'instance/i-0c00000000000c0b2'),
  workerInstance: arn('ec2', 'instance/i-0w00000000000w0c3'),
  workerEni: arn('ec2', 'network-interface/eni-0w0000000000000c3'),
  coordinatorEni: arn('ec2', `network-interface/${coordinatorEniId}`),
  lambdaHyperplaneEni: arn('ec2', 'network-interface/eni-0l0000000000000d4'),
  subnet: arn('ec2', 'subnet/subnet-0a0000000000000a1'),
  securityGroup: arn('ec2', 'security-group/sg-0c0000000000000c1'),
  coordinatorGroup: arn(
    'autoscaling',
    `autoScalingGroup:11111111-1111-4111-8111-111111111111:autoScalingGroupName/${clusterName}-coordinators`,
  ),
  workerGroup: arn(
    'autoscaling',
    `autoScalingGroup:22222222-2222-4222-8222-222222222222:autoScalingGroupName/${clusterName}-workers`,
  ),
  otherClusterWorkerGroup: arn(
    'autoscaling',
    'autoScalingGroup:33333333-3333-4333-8333-333333333333:autoScalingGroupName/other-workers',
  ),
} as const;

/** The tags infra/trino-cluster.yaml puts on a node of a group (`trino-sentinel:group` propagates at launch). */
export function nodeTags(
  group: 'coordinators' | 'workers',
  cluster: string = clusterName,
): Record<string, string> {
  return {
    'aws:ResourceTag/trino-sentinel:cluster': cluster,
    'aws:ResourceTag/trino-sentinel:group': group,
  };
}

/** The tags of an Auto Scaling group of the cluster, as Auto Scaling's condition keys name them. */
export function groupTags(cluster: string = clusterName): Record<string, string> {
  return { 'autoscaling:ResourceTag/trino-sentinel:cluster': cluster };
}

/** The coordinator ENI's tags (infra/ `CoordinatorEni`). */
export const COORDINATOR_ENI_TAGS = {
  'aws:ResourceTag/trino-sentinel:cluster': clusterName,
  'aws:ResourceTag/trino-sentinel:role': 'coordinator-eni',
} as const;

/** The requests of SNS Publish to the alarm topic (SSE with the customer-managed AlarmTopicKey). */
export function publishToAlarmTopic(model: IamModel): CallRequest[] {
  const topic = String(model.resolveInfra({ Ref: 'AlarmTopic' }));
  const key = String(model.resolveInfra({ 'Fn::GetAtt': ['AlarmTopicKey', 'Arn'] }));
  const viaSns = { 'kms:ViaService': `sns.${region}.amazonaws.com` };
  return [
    { action: 'sns:Publish', resource: topic },
    { action: 'kms:GenerateDataKey', resource: key, context: viaSns },
    { action: 'kms:Decrypt', resource: key, context: viaSns },
  ];
}

function ssmParameter(name: string): string {
  return arn('ssm', `parameter/trino-sentinel/${clusterName}/${name}`);
}

/** SSM GetParameter of a SecureString (WithDecryption): the parameter, and the AWS managed key through SSM. */
function getSecureString(name: string): CallRequest[] {
  return [
    { action: 'ssm:GetParameter', resource: ssmParameter(name) },
    {
      action: 'kms:Decrypt',
      resource: awsSsmKeyArn(),
      context: { 'kms:ViaService': `ssm.${region}.amazonaws.com` },
    },
  ];
}

/** The Trino credentials (lib/trino/connect.ts): the `trino-secret` SecureString and the CA (`trinoCaSsmParameter`). */
function trinoCredentials(caller: string, role: string): ControlPlaneCall[] {
  return [
    {
      caller,
      role,
      operation: 'SSM GetParameter (trino-secret, WithDecryption)',
      madeBy: 'lib/trino/connect.ts → lib/aws/secure-parameters.ts ssmParameterReader',
      when: 'trinoAuth basic|bearer',
      requests: getSecureString('trino-secret'),
    },
    {
      caller,
      role,
      operation: 'SSM GetParameter (trino-ca)',
      madeBy: 'lib/trino/connect.ts → lib/aws/secure-parameters.ts ssmParameterReader',
      when: 'trinoCaSsmParameter set',
      requests: [{ action: 'ssm:GetParameter', resource: ssmParameter('trino-ca') }],
    },
  ];
}

/** What Lambda does with every function's role: its log stream, and its Hyperplane ENIs in the cluster's VPC. */
function lambdaService(caller: string, role: string): ControlPlaneCall[] {
  const functionName = `trino-sentinel-${clusterName}-${caller}`;
  const stream = arn(
    'logs',
    `log-group:/aws/lambda/${functionName}:log-stream:2026/12/08/[$LATEST]0123456789abcdef`,
  );
  return [
    {
      caller,
      role,
      operation: 'CloudWatch Logs CreateLogStream, PutLogEvents',
      madeBy: 'Lambda (the function log group)',
      requests: [
        { action: 'logs:CreateLogStream', resource: stream },
        { action: 'logs:PutLogEvents', resource: stream },
      ],
    },
    {
      caller,
      role,
      operation:
        'EC2 CreateNetworkInterface, DescribeNetworkInterfaces, DescribeSubnets, DeleteNetworkInterface, (Un)AssignPrivateIpAddresses',
      madeBy: 'Lambda (VPC access: Hyperplane ENIs, AWSLambdaVPCAccessExecutionRole)',
      requests: [
        { action: 'ec2:CreateNetworkInterface', resource: FIXTURE_RESOURCES.lambdaHyperplaneEni },
        { action: 'ec2:CreateNetworkInterface', resource: FIXTURE_RESOURCES.subnet },
        { action: 'ec2:CreateNetworkInterface', resource: FIXTURE_RESOURCES.securityGroup },
        { action: 'ec2:DescribeNetworkInterfaces', resource: '*' },
        { action: 'ec2:DescribeSubnets', resource: '*' },
        { action: 'ec2:DeleteNetworkInterface', resource: FIXTURE_RESOURCES.lambdaHyperplaneEni },
        { action: 'ec2:AssignPrivateIpAddresses', resource: FIXTURE_RESOURCES.lambdaHyperplaneEni },
        { action: 'ec2:UnassignPrivateIpAddresses', resource: FIXTURE_RESOURCES.lambdaHyperplaneEni },
      ],
    },
  ];
}

/** Lambda's onFailure destination (asynchronous invocations): SendMessage with the function's role. */
function onFailureDestination(
  model: IamModel,
  caller: string,
  role: string,
  queue: string,
): ControlPlaneCall {
  return {
    caller,
    role,
    operation: `SQS SendMessage (${queue}, onFailure destination)`,
    madeBy: 'Lambda (asynchronous invocation destination, serverless/functions.yml `destinations.onFailure`)',
    requests: [
      {
        action: 'sqs:SendMessage',
        resource: String(model.resolveControlPlane({ 'Fn::GetAtt': [queue, 'Arn'] })),
      },
    ],
  };
}

function putMetricData(caller: string, role: string, madeBy: string, when?: string): ControlPlaneCall {
  return {
    caller,
    role,
    operation: 'CloudWatch PutMetricData',
    madeBy,
    ...(when === undefined ? {} : { when }),
    requests: [
      { action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': 'Trino' } },
    ],
  };
}

/**
 * The table: every AWS call of every control-plane role, with concrete resources.
 * @param model - The IAM model (its ARNs: alarm topic and key, queues, state machines, functions).
 * @returns One row per call; every one must be allowed.
 */
export function controlPlaneCalls(model: IamModel): ControlPlaneCall[] {
  const r = FIXTURE_RESOURCES;
  const cp = (value: unknown): string => String(model.resolveControlPlane(value));
  const failoverStateMachine = cp({ Ref: 'CoordinatorFailoverStateMachine' });
  // An execution of it: arn:aws:states:<region>:<account>:execution:<state machine name>:<execution name>.
  const failoverExecution = `${failoverStateMachine.replace(':stateMachine:', ':execution:')}:failover-29944851-analytics-eni-attach-1`;
  const drainStateMachine = cp({ Ref: 'WorkerDrainStateMachine' });
  const queryLogQueue = cp({ 'Fn::GetAtt': ['QueryLogQueue', 'Arn'] });
  const queryLogDlq = cp({ 'Fn::GetAtt': ['QueryLogDlq', 'Arn'] });
  const domain = arn('es', `domain/${clusterName}-query-logs`);
  const describeEni = (caller: string, role: string, madeBy: string): ControlPlaneCall => ({
    caller,
    role,
    operation: 'EC2 DescribeNetworkInterfaces',
    madeBy,
    requests: [{ action: 'ec2:DescribeNetworkInterfaces', resource: '*' }],
  });
  const describeInstances = (caller: string, role: string, madeBy: string): ControlPlaneCall => ({
    caller,
    role,
    operation: 'EC2 DescribeInstances',
    madeBy,
    requests: [{ action: 'ec2:DescribeInstances', resource: '*' }],
  });
  const describeGroup = (caller: string, role: string, madeBy: string): ControlPlaneCall => ({
    caller,
    role,
    operation: 'Auto Scaling DescribeAutoScalingGroups',
    madeBy,
    requests: [{ action: 'autoscaling:DescribeAutoScalingGroups', resource: '*' }],
  });
  const instanceStatus = (caller: string, role: string, madeBy: string): ControlPlaneCall => ({
    caller,
    role,
    operation: 'EC2 DescribeInstanceStatus',
    madeBy,
    requests: [{ action: 'ec2:DescribeInstanceStatus', resource: '*' }],
  });
  const emf = 'METRICS_SINK=put-metric-data (default emf: log lines, no call)';

  const calls: ControlPlaneCall[] = [];
  const add = (...rows: ControlPlaneCall[]): void => {
    calls.push(...rows);
  };

  // ------------------------------------------------------------------ clusterMetrics
  add(
    ...lambdaService('clusterMetrics', 'ClusterMetricsRole'),
    ...trinoCredentials('clusterMetrics', 'ClusterMetricsRole'),
    putMetricData('clusterMetrics', 'ClusterMetricsRole', 'lib/metrics-sink.ts publishMetricSet', emf),
    onFailureDestination(model, 'clusterMetrics', 'ClusterMetricsRole', 'ClusterMetricsDlq'),
  );

  // ------------------------------------------------------------------ coordinatorHealth
  const health = ['coordinatorHealth', 'CoordinatorHealthRole'] as const;
  add(
    ...lambdaService(...health),
    ...trinoCredentials(...health),
    describeEni(...health, 'functions/coordinator-health/loop.ts → lib/aws/ec2.ts describeEni'),
    describeInstances(...health, 'functions/coordinator-health/probe.ts → lib/aws/ec2.ts describeInstance'),
    instanceStatus(...health, 'functions/coordinator-health/probe.ts → lib/aws/ec2.ts instanceStatus'),
    putMetricData(
      ...health,
      'functions/coordinator-health/loop.ts, start-failover.ts → lib/metrics-sink.ts',
      emf,
    ),
    {
      caller: health[0],
      role: health[1],
      operation: 'SSM GetParameter, PutParameter (the detector state between invocations)',
      madeBy: 'functions/coordinator-health/store.ts → lib/aws/ssm.ts getJsonParameter, putParameterValue',
      requests: [
        { action: 'ssm:GetParameter', resource: ssmParameter('coordinator-health') },
        { action: 'ssm:PutParameter', resource: ssmParameter('coordinator-health') },
      ],
    },
    {
      caller: health[0],
      role: health[1],
      operation:
        'Step Functions ListExecutions, DescribeExecution, StartExecution (no start while a failover runs)',
      madeBy:
        'functions/coordinator-health/start-failover.ts → lib/aws/sfn.ts startExecutionOnce, lockCandidates',
      requests: [
        { action: 'states:ListExecutions', resource: failoverStateMachine },
        { action: 'states:DescribeExecution', resource: failoverExecution },
        { action: 'states:StartExecution', resource: failoverStateMachine },
      ],
    },
    {
      caller: health[0],
      role: health[1],
      operation: 'SNS Publish (alarm topic)',
      madeBy: 'functions/coordinator-health/start-failover.ts → lib/aws/sns.ts notifyAlarmTopic',
      requests: publishToAlarmTopic(model),
    },
    onFailureDestination(model, ...health, 'ClusterMetricsDlq'),
  );

  // ------------------------------------------------------------------ coordinatorFailover (every task)
  const failover = ['coordinatorFailover', 'FailoverTasksRole'] as const;
  add(
    ...lambdaService(...failover),
    ...trinoCredentials(...failover),
    describeEni(
      ...failover,
      'functions/coordinator-failover/observe.ts, tasks/attach.ts, tasks/detach.ts → describeEni',
    ),
    describeInstances(
      ...failover,
      'functions/coordinator-failover/observe.ts, tasks/await-standby.ts → describeInstances',
    ),
    instanceStatus(...failover, 'functions/coordinator-failover/observe.ts → lib/aws/ec2.ts instanceStatus'),
    describeGroup(
      ...failover,
      'functions/coordinator-failover/observe.ts, tasks/plan.ts, tasks/await-standby.ts → describeGroup',
    ),
    {
      caller: failover[0],
      role: failover[1],
      operation: 'Step Functions ListExecutions, DescribeExecution (the failover lock)',
      madeBy: 'functions/coordinator-failover/tasks/plan.ts, tasks/notify.ts → lib/aws/sfn.ts lockCandidates',
      requests: [
        { action: 'states:ListExecutions', resource: failoverStateMachine },
        { action: 'states:DescribeExecution', resource: failoverExecution },
      ],
    },
    {
      caller: failover[0],
      role: failover[1],
      operation: 'EC2 DetachNetworkInterface (the coordinator ENI from the failed coordinator)',
      madeBy: 'functions/coordinator-failover/tasks/detach.ts → lib/aws/ec2.ts detachEni',
      requests: [
        { action: 'ec2:DetachNetworkInterface', resource: r.coordinatorEni, context: COORDINATOR_ENI_TAGS },
        {
          action: 'ec2:DetachNetworkInterface',
          resource: r.coordinatorInstance,
          context: nodeTags('coordinators'),
        },
      ],
    },
    {
      caller: failover[0],
      role: failover[1],
      operation: 'EC2 AttachNetworkInterface (the coordinator ENI to the standby)',
      madeBy: 'functions/coordinator-failover/tasks/attach.ts, tasks/notify.ts → lib/aws/ec2.ts attachEni',
      requests: [
        { action: 'ec2:AttachNetworkInterface', resource: r.coordinatorEni, context: COORDINATOR_ENI_TAGS },
        {
          action: 'ec2:AttachNetworkInterface',
          resource: r.standbyInstance,
          context: nodeTags('coordinators'),
        },
      ],
    },
    {
      caller: failover[0],
      role: failover[1],
      operation:
        'Auto Scaling TerminateInstanceInAutoScalingGroup (fence: the failed coordinator, in its group)',
      madeBy:
        'functions/coordinator-failover/tasks/fence.ts → lib/aws/autoscaling.ts terminateInstanceInGroup',
      requests: [
        {
          action: 'autoscaling:TerminateInstanceInAutoScalingGroup',
          resource: r.coordinatorGroup,
          context: groupTags(),
        },
      ],
    },
    {
      caller: failover[0],
      role: failover[1],
      operation: 'EC2 TerminateInstances (fence: a failed coordinator outside the group)',
      madeBy: 'functions/coordinator-failover/tasks/fence.ts → lib/aws/ec2.ts stopOrTerminateInstance',
      when: 'fence.instanceAction TERMINATE, not in the group',
      requests: [
        {
          action: 'ec2:TerminateInstances',
          resource: r.coordinatorInstance,
          context: nodeTags('coordinators'),
        },
      ],
    },
    {
      caller: failover[0],
      role: failover[1],
      operation: 'EC2 StopInstances (fence: stop the failed coordinator)',
      madeBy: 'functions/coordinator-failover/tasks/fence.ts → lib/aws/ec2.ts stopOrTerminateInstance',
      when: 'fence.instanceAction STOP',
      requests: [
        { action: 'ec2:StopInstances', resource: r.coordinatorInstance, context: nodeTags('coordinators') },
      ],
    },
    {
      caller: failover[0],
      role: failover[1],
      operation: 'Auto Scaling SetDesiredCapacity (no standby: scale the coordinator group out)',
      madeBy:
        'functions/coordinator-failover/tasks/await-standby.ts → lib/aws/autoscaling.ts setDesiredCapacity',
      requests: [
        { action: 'autoscaling:SetDesiredCapacity', resource: r.coordinatorGroup, context: groupTags() },
      ],
    },
    putMetricData(
      ...failover,
      'functions/coordinator-failover/tasks/complete.ts → lib/aws/cloudwatch.ts publishMetrics',
    ),
    {
      caller: failover[0],
      role: failover[1],
      operation: 'SNS Publish (alarm topic)',
      madeBy: 'functions/coordinator-failover/deps.ts → lib/aws/sns.ts notifyAlarmTopic',
      requests: publishToAlarmTopic(model),
    },
  );

  // ------------------------------------------------------------------ worker drain
  const start = ['startDrain', 'StartDrainRole'] as const;
  add(
    ...lambdaService(...start),
    {
      caller: start[0],
      role: start[1],
      operation: 'Step Functions StartExecution (worker-drain)',
      madeBy: 'functions/worker-drain/start.ts → lib/aws/sfn.ts startExecution',
      requests: [{ action: 'states:StartExecution', resource: drainStateMachine }],
    },
    onFailureDestination(model, ...start, 'DrainDlq'),
  );
  for (const caller of ['beginDrain', 'checkDrain', 'completeDrain']) {
    const tasks = [caller, 'DrainTasksRole'] as const;
    add(...lambdaService(...tasks), ...trinoCredentials(...tasks));
  }
  add(
    describeInstances(
      'beginDrain',
      'DrainTasksRole',
      'functions/worker-drain/tasks.ts → lib/aws/ec2.ts describeInstance',
    ),
    {
      caller: 'beginDrain',
      role: 'DrainTasksRole',
      operation: 'Auto Scaling DescribeLifecycleHooks',
      madeBy: 'functions/worker-drain/tasks.ts → lib/aws/autoscaling.ts lifecycleHookHeartbeatTimeoutMs',
      requests: [{ action: 'autoscaling:DescribeLifecycleHooks', resource: '*' }],
    },
    {
      caller: 'checkDrain',
      role: 'DrainTasksRole',
      operation: 'Auto Scaling RecordLifecycleActionHeartbeat (the worker group)',
      madeBy: 'functions/worker-drain/tasks.ts → lib/aws/autoscaling.ts recordLifecycleActionHeartbeat',
      requests: [
        {
          action: 'autoscaling:RecordLifecycleActionHeartbeat',
          resource: r.workerGroup,
          context: groupTags(),
        },
      ],
    },
    {
      caller: 'completeDrain',
      role: 'DrainTasksRole',
      operation: 'Auto Scaling CompleteLifecycleAction (the worker group)',
      madeBy: 'functions/worker-drain/tasks.ts → lib/aws/autoscaling.ts completeLifecycleAction',
      requests: [
        { action: 'autoscaling:CompleteLifecycleAction', resource: r.workerGroup, context: groupTags() },
      ],
    },
    putMetricData(
      'completeDrain',
      'DrainTasksRole',
      'functions/worker-drain/deps.ts → lib/aws/cloudwatch.ts publishMetrics',
    ),
    {
      caller: 'completeDrain',
      role: 'DrainTasksRole',
      operation: 'SNS Publish (alarm topic: DrainFailed)',
      madeBy: 'functions/worker-drain/tasks.ts runDrainFailed → lib/aws/sns.ts notifyAlarmTopic',
      requests: publishToAlarmTopic(model),
    },
  );
  const spot = ['spotInterruption', 'SpotInterruptionRole'] as const;
  add(
    ...lambdaService(...spot),
    ...trinoCredentials(...spot),
    describeInstances(...spot, 'functions/worker-drain/spot.ts → lib/aws/ec2.ts describeInstance'),
    onFailureDestination(model, ...spot, 'DrainDlq'),
  );
  const termination = ['terminationPolicy', 'TerminationPolicyRole'] as const;
  add(
    ...lambdaService(...termination),
    ...trinoCredentials(...termination),
    describeInstances(
      ...termination,
      'functions/worker-drain/termination-policy.ts → lib/aws/ec2.ts describeInstances',
    ),
  );

  // ------------------------------------------------------------------ nodeHealth
  const node = ['nodeHealth', 'NodeHealthRole'] as const;
  add(
    ...lambdaService(...node),
    ...trinoCredentials(...node),
    describeGroup(...node, 'functions/node-health/handler.ts → lib/aws/autoscaling.ts describeGroup'),
    describeInstances(...node, 'functions/node-health/handler.ts → lib/aws/ec2.ts describeInstances'),
    describeEni(...node, 'functions/node-health/handler.ts → lib/aws/ec2.ts describeEni'),
    {
      caller: node[0],
      role: node[1],
      operation: 'Auto Scaling SetInstanceHealth (a worker, a standby coordinator)',
      madeBy: 'functions/node-health/handler.ts → lib/aws/autoscaling.ts markInstanceUnhealthy',
      requests: [
        { action: 'autoscaling:SetInstanceHealth', resource: r.workerGroup, context: groupTags() },
        { action: 'autoscaling:SetInstanceHealth', resource: r.coordinatorGroup, context: groupTags() },
      ],
    },
    {
      caller: node[0],
      role: node[1],
      operation: 'SSM GetParameter, PutParameter (node-health state)',
      madeBy: 'functions/node-health/handler.ts → lib/aws/ssm.ts getJsonParameter, putParameterValue',
      requests: [
        { action: 'ssm:GetParameter', resource: ssmParameter('node-health') },
        { action: 'ssm:PutParameter', resource: ssmParameter('node-health') },
      ],
    },
    putMetricData(...node, 'functions/node-health/handler.ts → lib/metrics-sink.ts', emf),
    onFailureDestination(model, ...node, 'ClusterMetricsDlq'),
  );

  // ------------------------------------------------------------------ query logs
  const ingest = ['queryLogIngest', 'QueryLogIngestRole'] as const;
  add(
    ...lambdaService(...ingest),
    {
      caller: ingest[0],
      role: ingest[1],
      operation: 'SSM GetParameter (query-log-secret, WithDecryption)',
      madeBy: 'functions/query-log-ingest/secret.ts → lib/aws/secure-parameters.ts',
      requests: getSecureString('query-log-secret'),
    },
    {
      caller: ingest[0],
      role: ingest[1],
      operation: 'SQS SendMessage (query-log queue)',
      madeBy: 'functions/query-log-ingest/handler.ts → lib/aws/sqs.ts sendMessage',
      requests: [{ action: 'sqs:SendMessage', resource: queryLogQueue }],
    },
  );
  const ship = ['queryLogShip', 'QueryLogShipRole'] as const;
  add(
    ...lambdaService(...ship),
    {
      caller: ship[0],
      role: ship[1],
      operation: 'SQS ReceiveMessage, DeleteMessage, GetQueueAttributes (the event source mapping)',
      madeBy: 'Lambda (SQS event source mapping, AWSLambdaSQSQueueExecutionRole)',
      requests: [
        { action: 'sqs:ReceiveMessage', resource: queryLogQueue },
        { action: 'sqs:DeleteMessage', resource: queryLogQueue },
        { action: 'sqs:GetQueueAttributes', resource: queryLogQueue },
      ],
    },
    {
      caller: ship[0],
      role: ship[1],
      operation: 'SQS SendMessageBatch (query-log DLQ)',
      madeBy: 'functions/query-log-ship/handler.ts → lib/aws/sqs.ts sendMessages',
      requests: [{ action: 'sqs:SendMessage', resource: queryLogDlq }],
    },
    {
      caller: ship[0],
      role: ship[1],
      operation: 'OpenSearch Service DescribeDomain, ESHttpGet/Put/Post (_bulk, index template, ISM policy)',
      madeBy: 'lib/search/query-log-sink.ts → lib/aws/opensearch.ts domainEndpoint, the SigV4 client',
      when: 'searchEngine opensearch-service',
      requests: [
        { action: 'es:DescribeDomain', resource: domain },
        { action: 'es:ESHttpGet', resource: `${domain}/_plugins/_ism/policies/trino-queries` },
        { action: 'es:ESHttpPut', resource: `${domain}/_index_template/trino-queries` },
        { action: 'es:ESHttpPost', resource: `${domain}/_bulk` },
      ],
    },
    {
      caller: ship[0],
      role: ship[1],
      operation: 'SSM GetParameter (search-credentials, WithDecryption)',
      madeBy: 'lib/search/query-log-sink.ts → lib/aws/secure-parameters.ts ssmParameterReader',
      when: 'searchEngine opensearch|elasticsearch',
      requests: getSecureString('search-credentials'),
    },
    putMetricData(...ship, 'functions/query-log-ship/handler.ts → lib/metrics-sink.ts', emf),
  );
  const poll = ['queryLogPoll', 'QueryLogPollRole'] as const;
  add(
    ...lambdaService(...poll),
    ...trinoCredentials(...poll),
    {
      caller: poll[0],
      role: poll[1],
      operation: 'SQS SendMessageBatch (query-log queue)',
      madeBy: 'functions/query-log-poll/handler.ts → lib/aws/sqs.ts sendMessages',
      requests: [{ action: 'sqs:SendMessage', resource: queryLogQueue }],
    },
    {
      caller: poll[0],
      role: poll[1],
      operation: 'SSM GetParameter, PutParameter (query-log watermark)',
      madeBy: 'functions/query-log-poll/handler.ts → lib/aws/ssm.ts getJsonParameter, putParameterValue',
      requests: [
        { action: 'ssm:GetParameter', resource: ssmParameter('query-log-watermark') },
        { action: 'ssm:PutParameter', resource: ssmParameter('query-log-watermark') },
      ],
    },
    putMetricData(...poll, 'functions/query-log-poll/handler.ts → lib/aws/cloudwatch.ts publishMetrics'),
    onFailureDestination(model, ...poll, 'ClusterMetricsDlq'),
  );

  // ------------------------------------------------------------------ the state machines' roles
  const logDelivery = [
    'logs:CreateLogDelivery',
    'logs:GetLogDelivery',
    'logs:UpdateLogDelivery',
    'logs:DeleteLogDelivery',
    'logs:ListLogDeliveries',
    'logs:PutResourcePolicy',
    'logs:DescribeResourcePolicies',
    'logs:DescribeLogGroups',
  ].map((action) => ({ action, resource: '*' }));
  add(
    {
      caller: 'coordinator-failover state machine',
      role: 'CoordinatorFailoverStateMachineRole',
      operation: 'Lambda Invoke (every Task state)',
      madeBy: 'statemachines/coordinator-failover.asl.json',
      requests: [
        {
          action: 'lambda:InvokeFunction',
          resource: cp({ 'Fn::GetAtt': ['CoordinatorFailoverLambdaFunction', 'Arn'] }),
        },
      ],
    },
    {
      caller: 'coordinator-failover state machine',
      role: 'CoordinatorFailoverStateMachineRole',
      operation: 'CloudWatch Logs delivery (LoggingConfiguration Level ALL)',
      madeBy: 'Step Functions (logging to CloudWatch Logs)',
      requests: logDelivery,
    },
    {
      caller: 'worker-drain state machine',
      role: 'WorkerDrainStateMachineRole',
      operation: 'Lambda Invoke (BeginDrain, CheckDrain, CompleteDrain)',
      madeBy: 'statemachines/worker-drain.asl.json',
      requests: ['BeginDrainLambdaFunction', 'CheckDrainLambdaFunction', 'CompleteDrainLambdaFunction'].map(
        (fn) => ({ action: 'lambda:InvokeFunction', resource: cp({ 'Fn::GetAtt': [fn, 'Arn'] }) }),
      ),
    },
    {
      caller: 'worker-drain state machine',
      role: 'WorkerDrainStateMachineRole',
      operation: 'CloudWatch Logs delivery (LoggingConfiguration)',
      madeBy: 'Step Functions (logging to CloudWatch Logs)',
      requests: logDelivery,
    },
  );
  return calls;
}
