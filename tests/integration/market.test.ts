import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MarketConfig, PipelineConfig } from '../../assets/config.ts';
import { assets } from '../../assets/index.ts';
import { fetchDailySeries, SourceRejectedError } from '../../assets/market/alpha-vantage.ts';
import { createDashboard, listen } from '../../dashboard/server.ts';
import { PermanentError } from '../../engine/errors.ts';
import { AssetGraph } from '../../engine/graph.ts';
import type { RunEvent } from '../../engine/in-process-executor.ts';
import { type Azurite, DEV_ACCOUNT_KEY, startAzurite } from '../support/azurite.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import {
  echoing,
  type FakeAlphaVantage,
  generatedSeries,
  INVALID_CALL,
  RATE_LIMIT_INFORMATION,
  RATE_LIMIT_NOTE,
  startFakeAlphaVantage,
  TINY_SERIES,
} from '../support/fake-alpha-vantage.ts';
import { freePort } from '../support/processes.ts';
import { runInProcess } from '../support/run-plan.ts';
import { serverUrl, withDatabase } from '../support/urls.ts';

/**
 * The market group (docs/contract.md §8) against a local fake Alpha Vantage
 * (tests/support/fake-alpha-vantage.ts) and, for the blob path, Azurite: prices kept from
 * STOCK_START and replaced on re-runs, every metric checked against numbers worked out by hand on
 * the tiny series, the API's error payloads, timeouts and non-JSON answers, the API key never shown
 * anywhere, and the two exports.
 *
 * The tiny series (closes; STOCK_START = 2024-03-04 drops 02-29 and 03-01):
 *
 *            03-04   03-05   03-06   03-07   03-08
 *   AAA      100     110      99     108.9   119.79
 *   BBB       50      48      51      40.8    44.88
 *   CCC       20      24      —       18      18.9
 *
 * Common dates (every symbol traded): 03-04, 03-05, 03-07, 03-08.
 */

/** A key no message, row, log line or file may ever contain. */
const API_KEY = 'AVKEY-Zq7X3p9LmR2w';
const START = '2024-03-04';
const SYMBOLS = ['AAA', 'BBB', 'CCC'];
const CHART_TITLE = 'Peers: close, normalised to 100 at the first common date';
/** Charts for a human to look at; git-ignored. */
const ARTIFACTS = join(REPO_ROOT, 'tests/artifacts/market');

/** The pipeline's graph with the market assets retrying after milliseconds instead of seconds. */
const quickRetries = (attempts: number) =>
  new AssetGraph<PipelineConfig>(
    assets.map((asset) =>
      asset.group === 'market' ? { ...asset, retry: { attempts, backoffMs: 5 } } : asset,
    ),
  );

let database: TestDatabase;
let fake: FakeAlphaVantage;
let scratch: string;
/** Started first and awaited only by the Azure tests: its few seconds of boot overlap the rest. */
let azurite: Azurite;

beforeAll(async () => {
  azurite = await startAzurite();
  [database, fake] = await Promise.all([createTestDatabase(), startFakeAlphaVantage({ apiKey: API_KEY })]);
  scratch = mkdtempSync(join(tmpdir(), 'market-test-'));
});
afterAll(async () => {
  await Promise.all([fake?.close(), database?.drop(), azurite?.stop()]);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});
beforeEach(async () => {
  fake.reset();
  await database.sql`truncate stock_prices, stock_comparison, stock_correlations, runs cascade`;
});

let exportDirs = 0;
/** The config the CLI would build, pointed at the fake and a fresh export folder of this test's own. */
function marketConfig(market: Partial<MarketConfig> = {}): PipelineConfig {
  return {
    landingDir: '/nonexistent-landing',
    exportDir: join(scratch, `exports-${++exportDirs}`),
    allowBadRows: 0,
    market: { apiKey: API_KEY, url: fake.url, symbols: SYMBOLS, start: START, ...market },
  };
}

/** A pino logger at debug level whose JSON lines the test reads back. */
function capturedLogs() {
  const lines: string[] = [];
  return {
    logger: pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }),
    text: () => lines.join(''),
  };
}

/** Materializes `selection` in-process, capturing the assets' logs, and returns the run as stored. */
async function materialize(
  selection: string[],
  config: PipelineConfig,
  graph = quickRetries(3),
): Promise<{
  status: string;
  nodes: Record<string, { status: string; attempts: number; error: string | null; metadata: unknown }>;
  events: RunEvent[];
  logs: string;
  runId: string;
}> {
  const logs = capturedLogs();
  const run = await runInProcess({ database, graph, selection, config, logger: logs.logger });
  const nodes = Object.fromEntries(
    (run.detail?.nodes ?? []).map((node) => [
      node.assetKey,
      { status: node.status, attempts: node.attempts, error: node.error, metadata: node.metadata },
    ]),
  );
  return { status: run.result.status, nodes, events: run.events, logs: logs.text(), runId: run.runId };
}

/** Everything stored or said about a run: run, node, attempt and check rows, materializations, events and logs. */
async function everythingSaidAbout(run: {
  runId: string;
  events: RunEvent[];
  logs: string;
}): Promise<string> {
  const stored = await database.sql`
    select r.error as run_error, n.error, n.error_cause, n.metadata::text as metadata,
      (select json_agg(m.metadata)::text from materializations m where m.run_id = r.id) as materializations,
      (select json_agg(a)::text from node_attempts a where a.run_id = r.id) as attempts,
      (select json_agg(c)::text from check_results c where c.run_id = r.id) as checks
    from runs r join run_nodes n on n.run_id = r.id where r.id = ${run.runId}`;
  return JSON.stringify(stored) + JSON.stringify(run.events) + run.logs;
}

async function expectKeyNeverShown(run: { runId: string; events: RunEvent[]; logs: string }): Promise<void> {
  const said = await everythingSaidAbout(run);
  expect(said.length).toBeGreaterThan(0);
  expect(said).not.toContain(API_KEY);
}

/** Every row of the engine's tables, as text: what the run page, `pipeline run` and Bull Board read. */
async function everyEngineRow(): Promise<string> {
  const [row] = await database.sql<{ text: string }[]>`
    select concat_ws(' ',
      (select json_agg(t)::text from runs t), (select json_agg(t)::text from run_nodes t),
      (select json_agg(t)::text from node_attempts t), (select json_agg(t)::text from materializations t),
      (select json_agg(t)::text from check_results t)) as text`;
  return row?.text ?? '';
}

const pricesPerSymbol = () =>
  database.sql<{ symbol: string; days: number; first: string; last: string }[]>`
    select symbol, count(*)::int as days, min(trade_date)::text as first, max(trade_date)::text as last
    from stock_prices group by symbol order by symbol`;

// ---------------------------------------------------------------------------------------------

describe('stock_prices and stock_comparison against the fake API', () => {
  it('fetch every symbol with the key as a parameter, keep dates from STOCK_START, and compare', async () => {
    const run = await materialize(['stock_prices', 'stock_comparison'], marketConfig());
    expect(run.status).toBe('succeeded');
    expect(run.nodes.stock_prices).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      metadata: { rowCount: 14, AAADays: 5, AAALast: '2024-03-08', BBBDays: 5, CCCDays: 4 },
    });
    expect(run.nodes.stock_comparison).toMatchObject({
      status: 'succeeded',
      metadata: { rowCount: 3, priceRows: 14 },
    });
    expect(await pricesPerSymbol()).toEqual([
      { symbol: 'AAA', days: 5, first: '2024-03-04', last: '2024-03-08' },
      { symbol: 'BBB', days: 5, first: '2024-03-04', last: '2024-03-08' },
      { symbol: 'CCC', days: 4, first: '2024-03-04', last: '2024-03-08' },
    ]);
    // One request per symbol, with the documented parameters; the key travels as `apikey`.
    expect(fake.requests.map((r) => ({ path: r.path, ...r.params }))).toEqual(
      SYMBOLS.map((symbol) => ({
        path: '/query',
        function: 'TIME_SERIES_DAILY',
        symbol,
        outputsize: 'full',
        datatype: 'json',
        apikey: API_KEY,
      })),
    );
    const [aaa] = await database.sql`
      select open::text, high::text, low::text, close::text, volume from stock_prices
      where symbol = 'AAA' and trade_date = '2024-03-05'`;
    expect(aaa).toEqual({
      open: '100.5000',
      high: '111.2500',
      low: '100.0000',
      close: '110.0000',
      volume: '2100000', // bigint: postgres.js returns it as text
    });
    await expectKeyNeverShown(run);
  });

  it('a re-run replaces each symbol’s rows instead of adding to them', async () => {
    const config = marketConfig();
    expect((await materialize(['stock_prices'], config)).status).toBe('succeeded');
    // A day the API no longer lists and a close it has since corrected.
    await database.sql`insert into stock_prices values ('AAA', '2024-03-11', 1, 1, 1, 1, 1)`;
    await database.sql`update stock_prices set close = 1 where symbol = 'BBB' and trade_date = '2024-03-05'`;
    const again = await materialize(['stock_prices', 'stock_comparison'], config);
    expect(again.status).toBe('succeeded');
    expect(await pricesPerSymbol()).toEqual([
      { symbol: 'AAA', days: 5, first: '2024-03-04', last: '2024-03-08' },
      { symbol: 'BBB', days: 5, first: '2024-03-04', last: '2024-03-08' },
      { symbol: 'CCC', days: 4, first: '2024-03-04', last: '2024-03-08' },
    ]);
    const [bbb] = await database.sql`
      select close::text from stock_prices where symbol = 'BBB' and trade_date = '2024-03-05'`;
    expect(bbb?.close).toBe('48.0000');
    const [{ n } = { n: -1 }] = await database.sql<
      { n: number }[]
    >`select count(*)::int as n from stock_comparison`;
    expect(n).toBe(3);
  });

  it('a symbol taken out of STOCK_SYMBOLS leaves the prices, the comparison and the exports', async () => {
    expect((await materialize(['stock_prices'], marketConfig())).status).toBe('succeeded');
    const fewer = await materialize(
      ['stock_prices', 'stock_comparison'],
      marketConfig({ symbols: ['AAA', 'BBB'] }),
    );
    expect(fewer.status).toBe('succeeded');
    expect((await pricesPerSymbol()).map((row) => row.symbol)).toEqual(['AAA', 'BBB']);
    expect(fewer.nodes.stock_prices?.metadata).toMatchObject({ droppedRows: 4 });
    const compared = await database.sql<
      { symbol: string }[]
    >`select symbol from stock_comparison order by symbol`;
    expect(compared.map((row) => row.symbol)).toEqual(['AAA', 'BBB']);
    // Put the three symbols back for the tests after this one.
    expect((await materialize(['stock_prices', 'stock_comparison'], marketConfig())).status).toBe(
      'succeeded',
    );
  });

  it('an earlier STOCK_START keeps the earlier days', async () => {
    const run = await materialize(['stock_prices'], marketConfig({ start: '2024-03-01' }));
    expect(run.status).toBe('succeeded');
    expect((await pricesPerSymbol()).map((s) => [s.symbol, s.days, s.first])).toEqual([
      ['AAA', 6, '2024-03-01'],
      ['BBB', 6, '2024-03-01'],
      ['CCC', 5, '2024-03-01'],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('stock_comparison metrics, against numbers worked out by hand', () => {
  type Comparison = {
    symbol: string;
    first_date: string;
    last_date: string;
    first_close: string;
    last_close: string;
    trading_days: number;
    total_return_pct: number;
    annualized_volatility_pct: number;
    max_drawdown_pct: number;
  };
  const comparison = async () => {
    expect((await materialize(['stock_prices', 'stock_comparison'], marketConfig())).status).toBe(
      'succeeded',
    );
    const rows = await database.sql<Comparison[]>`
      select symbol, first_date::text, last_date::text, first_close::text, last_close::text, trading_days,
        total_return_pct, annualized_volatility_pct, max_drawdown_pct
      from stock_comparison order by symbol`;
    return Object.fromEntries(rows.map((row) => [row.symbol, row]));
  };

  /** Sample standard deviation, written out: sqrt(Σ(x − mean)² / (n − 1)). */
  const sampleStddev = (xs: number[]) => {
    const mean = xs.reduce((sum, x) => sum + x, 0) / xs.length;
    return Math.sqrt(xs.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (xs.length - 1));
  };

  it('first and last date and close, trading days, total return', async () => {
    const rows = await comparison();
    expect(rows.AAA).toMatchObject({
      first_date: '2024-03-04',
      last_date: '2024-03-08',
      first_close: '100.0000',
      last_close: '119.7900',
      trading_days: 5,
    });
    expect(rows.BBB).toMatchObject({ first_close: '50.0000', last_close: '44.8800', trading_days: 5 });
    expect(rows.CCC).toMatchObject({
      first_date: '2024-03-04',
      first_close: '20.0000',
      last_close: '18.9000',
      trading_days: 4,
    });
    // (last / first − 1) × 100: 119.79 / 100 → +19.79 %; 44.88 / 50 = 0.8976 → −10.24 %; 18.9 / 20 = 0.945 → −5.5 %.
    expect(rows.AAA?.total_return_pct).toBeCloseTo(19.79, 10);
    expect(rows.BBB?.total_return_pct).toBeCloseTo(-10.24, 10);
    expect(rows.CCC?.total_return_pct).toBeCloseTo(-5.5, 10);
  });

  it('annualized volatility: sample stddev of daily log returns × √252 × 100', async () => {
    const rows = await comparison();
    // AAA: 110/100 = 1.1, 99/110 = 0.9, 108.9/99 = 1.1, 119.79/108.9 = 1.1.
    const aaa = [Math.log(1.1), Math.log(0.9), Math.log(1.1), Math.log(1.1)];
    // mean = (3 ln 1.1 + ln 0.9) / 4; deviations: ln 1.1 − mean three times, ln 0.9 − mean once.
    const aaaMean = (3 * Math.log(1.1) + Math.log(0.9)) / 4;
    const aaaVariance = (3 * (Math.log(1.1) - aaaMean) ** 2 + (Math.log(0.9) - aaaMean) ** 2) / 3;
    expect(sampleStddev(aaa)).toBeCloseTo(Math.sqrt(aaaVariance), 14);
    expect(rows.AAA?.annualized_volatility_pct).toBeCloseTo(Math.sqrt(aaaVariance) * Math.sqrt(252) * 100, 9);
    expect(rows.AAA?.annualized_volatility_pct).toBeCloseTo(159.28, 2); // ≈ 0.10034 × 15.875 × 100
    // BBB: 48/50 = 0.96, 51/48 = 1.0625, 40.8/51 = 0.8, 44.88/40.8 = 1.1.
    const bbb = [Math.log(0.96), Math.log(1.0625), Math.log(0.8), Math.log(1.1)];
    expect(rows.BBB?.annualized_volatility_pct).toBeCloseTo(sampleStddev(bbb) * Math.sqrt(252) * 100, 9);
    // CCC over its own days (03-06 missing): 24/20 = 1.2, 18/24 = 0.75, 18.9/18 = 1.05.
    const ccc = [Math.log(1.2), Math.log(0.75), Math.log(1.05)];
    expect(rows.CCC?.annualized_volatility_pct).toBeCloseTo(sampleStddev(ccc) * Math.sqrt(252) * 100, 9);
  });

  it('max drawdown: the deepest fall below the running peak', async () => {
    const rows = await comparison();
    // AAA: peak 110 (03-05), then 99 → 99/110 − 1 = −10 %.
    expect(rows.AAA?.max_drawdown_pct).toBeCloseTo(-10, 10);
    // BBB: peak 51 (03-06), then 40.8 → 40.8/51 − 1 = −20 % (the 50 → 48 fall is only −4 %).
    expect(rows.BBB?.max_drawdown_pct).toBeCloseTo(-20, 10);
    // CCC: peak 24 (03-05), then 18 → −25 %.
    expect(rows.CCC?.max_drawdown_pct).toBeCloseTo(-25, 10);
  });

  it('correlations of simple daily returns between consecutive common dates, every ordered pair', async () => {
    await comparison();
    const rows = await database.sql<
      { symbol_a: string; symbol_b: string; correlation: number; common_days: number }[]
    >`
      select symbol_a, symbol_b, correlation, common_days from stock_correlations order by symbol_a, symbol_b`;
    expect(rows.map((r) => `${r.symbol_a}-${r.symbol_b}`)).toEqual([
      'AAA-AAA',
      'AAA-BBB',
      'AAA-CCC',
      'BBB-AAA',
      'BBB-BBB',
      'BBB-CCC',
      'CCC-AAA',
      'CCC-BBB',
      'CCC-CCC',
    ]);
    // Common dates 03-04, 03-05, 03-07, 03-08 (CCC skipped 03-06): three returns each.
    for (const row of rows) expect(row.common_days).toBe(3);
    const corr = (a: string, b: string) =>
      rows.find((r) => r.symbol_a === a && r.symbol_b === b)?.correlation;
    for (const symbol of SYMBOLS) expect(corr(symbol, symbol)).toBeCloseTo(1, 12);

    // Returns over common dates (03-06 is skipped for everyone: AAA 03-05 → 03-07 is 108.9/110):
    //   AAA:  110/100 − 1 = 0.1,   108.9/110 − 1 = −0.01,   119.79/108.9 − 1 = 0.1
    //   BBB:  48/50 − 1 = −0.04,   40.8/48 − 1 = −0.15,     44.88/40.8 − 1 = 0.1
    //   CCC:  24/20 − 1 = 0.2,     18/24 − 1 = −0.25,       18.9/18 − 1 = 0.05
    // Pearson: r = Σ(a − ā)(b − b̄) / √(Σ(a − ā)² · Σ(b − b̄)²)
    // AAA–BBB: ā = 0.19/3, b̄ = −0.09/3 = −0.03
    const aMean = (0.1 - 0.01 + 0.1) / 3;
    const bMean = (-0.04 - 0.15 + 0.1) / 3;
    const [a1, a2, a3] = [0.1 - aMean, -0.01 - aMean, 0.1 - aMean];
    const [b1, b2, b3] = [-0.04 - bMean, -0.15 - bMean, 0.1 - bMean];
    const covariance = a1 * b1 + a2 * b2 + a3 * b3; // 0.0132
    const aSquares = a1 ** 2 + a2 ** 2 + a3 ** 2; // 0.0080667
    const bSquares = b1 ** 2 + b2 ** 2 + b3 ** 2; // 0.0314
    const aaaBbb = covariance / Math.sqrt(aSquares * bSquares);
    expect(aaaBbb).toBeCloseTo(0.8294, 4);
    expect(corr('AAA', 'BBB')).toBeCloseTo(aaaBbb, 10);
    expect(corr('BBB', 'AAA')).toBeCloseTo(aaaBbb, 10);
    // BBB–CCC: b̄ = −0.03, c̄ = 0; deviations b: −0.01, −0.12, 0.13; c: 0.2, −0.25, 0.05.
    // Σ = −0.002 + 0.03 + 0.0065 = 0.0345; Σb² = 0.0314; Σc² = 0.04 + 0.0625 + 0.0025 = 0.105.
    const bbbCcc = 0.0345 / Math.sqrt(0.0314 * 0.105);
    expect(bbbCcc).toBeCloseTo(0.60084, 4);
    expect(corr('BBB', 'CCC')).toBeCloseTo(bbbCcc, 10);
    expect(corr('CCC', 'BBB')).toBeCloseTo(bbbCcc, 10);
    // AAA–CCC: deviations a: 0.11/3, −0.22/3, 0.11/3; c: 0.2, −0.25, 0.05.
    // Σ = (0.022 + 0.055 + 0.0055)/3 = 0.0275; Σa² = 0.0726/9.
    const aaaCcc = 0.0275 / Math.sqrt((0.0726 / 9) * 0.105);
    expect(corr('AAA', 'CCC')).toBeCloseTo(aaaCcc, 10);
  });
});

// ---------------------------------------------------------------------------------------------

describe('API error payloads, timeouts and non-JSON answers', () => {
  it('Error Message fails stock_prices after one attempt, naming the symbol; nothing is written', async () => {
    fake.behave('BBB', { kind: 'error-message' });
    const run = await materialize(['stock_prices', 'stock_comparison'], marketConfig());
    expect(run.status).toBe('failed');
    expect(run.nodes.stock_prices).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: `Alpha Vantage rejected BBB: ${INVALID_CALL}`,
    });
    expect(run.nodes.stock_comparison?.status).toBe('pending');
    expect(run.events.filter((e) => e.type === 'retrying')).toEqual([]);
    expect(fake.requestsFor('BBB')).toHaveLength(1);
    // AAA was fetched before BBB failed: its rows went with the rolled-back transaction.
    expect(await pricesPerSymbol()).toEqual([]);
    await expectKeyNeverShown(run);
  });

  it('an unknown symbol gets the API’s Error Message: not retried, named', async () => {
    const run = await materialize(['stock_prices'], marketConfig({ symbols: ['AAA', 'NOPE'] }));
    expect(run.nodes.stock_prices).toMatchObject({ status: 'failed', attempts: 1 });
    expect(run.nodes.stock_prices?.error).toMatch(/^Alpha Vantage rejected NOPE: Invalid API call/);
    await expectKeyNeverShown(run);
  });

  it('a rejected key is an Error Message too, and the message does not repeat the key', async () => {
    const run = await materialize(['stock_prices'], marketConfig({ apiKey: 'WRONG-KEY-1234' }));
    expect(run.nodes.stock_prices).toMatchObject({ status: 'failed', attempts: 1 });
    expect(run.nodes.stock_prices?.error).toMatch(
      /^Alpha Vantage rejected AAA: the parameter apikey is invalid/,
    );
    expect(await everythingSaidAbout(run)).not.toContain('WRONG-KEY-1234');
  });

  it('a missing key is a permanent configuration error before any request', async () => {
    const run = await materialize(['stock_prices'], marketConfig({ apiKey: undefined }));
    expect(run.nodes.stock_prices).toMatchObject({ status: 'failed', attempts: 1 });
    expect(run.nodes.stock_prices?.error).toMatch(/^ALPHA_VANTAGE_API_KEY is not set/);
    expect(fake.requests).toEqual([]);
  });

  it('`outputsize=full is a premium feature` (a free key) is a permanent error, not a rate limit', async () => {
    fake.behave('AAA', { kind: 'premium' });
    const run = await materialize(['stock_prices'], marketConfig({ rateLimitBackoffMs: 1 }));
    expect(run.nodes.stock_prices).toMatchObject({ status: 'failed', attempts: 1 });
    expect(run.nodes.stock_prices?.error).toMatch(
      /^Alpha Vantage rejected AAA: .*outputsize=full parameter value is a premium feature/,
    );
    expect(fake.requestsFor('AAA')).toHaveLength(1);
    await expectKeyNeverShown(run);
  });

  it('rate-limit answers (Note, then Information) are waited out and the asset succeeds', async () => {
    fake.behave('AAA', { kind: 'rate-limit', payload: 'Note', times: 2 });
    fake.behave('CCC', { kind: 'rate-limit', payload: 'Information', times: 1 });
    const run = await materialize(['stock_prices'], marketConfig({ rateLimitBackoffMs: 5 }));
    expect(run.status).toBe('succeeded');
    expect(run.nodes.stock_prices).toMatchObject({ attempts: 1, metadata: { rowCount: 14 } });
    expect(fake.requestsFor('AAA')).toHaveLength(3);
    expect(fake.requestsFor('BBB')).toHaveLength(1);
    expect(fake.requestsFor('CCC')).toHaveLength(2);
    expect((await pricesPerSymbol()).map((s) => s.days)).toEqual([5, 5, 4]);
    await expectKeyNeverShown(run);
  });

  it('a rate limit that does not lift fails retryably after the tries, with a clear message', async () => {
    fake.behave('AAA', { kind: 'rate-limit', payload: 'Information' });
    const run = await materialize(
      ['stock_prices'],
      marketConfig({ rateLimitTries: 2, rateLimitBackoffMs: 5 }),
      quickRetries(2),
    );
    // Two tries inside each of the node's two attempts.
    expect(run.nodes.stock_prices).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: `Alpha Vantage kept rate-limiting AAA after 2 tries: ${RATE_LIMIT_INFORMATION}`,
    });
    expect(fake.requestsFor('AAA')).toHaveLength(4);
    expect(run.events.filter((e) => e.type === 'retrying')).toHaveLength(1);
    await expectKeyNeverShown(run);
  });

  it('a timeout is a clear retryable error naming the endpoint without its query', async () => {
    fake.behave('BBB', { kind: 'slow', delayMs: 10_000 });
    const started = performance.now();
    const run = await materialize(['stock_prices'], marketConfig({ timeoutMs: 150 }), quickRetries(2));
    expect(performance.now() - started).toBeLessThan(8_000); // the answer would have taken 10 s
    expect(run.nodes.stock_prices).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: `Alpha Vantage (${fake.url}) did not answer for BBB within 0.15 s`,
    });
    expect(fake.requestsFor('BBB')).toHaveLength(2);
    await expectKeyNeverShown(run);
  });

  it('an HTML 502 page is a clear retryable error; a passing one is retried away', async () => {
    fake.behave('CCC', { kind: 'bad-gateway' });
    const run = await materialize(['stock_prices'], marketConfig(), quickRetries(2));
    expect(run.nodes.stock_prices).toMatchObject({ status: 'failed', attempts: 2 });
    expect(run.nodes.stock_prices?.error).toBe(
      `Alpha Vantage (${fake.url}) answered CCC with HTTP 502 (text/html) that is not the expected JSON: ` +
        `"<html>\\r\\n<head><title>502 Bad Gateway</title></head>\\r\\n<body>\\r\\n<center><h1>502 Bad"`,
    );
    await expectKeyNeverShown(run);

    fake.reset();
    fake.behave('CCC', { kind: 'bad-gateway', times: 1 });
    const blip = await materialize(['stock_prices'], marketConfig(), quickRetries(2));
    expect(blip.nodes.stock_prices).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(blip.events.find((e) => e.type === 'retrying')).toMatchObject({
      attempt: 1,
      reason: expect.stringContaining('answered CCC with HTTP 502'),
    });
  });

  it('a non-JSON answer that echoes the request does not carry the key into the error', async () => {
    fake.behave('AAA', { kind: 'proxy-echo' });
    const run = await materialize(['stock_prices'], marketConfig(), quickRetries(1));
    expect(run.nodes.stock_prices).toMatchObject({ status: 'failed', attempts: 1 });
    expect(run.nodes.stock_prices?.error).toMatch(
      /answered AAA with HTTP 403 \(text\/plain\) that is not the expected JSON/,
    );
    await expectKeyNeverShown(run);
  });

  it('an unreachable endpoint is a clear retryable error', async () => {
    const closed = `http://127.0.0.1:${await freePort()}/query`;
    const run = await materialize(['stock_prices'], marketConfig({ url: closed }), quickRetries(2));
    expect(run.nodes.stock_prices).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: `Alpha Vantage (${closed}) is not reachable for AAA: fetch failed`,
    });
    await expectKeyNeverShown(run);
  });
});

describe('the key in answers that echo the request, and in the endpoint URL', () => {
  const QUERY = '/query?function=TIME_SERIES_DAILY&symbol=AAA&outputsize=full&datatype=json&apikey=';

  it.each([
    ['Error Message', `Alpha Vantage rejected AAA: ${echoing('Error Message', `${QUERY}****`)}`],
    ['Information', `Alpha Vantage rejected AAA: ${echoing('Information', `${QUERY}****`)}`],
  ] as const)('an echoing %s fails for good with the key replaced by ****', async (payload, error) => {
    fake.behave('AAA', { kind: 'echo', payload });
    const run = await materialize(['stock_prices'], marketConfig(), quickRetries(3));
    expect(run.nodes.stock_prices).toMatchObject({ status: 'failed', attempts: 1, error });
    expect(fake.requestsFor('AAA')[0]?.params.apikey).toBe(API_KEY); // the key was sent, and echoed
    await expectKeyNeverShown(run);
    expect(await everyEngineRow()).not.toContain(API_KEY);
  });

  it('an echoing rate-limit Note that never lifts fails retryably with the key replaced', async () => {
    fake.behave('AAA', { kind: 'echo', payload: 'Note' });
    const run = await materialize(
      ['stock_prices'],
      marketConfig({ rateLimitTries: 2, rateLimitBackoffMs: 1 }),
      quickRetries(2),
    );
    expect(run.nodes.stock_prices).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: `Alpha Vantage kept rate-limiting AAA after 2 tries: ${echoing('Note', `${QUERY}****`)}`,
    });
    await expectKeyNeverShown(run);
  });

  it('a short key (the public `demo`) is no secret and is left as the server wrote it', async () => {
    const demo = await startFakeAlphaVantage({ apiKey: 'demo' });
    try {
      demo.behave('AAA', { kind: 'echo', payload: 'Error Message' });
      const failure = await fetchDailySeries('AAA', { url: demo.url, apiKey: 'demo' }).catch(
        (e: unknown) => e,
      );
      expect((failure as Error).message).toBe(
        `Alpha Vantage rejected AAA: ${echoing('Error Message', `${QUERY}demo`)}`,
      );
    } finally {
      await demo.close();
    }
  });

  it('an endpoint URL with a user name and password fails before any request, naming neither', async () => {
    const url = fake.url.replace('http://', 'http://user:hunter2-secret@');
    const run = await materialize(['stock_prices'], marketConfig({ url }), quickRetries(3));
    expect(run.nodes.stock_prices).toMatchObject({
      status: 'failed',
      attempts: 1,
      error:
        'ALPHA_VANTAGE_URL must not carry a user name or password: the key goes in ALPHA_VANTAGE_API_KEY',
    });
    expect(fake.requests).toEqual([]);
    const said = await everythingSaidAbout(run);
    for (const secret of [API_KEY, 'hunter2-secret']) expect(said).not.toContain(secret);
  });
});

describe('fetchDailySeries', () => {
  const options = { apiKey: API_KEY };

  it('parses the real shape, oldest day first', async () => {
    const bars = await fetchDailySeries('CCC', { ...options, url: fake.url });
    expect(bars.map((b) => b.date)).toEqual(TINY_SERIES.CCC?.map((b) => b[0]));
    expect(bars[0]).toEqual({
      date: '2024-02-29',
      open: '29.5000',
      high: '30.2000',
      low: '29.4000',
      close: '30.0000',
      volume: '75000',
    });
  });

  it('waits out rate-limit notes with doubling waits', async () => {
    fake.behave('AAA', { kind: 'rate-limit', payload: 'Note', times: 3 });
    const bars = await fetchDailySeries('AAA', { ...options, url: fake.url, rateLimitBackoffMs: 40 });
    expect(bars).toHaveLength(7);
    const at = fake.requestsFor('AAA').map((r) => r.at);
    expect(at).toHaveLength(4);
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    // 40, 80, 160 ms (a timer never fires early; allow 2 ms of clock rounding, and lateness on a busy machine).
    [40, 80, 160].forEach((wait, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(wait - 2);
      expect(gaps[i]).toBeLessThan(wait + 1_000); // not the 15 s default
    });
  });

  it('gives up after rateLimitTries with a retryable error naming the symbol', async () => {
    fake.behave('BBB', { kind: 'rate-limit', payload: 'Note' });
    const failure = await fetchDailySeries('BBB', {
      ...options,
      url: fake.url,
      rateLimitTries: 3,
      rateLimitBackoffMs: 1,
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).not.toBeInstanceOf(PermanentError);
    expect((failure as Error).message).toBe(
      `Alpha Vantage kept rate-limiting BBB after 3 tries: ${RATE_LIMIT_NOTE}`,
    );
    expect(fake.requestsFor('BBB')).toHaveLength(3);
  });

  it('Error Message is a SourceRejectedError (permanent)', async () => {
    const failure = await fetchDailySeries('ZZZ', { ...options, url: fake.url }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SourceRejectedError);
    expect(failure).toBeInstanceOf(PermanentError);
    expect((failure as Error).message).toBe(`Alpha Vantage rejected ZZZ: ${INVALID_CALL}`);
  });

  it('a timeout and a non-JSON answer are retryable errors without the key', async () => {
    fake.behave('AAA', { kind: 'slow', delayMs: 2_000 });
    fake.behave('BBB', { kind: 'bad-gateway' });
    const [slow, html] = await Promise.all(
      ['AAA', 'BBB'].map((symbol) =>
        fetchDailySeries(symbol, { ...options, url: fake.url, timeoutMs: 100 }).catch(
          (error: unknown) => error,
        ),
      ),
    );
    for (const failure of [slow, html]) {
      expect(failure).toBeInstanceOf(Error);
      expect(failure).not.toBeInstanceOf(PermanentError);
      expect(`${(failure as Error).message} ${(failure as Error).stack}`).not.toContain(API_KEY);
    }
    expect((slow as Error).message).toBe(`Alpha Vantage (${fake.url}) did not answer for AAA within 0.1 s`);
    expect((html as Error).message).toMatch(
      /answered BBB with HTTP 502 \(text\/html\) that is not the expected JSON/,
    );
  });
});

// ---------------------------------------------------------------------------------------------

const EXPECTED_CSV = `trade_date,symbol,open,high,low,close,volume
2024-03-04,AAA,91.0000,101.0000,90.5000,100.0000,2000000
2024-03-04,BBB,55.2000,55.4000,49.9000,50.0000,520000
2024-03-04,CCC,24.9000,25.0000,19.9000,20.0000,120000
2024-03-05,AAA,100.5000,111.2500,100.0000,110.0000,2100000
2024-03-05,BBB,50.1000,50.3000,47.6000,48.0000,330000
2024-03-05,CCC,20.1000,24.3000,20.0000,24.0000,87000
2024-03-06,AAA,109.0000,109.5000,98.1000,99.0000,1900000
2024-03-06,BBB,48.2000,51.4000,48.0000,51.0000,290000
2024-03-07,AAA,99.5000,109.0000,99.2000,108.9000,1750000
2024-03-07,BBB,50.7000,50.9000,40.5000,40.8000,880000
2024-03-07,CCC,23.8000,23.9000,17.9000,18.0000,143000
2024-03-08,AAA,109.2000,120.0000,108.8000,119.7900,2250000
2024-03-08,BBB,41.0000,45.1000,40.9000,44.8800,610000
2024-03-08,CCC,18.1000,19.0000,18.0000,18.9000,66000
`;

/** Every element closed, in order: a small well-formedness check without an XML parser. */
function expectWellFormed(svg: string): void {
  const open: string[] = [];
  for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    if (closing) expect(open.pop()).toBe(name);
    else if (!selfClosing) open.push(name as string);
  }
  expect(open).toEqual([]);
  expect(svg.replace(/&(amp|lt|gt|quot|#39);/g, '')).not.toMatch(/&/);
}

/** The y coordinate of a horizontal grid line of the y axis, found by its label. */
function tickY(svg: string, label: string): number {
  const match = svg.match(new RegExp(`<line [^>]*y1="([\\d.]+)"[^>]*/><text [^>]*>${label}</text>`));
  if (!match) throw new Error(`no y tick labelled ${label}`);
  return Number(match[1]);
}

/** The x axis's labels, left to right. */
function xLabels(svg: string): string[] {
  return [...svg.matchAll(/<text [^>]*text-anchor="middle" font-size="11">([^<]+)<\/text>/g)].map(
    ([, text]) => text as string,
  );
}

function paths(svg: string): Record<string, [number, number][]> {
  return Object.fromEntries(
    [...svg.matchAll(/<path d="([^"]+)"[^>]*data-symbol="([^"]+)"/g)].map(([, d, symbol]) => [
      symbol,
      (d as string).split(' ').map((step) => step.slice(1).split(',').map(Number) as [number, number]),
    ]),
  );
}

describe('exports to EXPORT_DIR', () => {
  it('combined_prices.csv is every kept price, long format, by date then symbol', async () => {
    const config = marketConfig();
    const run = await materialize(['stock_prices', 'stock_comparison'], config);
    expect(run.nodes.stock_comparison?.metadata).toMatchObject({
      csv: join(config.exportDir, 'combined_prices.csv'),
      chart: join(config.exportDir, 'normalised_prices.svg'),
    });
    expect(readFileSync(join(config.exportDir, 'combined_prices.csv'), 'utf8')).toBe(EXPECTED_CSV);
  });

  it('normalised_prices.svg: title, axes, legend, one line per symbol starting at 100', async () => {
    const config = marketConfig();
    await materialize(['stock_prices', 'stock_comparison'], config);
    const svg = readFileSync(join(config.exportDir, 'normalised_prices.svg'), 'utf8');
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'tiny-normalised_prices.svg'), svg);

    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expectWellFormed(svg);
    expect(svg).toContain(`>${CHART_TITLE}</text>`);
    // Normalised values span 81.6 (BBB 40.8/50) to 120 (CCC 24/20): ticks every 10 from 80 to 120.
    for (const label of ['80', '90', '100', '110', '120']) expect(tickY(svg, label)).toBeGreaterThan(0);
    // The x axis names each common date (a short series), 03-06 not among them.
    expect(xLabels(svg)).toEqual(['2024-03-04', '2024-03-05', '2024-03-07', '2024-03-08']);
    for (const symbol of SYMBOLS) expect(svg).toMatch(new RegExp(`<text [^>]*>${symbol}</text></g>`));

    const lines = paths(svg);
    expect(Object.keys(lines)).toEqual(SYMBOLS);
    const y100 = tickY(svg, '100');
    for (const symbol of SYMBOLS) {
      const points = lines[symbol] ?? [];
      expect(points).toHaveLength(4); // the common dates
      expect(points[0]?.[1]).toBe(y100);
      // All series share the x positions of the common dates.
      expect(points.map((p) => p[0])).toEqual(lines.AAA?.map((p) => p[0]));
    }
    // The last points, against the grid: AAA 119.79 is 97.9 % of the way from 110 to 120,
    // BBB 89.76 (44.88/50) is 97.6 % of the way from 80 to 90, CCC 94.5 halfway from 90 to 100.
    const between = (from: string, to: string, fraction: number) =>
      tickY(svg, from) + (tickY(svg, to) - tickY(svg, from)) * fraction;
    expect(lines.AAA?.[3]?.[1]).toBeCloseTo(between('110', '120', 0.979), 0);
    expect(lines.BBB?.[3]?.[1]).toBeCloseTo(between('80', '90', 0.976), 0);
    expect(lines.CCC?.[3]?.[1]).toBeCloseTo(between('90', '100', 0.45), 0);
  });

  it("the dashboard's page of stock_comparison shows the same chart", async () => {
    expect((await materialize(['stock_prices', 'stock_comparison'], marketConfig())).status).toBe(
      'succeeded',
    );
    const app = createDashboard({
      graph: new AssetGraph<PipelineConfig>(assets),
      database,
      config: marketConfig(),
      readOnly: true,
    });
    const server = await listen(app, 0, '127.0.0.1');
    try {
      const { port } = server.address() as AddressInfo;
      const page = await (await fetch(`http://127.0.0.1:${port}/assets/stock_comparison`)).text();
      const chart = page.slice(page.indexOf('<div class="graph" id="preview">'));
      for (const symbol of SYMBOLS) expect(chart).toContain(`data-symbol="${symbol}"`);
      expect(chart).toContain('Peers: close, normalised to 100 at the first common date');
    } finally {
      server.close();
    }
  });

  it('a longer, realistic series charts cleanly (written for a person to look at)', async () => {
    const series = {
      TWLO: generatedSeries(7, '2021-06-01', 700, 310),
      BAND: generatedSeries(11, '2021-06-01', 700, 120),
      EGHT: generatedSeries(23, '2021-06-01', 700, 24),
    };
    // One symbol misses two days: common dates must still line the series up.
    series.EGHT.splice(100, 2);
    const longFake = await startFakeAlphaVantage({ series, apiKey: API_KEY });
    try {
      const config = marketConfig({ url: longFake.url, symbols: Object.keys(series), start: '2021-07-01' });
      const run = await materialize(['stock_prices', 'stock_comparison'], config);
      expect(run.status).toBe('succeeded');
      const svg = readFileSync(join(config.exportDir, 'normalised_prices.svg'), 'utf8');
      mkdirSync(ARTIFACTS, { recursive: true });
      writeFileSync(join(ARTIFACTS, 'long-normalised_prices.svg'), svg);
      expectWellFormed(svg);
      const lines = paths(svg);
      const y100 = tickY(svg, '100');
      for (const symbol of Object.keys(series)) expect(lines[symbol]?.[0]?.[1]).toBe(y100);
      // Years on the x axis, the first and the last month named (2024-02 crowds out 2024).
      expect(xLabels(svg)).toEqual(['2021-07', '2022', '2023', '2024-02']);
    } finally {
      await longFake.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('pipeline materialize group:market --in-process (the CLI, LOG_LEVEL=debug)', () => {
  const env = (exportDir: string, symbols = SYMBOLS.join(',')) => ({
    DATABASE_URL: withDatabase(serverUrl(), database.name),
    ALPHA_VANTAGE_API_KEY: API_KEY,
    ALPHA_VANTAGE_URL: fake.url,
    STOCK_SYMBOLS: symbols,
    STOCK_START: START,
    EXPORT_DIR: exportDir,
    LOG_LEVEL: 'debug',
    AZURE_STORAGE_CONNECTION_STRING: undefined,
    AZURE_CONTAINER: undefined,
  });

  it('materializes both assets and exports; the key is in no output and no file', async () => {
    const exportDir = join(scratch, 'cli-exports');
    const result = await runCli(['materialize', 'group:market', '--in-process'], { env: env(exportDir) });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/✓ stock_prices .* rowCount=14 AAADays=5 AAALast=2024-03-08 BBBDays=5 /);
    expect(result.stdout).toMatch(/✓ stock_comparison /);
    expect(result.stdout).toMatch(/succeeded: 2 succeeded, 0 failed in /);
    expect(result.stderr).toContain('fetched AAA'); // the debug logs were on
    expect(result.stdout + result.stderr).not.toContain(API_KEY);
    const csv = readFileSync(join(exportDir, 'combined_prices.csv'), 'utf8');
    const svg = readFileSync(join(exportDir, 'normalised_prices.svg'), 'utf8');
    expect(csv).toBe(EXPECTED_CSV);
    expect(csv + svg).not.toContain(API_KEY);
    expect(fake.requests.every((r) => r.params.apikey === API_KEY)).toBe(true);
  });

  it('an Error Message fails the run without a retry, names the symbol, and shows no key', async () => {
    const result = await runCli(['materialize', 'group:market', '--in-process'], {
      env: env(join(scratch, 'cli-failed'), 'AAA,NOPE'),
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`✗ stock_prices`);
    expect(result.stdout).toContain(`Alpha Vantage rejected NOPE: ${INVALID_CALL}`);
    expect(result.stdout).not.toContain('↻');
    expect(result.stdout).toMatch(/– stock_comparison\s+pending: upstream stock_prices failed/);
    expect(result.stderr).toContain('materialization failed'); // the warn log with the error
    expect(result.stdout + result.stderr).not.toContain(API_KEY);
    expect(fake.requestsFor('NOPE')).toHaveLength(1);
  });

  it('answers that echo the request (Error Message, Information): the key is in no output, row or log', async () => {
    fake.behave('AAA', { kind: 'echo', payload: 'Error Message' });
    fake.behave('BBB', { kind: 'echo', payload: 'Information' });
    for (const symbols of ['AAA', 'BBB']) {
      const result = await runCli(['materialize', 'stock_prices', '--in-process'], {
        env: env(join(scratch, `cli-echo-${symbols}`), symbols),
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`✗ stock_prices`);
      expect(result.stdout).toContain('apikey=****');
      expect(result.stderr).toContain('materialization failed'); // the warn log with the error
      expect(result.stdout + result.stderr).not.toContain(API_KEY);
      expect(fake.requestsFor(symbols)[0]?.params.apikey).toBe(API_KEY);
    }
    const stored = await everyEngineRow();
    expect(stored).toContain('apikey=****'); // the rows were looked at
    expect(stored).not.toContain(API_KEY);
  });

  it('ALPHA_VANTAGE_URL with user info is a configuration error: one line, no request, nothing shown', async () => {
    const url = fake.url.replace('http://', 'http://user:hunter2-secret@');
    const result = await runCli(['materialize', 'stock_prices', '--in-process'], {
      env: { ...env(join(scratch, 'cli-userinfo')), ALPHA_VANTAGE_URL: url },
    });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'pipeline: invalid environment: ALPHA_VANTAGE_URL must not carry a user name or password: the key goes in ALPHA_VANTAGE_API_KEY\n',
    );
    expect(fake.requests).toEqual([]);
    expect(await everyEngineRow()).toBe('');
  });
});

// ---------------------------------------------------------------------------------------------

describe('exports to Azure Blob Storage (Azurite)', () => {
  beforeAll(() => azurite.ready);

  it('stock_comparison uploads the same two files it writes to disk', async () => {
    const onDisk = marketConfig();
    expect((await materialize(['stock_prices', 'stock_comparison'], onDisk)).status).toBe('succeeded');
    const azure = { connectionString: azurite.connectionString, container: 'market-exports' };
    const run = await materialize(['stock_comparison'], marketConfig({ azure }));
    expect(run.status).toBe('succeeded');
    expect(run.nodes.stock_comparison?.metadata).toMatchObject({
      csv: 'azure blob market-exports/combined_prices.csv',
      chart: 'azure blob market-exports/normalised_prices.svg',
    });
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      'market-exports',
    );
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat()) names.push(blob.name);
    expect(names.sort()).toEqual(['combined_prices.csv', 'normalised_prices.svg']);
    for (const [name, type] of [
      ['combined_prices.csv', 'text/csv'],
      ['normalised_prices.svg', 'image/svg+xml'],
    ] as const) {
      const blob = container.getBlockBlobClient(name);
      const content = (await blob.downloadToBuffer()).toString('utf8');
      expect(content).toBe(readFileSync(join(onDisk.exportDir, name), 'utf8'));
      expect((await blob.getProperties()).contentType).toBe(type);
    }
    expect(readFileSync(join(onDisk.exportDir, 'combined_prices.csv'), 'utf8')).toBe(EXPECTED_CSV);
    const said = await everythingSaidAbout(run);
    expect(said).not.toContain(DEV_ACCOUNT_KEY);
    expect(said).not.toContain(API_KEY);
  });

  it('a re-run overwrites the blobs', async () => {
    const azure = { connectionString: azurite.connectionString, container: 'market-rerun' };
    expect((await materialize(['stock_prices', 'stock_comparison'], marketConfig({ azure }))).status).toBe(
      'succeeded',
    );
    await database.sql`delete from stock_prices where symbol = 'CCC'`;
    expect((await materialize(['stock_comparison'], marketConfig({ azure }))).status).toBe('succeeded');
    const csv = await BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient('market-rerun')
      .getBlockBlobClient('combined_prices.csv')
      .downloadToBuffer();
    expect(csv.toString('utf8')).toBe(
      EXPECTED_CSV.split('\n')
        .filter((line) => !line.includes(',CCC,'))
        .join('\n'),
    );
  });

  it('a SAS token that may not write fails stock_comparison, and the token is shown nowhere', async () => {
    // A read-only account SAS (what a leaked-then-rotated token might be reduced to).
    const sas = generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3_600_000),
        permissions: AccountSASPermissions.parse('rl'),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        services: AccountSASServices.parse('b').toString(),
      },
      new StorageSharedKeyCredential('devstoreaccount1', DEV_ACCOUNT_KEY),
    ).toString();
    const signature = decodeURIComponent(new URLSearchParams(sas).get('sig') ?? '');
    expect(signature.length).toBeGreaterThan(20);
    const azure = {
      connectionString: `BlobEndpoint=${azurite.blobEndpoint};SharedAccessSignature=${sas}`,
      container: 'market-readonly',
    };
    const logs = capturedLogs();
    const run = await runInProcess({
      database,
      graph: quickRetries(1),
      selection: ['stock_prices', 'stock_comparison'],
      config: marketConfig({ azure }),
      logger: logs.logger,
    });
    const node = run.detail?.nodes.find((n) => n.assetKey === 'stock_comparison');
    expect(node).toMatchObject({ status: 'failed', attempts: 1 });
    expect(node?.error).toMatch(
      /^This request is not authorized to perform this operation using this permission/,
    );
    const said = await everythingSaidAbout({ runId: run.runId, events: run.events, logs: logs.text() });
    expect(said).toContain('not authorized'); // the logs and rows were looked at
    for (const secret of [signature, encodeURIComponent(signature), sas]) expect(said).not.toContain(secret);
  });
});
