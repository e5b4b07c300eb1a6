import { sql } from 'drizzle-orm';
import {
  bigserial,
  check,
  date,
  foreignKey,
  index,
  integer,
  numeric,
  pgTable,
  primaryKey,
  timestamp,
  unique,
  varchar,
} from 'drizzle-orm/pg-core';

/**
 * The seed's four tables (names, columns and constraints kept) with the fixes listed in
 * docs/contract.md §3, and the customer snapshots they are derived from.
 */

export const channels = pgTable(
  'channels',
  {
    channelId: integer('channel_id').primaryKey(),
    channelName: varchar('channel_name', { length: 100 }).notNull(),
    channelType: varchar('channel_type', { length: 50 }).notNull(),
    unitPriceEur: numeric('unit_price_eur', { precision: 10, scale: 4 }).notNull(),
  },
  (t) => [
    unique('uk_channels_channel_name').on(t.channelName),
    check('ck_channels_unit_price_nonnegative', sql`${t.unitPriceEur} >= 0`),
  ],
);

export const customers = pgTable(
  'customers',
  {
    // Ids come from the CSV: the seed's re-numbering broke the link to traffic.
    customerId: integer('customer_id').primaryKey(),
    accountId: integer('account_id').notNull(),
    customerName: varchar('customer_name', { length: 255 }).notNull(),
    segment: varchar('segment', { length: 50 }).notNull(),
    industry: varchar('industry', { length: 100 }).notNull(),
    country: varchar('country', { length: 100 }).notNull(),
    createdDate: date('created_date', { mode: 'string' }).notNull(),
  },
  (t) => [unique('uk_customers_account_id').on(t.accountId)],
);

export const traffic = pgTable(
  'traffic',
  {
    // A sequence, not an identity: PostgreSQL 15 has no identity columns on partitioned tables.
    trafficId: bigserial('traffic_id', { mode: 'number' }).notNull(),
    sendDate: date('send_date', { mode: 'string' }).notNull(),
    accountId: integer('account_id').notNull(),
    customerId: integer('customer_id').notNull(),
    channelId: integer('channel_id').notNull(),
    interactionsCount: integer('interactions_count').notNull(),
    revenueEur: numeric('revenue_eur', { precision: 12, scale: 2 }).notNull(),
  },
  // Partitioned by month in the migration (drizzle-kit cannot say so): a month is loaded into a
  // fresh table, indexed in bulk and attached, which is several times faster than inserting rows.
  (t) => [
    primaryKey({ name: 'traffic_pkey', columns: [t.trafficId, t.sendDate] }),
    unique('uk_traffic_unique').on(t.sendDate, t.accountId, t.customerId, t.channelId),
    foreignKey({
      name: 'fk_traffic_customer',
      columns: [t.customerId],
      foreignColumns: [customers.customerId],
    }),
    foreignKey({ name: 'fk_traffic_channel', columns: [t.channelId], foreignColumns: [channels.channelId] }),
    check('ck_traffic_interactions_count_nonnegative', sql`${t.interactionsCount} >= 0`),
    check('ck_traffic_revenue_nonnegative', sql`${t.revenueEur} >= 0`),
    index('idx_traffic_account_id').on(t.accountId),
  ],
);

export const customersRevenueByPeriod = pgTable(
  'customers_revenue_by_period',
  {
    customerId: integer('customer_id').primaryKey(),
    revenueLastMonth: numeric('revenue_last_month', { precision: 14, scale: 2 }).notNull(),
    revenueLastQuarter: numeric('revenue_last_quarter', { precision: 14, scale: 2 }).notNull(),
    revenueMtd: numeric('revenue_mtd', { precision: 14, scale: 2 }).notNull(),
    revenueYtd: numeric('revenue_ytd', { precision: 14, scale: 2 }).notNull(),
    // NULL when the base quarter is 0; (12,2) because the seed's (5,2) overflowed above 999.99 %.
    revenueIncreasePctQoq: numeric('revenue_increase_pct_qoq', { precision: 12, scale: 2 }),
    asOfDate: date('as_of_date', { mode: 'string' }).notNull(),
    lastUpdated: timestamp('last_updated', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({
      name: 'fk_customers_revenue_by_period_customer',
      columns: [t.customerId],
      foreignColumns: [customers.customerId],
    }),
  ],
);

export const customerSnapshots = pgTable(
  'customer_snapshots',
  {
    snapshotMonth: date('snapshot_month', { mode: 'string' }).notNull(),
    customerId: integer('customer_id').notNull(),
    accountId: integer('account_id').notNull(),
    customerName: varchar('customer_name', { length: 255 }).notNull(),
    segment: varchar('segment', { length: 50 }).notNull(),
    industry: varchar('industry', { length: 100 }).notNull(),
    country: varchar('country', { length: 100 }).notNull(),
    createdDate: date('created_date', { mode: 'string' }).notNull(),
  },
  (t) => [
    primaryKey({ name: 'pk_customer_snapshots', columns: [t.snapshotMonth, t.customerId] }),
    unique('uk_customer_snapshots_account').on(t.snapshotMonth, t.accountId),
    index('idx_customer_snapshots_customer').on(t.customerId, t.snapshotMonth),
  ],
);
