/**
 * The Amazon OpenSearch Service side of the query-log sink, which cannot run here: the domain endpoint found by
 * name (`DescribeDomain`, aws-sdk-client-mock, asserting what was sent) and SigV4-signed `_bulk` requests (a local
 * HTTP server records the exact request). Plus the pure template and policy bodies.
 */
import { DescribeDomainCommand, OpenSearchClient } from '@aws-sdk/client-opensearch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SearchEngineError } from '../../lib/errors.ts';
import {
  ilmPolicy,
  indexTemplate,
  ismPolicy,
  resolveDomainEndpoint,
  sinkFromConfig,
} from '../../lib/search/query-log-sink.ts';
import { startTestServer, type TestServer } from '../helpers/http-server.ts';

const opensearch = mockClient(OpenSearchClient);
const options = { indexPrefix: 'trino-queries', retentionDays: 30 };

describe('Amazon OpenSearch Service', () => {
  let server: TestServer;
  const saved = { ...process.env };

  beforeAll(async () => {
    server = await startTestServer();
    server.respond(() => ({
      status: 200,
      body: JSON.stringify({ errors: false, items: [{ index: { _id: 'q1', status: 201 } }] }),
    }));
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    process.env.AWS_REGION = 'eu-west-1';
  });
  afterAll(async () => {
    process.env = saved;
    await server.close();
  });

  it('finds the domain endpoint by name, public or VPC', async () => {
    opensearch.on(DescribeDomainCommand, { DomainName: 'prod-query-logs' }).resolves({
      DomainStatus: {
        DomainId: 'x',
        DomainName: 'prod-query-logs',
        ARN: 'arn:aws:es:eu-west-1:123456789012:domain/prod-query-logs',
        ClusterConfig: {},
        Endpoints: { vpc: 'vpc-prod-query-logs-abc.eu-west-1.es.amazonaws.com' },
      },
    });
    expect(
      await resolveDomainEndpoint(new OpenSearchClient({ region: 'eu-west-1' }), 'prod-query-logs'),
    ).toBe('https://vpc-prod-query-logs-abc.eu-west-1.es.amazonaws.com');
    expect(opensearch.commandCalls(DescribeDomainCommand)[0]?.args[0].input).toEqual({
      DomainName: 'prod-query-logs',
    });
  });

  it('says so when the domain has no endpoint yet', async () => {
    opensearch.on(DescribeDomainCommand).resolves({
      DomainStatus: {
        DomainId: 'x',
        DomainName: 'new',
        ARN: 'arn:aws:es:eu-west-1:1:domain/new',
        ClusterConfig: {},
      },
    });
    await expect(resolveDomainEndpoint(new OpenSearchClient({ region: 'eu-west-1' }), 'new')).rejects.toThrow(
      SearchEngineError,
    );
  });

  it('signs _bulk with SigV4 for service es with the default credential chain', async () => {
    const sink = await sinkFromConfig({
      SEARCH_ENGINE: 'opensearch-service',
      SEARCH_ENDPOINT: server.url,
      QUERY_LOG_INDEX_PREFIX: 'trino-queries',
      QUERY_LOG_RETENTION_DAYS: 30,
      SEARCH_TIMEOUT_MS: 5_000,
    });
    const results = await sink.bulkIndex([
      { index: 'trino-queries-2026.11.23', id: 'q1', document: { queryId: 'q1' } },
    ]);
    expect(results).toEqual([{ status: 201, ok: true, retryable: false }]);
    const request = server.received.at(-1);
    expect(request?.path).toBe('/_bulk');
    expect(String(request?.headers.authorization)).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/es\/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$/,
    );
    expect(request?.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
  });
});

describe('template and retention bodies', () => {
  it('maps ids as keywords, times as dates, durations and sizes as longs, and the SQL as text', () => {
    const template = indexTemplate('opensearch', options);
    expect(template.index_patterns).toEqual(['trino-queries-*']);
    const properties: Record<string, unknown> = template.template.mappings.properties;
    expect(properties.queryId).toEqual({ type: 'keyword' });
    expect(properties.endTime).toEqual({ type: 'date' });
    expect(properties.wallTimeMs).toEqual({ type: 'long' });
    expect(properties.peakUserMemoryBytes).toEqual({ type: 'long' });
    expect(properties.query).toEqual({
      type: 'text',
      fields: { keyword: { type: 'keyword', ignore_above: 2048 } },
    });
    expect(template.template.mappings.dynamic).toBe(false);
    expect(template.template.settings).not.toHaveProperty(['index.lifecycle.name']);
  });

  it('names the ILM policy on Elasticsearch unless ILM is missing', () => {
    expect(indexTemplate('elasticsearch', options).template.settings).toMatchObject({
      'index.lifecycle.name': 'trino-queries-retention',
    });
    expect(
      indexTemplate('elasticsearch', options, { lifecycle: false }).template.settings,
    ).not.toHaveProperty(['index.lifecycle.name']);
  });

  it('deletes indices after the retention days (ISM for OpenSearch, ILM for Elasticsearch)', () => {
    expect(ismPolicy(options).policy.states[0]?.transitions).toEqual([
      { state_name: 'delete', conditions: { min_index_age: '30d' } },
    ]);
    expect(ismPolicy(options).policy.ism_template).toEqual([
      { index_patterns: ['trino-queries-*'], priority: 200 },
    ]);
    expect(ilmPolicy(options).policy.phases.delete).toEqual({ min_age: '30d', actions: { delete: {} } });
  });
});
