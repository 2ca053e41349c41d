/**
 * The front AWS endpoint's routing decisions (harness/cloud/aws-endpoint.ts): the SigV4 credential-scope service of
 * a request, the query-protocol `Action`, the Lambda paths the Lambda service takes, and the request log's record (who
 * asked for which operation with which parameters).
 */
import { describe, expect, it } from 'vitest';
import {
  awsOperation,
  isLambdaCodeUpload,
  isLambdaInvoke,
  queryAction,
  queryActions,
  sigV4AccessKeyId,
  sigV4Service,
} from '../../harness/cloud/aws-endpoint.ts';

describe('sigV4Service', () => {
  it.each([
    [
      'SigV4 Authorization header',
      'AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261130/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab12',
      '/2015-03-31/functions/f/invocations',
      'lambda',
    ],
    [
      'CloudWatch signs as monitoring',
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261130/eu-west-1/monitoring/aws4_request,SignedHeaders=host,Signature=cd',
      '/',
      'monitoring',
    ],
    [
      'SigV4a (no region in the scope)',
      'AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20261130/s3/aws4_request, SignedHeaders=host, Signature=ef',
      '/bucket/key',
      's3',
    ],
    [
      'presigned URL',
      undefined,
      '/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261130%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=01',
      's3',
    ],
    ['unsigned request', undefined, '/moto-api/data.json', undefined],
    ['malformed credential', 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261130', '/', undefined],
  ])('%s', (_, authorization, target, expected) => {
    expect(sigV4Service(authorization, target)).toBe(expected);
  });
});

describe('queryAction', () => {
  it('reads Action from a form-encoded POST body', () => {
    const body = Buffer.from('Action=CompleteLifecycleAction&Version=2011-01-01&LifecycleHookName=h');
    expect(queryAction('POST', '/', body)).toBe('CompleteLifecycleAction');
  });

  it('reads Action from the query string of a GET', () => {
    expect(queryAction('GET', '/?Action=DescribeAutoScalingGroups&Version=2011-01-01', Buffer.alloc(0))).toBe(
      'DescribeAutoScalingGroups',
    );
  });

  it('finds none in a JSON-protocol body', () => {
    expect(queryAction('POST', '/', Buffer.from('{"QueueName":"q"}'))).toBeUndefined();
  });

  it('matches only the listed actions', () => {
    const match = queryActions('CompleteLifecycleAction', 'RecordLifecycleActionHeartbeat');
    expect(match('POST', '/', Buffer.from('Action=RecordLifecycleActionHeartbeat'))).toBe(true);
    expect(match('POST', '/', Buffer.from('Action=PutLifecycleHook'))).toBe(false);
  });
});

describe('Lambda paths', () => {
  it.each([
    ['POST', '/2015-03-31/functions/my-fn/invocations', true],
    [
      'POST',
      '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/invocations',
      true,
    ],
    ['POST', '/2015-03-31/functions/my-fn/invocations?Qualifier=%24LATEST', true],
    ['GET', '/2015-03-31/functions/my-fn/invocations', false],
    ['POST', '/2015-03-31/functions/my-fn/invoke-async', false],
    ['GET', '/2015-03-31/functions/my-fn', false],
  ])('%s %s is Invoke: %s', (method, path, expected) => {
    expect(isLambdaInvoke(method, path)).toBe(expected);
  });

  it.each([
    ['POST', '/2015-03-31/functions', true],
    ['POST', '/2015-03-31/functions/', true],
    ['PUT', '/2015-03-31/functions/my-fn/code', true],
    ['PUT', '/2015-03-31/functions/my-fn/configuration', false],
    ['GET', '/2015-03-31/functions/', false],
  ])('%s %s uploads code: %s', (method, path, expected) => {
    expect(isLambdaCodeUpload(method, path)).toBe(expected);
  });
});

describe('the request log: sigV4AccessKeyId and awsOperation', () => {
  it.each([
    [
      'Authorization header',
      'AWS4-HMAC-SHA256 Credential=ASIAROLESESSION1/20261208/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=ab',
      '/',
      'ASIAROLESESSION1',
    ],
    [
      'presigned URL',
      undefined,
      '/q?X-Amz-Credential=ASIAPRESIGNED%2F20261208%2Fus-east-1%2Fsqs%2Faws4_request&X-Amz-Signature=cd',
      'ASIAPRESIGNED',
    ],
    ['unsigned', undefined, '/', undefined],
  ])('%s: %s', (_, authorization, target, expected) => {
    expect(sigV4AccessKeyId(authorization, target)).toBe(expected);
  });

  it('reads a JSON-protocol request from X-Amz-Target and the body', () => {
    expect(
      awsOperation(
        'POST',
        '/',
        'AmazonSSM.GetParameter',
        Buffer.from('{"Name":"/trino-sentinel/analytics/trino-secret","WithDecryption":true}'),
      ),
    ).toEqual({
      operation: 'GetParameter',
      params: { Name: '/trino-sentinel/analytics/trino-secret', WithDecryption: true },
    });
  });

  it('reads a query-protocol request from the form body, without Action and Version', () => {
    expect(
      awsOperation(
        'POST',
        '/',
        undefined,
        Buffer.from('Action=DetachNetworkInterface&Version=2016-11-15&AttachmentId=eni-attach-1&Force=true'),
      ),
    ).toEqual({
      operation: 'DetachNetworkInterface',
      params: { AttachmentId: 'eni-attach-1', Force: 'true' },
    });
  });

  it('names a REST request by method and path, without parameters', () => {
    expect(
      awsOperation('POST', '/2015-03-31/functions/f/invocations?x=1', undefined, Buffer.from('{}')),
    ).toEqual({
      operation: 'POST /2015-03-31/functions/f/invocations',
      params: {},
    });
  });

  it('keeps a JSON request whose body is not an object as an operation without parameters', () => {
    expect(awsOperation('POST', '/', 'AWSStepFunctions.ListExecutions', Buffer.from('not json'))).toEqual({
      operation: 'ListExecutions',
      params: {},
    });
  });
});
