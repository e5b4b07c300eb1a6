import { type AssetCheck, defineAsset } from '../../engine/asset.ts';
import { daysInMonth, parseMonth } from '../../engine/months.ts';
import type { PipelineConfig } from '../config.ts';
import { emptyPartitionCheck } from './checks.ts';
import { landingFile } from './csv-file.ts';
import { loadCsv } from './load.ts';
import { dateInMonth, decimal, wholeNumber } from './rules.ts';
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
 * error: the month in the table is exactly the file. Audits the write: the file's figures come
 * straight from the staged text (distinct rows, after quarantine), not from the rows the write
 * built, and are compared exactly in SQL.
 */
export const reconciles: AssetCheck<PipelineConfig> = {
  name: 'reconciles_with_file',
  severity: 'error',
  description: 'row count and revenue of the month equal those of the file',
  run: async (ctx) => {
    const [row] = await ctx.sql<
      { fileRows: number; fileRevenue: string; rows: number; revenue: string; equal: boolean }[]
    >`
      with file as (
        select count(*)::int as rows, coalesce(sum(revenue_eur), 0) as revenue
        from (select distinct send_date, account_id::int, customer_id::int, channel_id::int,
                interactions_count::int, revenue_eur::numeric as revenue_eur from stage_traffic) d),
      month as (
        select count(*)::int as rows, coalesce(sum(revenue_eur), 0) as revenue
        from traffic where send_date between ${ctx.period as string} and ${ctx.asOf as string})
      select file.rows as "fileRows", file.revenue::text as "fileRevenue", month.rows, month.revenue::text as revenue,
        file.rows = month.rows and file.revenue = month.revenue as equal
      from file, month`;
    const passed = row?.equal === true;
    return {
      passed,
      message: passed
        ? undefined
        : `file ${row?.fileRows} rows / ${row?.fileRevenue} EUR, table ${row?.rows} rows / ${row?.revenue} EUR`,
      metadata: { rows: row?.rows ?? 0, revenueEur: Number(row?.revenue ?? 0) },
    };
  },
};

/** warn: revenue far from interactions × the channel's unit price (a pricing or export problem). */
const revenueMatchesPrice: AssetCheck<PipelineConfig> = {
  name: 'revenue_matches_unit_price',
  severity: 'warn',
  description: 'revenue within ±25 % of interactions × unit price',
  run: async (ctx) => {
    const [row] = await ctx.sql<{ outliers: number }[]>`
      select count(*)::int as outliers from traffic t join channels c using (channel_id)
      where t.send_date between ${ctx.period as string} and ${ctx.asOf as string}
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

export const traffic = defineAsset<PipelineConfig>({
  key: 'traffic',
  group: 'ingest',
  description: 'every messaging traffic row of the month, from traffic/YYYY-MM.csv',
  deps: ['channels', 'customers'],
  partitions: 'monthly',
  retry: { attempts: 3, backoffMs: 2_000 },
  checks: [reconciles, revenueMatchesPrice, emptyPartitionCheck('traffic', 'send_date')],
  materialize: async (ctx) => {
    const month = ctx.partition as string;
    return loadCsv(ctx, {
      ...landingFile(ctx.config.landingDir, `traffic/${month}.csv`),
      columns: ['send_date', 'account_id', 'customer_id', 'channel_id', 'interactions_count', 'revenue_eur'],
      ignored: ['traffic_id'],
      valueRules: {
        send_date: dateInMonth('send_date', month, daysInMonth(parseMonth(month))),
        account_id: wholeNumber('account_id'),
        customer_id: wholeNumber('customer_id'),
        channel_id: wholeNumber('channel_id'),
        interactions_count: wholeNumber('interactions_count', 'negative count'),
        revenue_eur: decimal('revenue_eur', 2, 10, 'negative revenue'),
      },
      rowChecks: [
        knownReferences,
        repeatedKey({
          key: TRAFFIC_KEY,
          column: 'row',
          what: 'same send_date, account_id, customer_id and channel_id with different values as',
          values: ['"interactions_count"::int', '"revenue_eur"::numeric'],
        }),
      ],
      // The month becomes exactly the file, as a merge: rows gone from the file are deleted, changed
      // ones updated, new ones inserted, and a re-run with the same file changes nothing at all.
      write: [
        `create temp table {stage}_rows on commit drop as
         select distinct send_date::date as send_date, account_id::int as account_id, customer_id::int as customer_id,
           channel_id::int as channel_id, interactions_count::int as interactions_count,
           revenue_eur::numeric(12, 2) as revenue_eur
         from {stage}`,
        `delete from traffic t where t.send_date between '${ctx.period}' and '${ctx.asOf}'
           and not exists (select 1 from {stage}_rows r where (r.send_date, r.account_id, r.customer_id, r.channel_id)
             = (t.send_date, t.account_id, t.customer_id, t.channel_id))`,
        `update traffic t set interactions_count = r.interactions_count, revenue_eur = r.revenue_eur
         from {stage}_rows r
         where (t.send_date, t.account_id, t.customer_id, t.channel_id) = (r.send_date, r.account_id, r.customer_id, r.channel_id)
           and (t.interactions_count, t.revenue_eur) is distinct from (r.interactions_count, r.revenue_eur)`,
        // A plain, sorted insert of the rows not there yet: cheaper per row than ON CONFLICT.
        `insert into traffic (send_date, account_id, customer_id, channel_id, interactions_count, revenue_eur)
         select * from {stage}_rows r
         where not exists (select 1 from traffic t where t.send_date between '${ctx.period}' and '${ctx.asOf}'
           and (t.send_date, t.account_id, t.customer_id, t.channel_id) = (r.send_date, r.account_id, r.customer_id, r.channel_id))
         order by 1, 2, 3, 4`,
      ],
      countLoaded: `select count(*)::int as n from traffic where send_date between '${ctx.period}' and '${ctx.asOf}'`,
    });
  },
});
