import { formatDuration, formatMetadata, formatTime } from '../../cli/format.ts';
import type { AssetDefinition } from '../../engine/asset.ts';
import { type Html, html } from '../html.ts';
import { statusBadge } from '../layout.ts';
import type { CheckState, Materialization } from '../queries.ts';
import { historyChart } from './history-chart.ts';

/** One asset: what it is, its lineage both ways, its materializations and its latest checks. */
export function assetPage<Config>(options: {
  definition: AssetDefinition<Config>;
  upstream: string[];
  downstream: string[];
  history: Materialization[];
  checks: CheckState[];
  form?: Html;
}): Html {
  const { definition } = options;
  const links = (keys: string[]) =>
    keys.length === 0
      ? html`<span class="muted">none</span>`
      : keys.map((key, i) => html`${i ? ', ' : ''}<a href="/assets/${encodeURIComponent(key)}">${key}</a>`);
  const windows = definition.deps
    .filter((dep) => dep.mapping.kind === 'window')
    .map((dep) => html` ${dep.key}: ${dep.mapping.kind === 'window' ? dep.mapping.months : 0} months;`);
  return html`<p>${definition.description}</p>
  <table><tr><th>group</th><td>${definition.group}</td></tr>
  <tr><th>partitioned</th><td>${definition.partitions ?? 'no'}${windows.length ? html` (windows:${windows})` : ''}</td></tr>
  <tr><th>upstream</th><td>${links(options.upstream)}</td></tr>
  <tr><th>downstream</th><td>${links(options.downstream)}</td></tr>
  <tr><th>retries</th><td>${definition.retry.attempts} attempts, backoff from ${definition.retry.backoffMs} ms</td></tr></table>
  ${options.form ?? ''}
  <h2>Latest checks</h2>
  ${
    options.checks.length === 0
      ? html`<p class="muted">no check results yet</p>`
      : html`<table><tr><th>check</th><th>severity</th><th>result</th><th>partition</th><th>when</th><th>message</th></tr>
        ${options.checks.map(
          (
            c,
          ) => html`<tr><td>${c.checkName}</td><td>${c.severity}</td><td>${statusBadge(c.passed ? 'succeeded' : 'failed')}</td>
            <td>${c.partitionKey || '—'}</td><td>${formatTime(c.createdAt)}</td><td>${c.message ?? ''}</td></tr>`,
        )}</table>`
  }
  <h2>Materializations</h2>
  ${
    options.history.length === 0
      ? html`<p class="muted">never materialized</p>`
      : html`${historyChart(options.history)}
        <table><tr><th>when</th><th>partition</th><th>duration</th><th>rows</th><th>run</th><th>metadata</th></tr>
        ${options.history.map(
          (m) => html`<tr><td>${formatTime(m.materializedAt)}</td><td>${m.partitionKey || '—'}</td>
            <td>${formatDuration(m.durationMs)}</td><td>${m.rowCount ?? '—'}</td>
            <td><a href="/runs/${m.runId}">${m.runId.slice(0, 8)}</a></td><td><code>${formatMetadata(m.metadata)}</code></td></tr>`,
        )}</table>`
  }`;
}
