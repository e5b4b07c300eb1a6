import { defineAsset, type PartitionedCheck } from '../../engine/asset.ts';
import { daysInMonth, parseMonth } from '../../engine/months.ts';
import type { PipelineConfig } from '../config.ts';
import { emptyPartitionCheck } from './checks.ts';
import { loadByCopy } from './copy-load.ts';
import { landingFile } from './csv-file.ts';
import { monthlyLandingSource } from './landing-source.ts';
import { loadCsv } from './load.ts';
import { createLoadTable, indexLikeParent, monthPartition, swapIn } from './month-partition.ts';
import { dateInMonth, decimal, type ValueRule, wholeNumber } from './rules.ts';
import { repeatedKey } from './validate.ts';

const TRAFFIC_KEY = ['"send_date"', '"account_id"::int', '"customer_id"::int', '"channel_id"::int'];

/** References: known customer and channel, and the customer's own account. */
const knownReferences = `
  insert into {problems} (rec, col, reason)
  select g.rec, v.col, v.reason
  from {good} g
  left join customers c on c.customer_id = g.customer_id::int
  left join channels ch on ch.channel_id = g.channel_id::int
  cross join lateral (values
    ('customer_id', case when c.customer_id is null then 'unknown customer_id ' || g.customer_id end),
    ('channel_id', case when ch.channel_id is null then 'unknown channel_id ' || g.channel_id end),
    ('account_id', case when c.account_id <> g.account_id::int
      then 'account_id ' || g.account_id || ' is not the account of customer ' || g.customer_id || ' (' || c.account_id || ')' end)
  ) as v(col, reason)
  where v.reason is not null`;

/**
 * error: the month in the table is exactly the file. Audits the write against the file's own
 * figures, taken apart from the write: in Node as the bytes streamed (fast path), or from the
 * staged text (validated path: distinct rows, after quarantine). Compared exactly in SQL.
 */
export const reconciles: PartitionedCheck<PipelineConfig> = {
  name: 'reconciles_with_file',
  severity: 'error',
  description: 'row count and revenue of the month equal those of the file',
  run: async (ctx) => {
    const fileRows = Number(ctx.metadata.fileRows);
    const fileRevenue = String(ctx.metadata.fileRevenueEur);
    const [row] = await ctx.sql<{ rows: number; revenue: string; equal: boolean }[]>`
      select count(*)::int as rows, coalesce(sum(revenue_eur), 0)::text as revenue,
        count(*) = ${fileRows} and coalesce(sum(revenue_eur), 0) = ${fileRevenue}::numeric as equal
      from traffic where send_date between ${ctx.period} and ${ctx.asOf}`;
    const passed = row?.equal === true;
    return {
      passed,
      message: passed
        ? undefined
        : `file ${fileRows} rows / ${fileRevenue} EUR, table ${row?.rows} rows / ${row?.revenue} EUR`,
      metadata: { rows: row?.rows ?? 0, revenueEur: Number(row?.revenue ?? 0) },
    };
  },
};

/** warn: revenue far from interactions × the channel's unit price (a pricing or export problem). */
const revenueMatchesPrice: PartitionedCheck<PipelineConfig> = {
  name: 'revenue_matches_unit_price',
  severity: 'warn',
  description: 'revenue within ±25 % of interactions × unit price',
  run: async (ctx) => {
    const [row] = await ctx.sql<{ outliers: number }[]>`
      select count(*)::int as outliers from traffic t join channels c using (channel_id)
      where t.send_date between ${ctx.period} and ${ctx.asOf}
        and abs(t.revenue_eur - t.interactions_count * c.unit_price_eur) > 0.25 * t.interactions_count * c.unit_price_eur`;
    const outliers = row?.outliers ?? 0;
    return {
      passed: outliers === 0,
      message:
        outliers === 0
          ? undefined
          : `${outliers} rows with revenue outside ±25 % of interactions × unit price`,
      metadata: { outliers },
    };
  },
};

const COLUMNS = ['send_date', 'account_id', 'customer_id', 'channel_id', 'interactions_count', 'revenue_eur'];

function valueRules(month: string): Record<string, ValueRule> {
  return {
    send_date: dateInMonth('send_date', month, daysInMonth(parseMonth(month))),
    account_id: wholeNumber('account_id'),
    customer_id: wholeNumber('customer_id'),
    channel_id: wholeNumber('channel_id'),
    interactions_count: wholeNumber('interactions_count', 'negative count'),
    revenue_eur: decimal('revenue_eur', 2, 10, 'negative revenue'),
  };
}

/** The fast path's own check of what no constraint says: each row's account is its customer's. */
const accountsMatch = `select count(*) as bad from {load} t join customers c using (customer_id)
  where c.account_id <> t.account_id`;

export const traffic = defineAsset<PipelineConfig>({
  key: 'traffic',
  group: 'ingest',
  description: 'every messaging traffic row of the month, from traffic/YYYY-MM.csv',
  // Read only to check each row's channel and customer: a new customers snapshot or channel does
  // not change what a month of traffic holds.
  deps: [
    { asset: 'channels', validationOnly: true },
    { asset: 'customers', validationOnly: true },
  ],
  partitions: 'monthly',
  retry: { attempts: 3, backoffMs: 2_000 },
  checks: [reconciles, revenueMatchesPrice, emptyPartitionCheck('traffic', 'send_date')],
  source: monthlyLandingSource('traffic'),
  materialize: async (ctx) => {
    const partition = ctx.partition;
    const layout = {
      ...landingFile(ctx.config, `traffic/${partition}.csv`),
      onRead: ctx.recordSource,
      columns: COLUMNS,
      ignored: ['traffic_id'],
    };
    const month = monthPartition('traffic', 'send_date', partition);
    const rules = valueRules(partition);
    // A clean file goes straight in; anything else takes the validated path, which reports it.
    const copied = await loadByCopy(ctx, {
      ...layout,
      month,
      shapes: Object.fromEntries(Object.entries(rules).map(([column, rule]) => [column, rule.shape])),
      compared: COLUMNS,
      total: { column: 'revenue_eur', scale: 2 },
      verify: [accountsMatch],
    });
    if (copied) {
      const { fileTotal, ...metadata } = copied;
      return { ...metadata, fileRevenueEur: fileTotal };
    }
    const metadata = await loadCsv(ctx, {
      ...layout,
      valueRules: rules,
      rowChecks: [
        knownReferences,
        repeatedKey({
          key: TRAFFIC_KEY,
          column: 'row',
          what: 'same send_date, account_id, customer_id and channel_id with different values as',
          values: ['"interactions_count"::int', '"revenue_eur"::numeric'],
        }),
      ],
      write: async (tx, stage) => {
        await createLoadTable(tx, month);
        // Distinct: exact duplicate rows load once. Sorted like the unique key, for the index build.
        await tx.unsafe(`insert into ${month.load} (${COLUMNS.join(', ')})
          select distinct send_date::date, account_id::int, customer_id::int, channel_id::int,
            interactions_count::int, revenue_eur::numeric(12, 2)
          from ${stage} order by 1, 2, 3, 4`);
        await indexLikeParent(tx, month);
        await swapIn(tx, month, COLUMNS);
      },
      countLoaded: `select count(*)::int as n from ${month.partition}`,
    });
    // The file's figures, from the staged text rather than the rows the write built.
    const [file] = await ctx.sql<{ rows: number; revenue: string }[]>`
      select count(*)::int as rows, coalesce(sum(revenue_eur::numeric), 0)::text as revenue
      from (select distinct send_date, account_id::int, customer_id::int, channel_id::int,
        interactions_count::int, revenue_eur::numeric from stage_traffic) d`;
    return {
      ...metadata,
      path: 'validated',
      fileRows: file?.rows ?? 0,
      fileRevenueEur: file?.revenue ?? '0',
    };
  },
});
