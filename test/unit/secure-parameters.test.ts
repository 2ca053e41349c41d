import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { secretsManagerReader, ssmParameterReader } from '../../lib/aws/secure-parameters.ts';
import { AwsError, AwsThrottledError } from '../../lib/errors.ts';

const ssm = mockClient(SSMClient);
const secrets = mockClient(SecretsManagerClient);
beforeEach(() => {
  ssm.reset();
  secrets.reset();
  vi.useRealTimers();
});

describe('ssmParameterReader: SecureString reads, SDK loaded on first use, cached', () => {
  it.each([
    [{ decrypt: true, maxAge: 300 }, true],
    [{}, false],
  ])('GetParameter with %j asks WithDecryption=%s', async (options, withDecryption) => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'pw' } });
    expect(await ssmParameterReader().get('/p', options)).toBe('pw');
    expect(ssm.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({
      Name: '/p',
      WithDecryption: withDecryption,
    });
  });

  it.each([
    // reads within maxAge are served from the cache; forceFetch reads again
    [{ decrypt: true, maxAge: 300 }, 1],
    [{ decrypt: true, maxAge: 300, forceFetch: true }, 3],
  ])('three reads with %j make %i call(s)', async (options, calls) => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'pw' } });
    const reader = ssmParameterReader();
    for (let i = 0; i < 3; i += 1) expect(await reader.get('/p', options)).toBe('pw');
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(calls);
  });

  it('reads again once maxAge has passed', async () => {
    vi.useFakeTimers({ now: 0, toFake: ['Date'] });
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: 'old' } })
      .resolves({ Parameter: { Value: 'new' } });
    const reader = ssmParameterReader();
    expect(await reader.get('/p', { maxAge: 5 })).toBe('old');
    vi.setSystemTime(4_999);
    expect(await reader.get('/p', { maxAge: 5 })).toBe('old');
    vi.setSystemTime(5_001);
    expect(await reader.get('/p', { maxAge: 5 })).toBe('new');
  });

  it.each([
    ['ParameterNotFound', AwsError],
    ['ThrottlingException', AwsThrottledError],
  ])('translates %s into %s', async (name, ErrorClass) => {
    ssm.on(GetParameterCommand).rejects(Object.assign(new Error(name), { name, $metadata: {} }));
    const error = await ssmParameterReader()
      .get('/missing', { decrypt: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error).toMatchObject({ context: { parameter: '/missing', sdkError: name } });
  });
});

describe('secretsManagerReader', () => {
  it('returns the SecretString and caches it', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"password":"pw"}' });
    const reader = secretsManagerReader();
    expect(await reader.get('arn:aws:secretsmanager:us-east-1:1:secret:s', { maxAge: 300 })).toBe(
      '{"password":"pw"}',
    );
    await reader.get('arn:aws:secretsmanager:us-east-1:1:secret:s', { maxAge: 300 });
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: 'arn:aws:secretsmanager:us-east-1:1:secret:s',
    });
  });

  it('translates a failure with the secret id (never its value)', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException', $metadata: {} }));
    await expect(secretsManagerReader().get('s')).rejects.toMatchObject({
      name: 'AwsError',
      context: { secretId: 's', sdkError: 'AccessDeniedException' },
    });
  });
});
