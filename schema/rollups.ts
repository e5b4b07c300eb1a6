import { bigint, date, integer, numeric, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';

/**
 * Internal monthly rollups of traffic, built once per month when its traffic changes: every
 * 12-month question reads twelve small partitions of these instead of rescanning traffic.
 */

/** Revenue and rows per customer and month (the customer × month rollup). */
export const customerMonthRevenue = pgTable(
  'customer_month_revenue',
  {
    month: date('month', { mode: 'string' }).notNull(),
    customerId: integer('customer_id').notNull(),
    revenueEur: numeric('revenue_eur', { precision: 14, scale: 2 }).notNull(),
    trafficRows: integer('traffic_rows').notNull(),
  },
  (t) => [primaryKey({ name: 'pk_customer_month_revenue', columns: [t.month, t.customerId] })],
);

/**
 * How many traffic rows of the month hold each value of a column: exact order statistics
 * (min, max, quartiles, median) and moments over any set of months, without sorting their rows.
 */
export const trafficValueCounts = pgTable(
  'traffic_value_counts',
  {
    month: date('month', { mode: 'string' }).notNull(),
    columnName: text('column_name').notNull(),
    value: numeric('value').notNull(),
    rows: bigint('rows', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ name: 'pk_traffic_value_counts', columns: [t.month, t.columnName, t.value] })],
);
