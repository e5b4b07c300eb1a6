import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  date,
  doublePrecision,
  integer,
  numeric,
  pgTable,
  primaryKey,
  text,
  varchar,
} from 'drizzle-orm/pg-core';

/**
 * The analytics results of docs/contract.md §5–§6: every table is keyed by `period` (the
 * partition's first day) first.
 */

const period = () => date('period', { mode: 'string' }).notNull();
const money = (name: string) => numeric(name, { precision: 14, scale: 2 }).notNull();
const percentage = (name: string) => numeric(name, { precision: 6, scale: 2 }).notNull();
const category = (name: string) => varchar(name, { length: 4 }).notNull();
const categoryCheck = (name: string, column: unknown) =>
  check(name, sql`${column} in ('Low', 'Mid', 'High')`);

export const industryExposure = pgTable(
  'industry_exposure',
  {
    period: period(),
    industry: varchar('industry', { length: 100 }).notNull(),
    revenueEur: money('revenue_eur'),
    customerCount: integer('customer_count').notNull(),
    activeCustomerCount: integer('active_customer_count').notNull(),
    revenueSharePct: percentage('revenue_share_pct'),
    revenueRank: integer('revenue_rank').notNull(),
  },
  (t) => [primaryKey({ name: 'pk_industry_exposure', columns: [t.period, t.industry] })],
);

export const segmentDistribution = pgTable(
  'segment_distribution',
  {
    period: period(),
    segment: varchar('segment', { length: 50 }).notNull(),
    customerCount: integer('customer_count').notNull(),
    customerPct: percentage('customer_pct'),
  },
  (t) => [primaryKey({ name: 'pk_segment_distribution', columns: [t.period, t.segment] })],
);

export const segmentChanges = pgTable(
  'segment_changes',
  {
    period: period(),
    customerId: integer('customer_id').notNull(),
    changedMonth: date('changed_month', { mode: 'string' }).notNull(),
    previousSegment: varchar('previous_segment', { length: 50 }).notNull(),
    newSegment: varchar('new_segment', { length: 50 }).notNull(),
    customerName: varchar('customer_name', { length: 255 }).notNull(),
  },
  (t) => [primaryKey({ name: 'pk_segment_changes', columns: [t.period, t.customerId, t.changedMonth] })],
);

export const topCustomers = pgTable(
  'top_customers',
  {
    period: period(),
    revenueRank: integer('revenue_rank').notNull(),
    customerId: integer('customer_id').notNull(),
    customerName: varchar('customer_name', { length: 255 }).notNull(),
    industry: varchar('industry', { length: 100 }).notNull(),
    segment: varchar('segment', { length: 50 }).notNull(),
    country: varchar('country', { length: 100 }).notNull(),
    revenueEur: money('revenue_eur'),
  },
  (t) => [
    primaryKey({ name: 'pk_top_customers', columns: [t.period, t.revenueRank] }),
    check('ck_top_customers_rank', sql`${t.revenueRank} between 1 and 20`),
  ],
);

export const consistentlyActiveTopCustomers = pgTable(
  'consistently_active_top_customers',
  {
    period: period(),
    customerId: integer('customer_id').notNull(),
    customerName: varchar('customer_name', { length: 255 }).notNull(),
    revenueEur: money('revenue_eur'),
    revenueRank: integer('revenue_rank').notNull(),
    minMonthRevenueEur: money('min_month_revenue_eur'),
  },
  (t) => [primaryKey({ name: 'pk_consistently_active_top_customers', columns: [t.period, t.customerId] })],
);

export const customerRevenueCategories = pgTable(
  'customer_revenue_categories',
  {
    period: period(),
    customerId: integer('customer_id').notNull(),
    revenueEur: money('revenue_eur'),
    revenueCategory: category('revenue_category'),
  },
  (t) => [
    primaryKey({ name: 'pk_customer_revenue_categories', columns: [t.period, t.customerId] }),
    categoryCheck('ck_customer_revenue_categories_category', t.revenueCategory),
  ],
);

export const industryExposureExtended = pgTable(
  'industry_exposure_extended',
  {
    period: period(),
    industry: varchar('industry', { length: 100 }).notNull(),
    revenueEur: money('revenue_eur'),
    customerCount: integer('customer_count').notNull(),
    revenueCategory: category('revenue_category'),
    customerCountCategory: category('customer_count_category'),
  },
  (t) => [
    primaryKey({ name: 'pk_industry_exposure_extended', columns: [t.period, t.industry] }),
    categoryCheck('ck_industry_exposure_extended_revenue_category', t.revenueCategory),
    categoryCheck('ck_industry_exposure_extended_count_category', t.customerCountCategory),
  ],
);

export const descriptiveStatistics = pgTable(
  'descriptive_statistics',
  {
    period: period(),
    tableName: text('table_name').notNull(),
    columnName: text('column_name').notNull(),
    n: bigint('n', { mode: 'number' }).notNull(),
    min: doublePrecision('min'),
    max: doublePrecision('max'),
    mean: doublePrecision('mean'),
    median: doublePrecision('median'),
    stddev: doublePrecision('stddev'),
    q1: doublePrecision('q1'),
    q3: doublePrecision('q3'),
  },
  (t) => [primaryKey({ name: 'pk_descriptive_statistics', columns: [t.period, t.tableName, t.columnName] })],
);
