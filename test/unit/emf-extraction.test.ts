import { describe, expect, it } from 'vitest';
import { emfLineToPutMetricData } from '../../harness/cloud/emf-extraction.ts';
import { toEmfDocuments } from '../../lib/metrics-sink.ts';

const timestamp = new Date('2026-11-30T12:00:00Z');

describe('EMF extraction (CloudWatch Logs for the local cloud)', () => {
  it('turns what the EMF sink writes back into the data PutMetricData would carry', () => {
    const [document] = toEmfDocuments(
      [
        { name: 'RunningQueries', unit: 'Count', value: 3 },
        { name: 'ClusterMemoryUtilization', unit: 'Percent', value: 41.5 },
      ],
      { namespace: 'Trino', clusterName: 'analytics', timestamp, properties: { RunningDrivers: 7 } },
    );
    expect(emfLineToPutMetricData(JSON.stringify(document))).toEqual([
      {
        Namespace: 'Trino',
        MetricData: [
          {
            MetricName: 'RunningQueries',
            Timestamp: timestamp,
            Dimensions: [{ Name: 'ClusterName', Value: 'analytics' }],
            Unit: 'Count',
            Value: 3,
          },
          {
            MetricName: 'ClusterMemoryUtilization',
            Timestamp: timestamp,
            Dimensions: [{ Name: 'ClusterName', Value: 'analytics' }],
            Unit: 'Percent',
            Value: 41.5,
          },
        ],
      },
    ]);
  });

  it('publishes a statistic set written as samples with its count, sum, minimum and maximum', () => {
    const [document] = toEmfDocuments(
      [
        {
          name: 'QueryLogLagMs',
          unit: 'Milliseconds',
          value: 0,
          statistics: { sampleCount: 5, sum: 100, minimum: 2, maximum: 50 },
        },
      ],
      { namespace: 'Trino', clusterName: 'c', timestamp, storageResolution: 1 },
    );
    const [input] = emfLineToPutMetricData(JSON.stringify(document));
    const datum = input?.MetricData?.[0];
    expect(datum?.StorageResolution).toBe(1);
    expect(datum?.StatisticValues?.SampleCount).toBe(5);
    expect(datum?.StatisticValues?.Sum).toBeCloseTo(100, 9);
    expect(datum?.StatisticValues?.Minimum).toBe(2);
    expect(datum?.StatisticValues?.Maximum).toBe(50);
  });

  it('keeps per-user dimensions and skips a dimension set whose value is missing', () => {
    const line = JSON.stringify({
      _aws: {
        Timestamp: timestamp.getTime(),
        CloudWatchMetrics: [
          {
            Namespace: 'Trino',
            Dimensions: [
              ['ClusterName', 'User'],
              ['ClusterName', 'Missing'],
            ],
            Metrics: [{ Name: 'QueuedQueries', Unit: 'Count' }],
          },
        ],
      },
      ClusterName: 'c',
      User: 'alice',
      QueuedQueries: 2,
    });
    const [input] = emfLineToPutMetricData(line);
    expect(input?.MetricData).toHaveLength(1);
    expect(input?.MetricData?.[0]?.Dimensions).toEqual([
      { Name: 'ClusterName', Value: 'c' },
      { Name: 'User', Value: 'alice' },
    ]);
  });

  it('ignores plain log lines, other JSON, malformed directives and non-numeric values', () => {
    expect(emfLineToPutMetricData('2026-11-30T12:00:00Z\tid\tINFO\tstarting')).toEqual([]);
    expect(emfLineToPutMetricData('{"level":"INFO","message":"probe ok"}')).toEqual([]);
    expect(emfLineToPutMetricData('{"_aws": {"Timestamp": "soon"}}')).toEqual([]);
    expect(emfLineToPutMetricData('{"_aws": ')).toEqual([]);
    const line = JSON.stringify({
      _aws: {
        Timestamp: 0,
        CloudWatchMetrics: [{ Namespace: 'T', Dimensions: [[]], Metrics: [{ Name: 'X' }] }],
      },
      X: 'three',
    });
    expect(emfLineToPutMetricData(line)).toEqual([]);
  });

  it('splits more than 1,000 data into several PutMetricData inputs', () => {
    const names = Array.from({ length: 100 }, (_, i) => `M${i}`);
    const users = Array.from({ length: 11 }, (_, i) => `u${i}`);
    const document: Record<string, unknown> = {
      _aws: {
        Timestamp: 0,
        CloudWatchMetrics: [
          {
            Namespace: 'T',
            Dimensions: users.map((u) => ['ClusterName', u]),
            Metrics: names.map((Name) => ({ Name })),
          },
        ],
      },
      ClusterName: 'c',
    };
    for (const u of users) document[u] = u;
    for (const n of names) document[n] = 1;
    const inputs = emfLineToPutMetricData(JSON.stringify(document));
    expect(inputs.map((i) => i.MetricData?.length)).toEqual([1_000, 100]);
  });
});
