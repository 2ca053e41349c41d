/**
 * Test helper, run by test/integration/cloud-lambda-netns.test.ts INSIDE the outer namespace of a miniature topology
 * (`ip netns exec <p>-cloud node --import tsx test/helpers/lambda-netns-probe.ts <p>-lambda <cloud-addr> <lambda-addr>`):
 * moto and the front endpoint in the outer namespace, the fixture function's execution environment placed in the
 * Lambda namespace (RIE listening on the service link's Lambda-side address), the function reaching AWS through
 * `AWS_ENDPOINT_URL` = the endpoint's outer-side address. Prints one `RESULT <json>` line; logs go to stderr.
 *
 * @module
 */
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { lambdaServiceRoutes, startAwsEndpoint } from '../../harness/cloud/aws-endpoint.ts';
import { startLambdaService } from '../../harness/cloud/lambda-service.ts';
import { MOTO_REGION, startMoto } from '../../harness/moto.ts';
import { buildFixtureZip } from './lambda-fixture.ts';

const [lambdaNetns, cloudAddress, lambdaAddress] = process.argv.slice(2);
if (!lambdaNetns || !cloudAddress || !lambdaAddress) {
  throw new Error('usage: lambda-netns-probe.ts <lambda-netns> <cloud-address> <lambda-address>');
}
const log = (line: string) => process.stderr.write(`${line}\n`);

const moto = await startMoto();
const endpoint = await startAwsEndpoint({
  listen: [{ host: cloudAddress }, { host: '127.0.0.1' }],
  routes: { default: moto.endpoint, routes: [] },
  log,
});
const [serviceLinkUrl = '', loopbackUrl = ''] = endpoint.urls;
const service = await startLambdaService({
  motoUrl: moto.endpoint,
  endpointUrl: serviceLinkUrl,
  placement: () => ({ netns: lambdaNetns, listenHost: lambdaAddress }),
  log,
});
try {
  endpoint.setRoutes({ default: moto.endpoint, routes: lambdaServiceRoutes(service.url) });
  const aws = {
    endpoint: loopbackUrl,
    region: MOTO_REGION,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  await new IAMClient(aws).send(
    new CreateRoleCommand({
      RoleName: 'NetnsFixtureRole',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  );
  await new SSMClient(aws).send(
    new PutParameterCommand({
      Name: '/netns/greeting',
      Value: 'hello across the service link',
      Type: 'String',
    }),
  );
  const lambda = new LambdaClient(aws);
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: 'netns-fixture',
      Runtime: 'nodejs22.x',
      Role: 'arn:aws:iam::123456789012:role/NetnsFixtureRole',
      Handler: 'index.handler',
      Timeout: 10,
      Code: { ZipFile: await buildFixtureZip() },
    }),
  );
  const answer = await lambda.send(
    new InvokeCommand({
      FunctionName: 'netns-fixture',
      Payload: Buffer.from(JSON.stringify({ parameter: '/netns/greeting' })),
    }),
  );
  process.stdout.write(
    `RESULT ${JSON.stringify({
      functionError: answer.FunctionError ?? null,
      payload: JSON.parse(Buffer.from(answer.Payload ?? new Uint8Array()).toString('utf8')),
      endpointUrl: serviceLinkUrl,
    })}\n`,
  );
} finally {
  await service.stop();
  await endpoint.stop();
  await moto.stop();
}
