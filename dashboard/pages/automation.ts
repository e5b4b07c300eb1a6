import { formatTime } from '../../engine/format.ts';
import type { RecordedTick, SchedulerSetting, TickFile, TickOutcome } from '../../engine/ticks.ts';
import { describeRepeat } from '../../queues/schedule.ts';
import { type Html, html } from '../html.ts';
import { statusBadge } from '../layout.ts';

/** One of the pipeline's schedulers: its setting (none until `pipeline schedule`), its next fire time in BullMQ. */
export type SchedulerView = { id: string; setting?: SchedulerSetting; next?: Date };

export type AutomationView = {
  schedulers: SchedulerView[];
  ticks: RecordedTick[];
  /** Redis is configured: next fire times can be read. */
  queues: boolean;
  /** Pause and Resume buttons post this token; without it, `noButtons` says why there are none. */
  csrfToken?: string;
  noButtons: string;
};

/** A first tick on a full landing zone lists every file: the rest fold away. */
const FILES_SHOWN = 5;

const OUTCOME_COLOUR: Record<TickOutcome, string> = {
  started: 'succeeded',
  refused: 'failed',
  waiting: 'amber',
  paused: 'amber',
  current: 'never',
};

const badge = (label: string, colour: string) => html`<span class="status ${colour}">${label}</span>`;

export function automationPage(view: AutomationView): Html {
  return html`<h2>Schedulers</h2>
  ${view.csrfToken ? '' : html`<p class="muted">${view.noButtons}</p>`}
  <table id="schedulers"><tr><th>scheduler</th><th>fires</th><th>state</th><th>next fire time</th>${view.csrfToken ? html`<th></th>` : ''}</tr>
  ${view.schedulers.map((scheduler) => schedulerRow(scheduler, view))}</table>
  <h2>Latest ticks</h2>
  ${view.ticks.length === 0 ? html`<p class="muted">no ticks recorded yet</p>` : ticksTable(view.ticks)}`;
}

function schedulerRow({ id, setting, next }: SchedulerView, view: AutomationView): Html {
  const state = !setting
    ? html`<span class="muted">not created: run <code>npx pipeline schedule</code></span>`
    : setting.paused
      ? badge('paused', 'amber')
      : badge('running', 'succeeded');
  // A running scheduler missing from BullMQ (Redis flushed) does not tick: say how to recreate it.
  const nextCell = next
    ? formatTime(next)
    : !setting || setting.paused
      ? '—'
      : view.queues
        ? html`<span class="error">not in BullMQ: run <code>npx pipeline schedule</code></span>`
        : html`<span class="muted">needs Redis</span>`;
  const action = setting?.paused ? 'resume' : 'pause';
  const button =
    view.csrfToken && setting
      ? html`<form method="post" action="/automation/${id}/${action}" id="${action}-${id}">
        <input type="hidden" name="_csrf" value="${view.csrfToken}"><button type="submit">${setting.paused ? 'Resume' : 'Pause'}</button></form>`
      : '';
  return html`<tr data-scheduler="${id}"><td><code>${id}</code></td><td>${setting ? describeRepeat(setting.repeat) : '—'}</td>
    <td class="state">${state}</td><td class="next">${nextCell}</td>${view.csrfToken ? html`<td>${button}</td>` : ''}</tr>`;
}

function ticksTable(ticks: RecordedTick[]): Html {
  return html`<table id="ticks"><tr><th>ticked</th><th>scheduler</th><th>outcome</th><th>files seen</th><th>files</th><th>message</th><th>run</th></tr>
  ${ticks.map(
    (
      tick,
    ) => html`<tr data-tick="${tick.id}"><td class="nowrap">${formatTime(tick.tickedAt)}</td><td class="nowrap"><code>${tick.schedulerId}</code></td>
      <td>${badge(tick.outcome, OUTCOME_COLOUR[tick.outcome])}</td><td>${tick.filesSeen ?? '—'}</td>
      <td class="files">${fileList(tick.files)}</td><td>${tick.message}</td>
      <td class="nowrap">${tick.runId ? html`<a href="/runs/${tick.runId}">${tick.runId.slice(0, 8)}</a> ${statusBadge(tick.runStatus)}` : '—'}</td></tr>`,
  )}</table>`;
}

function fileList(files: TickFile[]): Html {
  const line = (file: TickFile) =>
    html`<div>${file.change} <code>${file.name}</code>${file.runId ? html` (<a href="/runs/${file.runId}">${file.runId.slice(0, 8)}</a>)` : ''}</div>`;
  const rest = files.slice(FILES_SHOWN);
  return html`${files.slice(0, FILES_SHOWN).map(line)}${
    rest.length > 0 ? html`<details><summary>${rest.length} more</summary>${rest.map(line)}</details>` : ''
  }`;
}
