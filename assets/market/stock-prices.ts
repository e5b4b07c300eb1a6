import { defineAsset } from '../../engine/asset.ts';
import { PermanentError } from '../../engine/errors.ts';
import type { MarketConfig, PipelineConfig } from '../config.ts';
import { fetchDailySeries } from './alpha-vantage.ts';

const INSERT_BATCH = 2_000; // rows per statement: 7 parameters each, far below the 65 534 limit

export function marketConfig(config: PipelineConfig): MarketConfig & { apiKey: string } {
  const market = config.market;
  if (!market?.apiKey) {
    throw new PermanentError(
      'ALPHA_VANTAGE_API_KEY is not set: get a free key at alphavantage.co and set it',
    );
  }
  return { ...market, apiKey: market.apiKey };
}

export const stockPrices = defineAsset<PipelineConfig>({
  key: 'stock_prices',
  group: 'market',
  description: 'daily prices of the peers in STOCK_SYMBOLS since STOCK_START, from Alpha Vantage',
  retry: { attempts: 3, backoffMs: 30_000 },
  materialize: async (ctx) => {
    const market = marketConfig(ctx.config);
    const metadata: Record<string, number | string> = {};
    let total = 0;
    // Symbols no longer in STOCK_SYMBOLS leave the comparison, the chart and the exports.
    const dropped =
      await ctx.sql`delete from stock_prices where symbol <> all(${market.symbols as string[]})`;
    if (dropped.count > 0) metadata.droppedRows = dropped.count;
    for (const symbol of market.symbols) {
      const bars = (
        await fetchDailySeries(symbol, {
          url: market.url,
          apiKey: market.apiKey,
          timeoutMs: market.timeoutMs,
          rateLimitTries: market.rateLimitTries,
          rateLimitBackoffMs: market.rateLimitBackoffMs,
          signal: ctx.signal,
        })
      ).filter((bar) => bar.date >= market.start);
      // The symbol's prices become exactly the API's series since STOCK_START (corrections included).
      await ctx.sql`delete from stock_prices where symbol = ${symbol}`;
      for (let start = 0; start < bars.length; start += INSERT_BATCH) {
        const rows = bars.slice(start, start + INSERT_BATCH).map((bar) => ({
          symbol,
          trade_date: bar.date,
          open: bar.open,
          high: bar.high,
          low: bar.low,
          close: bar.close,
          volume: bar.volume,
        }));
        await ctx.sql`insert into stock_prices ${ctx.sql(rows)}`;
      }
      metadata[`${symbol}Days`] = bars.length;
      if (bars.length > 0) metadata[`${symbol}Last`] = bars.at(-1)?.date ?? '';
      total += bars.length;
      ctx.log.info({ symbol, days: bars.length }, `fetched ${symbol}`);
    }
    return { rowCount: total, ...metadata };
  },
});
