/**
 * Amazon OpenSearch Service adapter: a domain's endpoint by name.
 * Source: Amazon OpenSearch Service API reference, DescribeDomain (`Endpoint`, or `Endpoints.vpc` for a VPC domain).
 *
 * @module
 */
import { DescribeDomainCommand, type OpenSearchClient } from '@aws-sdk/client-opensearch';
import { type AwsCall, sendAws } from './send.ts';

/**
 * The domain's endpoint host, or `undefined` while it has none (being created).
 * @throws AwsThrottledError | AwsError
 */
export async function domainEndpoint(
  client: OpenSearchClient,
  domainName: string,
  call: AwsCall = {},
): Promise<string | undefined> {
  const out = await sendAws(
    { operation: 'OpenSearch DescribeDomain', context: { domainName } },
    (options) => client.send(new DescribeDomainCommand({ DomainName: domainName }), options),
    call,
  );
  return out.DomainStatus?.Endpoint ?? out.DomainStatus?.Endpoints?.vpc;
}
