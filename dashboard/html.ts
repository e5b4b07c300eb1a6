import escapeHtml from 'escape-html';

/** Markup that is already safe: the result of `html` or a value passed through `raw` on purpose. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolated = Html | string | number | boolean | null | undefined | readonly Interpolated[];

function render(value: Interpolated): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/**
 * Server-side templates that escape every interpolated value (customer names hold quotes and
 * `<`); nested `html` results and arrays of them are inserted as they are.
 */
export function html(strings: TemplateStringsArray, ...values: Interpolated[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** Inserts trusted markup (generated SVG) without escaping. */
export const raw = (markup: string): Html => new Html(markup);
