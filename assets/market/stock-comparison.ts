import { stringify } from 'csv-stringify/sync';
import type { Sql, TransactionSql } from 'postgres';
import { defineAsset } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';
import { type NormalisedSeries, normalisedPriceChart } from './chart.ts';
import { writeExport } from './exports.ts';

const CHART_TITLE = 'Peers: close, normalised to 100 at the first common date';

/**
 * The dates on which every symbol traded; returns and the chart are taken over these only, so
 * every symbol is compared over the same days.
 */
const commonDates = (sql: Sql | TransactionSql) => sql`
  select trade_date from stock_prices
  group by trade_date having count(distinct symbol) = (select count(distinct symbol) from stock_prices)`;

/** Closes normalised to 100 at the first common date, per symbol (for the chart). */
export async function normalisedSeries(sql: Sql | TransactionSql): Promise<NormalisedSeries[]> {
  const rows = await sql<{ symbol: string; date: string; value: number }[]>`
    with common as (${commonDates(sql)}),
    prices as (select p.symbol, p.trade_date, p.close::float8 as close from stock_prices p join common using (trade_date))
    select symbol, trade_date::text as date,
      100 * close / first_value(close) over (partition by symbol order by trade_date) as value
    from prices order by symbol, trade_date`;
  const bySymbol = new Map<string, NormalisedSeries>();
  for (const row of rows) {
    const series = bySymbol.get(row.symbol) ?? { symbol: row.symbol, points: [] };
    series.points.push({ date: row.date, value: row.value });
    bySymbol.set(row.symbol, series);
  }
  return [...bySymbol.values()];
}

/** The chart as the dashboard shows it, from the prices in the database. */
export async function comparisonChart(sql: Sql | TransactionSql): Promise<string> {
  return normalisedPriceChart(await normalisedSeries(sql), CHART_TITLE);
}

export const stockComparison = defineAsset<PipelineConfig>({
  key: 'stock_comparison',
  group: 'market',
  description:
    'per peer: return, annualized volatility and max drawdown; correlations; combined_prices.csv and a chart',
  deps: ['stock_prices'],
  preview: comparisonChart,
  materialize: async (ctx) => {
    const sql = ctx.sql;
    await sql`delete from stock_comparison`;
    await sql`delete from stock_correlations`;
    // Per symbol, in SQL: log returns between consecutive trading days, running peak for drawdown.
    await sql`
      insert into stock_comparison (symbol, first_date, last_date, first_close, last_close, trading_days,
        total_return_pct, annualized_volatility_pct, max_drawdown_pct)
      select symbol, min(trade_date), max(trade_date),
        (array_agg(close order by trade_date))[1], (array_agg(close order by trade_date desc))[1], count(*)::int,
        ((array_agg(close order by trade_date desc))[1] / (array_agg(close order by trade_date))[1] - 1)::float8 * 100,
        stddev_samp(ln(close::float8 / previous)) * sqrt(252) * 100,
        min(close::float8 / peak - 1) * 100
      from (
        select symbol, trade_date, close,
          lag(close::float8) over (partition by symbol order by trade_date) as previous,
          max(close::float8) over (partition by symbol order by trade_date rows unbounded preceding) as peak
        from stock_prices
      ) p
      group by symbol`;
    // Simple daily returns between consecutive common dates; every ordered pair, the diagonal included.
    await sql`
      insert into stock_correlations (symbol_a, symbol_b, correlation, common_days)
      with common as (${commonDates(sql)}),
      returns as (
        select symbol, trade_date,
          close::float8 / lag(close::float8) over (partition by symbol order by trade_date) - 1 as r
        from stock_prices join common using (trade_date))
      select a.symbol, b.symbol, corr(a.r, b.r), count(*)::int
      from returns a join returns b using (trade_date)
      where a.r is not null and b.r is not null
      group by a.symbol, b.symbol`;
    const prices = await sql<Record<string, string>[]>`
      select trade_date::text as trade_date, symbol, open::text, high::text, low::text, close::text, volume::text
      from stock_prices order by trade_date, symbol`;
    const csv = stringify(prices, {
      header: true,
      columns: ['trade_date', 'symbol', 'open', 'high', 'low', 'close', 'volume'],
    });
    const csvAt = await writeExport(ctx.config, 'combined_prices.csv', csv, 'text/csv');
    const chartAt = await writeExport(
      ctx.config,
      'normalised_prices.svg',
      await comparisonChart(sql),
      'image/svg+xml',
    );
    const [counted] = await sql<{ n: number }[]>`select count(*)::int as n from stock_comparison`;
    return { rowCount: counted?.n ?? 0, priceRows: prices.length, csv: csvAt, chart: chartAt };
  },
});
