import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Metric } from '../../lib/metrics.ts';
import { EMF_MAX_METRICS, emfValues, publishMetricSet, toEmfDocuments } from '../../lib/metrics-sink.ts';

const options = { namespace: 'Trino', clusterName: 'prod', timestamp: new Date('2026-11-30T10:00:00Z') };
const cloudwatch = mockClient(CloudWatchClient);
beforeEach(() => {
  cloudwatch.reset();
  cloudwatch.on(PutMetricDataCommand).resolves({});
});

function stats(sampleCount: number, sum: number, minimum: number, maximum: number): Metric {
  return { name: 'S', unit: 'Count', value: 0, statistics: { sampleCount, sum, minimum, maximum } };
}

describe('emfValues: a statistic set as samples with the same count, sum, minimum and maximum', () => {
  it.each([
    [stats(0, 0, 0, 0), []],
    [stats(1, 7, 7, 7), [7]],
    [stats(2, 1, 0, 1), [0, 1]],
    [stats(4, 3, 0, 1), [0, 1, 1, 1]],
    [stats(11, 11, 1, 1), Array.from({ length: 11 }, () => 1)],
    [stats(5, 10, 1, 4), [1, 4, 5 / 3, 5 / 3, 5 / 3]],
  ])('%j → %j', (metric, expected) => {
    const values = emfValues(metric);
    expect(values).toEqual(expected);
    if (metric.statistics && values.length > 0) {
      expect(values).toHaveLength(metric.statistics.sampleCount);
      expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(metric.statistics.sum);
      expect(Math.min(...values)).toBe(metric.statistics.minimum);
      expect(Math.max(...values)).toBe(metric.statistics.maximum);
    }
  });

  it('a plain metric is its value', () => {
    expect(emfValues({ name: 'A', unit: 'Percent', value: 42.5 })).toEqual([42.5]);
  });
});

describe('toEmfDocuments', () => {
  it('puts the cluster-level metrics in one document with ClusterName, and each user in its own', () => {
    const docs = toEmfDocuments(
      [
        { name: 'RunningQueries', unit: 'Count', value: 3 },
        { name: 'ClusterMemoryUtilization', unit: 'Percent', value: 12.5 },
        { name: 'RunningQueries', unit: 'Count', value: 2, dimensions: { User: 'alice' } },
        { name: 'QueuedQueries', unit: 'Count', value: 1, dimensions: { User: 'alice' } },
        { name: 'RunningQueries', unit: 'Count', value: 1, dimensions: { User: 'bob' } },
      ],
      { ...options, properties: { RunningDrivers: 17 } },
    );
    expect(docs).toEqual([
      {
        _aws: {
          Timestamp: Date.parse('2026-11-30T10:00:00Z'),
          CloudWatchMetrics: [
            {
              Namespace: 'Trino',
              Dimensions: [['ClusterName']],
              Metrics: [
                { Name: 'RunningQueries', Unit: 'Count' },
                { Name: 'ClusterMemoryUtilization', Unit: 'Percent' },
              ],
            },
          ],
        },
        RunningDrivers: 17,
        ClusterName: 'prod',
        RunningQueries: 3,
        ClusterMemoryUtilization: 12.5,
      },
      {
        _aws: {
          Timestamp: Date.parse('2026-11-30T10:00:00Z'),
          CloudWatchMetrics: [
            {
              Namespace: 'Trino',
              Dimensions: [['ClusterName', 'User']],
              Metrics: [
                { Name: 'RunningQueries', Unit: 'Count' },
                { Name: 'QueuedQueries', Unit: 'Count' },
              ],
            },
          ],
        },
        ClusterName: 'prod',
        User: 'alice',
        RunningQueries: 2,
        QueuedQueries: 1,
      },
      expect.objectContaining({ User: 'bob', RunningQueries: 1 }),
    ]);
  });

  it.each([
    [1, 1],
    [EMF_MAX_METRICS, 1],
    [EMF_MAX_METRICS + 1, 2],
    [250, 3],
  ])('%i distinct metrics of one dimension set → %i documents (≤ 100 metrics each)', (count, documents) => {
    const metrics = Array.from({ length: count }, (_, i) => ({
      name: `M${i}`,
      unit: 'Count' as const,
      value: i,
    }));
    const docs = toEmfDocuments(metrics, options);
    expect(docs).toHaveLength(documents);
    const declared = docs.flatMap((d) => d._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name) ?? []);
    expect(declared).toEqual(metrics.map((m) => m.name));
    for (const d of docs)
      expect(d._aws.CloudWatchMetrics[0]?.Metrics.length).toBeLessThanOrEqual(EMF_MAX_METRICS);
  });

  it.each([
    [150, [100, 50]],
    [100, [100]],
    [12, [12]],
  ])('a statistic set of %i samples is split into documents of ≤ 100 values: %j', (n, sizes) => {
    const docs = toEmfDocuments([stats(n, n, 1, 1)], options);
    expect(docs.map((d) => (Array.isArray(d.S) ? d.S.length : 1))).toEqual(sizes);
  });

  it('declares high resolution per metric when asked', () => {
    const [doc] = toEmfDocuments([{ name: 'A', unit: 'Count', value: 1 }], {
      ...options,
      storageResolution: 1,
    });
    expect(doc?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([
      { Name: 'A', Unit: 'Count', StorageResolution: 1 },
    ]);
  });

  it('writes properties alone when there is no metric', () => {
    expect(toEmfDocuments([], { ...options, properties: { X: 1 } })).toEqual([
      expect.objectContaining({ X: 1, ClusterName: 'prod' }),
    ]);
  });
});

describe('publishMetricSet', () => {
  const metrics: Metric[] = [
    { name: 'A', unit: 'Count', value: 1 },
    { name: 'B', unit: 'Count', value: 2, dimensions: { User: 'u' } },
  ];

  it('emf: writes one JSON line per document and calls no API', async () => {
    const lines: string[] = [];
    const result = await publishMetricSet(new CloudWatchClient({ region: 'us-east-1' }), metrics, {
      ...options,
      sink: 'emf',
      write: (line) => lines.push(line),
    });
    expect(result).toEqual({ putMetricDataCalls: 0, emfDocuments: 2 });
    expect(lines.map((l) => JSON.parse(l).ClusterName)).toEqual(['prod', 'prod']);
    expect(cloudwatch.commandCalls(PutMetricDataCommand)).toHaveLength(0);
  });

  it('put-metric-data: one call for the set, nothing written', async () => {
    const lines: string[] = [];
    const result = await publishMetricSet(new CloudWatchClient({ region: 'us-east-1' }), metrics, {
      ...options,
      sink: 'put-metric-data',
      write: (line) => lines.push(line),
    });
    expect(result).toEqual({ putMetricDataCalls: 1, emfDocuments: 0 });
    expect(lines).toEqual([]);
    expect(cloudwatch.commandCalls(PutMetricDataCommand)[0]?.args[0].input.MetricData).toHaveLength(2);
  });

  it('emf: nothing at all for no metrics', async () => {
    const lines: string[] = [];
    const result = await publishMetricSet(new CloudWatchClient({ region: 'us-east-1' }), [], {
      ...options,
      sink: 'emf',
      write: (line) => lines.push(line),
    });
    expect(result).toEqual({ putMetricDataCalls: 0, emfDocuments: 0 });
    expect(lines).toEqual([]);
  });
});
