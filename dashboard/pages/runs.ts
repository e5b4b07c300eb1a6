import { formatDuration, formatMetadata, formatTime } from '../../engine/format.ts';
import { idOf } from '../../engine/node.ts';
import type { RunDetail, RunRow, RunSummaryRow } from '../../engine/run-history.ts';
import { type Html, html } from '../html.ts';
import { statusBadge } from '../layout.ts';

const duration = (run: RunRow) =>
  run.startedAt && run.finishedAt ? formatDuration(run.finishedAt.getTime() - run.startedAt.getTime()) : '—';

export function runsPage(runs: RunSummaryRow[], page: number, more: boolean): Html {
  return html`<table id="runs"><tr><th>run</th><th>status</th><th>trigger</th><th>selection</th><th>partitions</th>
    <th>nodes</th><th>created</th><th>duration</th></tr>
    ${runs.map(
      (
        run,
      ) => html`<tr><td><a href="/runs/${run.id}">${run.id.slice(0, 8)}</a></td><td>${statusBadge(run.status)}</td>
        <td>${run.trigger} (${run.executor})</td><td><code>${run.selection}</code></td>
        <td>${run.partitionFrom ? `${run.partitionFrom}..${run.partitionTo}` : '—'}</td>
        <td>${Object.entries(run.nodeCounts).map(([status, n]) => html`${statusBadge(status)} ${n} `)}</td>
        <td>${formatTime(run.createdAt)}</td><td>${duration(run)}</td></tr>`,
    )}</table>
    <p>${page > 1 ? html`<a href="/runs?page=${page - 1}">newer</a> ` : ''}${more ? html`<a href="/runs?page=${page + 1}">older</a>` : ''}</p>`;
}

/** The run's actions a user may take now, each a form posting the page's CSRF token. */
export type RunActions = { csrfToken: string; reexecute: boolean; cancel: boolean };

export function runPage({ run, nodes, attempts, checks }: RunDetail, actions?: RunActions): Html {
  const failedAttempts = attempts.filter((a) => a.status === 'failed' || a.status === 'canceled');
  return html`<table><tr><th>status</th><td id="run-status">${statusBadge(run.status)}</td></tr>
    <tr><th>trigger</th><td>${run.trigger} (${run.executor})</td></tr>
    <tr><th>selection</th><td><code>${run.selection}</code></td></tr>
    <tr><th>partitions</th><td>${run.partitionFrom ? `${run.partitionFrom}..${run.partitionTo}` : '—'}</td></tr>
    <tr><th>created / started / finished</th><td>${formatTime(run.createdAt)} / ${formatTime(run.startedAt)} / ${formatTime(run.finishedAt)}</td></tr>
    ${run.error ? html`<tr><th>error</th><td class="error">${run.error}</td></tr>` : ''}</table>
  ${actions ? runActions(run.id, actions) : ''}
  <h2>Nodes</h2>
  <table id="nodes"><tr><th>node</th><th>status</th><th>attempts</th><th>started</th><th>duration</th><th>metadata / error</th><th>checks</th></tr>
  ${nodes.map((node) => {
    const id = idOf(node);
    const nodeChecks = checks.filter(
      (c) => c.assetKey === node.assetKey && c.partitionKey === node.partitionKey,
    );
    return html`<tr data-node="${id}" data-status="${node.status}"><td><a href="/assets/${encodeURIComponent(node.assetKey)}">${id}</a></td>
      <td>${statusBadge(node.status)}</td><td>${node.attempts}</td><td>${formatTime(node.startedAt)}</td>
      <td>${formatDuration(node.durationMs)}</td>
      <td>${node.error ? html`<pre class="error">${node.error}</pre>` : html`<code>${formatMetadata(node.metadata)}</code>`}</td>
      <td>${nodeChecks.map((c) => html`${statusBadge(c.passed ? 'succeeded' : 'failed')} ${c.checkName}${c.message ? html`: ${c.message}` : ''}<br>`)}</td></tr>`;
  })}</table>
  ${
    failedAttempts.length === 0
      ? ''
      : html`<h2>Attempts that did not succeed</h2>
  <table id="attempts"><tr><th>node</th><th>attempt</th><th>status</th><th>ended</th><th>error</th></tr>
  ${failedAttempts.map(
    (
      a,
    ) => html`<tr data-node="${idOf(a)}" data-attempt="${a.attempt}"><td>${idOf(a)}</td><td>${a.attempt}</td>
      <td>${statusBadge(a.status)}</td><td>${formatTime(a.finishedAt)}</td><td><pre class="error">${a.error ?? ''}</pre></td></tr>`,
  )}</table>`
  }`;
}

function runActions(runId: string, actions: RunActions): Html {
  const button = (action: string, label: string) =>
    html`<form class="inline action" method="post" action="/runs/${runId}/${action}" id="${action}">
      <input type="hidden" name="_csrf" value="${actions.csrfToken}"><button type="submit">${label}</button></form>`;
  return html`<div class="actions">${actions.reexecute ? button('reexecute', 'Re-execute failed') : ''}${actions.cancel ? button('cancel', 'Cancel run') : ''}</div>`;
}
