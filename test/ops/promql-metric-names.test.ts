import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricNamesIn, scrapedMetricFamilies } from '../support/promql-metric-names';

test('metricNamesIn finds bare names and leaves out functions, keywords, label names, strings and durations', () => {
  assert.deepEqual(
    metricNamesIn(
      'sum by (job, instance) (rate(ingest_publish_errors_total{job="ingest", reason!~"transient|up"}[5m]))' +
        ' / on (instance) group_left (version) ingest_build_info > bool 0.05 offset 1h',
    ),
    ['ingest_build_info', 'ingest_publish_errors_total'],
  );
  assert.deepEqual(metricNamesIn('up{job="ingest"} == 0 and ingest_health{status!="healthy"} == 1'), [
    'ingest_health',
    'up',
  ]);
  assert.deepEqual(metricNamesIn('sum(rate(ingest_frames_received_total[1m])) without (instance) or vector(0)'), [
    'ingest_frames_received_total',
  ]);
  assert.deepEqual(metricNamesIn('label_replace(ingest_workers, "w", "$1", "state", "(.*)") * 1e3'), [
    'ingest_workers',
  ]);
});

test('metricNamesIn maps a histogram series back to its family, and reads {__name__="…"}', () => {
  assert.deepEqual(
    metricNamesIn(
      'histogram_quantile(0.99, sum by (le) (rate(ingest_publish_duration_seconds_bucket[5m])))' +
        ' + ingest_publish_duration_seconds_sum / ingest_publish_duration_seconds_count',
    ),
    ['ingest_publish_duration_seconds'],
  );
  assert.deepEqual(metricNamesIn('{__name__="ingest_backlog_bytes", job="ingest"}'), ['ingest_backlog_bytes']);
});

test('metricNamesIn reads subqueries and ignores Grafana variables', () => {
  assert.deepEqual(metricNamesIn('min_over_time(deriv(ingest_backlog_bytes[1m])[5m:15s]) > 0'), [
    'ingest_backlog_bytes',
  ]);
  assert.deepEqual(
    metricNamesIn(
      'sum by ($group) (rate(ingest_bytes_received_total{instance=~"$instance", job="${job:raw}"}[$__rate_interval]))',
    ),
    ['ingest_bytes_received_total'],
  );
});

test('scrapedMetricFamilies lists typed families without series, samples, and histograms by family', () => {
  const exposition = [
    '# HELP ingest_publish_errors_total Failed publish attempts.',
    '# TYPE ingest_publish_errors_total counter',
    '# HELP ingest_publish_duration_seconds Publish to confirmation.',
    '# TYPE ingest_publish_duration_seconds histogram',
    'ingest_publish_duration_seconds_bucket{le="0.001"} 0',
    'ingest_publish_duration_seconds_bucket{le="+Inf"} 0',
    'ingest_publish_duration_seconds_sum 0',
    'ingest_publish_duration_seconds_count 0',
    '# TYPE ingest_workers gauge',
    'ingest_workers{state="ready"} 2',
    'untyped_metric 1',
    '',
  ].join('\n');
  assert.deepEqual(
    [...scrapedMetricFamilies(exposition)].sort(),
    ['ingest_publish_duration_seconds', 'ingest_publish_errors_total', 'ingest_workers', 'untyped_metric'].sort(),
  );
});

test('metricNamesIn: a histogram quantile reads its family, not le, functions or the Grafana variables', () => {
  assert.deepEqual(
    metricNamesIn(
      'histogram_quantile(0.99, sum by (instance, le) ' +
        '(rate(ingest_publish_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))',
    ),
    ['ingest_publish_duration_seconds'],
  );
});

test('metricNamesIn: _sum and _count map to their family; label lists after the aggregation are skipped', () => {
  assert.deepEqual(
    metricNamesIn(
      'sum(rate(nodejs_gc_duration_seconds_sum[5m])) without (kind) / ' +
        'sum(rate(nodejs_gc_duration_seconds_count[5m])) without (kind)',
    ),
    ['nodejs_gc_duration_seconds'],
  );
});

test('metricNamesIn: both sides of binary operators, matching modifiers and keywords', () => {
  assert.deepEqual(
    metricNamesIn(
      'ingest_backlog_bytes / on (instance) group_left () ingest_backlog_limit_bytes > bool 0.8 ' +
        'and ingest_workers{state="ready"} offset 5m unless ingest_streams_active < inf',
    ),
    ['ingest_backlog_bytes', 'ingest_backlog_limit_bytes', 'ingest_streams_active', 'ingest_workers'],
  );
});

test('metricNamesIn: strings, label values with braces and durations are not names', () => {
  assert.deepEqual(
    metricNamesIn(
      'label_replace(increase(ingest_stream_closes_total{code=~"1011|1013",x="a}b"}[1h:5m]), ' +
        '"dst", "ingest_fake_$1", "code", "(.*)")',
    ),
    ['ingest_stream_closes_total'],
  );
});

test('metricNamesIn: a constant expression names no metric', () => {
  assert.deepEqual(metricNamesIn('vector(1) + 2 * time()'), []);
});

test('scrapedMetricFamilies: typed families with and without samples, histograms by family, untyped samples', () => {
  const text = [
    '# HELP ingest_publish_errors_total Failed publish attempts.',
    '# TYPE ingest_publish_errors_total counter',
    '# HELP ingest_publish_duration_seconds Time to confirmation.',
    '# TYPE ingest_publish_duration_seconds histogram',
    'ingest_publish_duration_seconds_bucket{le="0.001"} 0',
    'ingest_publish_duration_seconds_bucket{le="+Inf"} 3',
    'ingest_publish_duration_seconds_sum 0.02',
    'ingest_publish_duration_seconds_count 3',
    '# TYPE ingest_workers gauge',
    'ingest_workers{state="ready"} 2',
    'some_untyped_metric 1',
    '',
  ].join('\n');
  assert.deepEqual([...scrapedMetricFamilies(text)].sort(), [
    'ingest_publish_duration_seconds',
    'ingest_publish_errors_total',
    'ingest_workers',
    'some_untyped_metric',
  ]);
});
