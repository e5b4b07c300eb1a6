import { type Html, html } from '../html.ts';

/** Materialize a selection for a partition or a range; posts with the page's CSRF token. */
export function materializeForm(csrfToken: string, selection = '*'): Html {
  return html`<form class="inline" method="post" action="/materialize" id="materialize">
    <input type="hidden" name="_csrf" value="${csrfToken}">
    <label>selection<input name="selection" value="${selection}" size="36" required></label>
    <label>partition (YYYY-MM)<input name="partition" placeholder="2026-10" pattern="\\d{4}-\\d{2}" size="9"></label>
    <label>or from<input name="from" placeholder="2026-01" pattern="\\d{4}-\\d{2}" size="9"></label>
    <label>to<input name="to" placeholder="2026-10" pattern="\\d{4}-\\d{2}" size="9"></label>
    <label>which<select name="only"><option value="">every selected partition</option>
      <option value="missing">only missing or failed</option><option value="stale">only missing, failed or stale</option></select></label>
    <label>upstream<select name="upstream"><option value="">only what is selected</option>
      <option value="missing">add missing upstream</option><option value="stale">add missing or stale upstream</option></select></label>
    <button type="submit">Materialize</button></form>`;
}
