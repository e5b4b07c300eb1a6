import {
  bigint,
  date,
  doublePrecision,
  integer,
  numeric,
  pgTable,
  primaryKey,
  varchar,
} from 'drizzle-orm/pg-core';

/** docs/contract.md §8: daily prices of CPaaS peers from Alpha Vantage, and how they compare. */

export const stockPrices = pgTable(
  'stock_prices',
  {
    symbol: varchar('symbol', { length: 12 }).notNull(),
    tradeDate: date('trade_date', { mode: 'string' }).notNull(),
    open: numeric('open', { precision: 16, scale: 4 }).notNull(),
    high: numeric('high', { precision: 16, scale: 4 }).notNull(),
    low: numeric('low', { precision: 16, scale: 4 }).notNull(),
    close: numeric('close', { precision: 16, scale: 4 }).notNull(),
    volume: bigint('volume', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ name: 'pk_stock_prices', columns: [t.symbol, t.tradeDate] })],
);

/** Per symbol over its whole series from STOCK_START. */
export const stockComparison = pgTable('stock_comparison', {
  symbol: varchar('symbol', { length: 12 }).primaryKey(),
  firstDate: date('first_date', { mode: 'string' }).notNull(),
  lastDate: date('last_date', { mode: 'string' }).notNull(),
  firstClose: numeric('first_close', { precision: 16, scale: 4 }).notNull(),
  lastClose: numeric('last_close', { precision: 16, scale: 4 }).notNull(),
  tradingDays: integer('trading_days').notNull(),
  totalReturnPct: doublePrecision('total_return_pct').notNull(),
  /** Sample stddev of daily log returns × √252, in %; NULL with fewer than 3 prices. */
  annualizedVolatilityPct: doublePrecision('annualized_volatility_pct'),
  /** Largest fall from a running peak of the close, in % (0 or negative). */
  maxDrawdownPct: doublePrecision('max_drawdown_pct').notNull(),
});

/** Correlation of daily simple returns between two symbols, over the dates both traded. */
export const stockCorrelations = pgTable(
  'stock_correlations',
  {
    symbolA: varchar('symbol_a', { length: 12 }).notNull(),
    symbolB: varchar('symbol_b', { length: 12 }).notNull(),
    correlation: doublePrecision('correlation'),
    commonDays: integer('common_days').notNull(),
  },
  (t) => [primaryKey({ name: 'pk_stock_correlations', columns: [t.symbolA, t.symbolB] })],
);
