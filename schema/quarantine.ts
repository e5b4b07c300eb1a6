import { bigserial, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Bad input rows quarantined by `--allow-bad-rows N` (docs/contract.md §9). */
export const rejectedRows = pgTable(
  'rejected_rows',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: uuid('run_id'),
    asset: text('asset').notNull(),
    partition: text('partition').notNull().default(''),
    file: text('file').notNull(),
    line: integer('line').notNull(),
    reason: text('reason').notNull(),
    raw: text('raw').notNull(),
    rejectedAt: timestamp('rejected_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('idx_rejected_rows_asset').on(t.asset, t.partition)],
);
