import { type Html, html, raw } from './html.ts';
import { STATE_STYLE } from './pages/status.ts';

export type PageOptions = {
  title: string;
  /** Reload every n seconds (a run in progress). */
  refreshSeconds?: number;
  /** Bull Board is mounted (Redis configured). */
  queues: boolean;
};

const STYLE = `
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
  header { background: #24292f; color: #fff; padding: 10px 24px; display: flex; gap: 20px; align-items: center; }
  header a { color: #fff; text-decoration: none; } header strong { margin-right: 12px; }
  main { padding: 16px 24px; max-width: 1400px; }
  table { border-collapse: collapse; background: #fff; width: 100%; margin: 8px 0 20px; }
  th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
  th { background: #eaeef2; } code, pre { font-size: 12px; } pre { white-space: pre-wrap; margin: 0; }
  .status { display: inline-block; padding: 0 6px; border-radius: 8px; color: #fff; font-size: 12px; }
  .succeeded { background: #1a7f37; } .skipped { background: #4d8f5f; } .failed { background: #cf222e; } .running, .queued { background: #0969da; }
  .pending, .never, .canceled { background: #8c959f; } .amber { background: #9a6700; }
  td.files { font-size: 12px; white-space: nowrap; } .nowrap { white-space: nowrap; }
  form.inline { display: flex; gap: 8px; align-items: end; flex-wrap: wrap; background: #fff; padding: 10px;
    border: 1px solid #d0d7de; }
  form.inline label { display: flex; flex-direction: column; font-size: 12px; }
  .muted { color: #57606a; } .error { color: #cf222e; }
  .graph { overflow-x: auto; background: #fff; border: 1px solid #d0d7de; }
`;

/** The page around every view: navigation, title, optional auto-refresh. */
export function page(options: PageOptions, body: Html): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" type="image/svg+xml" href="/static/favicon.svg"><title>${options.title} · asset-pipeline</title>
${options.refreshSeconds ? html`<meta http-equiv="refresh" content="${options.refreshSeconds}">` : ''}
<style>${raw(STYLE)}${raw(STATE_STYLE)}</style></head>
<body><header><strong>asset-pipeline</strong><a href="/">Assets</a><a href="/status">Status</a><a href="/runs">Runs</a><a href="/automation">Automation</a>
${options.queues ? html`<a href="/queues">Queues</a>` : html`<span class="muted">Queues: set REDIS_URL to enable Bull Board</span>`}
</header><main><h1>${options.title}</h1>${body}</main></body></html>`.value;
}

export function statusBadge(status: string | null | undefined): Html {
  const value = status ?? 'never';
  return html`<span class="status ${value}">${value}</span>`;
}
