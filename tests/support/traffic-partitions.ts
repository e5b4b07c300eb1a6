import type { Sql, TransactionSql } from 'postgres';
import { monthPartition } from '../../assets/ingest/month-partition.ts';

/**
 * traffic has a partition per month, created by the ingest asset; tests that insert traffic rows
 * by hand create the months' partitions first (there is no default partition, on purpose).
 */
export async function createTrafficMonths(
  sql: Sql | TransactionSql,
  dates: readonly string[],
): Promise<void> {
  for (const month of new Set(dates.map((date) => date.slice(0, 7)))) {
    const partition = monthPartition('traffic', 'send_date', month);
    await sql.unsafe(
      `create table if not exists ${partition.partition} partition of traffic
         for values from ('${partition.from}') to ('${partition.to}')`,
    );
  }
}
