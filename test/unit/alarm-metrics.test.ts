/**
 * Every alarm watches a metric that something really publishes (issue 17, item 5, the static half): an alarm on a
 * metric no function publishes never fires, and moto's CloudFormation creates no alarms, so nothing else would
 * notice. The alarms are read from what ships: the control plane's templates as `osls package` writes them (the
 * recorded ones in test/fixtures/osls-package/, kept equal to the packaging by `npm run check:package`) and the
 * cluster stack infra/trino-cluster.yaml.
 * - In our namespace (`Trino` by default): the metric name must be one the functions publish: a metric-set entry
 *   (`{ name: 'X', unit, value }`, lib/metrics-sink.ts and lib/aws/cloudwatch.ts) or a Powertools
 *   `metrics.addMetric(<name>)` whose name is a literal of a `*_METRICS` table.
 * - In an AWS namespace: the metric must be one that service documents (the table below, with its source).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Metrics of AWS services our alarms may watch. Sources: each service's "CloudWatch metrics" page. */
const AWS_METRICS: Readonly<Record<string, readonly string[]>> = {
  // Step Functions developer guide, "Monitoring Step Functions metrics using CloudWatch": execution metrics.
  'AWS/States': ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted', 'ExecutionThrottled'],
  // Lambda developer guide, "Types of metrics for Lambda functions".
  'AWS/Lambda': ['Errors', 'Throttles', 'Duration', 'Invocations', 'AsyncEventsDropped'],
  // SQS developer guide, "Available CloudWatch metrics for Amazon SQS".
  'AWS/SQS': ['ApproximateNumberOfMessagesVisible', 'ApproximateAgeOfOldestMessage'],
  // EC2 Auto Scaling user guide, "Amazon CloudWatch metrics for Amazon EC2 Auto Scaling" (group metrics).
  'AWS/AutoScaling': ['GroupInServiceInstances', 'GroupDesiredCapacity', 'GroupPendingInstances'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/** Metric names the product publishes, read from its source (functions/ and lib/). */
function publishedMetricNames(): Set<string> {
  const names = new Set<string>();
  for (const file of [...sourceFiles(path.join(ROOT, 'functions')), ...sourceFiles(path.join(ROOT, 'lib'))]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\bname:\s*'([A-Z]\w+)'/g)) if (m[1]) names.add(m[1]);
    for (const m of text.matchAll(/addMetric\(\s*'([A-Z]\w+)'/g)) if (m[1]) names.add(m[1]);
    for (const table of text.matchAll(/[A-Z_]+_METRICS\s*=\s*\{([^}]*)\}/g)) {
      for (const m of (table[1] ?? '').matchAll(/:\s*'([A-Z]\w+)'/g)) if (m[1]) names.add(m[1]);
    }
  }
  return names;
}

interface AlarmMetric {
  readonly source: string;
  readonly alarm: string;
  readonly namespace: string;
  readonly metricName: string;
}

const AlarmProperties = z
  .object({
    Namespace: z.unknown().optional(),
    MetricName: z.string().optional(),
    Metrics: z
      .array(
        z
          .object({
            MetricStat: z
              .object({ Metric: z.object({ Namespace: z.unknown(), MetricName: z.string() }).loose() })
              .loose()
              .optional(),
          })
          .loose(),
      )
      .optional(),
  })
  .loose();
const Template = z.object({
  Resources: z.record(z.string(), z.object({ Type: z.string(), Properties: z.unknown().optional() }).loose()),
});

/** The namespace as packaged: a literal, or our param's default (`${param:metricsNamespace}` → `Trino`). */
function namespaceOf(value: unknown): string {
  return typeof value === 'string' ? value : 'Trino';
}

function packagedAlarms(file: string): AlarmMetric[] {
  const template = Template.parse(JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')));
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
    .flatMap(([alarm, r]) => {
      const p = AlarmProperties.parse(r.Properties);
      const direct =
        p.MetricName === undefined
          ? []
          : [{ source: file, alarm, namespace: namespaceOf(p.Namespace), metricName: p.MetricName }];
      const math = (p.Metrics ?? []).flatMap((m) =>
        m.MetricStat === undefined
          ? []
          : [
              {
                source: file,
                alarm,
                namespace: namespaceOf(m.MetricStat.Metric.Namespace),
                metricName: m.MetricStat.Metric.MetricName,
              },
            ],
      );
      return [...direct, ...math];
    });
}

/** infra/trino-cluster.yaml's alarms: each `Type: AWS::CloudWatch::Alarm` resource block, read as text. */
function infraAlarms(): AlarmMetric[] {
  const text = readFileSync(path.join(ROOT, 'infra/trino-cluster.yaml'), 'utf8');
  const blocks = text.split(/\n(?= {2}[A-Za-z0-9]+:\n)/);
  return blocks
    .filter((b) => /\n\s+Type: AWS::CloudWatch::Alarm\b/.test(b))
    .flatMap((b) => {
      const alarm = /^\s*([A-Za-z0-9]+):/.exec(b)?.[1] ?? '?';
      const namespace = /\n\s+Namespace:\s*(.+)/.exec(b)?.[1]?.trim() ?? '';
      const metricName = /\n\s+MetricName:\s*(\w+)/.exec(b)?.[1] ?? '';
      return [
        {
          source: 'infra/trino-cluster.yaml',
          alarm,
          namespace: namespace.startsWith('AWS/') ? namespace : 'Trino',
          metricName,
        },
      ];
    });
}

describe('alarms watch metrics that are published', () => {
  const published = publishedMetricNames();
  const alarms = [
    ...packagedAlarms('test/fixtures/osls-package/default.template.json'),
    ...packagedAlarms('test/fixtures/osls-package/cloud.template.json'),
    ...infraAlarms(),
  ];

  it('finds the alarms of both stacks and the metrics the functions publish', () => {
    expect(alarms.filter((a) => a.source.startsWith('test/')).length).toBeGreaterThan(10);
    expect(alarms.filter((a) => a.source.startsWith('infra/')).length).toBeGreaterThan(1);
    expect(published).toContain('CoordinatorHealthy');
    expect(published).toContain('QueryEventsUnauthorized');
    expect(published).toContain('FailoverNotStarted');
  });

  it('every alarm in our namespace watches a metric a function publishes', () => {
    const orphans = alarms.filter((a) => !a.namespace.startsWith('AWS/') && !published.has(a.metricName));
    expect(orphans).toEqual([]);
  });

  it('every alarm in an AWS namespace watches a metric that service documents', () => {
    const unknown = alarms.filter(
      (a) => a.namespace.startsWith('AWS/') && !(AWS_METRICS[a.namespace] ?? []).includes(a.metricName),
    );
    expect(unknown).toEqual([]);
  });
});
