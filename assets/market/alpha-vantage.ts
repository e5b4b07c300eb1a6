import { setTimeout as sleep } from 'node:timers/promises';
import { PermanentError, redactSecrets } from '../../engine/errors.ts';

/** One trading day of TIME_SERIES_DAILY, numbers as the API writes them (decimal text). */
export type DailyBar = {
  date: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
};

export type AlphaVantageOptions = {
  url: string;
  /** Sent as the `apikey` parameter and never shown: messages name the endpoint without it. */
  apiKey: string;
  timeoutMs?: number;
  /** Tries after a rate-limit answer (`Note` / `Information`), with doubling waits. */
  rateLimitTries?: number;
  rateLimitBackoffMs?: number;
  signal?: AbortSignal;
};

/** The API refused the request for this symbol (`Error Message`): asking again gives the same answer. */
export class SourceRejectedError extends PermanentError {}

/**
 * `Information` also says that a request needs a premium plan ("The outputsize=full parameter
 * value is a premium feature for the TIME_SERIES_DAILY endpoint", "This is a premium endpoint");
 * the daily-quota answer mentions premium plans too, but as the way to lift a limit.
 */
const PREMIUM_ONLY = /\bis a premium (feature|endpoint)\b/i;

const DEFAULTS = { timeoutMs: 30_000, rateLimitTries: 4, rateLimitBackoffMs: 15_000 };

/**
 * The full daily series of a symbol (`TIME_SERIES_DAILY`, `outputsize=full`), oldest first.
 * Error payloads become clear errors naming the symbol: `Error Message` and a premium-only
 * `Information` are permanent; rate-limit notes are retried with backoff and then fail
 * (retryable: the asset's retry policy takes over); a timeout or an answer that is not the
 * expected JSON fail retryably too.
 */
export async function fetchDailySeries(symbol: string, options: AlphaVantageOptions): Promise<DailyBar[]> {
  // Absent or undefined options take the defaults (a spread would let an explicit undefined win).
  const settings = {
    ...options,
    timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
    rateLimitTries: options.rateLimitTries ?? DEFAULTS.rateLimitTries,
    rateLimitBackoffMs: options.rateLimitBackoffMs ?? DEFAULTS.rateLimitBackoffMs,
  };
  const url = new URL(settings.url);
  if (url.username || url.password) {
    // fetch() would refuse it with the whole URL, query and key included, in its message.
    throw new PermanentError(
      'ALPHA_VANTAGE_URL must not carry a user name or password: the key goes in ALPHA_VANTAGE_API_KEY',
    );
  }
  url.search = new URLSearchParams({
    function: 'TIME_SERIES_DAILY',
    symbol,
    outputsize: 'full',
    datatype: 'json',
    apikey: settings.apiKey,
  }).toString();
  const shown = `${url.origin}${url.pathname}`; // never the query: it holds the key
  // What the server says may echo the request, query and key included.
  const said = (text: string) => redactSecrets(text, [settings.apiKey]);
  for (let attempt = 1; ; attempt++) {
    const body = await request(url, shown, symbol, settings.timeoutMs, settings.signal, said);
    const raw = body.Note ?? body.Information;
    const note = typeof raw === 'string' ? said(raw) : undefined;
    if (typeof body['Error Message'] === 'string') {
      throw new SourceRejectedError(`Alpha Vantage rejected ${symbol}: ${said(body['Error Message'])}`);
    }
    if (note !== undefined && PREMIUM_ONLY.test(note)) {
      // A free key asking for a premium feature (outputsize=full is one): no wait lifts that.
      throw new SourceRejectedError(`Alpha Vantage rejected ${symbol}: ${note}`);
    }
    if (note !== undefined) {
      if (attempt >= settings.rateLimitTries) {
        throw new Error(`Alpha Vantage kept rate-limiting ${symbol} after ${attempt} tries: ${note}`);
      }
      await sleep(settings.rateLimitBackoffMs * 2 ** (attempt - 1), undefined, { signal: settings.signal });
      continue;
    }
    return parseSeries(symbol, body);
  }
}

async function request(
  url: URL,
  shown: string,
  symbol: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  said: (text: string) => string,
): Promise<Record<string, unknown>> {
  const timeout = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  } catch (error) {
    if (timeout.aborted)
      throw new Error(`Alpha Vantage (${shown}) did not answer for ${symbol} within ${timeoutMs / 1000} s`);
    throw new Error(
      `Alpha Vantage (${shown}) is not reachable for ${symbol}: ${said((error as Error).message)}`,
    );
  }
  const text = await response.text();
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // reported below
  }
  const type = response.headers.get('content-type') ?? 'no content type';
  throw new Error(
    `Alpha Vantage (${shown}) answered ${symbol} with HTTP ${response.status} (${type}) that is not the expected JSON: ${JSON.stringify(said(text).slice(0, 80))}`,
  );
}

const NUMBER = /^-?\d+(\.\d+)?$/;

function parseSeries(symbol: string, body: Record<string, unknown>): DailyBar[] {
  const series = body['Time Series (Daily)'];
  if (!series || typeof series !== 'object') {
    throw new Error(
      `Alpha Vantage answered ${symbol} without a daily time series (keys: ${Object.keys(body).join(', ') || 'none'})`,
    );
  }
  const bars = Object.entries(series as Record<string, Record<string, string>>).map(([date, day]) => {
    const bar = {
      date,
      open: day['1. open'],
      high: day['2. high'],
      low: day['3. low'],
      close: day['4. close'],
      volume: day['5. volume'],
    };
    const bad = Object.entries(bar).find(([field, value]) =>
      field === 'date' ? !/^\d{4}-\d{2}-\d{2}$/.test(value ?? '') : !NUMBER.test(value ?? ''),
    );
    if (bad)
      throw new Error(
        `Alpha Vantage answered ${symbol} with a malformed day ${date}: ${bad[0]} = ${JSON.stringify(bad[1])}`,
      );
    return bar as DailyBar;
  });
  return bars.sort((a, b) => a.date.localeCompare(b.date));
}
