/**
 * osls plugin: wires the cluster stack (infra/) to the control plane at the end of `serverless deploy`, so one
 * deploy per cluster after the infra stack is all it takes — nothing fed back by hand:
 *   - the worker Auto Scaling group's custom termination policy = this stack's terminationPolicy function
 *     (UpdateAutoScalingGroup TerminationPolicies, the Lambda ARN first, then Default as AWS's fallback);
 *   - `serverless remove` puts the group back on Default first.
 * (The alarm topic comes from the infra stack's export; the listener URL is an SSM parameter the stack writes and
 * the coordinators read at boot.)
 * Settings: custom.clusterWiring.{ workerAsgName, terminationPolicy (true|false), functionName }.
 * The deploying principal needs autoscaling:UpdateAutoScalingGroup on the worker group and lambda:GetFunction.
 * Source: osls 4 plugin API (hooks after:deploy:deploy / before:remove:remove; AWS SDK v3 clients configured with
 * provider.getAwsSdkV3Config(), osls's credentials and region).
 */
'use strict';

const { AutoScalingClient, UpdateAutoScalingGroupCommand } = require('@aws-sdk/client-auto-scaling');
const { GetFunctionCommand, LambdaClient } = require('@aws-sdk/client-lambda');

class ClusterWiring {
  constructor(serverless) {
    this.serverless = serverless;
    this.provider = serverless.getProvider('aws');
    this.hooks = {
      'after:deploy:deploy': () => this.wire(),
      'before:remove:remove': () => this.unwire(),
    };
  }

  settings() {
    const custom = (this.serverless.service.custom || {}).clusterWiring || {};
    return {
      workerAsgName: custom.workerAsgName,
      functionName: custom.functionName,
      enabled: String(custom.terminationPolicy) !== 'false',
    };
  }

  log(message) {
    this.serverless.cli.log(`cluster-wiring: ${message}`);
  }

  async wire() {
    const { workerAsgName, functionName, enabled } = this.settings();
    if (!enabled || !workerAsgName || !functionName) {
      this.log('termination policy not wired (custom.clusterWiring.terminationPolicy is false or names are missing)');
      return;
    }
    const config = await this.provider.getAwsSdkV3Config();
    const fn = await new LambdaClient(config).send(new GetFunctionCommand({ FunctionName: functionName }));
    const arn = fn.Configuration.FunctionArn;
    await new AutoScalingClient(config).send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: workerAsgName, TerminationPolicies: [arn, 'Default'] }),
    );
    this.log(`worker group ${workerAsgName} terminates through ${arn} (then Default)`);
  }

  async unwire() {
    const { workerAsgName, enabled } = this.settings();
    if (!enabled || !workerAsgName) return;
    try {
      const config = await this.provider.getAwsSdkV3Config();
      await new AutoScalingClient(config).send(
        new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: workerAsgName, TerminationPolicies: ['Default'] }),
      );
      this.log(`worker group ${workerAsgName} back on the Default termination policy`);
    } catch (error) {
      this.log(`could not reset the worker group's termination policy: ${error.message}`);
    }
  }
}

module.exports = ClusterWiring;
