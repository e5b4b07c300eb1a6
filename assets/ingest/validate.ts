import { stringify } from 'csv-stringify/sync';
import type { TransactionSql } from 'postgres';
import { type Problem, rejectionError } from './problems.ts';
import type { ValueRule } from './rules.ts';
import type { StagedFile } from './stage.ts';

export type ValidationOptions = {
  file: string;
  asset: string;
  partition: string;
  runId: string;
  /** Bad rows that may be quarantined in rejected_rows instead of failing the load. */
  allowBadRows: number;
  /** column → its rule (see rules.ts). */
  valueRules: Record<string, ValueRule>;
  /**
   * Row-level checks that need the values to be well-formed (references, duplicates): SQL
   * statements that insert (rec, col, reason) into {problems}, reading {stage}; they only see
   * records with no value problems through the view {good}.
   */
  rowChecks?: string[];
};

export type ValidationResult = { rejectedRows: number };

/**
 * Validates a staged file set-based: one scan for every value rule, then the row checks. Problems
 * go to a temporary table; more bad rows than allowed reject the load with the first 20 problems
 * and the total, fewer are quarantined in rejected_rows and removed from the stage.
 */
export async function validateStaged(
  tx: TransactionSql,
  staged: StagedFile,
  options: ValidationOptions,
): Promise<ValidationResult> {
  const stage = staged.table;
  const problems = `${stage}_problems`;
  const good = `${stage}_good`;
  const fill = (statement: string) =>
    statement.replaceAll('{stage}', stage).replaceAll('{problems}', problems).replaceAll('{good}', good);

  await tx.unsafe(
    `create temp table ${problems} (rec bigint not null, col text not null, reason text not null) on commit drop`,
  );
  // Every field had its shape in the stream: no value rule can fail, skip the scan.
  if (!staged.allOnShape) {
    const rules = Object.entries(options.valueRules);
    const reasons = rules.map(([column, rule]) => `('${column}', ${rule.reason})`).join(',\n');
    // One regex per row for the common case; the detailed reasons only for rows that fail it.
    const row = `concat_ws(chr(31), ${rules.map(([column]) => `coalesce("${column}", '')`).join(', ')})`;
    const pattern = `^${rules.map(([, rule]) => rule.valid).join('\\x1f')}$`;
    const alsoValid = rules.map(([, rule]) => (rule.alsoValid ? ` and ${rule.alsoValid}` : '')).join('');
    await tx.unsafe(
      fill(`insert into {problems} (rec, col, reason)
      select s.rec, v.col, v.reason
      from (select * from {stage} where not (${row} ~ '${pattern}'${alsoValid}) offset 0) s
      cross join lateral (values ${reasons}) as v(col, reason)
      where v.reason is not null`),
    );
  }
  await tx.unsafe(
    // offset 0 keeps the view from being flattened, so rows with bad values are filtered out
    // before any row check casts them (a join could otherwise cast first and fail the query).
    // Row checks run in order and each sees only rows no earlier check has flagged.
    fill(`create temp view {good} as
    select * from {stage} s where not exists (select 1 from {problems} p where p.rec = s.rec) offset 0`),
  );
  for (const check of options.rowChecks ?? []) await tx.unsafe(fill(check));

  // The partition's quarantine reflects its latest load only.
  await tx`delete from rejected_rows where asset = ${options.asset} and partition = ${options.partition}`;
  const [summary] = await tx.unsafe<{ total: number; rows: number }[]>(
    `select count(*)::int as total, count(distinct rec)::int as rows from ${problems}`,
  );
  if (!summary || summary.total === 0) {
    await tx.unsafe(`drop view ${good}`);
    return { rejectedRows: 0 };
  }
  if (summary.rows > options.allowBadRows) {
    const first = await tx.unsafe<{ rec: string; col: string; reason: string }[]>(
      `select rec, col, reason from ${problems} order by rec, col limit 20`,
    );
    const located: Problem[] = first.map((p) => ({
      line: staged.lineOf(Number(p.rec)),
      column: p.col,
      reason: withLines(p.reason, staged),
    }));
    throw rejectionError(options.file, located, summary.total);
  }
  await quarantine(tx, staged, problems, options);
  await tx.unsafe(`drop view ${good}`);
  await tx.unsafe(`delete from ${stage} s using ${problems} p where p.rec = s.rec`);
  return { rejectedRows: summary.rows };
}

/** Writes each bad row (its line, all its reasons and its fields as CSV) to rejected_rows. */
async function quarantine(
  tx: TransactionSql,
  staged: StagedFile,
  problems: string,
  options: ValidationOptions,
) {
  const columns = staged.header.columns;
  const rows = await tx.unsafe<Record<string, string | null>[]>(
    `select s.*, (select string_agg(p.col || ': ' || p.reason, '; ' order by p.col) from ${problems} p
       where p.rec = s.rec) as reasons
     from ${staged.table} s where s.rec in (select rec from ${problems}) order by s.rec`,
  );
  if (rows.length === 0) return;
  const records = rows.map((row) => ({
    run_id: options.runId,
    asset: options.asset,
    partition: options.partition,
    file: options.file,
    line: staged.lineOf(Number(row.rec)),
    reason: withLines(row.reasons ?? '', staged),
    raw: stringify([columns.map((column) => row[column] ?? '')], { record_delimiter: '' }),
  }));
  // In batches: one statement takes at most 65 534 parameters (7 per row here).
  for (let start = 0; start < records.length; start += QUARANTINE_BATCH) {
    await tx`insert into rejected_rows ${tx(records.slice(start, start + QUARANTINE_BATCH))}`;
  }
}

const QUARANTINE_BATCH = 5_000;

/** Row checks name other records as {record:N}; readers want line numbers. */
function withLines(reason: string, staged: StagedFile): string {
  return reason.replace(/\{record:(\d+)\}/g, (_, record: string) => `line ${staged.lineOf(Number(record))}`);
}

/**
 * A row check: records whose `key` expressions repeat (compare cast values: '01' is 1). With
 * `values`, only groups that disagree on them are problems; identical rows are duplicates to
 * collapse, not errors. Each record names another record of its group.
 */
export function repeatedKey(options: {
  key: string[];
  column: string;
  what: string;
  values?: string[];
}): string {
  const keys = options.key.map((expression, i) => `${expression} as k${i}`).join(', ');
  const groupBy = options.key.map((_, i) => `k${i}`).join(', ');
  // Key expressions name columns in double quotes; qualify them for the join.
  const joinOn = options.key
    .map((expression, i) => `${expression.replace(/"(\w+)"/g, 'g."$1"')} = k.k${i}`)
    .join(' and ');
  // Values disagree when any of them has two different values in the group. (min <> max keeps
  // the aggregate hashable; count(distinct …) would sort every row.)
  const disagree = options.values
    ? `and (${options.values.map((value) => `min(${value}) <> max(${value})`).join(' or ')})`
    : '';
  const otherRecord = `(select min(o.rec) from {good} o
      where ${joinOn.replaceAll('g."', 'o."')} and o.rec > k.first)`;
  // Only groups that repeat are joined back; the other record is looked up for those alone.
  return `insert into {problems} (rec, col, reason)
    select g.rec, '${options.column}',
      '${options.what} {record:' || case when g.rec = k.first then ${otherRecord} else k.first end || '}'
    from {good} g join (
      select ${groupBy}, min(rec) as first
      from (select ${keys}, r.* from {good} r) keyed
      group by ${groupBy} having count(*) > 1 ${disagree}
    ) k on ${joinOn}`;
}
