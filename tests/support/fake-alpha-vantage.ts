import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for Alpha Vantage's `TIME_SERIES_DAILY` (node:http on a free port), answering
 * in the shape of the real API: `Meta Data` ("1. Information" … "5. Time Zone") and
 * `Time Series (Daily)` keyed by date, newest first, every value a string. Like the real API, its
 * error and rate-limit payloads come with HTTP 200; only the proxy-style failures do not.
 */

/** One day as the test writes it: [date, open, high, low, close, volume], numbers as the API's text. */
export type FakeBar = readonly [
  date: string,
  open: string,
  high: string,
  low: string,
  close: string,
  volume: string,
];

/**
 * What the fake does for a symbol instead of serving its data. With `times`, only the first
 * `times` requests for that symbol get it, the later ones get the data (a limit that lifts, a
 * blip); without, every request does.
 */
export type FakeBehaviour =
  | { kind: 'data' }
  /** `{"Error Message": …}`, what the API says for an unknown symbol. */
  | { kind: 'error-message'; times?: number }
  /** The per-minute rate-limit payload (`Note`) or the daily-quota one (`Information`). */
  | { kind: 'rate-limit'; payload: 'Note' | 'Information'; times?: number }
  /** `Information` saying outputsize=full is a premium feature (what a free key gets). */
  | { kind: 'premium'; times?: number }
  /** The data, but only after `delayMs` (beyond the client's timeout). */
  | { kind: 'slow'; delayMs: number; times?: number }
  /** An HTML 502 page from a proxy in front of the API. */
  | { kind: 'bad-gateway'; times?: number }
  /** A proxy's plain-text refusal that echoes the request line, query string (and key) included. */
  | { kind: 'proxy-echo'; times?: number }
  /**
   * The API's JSON answer whose text echoes the request, query string (and key) included: an
   * `Error Message`, a premium-only `Information` (both permanent) or a rate-limit `Note`.
   */
  | { kind: 'echo'; payload: 'Error Message' | 'Information' | 'Note'; times?: number };

export type RecordedRequest = {
  method: string;
  path: string;
  params: Record<string, string>;
  symbol: string | undefined;
  at: number;
};

export type FakeAlphaVantage = {
  /** The endpoint to put in ALPHA_VANTAGE_URL. */
  url: string;
  requests: RecordedRequest[];
  /** Requests for one symbol, in order. */
  requestsFor: (symbol: string) => RecordedRequest[];
  /** Replaces the behaviour of a symbol (resets its request count for `times`). */
  behave: (symbol: string, behaviour: FakeBehaviour) => void;
  /** Forgets recorded requests and behaviours (the series stay). */
  reset: () => void;
  close: () => Promise<void>;
};

export const RATE_LIMIT_NOTE =
  'Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call frequency.';
export const RATE_LIMIT_INFORMATION =
  'Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits.';
export const PREMIUM_INFORMATION =
  'Thank you for using Alpha Vantage! The outputsize=full parameter value is a premium feature for the TIME_SERIES_DAILY endpoint. You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium features';
export const INVALID_CALL =
  'Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY.';
export const MISSING_KEY =
  'the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds.';
export const BAD_GATEWAY_PAGE =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

/** What an `echo` answer says: the usual text of its payload, quoting the request it answers. */
export function echoing(payload: 'Error Message' | 'Information' | 'Note', request: string): string {
  if (payload === 'Error Message')
    return `Invalid API call: ${request}. Please retry or visit the documentation.`;
  if (payload === 'Information') return `${PREMIUM_INFORMATION} (request: ${request})`;
  return `${RATE_LIMIT_NOTE} (request: ${request})`;
}

/**
 * The tiny series the market tests compute by hand: three symbols, five trading days from
 * 2024-03-04 (a Monday), CCC not trading on 2024-03-06, and a few days before 2024-03-04 that a
 * STOCK_START of 2024-03-04 must drop (their closes would change every metric).
 *
 *   close      02-29   03-01 | 03-04   03-05   03-06   03-07   03-08
 *   AAA        95.00   90.00 | 100     110      99     108.9   119.79
 *   BBB        60.00   55.00 | 50      48       51     40.8    44.88
 *   CCC        30.00   25.00 | 20      24       —      18      18.9
 */
export const TINY_SERIES: Record<string, FakeBar[]> = {
  AAA: [
    ['2024-02-29', '94.0000', '96.0000', '93.5000', '95.0000', '1200000'],
    ['2024-03-01', '95.0000', '95.5000', '89.0000', '90.0000', '1500000'],
    ['2024-03-04', '91.0000', '101.0000', '90.5000', '100.0000', '2000000'],
    ['2024-03-05', '100.5000', '111.2500', '100.0000', '110.0000', '2100000'],
    ['2024-03-06', '109.0000', '109.5000', '98.1000', '99.0000', '1900000'],
    ['2024-03-07', '99.5000', '109.0000', '99.2000', '108.9000', '1750000'],
    ['2024-03-08', '109.2000', '120.0000', '108.8000', '119.7900', '2250000'],
  ],
  BBB: [
    ['2024-02-29', '61.0000', '61.5000', '59.2000', '60.0000', '300000'],
    ['2024-03-01', '59.8000', '60.1000', '54.7000', '55.0000', '410000'],
    ['2024-03-04', '55.2000', '55.4000', '49.9000', '50.0000', '520000'],
    ['2024-03-05', '50.1000', '50.3000', '47.6000', '48.0000', '330000'],
    ['2024-03-06', '48.2000', '51.4000', '48.0000', '51.0000', '290000'],
    ['2024-03-07', '50.7000', '50.9000', '40.5000', '40.8000', '880000'],
    ['2024-03-08', '41.0000', '45.1000', '40.9000', '44.8800', '610000'],
  ],
  CCC: [
    ['2024-02-29', '29.5000', '30.2000', '29.4000', '30.0000', '75000'],
    ['2024-03-01', '29.9000', '30.0000', '24.8000', '25.0000', '98000'],
    ['2024-03-04', '24.9000', '25.0000', '19.9000', '20.0000', '120000'],
    ['2024-03-05', '20.1000', '24.3000', '20.0000', '24.0000', '87000'],
    ['2024-03-07', '23.8000', '23.9000', '17.9000', '18.0000', '143000'],
    ['2024-03-08', '18.1000', '19.0000', '18.0000', '18.9000', '66000'],
  ],
};

/**
 * A longer, realistic-looking deterministic series (weekdays from `from`, `days` of them): a
 * drifting random walk from a fixed linear-congruential generator, so a chart of it looks like
 * prices and is the same on every run.
 */
export function generatedSeries(seed: number, from: string, days: number, startClose: number): FakeBar[] {
  let state = seed >>> 0 || 1;
  const random = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
  const bars: FakeBar[] = [];
  const date = new Date(`${from}T00:00:00Z`);
  let close = startClose;
  while (bars.length < days) {
    const weekday = date.getUTCDay();
    if (weekday !== 0 && weekday !== 6) {
      const open = close * (1 + (random() - 0.5) * 0.01);
      close = Math.max(1, close * (1 + (random() - 0.49) * 0.05));
      const high = Math.max(open, close) * (1 + random() * 0.01);
      const low = Math.min(open, close) * (1 - random() * 0.01);
      const volume = Math.round(500_000 + random() * 2_000_000);
      bars.push([
        date.toISOString().slice(0, 10),
        open.toFixed(4),
        high.toFixed(4),
        low.toFixed(4),
        close.toFixed(4),
        String(volume),
      ]);
    }
    date.setUTCDate(date.getUTCDate() + 1);
  }
  return bars;
}

/** The JSON body the real API sends for a symbol's series (newest day first). */
export function dailySeriesPayload(symbol: string, bars: readonly FakeBar[], outputSize: string) {
  const newestFirst = [...bars].sort((a, b) => b[0].localeCompare(a[0]));
  return {
    'Meta Data': {
      '1. Information': 'Daily Prices (open, high, low, close) and Volumes',
      '2. Symbol': symbol,
      '3. Last Refreshed': newestFirst[0]?.[0] ?? '',
      '4. Output Size': outputSize === 'full' ? 'Full size' : 'Compact',
      '5. Time Zone': 'US/Eastern',
    },
    'Time Series (Daily)': Object.fromEntries(
      newestFirst.map(([date, open, high, low, close, volume]) => [
        date,
        { '1. open': open, '2. high': high, '3. low': low, '4. close': close, '5. volume': volume },
      ]),
    ),
  };
}

/**
 * Starts the fake on 127.0.0.1 and a free port. `apiKey`, when given, is the only key it accepts
 * (anything else gets the API's invalid-key `Error Message`); a symbol missing from `series`
 * gets the unknown-symbol `Error Message`.
 */
export async function startFakeAlphaVantage(
  options: { series?: Record<string, readonly FakeBar[]>; apiKey?: string } = {},
): Promise<FakeAlphaVantage> {
  const series = options.series ?? TINY_SERIES;
  const behaviours = new Map<string, FakeBehaviour>();
  const counts = new Map<string, number>();
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const json = (response: ServerResponse, body: unknown) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body, null, 4));
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const params = Object.fromEntries(url.searchParams);
    const symbol = params.symbol;
    requests.push({
      method: request.method ?? '',
      path: url.pathname,
      params,
      symbol,
      at: performance.now(),
    });
    if (url.pathname !== '/query') {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('Not Found');
      return;
    }
    if (!params.apikey || (options.apiKey !== undefined && params.apikey !== options.apiKey)) {
      json(response, { 'Error Message': MISSING_KEY });
      return;
    }
    const bars = symbol === undefined ? undefined : series[symbol];
    if (params.function !== 'TIME_SERIES_DAILY' || symbol === undefined || bars === undefined) {
      json(response, { 'Error Message': INVALID_CALL });
      return;
    }
    const count = (counts.get(symbol) ?? 0) + 1;
    counts.set(symbol, count);
    const behaviour = behaviours.get(symbol) ?? { kind: 'data' };
    const data = () => json(response, dailySeriesPayload(symbol, bars, params.outputsize ?? 'compact'));
    if (behaviour.kind === 'data' || (behaviour.times !== undefined && count > behaviour.times)) {
      data();
      return;
    }
    switch (behaviour.kind) {
      case 'error-message':
        json(response, { 'Error Message': INVALID_CALL });
        return;
      case 'rate-limit':
        json(response, {
          [behaviour.payload]: behaviour.payload === 'Note' ? RATE_LIMIT_NOTE : RATE_LIMIT_INFORMATION,
        });
        return;
      case 'premium':
        json(response, { Information: PREMIUM_INFORMATION });
        return;
      case 'slow': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!response.destroyed) data();
        }, behaviour.delayMs);
        timers.add(timer);
        return;
      }
      case 'bad-gateway':
        response.writeHead(502, { 'content-type': 'text/html' });
        response.end(BAD_GATEWAY_PAGE);
        return;
      case 'proxy-echo':
        response.writeHead(403, { 'content-type': 'text/plain' });
        response.end(`Forbidden by policy: ${request.method} ${request.url}\n`);
        return;
      case 'echo':
        json(response, { [behaviour.payload]: echoing(behaviour.payload, request.url ?? '') });
        return;
    }
  };

  const server = createServer(handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/query`,
    requests,
    requestsFor: (symbol) => requests.filter((r) => r.symbol === symbol),
    behave: (symbol, behaviour) => {
      behaviours.set(symbol, behaviour);
      counts.delete(symbol);
    },
    reset: () => {
      requests.length = 0;
      behaviours.clear();
      counts.clear();
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
