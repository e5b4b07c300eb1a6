import type { TransactionSql } from 'postgres';
import { firstDay, monthKey, parseMonth } from '../../engine/months.ts';

/**
 * One month of a table partitioned by range on a date column (see drizzle/0002): the month is
 * built in a fresh table, indexed in bulk and attached in place of the old partition, which is
 * several times faster than inserting into the indexed table and checks the FKs in one pass.
 */
export type MonthPartition = {
  parent: string;
  /** The date column the parent is partitioned on. */
  column: string;
  /** YYYY-MM-01 of the month and of the month after (the range bounds). */
  from: string;
  to: string;
  /** traffic_2026_10: the month's partition. */
  partition: string;
  /** The table the month is built in before it is attached. */
  load: string;
};

export type SwapOutcome = 'added' | 'replaced' | 'unchanged';

export function monthPartition(parent: string, column: string, month: string): MonthPartition {
  const index = parseMonth(month);
  const partition = `${parent}_${monthKey(index).replace('-', '_')}`;
  return {
    parent,
    column,
    from: firstDay(index),
    to: firstDay(index + 1),
    partition,
    load: `${partition}_load`,
  };
}

/**
 * An empty table shaped like the parent (columns, defaults, CHECK constraints), for the month. Its
 * own bound check (cheap per row) lets ATTACH skip scanning it for the partition constraint.
 */
export async function createLoadTable(tx: TransactionSql, month: MonthPartition): Promise<void> {
  await tx.unsafe(`drop table if exists ${month.load}`);
  await tx.unsafe(
    `create table ${month.load} (like ${month.parent} including defaults including constraints)`,
  );
  await tx.unsafe(
    `alter table ${month.load} add constraint ${month.load}_bound
       check (${month.column} >= '${month.from}' and ${month.column} < '${month.to}')`,
  );
}

/**
 * Builds every index of the parent on the load table in bulk, unique ones first, so that ATTACH
 * adopts them instead of building them again. An index behind a primary key or unique constraint
 * is only adopted by one behind the same kind of constraint, so those become constraints too. A
 * repeated key fails here, with SQLSTATE 23505.
 */
export async function indexLikeParent(tx: TransactionSql, month: MonthPartition): Promise<void> {
  const indexes = await tx<{ name: string; definition: string; constraint: 'p' | 'u' | null }[]>`
    select ic.relname as name, pg_get_indexdef(i.indexrelid) as definition, c.contype as constraint
    from pg_index i join pg_class ic on ic.oid = i.indexrelid
    left join pg_constraint c on c.conindid = i.indexrelid and c.conrelid = i.indrelid
    where i.indrelid = ${month.parent}::regclass
    order by i.indisunique desc, ic.relname`;
  for (const index of indexes) {
    const name = `${month.load}_${index.name}`;
    const onLoadTable = index.definition.replace(
      /^CREATE (UNIQUE )?INDEX \S+ ON ONLY \S+ /,
      (_, unique: string | undefined) => `CREATE ${unique ?? ''}INDEX ${name} ON ${month.load} `,
    );
    if (onLoadTable === index.definition) throw new Error(`cannot rebuild index: ${index.definition}`);
    await tx.unsafe(onLoadTable);
    if (index.constraint) {
      const kind = index.constraint === 'p' ? 'primary key' : 'unique';
      await tx.unsafe(`alter table ${month.load} add constraint ${name} ${kind} using index ${name}`);
    }
  }
}

/**
 * Makes the load table the month's partition. When the month already holds exactly the same
 * rows (every column but `ignore`, e.g. a generated id), nothing changes and the load table is
 * dropped: a re-run with the same file leaves the table as it was. FKs are checked by ATTACH, in
 * one set-based pass; the bound check the load table carries spares it a scan for the range.
 */
export async function swapIn(
  tx: TransactionSql,
  month: MonthPartition,
  compared: readonly string[],
): Promise<SwapOutcome> {
  const [found] = await tx<{ exists: boolean }[]>`
    select exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = ${month.parent}::regclass and c.relname = ${month.partition}) as exists`;
  if (found?.exists) {
    if (await sameRows(tx, month, compared)) {
      await tx.unsafe(`drop table ${month.load}`);
      return 'unchanged';
    }
    await tx.unsafe(`alter table ${month.parent} detach partition ${month.partition}`);
    await tx.unsafe(`drop table ${month.partition}`);
  }
  await tx.unsafe(
    `alter table ${month.parent} attach partition ${month.load} for values from ('${month.from}') to ('${month.to}')`,
  );
  await tx.unsafe(`alter table ${month.load} drop constraint ${month.load}_bound`);
  await tx.unsafe(`alter table ${month.load} rename to ${month.partition}`);
  await renameIndexes(tx, month);
  // Fresh statistics: the checks and every query of the month plan with real row counts.
  await tx.unsafe(`analyze ${month.partition}`);
  return found?.exists ? 'replaced' : 'added';
}

async function sameRows(tx: TransactionSql, month: MonthPartition, compared: readonly string[]) {
  const columns = compared.join(', ');
  // Both sides are sets (a unique key holds on each), so equal counts and one side contained in
  // the other mean equal.
  const [row] = await tx.unsafe<{ same: boolean }[]>(
    `select (select count(*) from ${month.load}) = (select count(*) from ${month.partition})
       and not exists (select ${columns} from ${month.load} except select ${columns} from ${month.partition}) as same`,
  );
  return row?.same === true;
}

/** traffic_2026_10_load_uk_traffic_unique → traffic_2026_10_uk_traffic_unique, once attached. */
async function renameIndexes(tx: TransactionSql, month: MonthPartition): Promise<void> {
  const indexes = await tx<{ name: string }[]>`
    select ic.relname as name from pg_index i join pg_class ic on ic.oid = i.indexrelid
    where i.indrelid = ${month.partition}::regclass and starts_with(ic.relname, ${`${month.load}_`})`;
  for (const { name } of indexes) {
    const renamed = `${month.partition}_${name.slice(month.load.length + 1)}`;
    await tx.unsafe(`alter index ${name} rename to ${renamed}`);
  }
}
