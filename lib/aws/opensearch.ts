/**
 * Amazon OpenSearch Service adapter: a domain's endpoint by name.
 * Source: Amazon OpenSearch Service API reference, DescribeDomain (`Endpoint`, or `Endpoints.vpc` for a VPC domain).
 *
 * @module
 */
import { DescribeDomainCommand, type OpenSearchClient } from '@aws-sdk/client-opensearch';
import type { AwsCall } from './ec2.ts';
import { toAwsError } from './sdk-errors.ts';

/**
 * The domain's endpoint host, or `undefined` while it has none (being created).
 * @throws AwsThrottledError | AwsError
 */
export async function domainEndpoint(
  client: OpenSearchClient,
  domainName: string,
  call: AwsCall = {},
): Promise<string | undefined> {
  try {
    const out = await client.send(new DescribeDomainCommand({ DomainName: domainName }), {
      abortSignal: call.signal,
    });
    return out.DomainStatus?.Endpoint ?? out.DomainStatus?.Endpoints?.vpc;
  } catch (cause) {
    throw toAwsError('OpenSearch DescribeDomain', cause, { domainName });
  }
}
