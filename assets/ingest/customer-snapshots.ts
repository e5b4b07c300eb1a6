import { defineAsset } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';
import { emptyPartitionCheck } from './checks.ts';
import { landingFile } from './csv-file.ts';
import { monthlyLandingSource } from './landing-source.ts';
import { loadCsv } from './load.ts';
import { date, required, wholeNumber } from './rules.ts';
import { repeatedKey } from './validate.ts';

/**
 * An account stays with its customer, compared with every other loaded snapshot: two equi-joins
 * (hash joins) rather than one join on an OR, which Postgres can only run as a nested loop.
 */
const accountsStayPut = (month: string) => [
  `insert into {problems} (rec, col, reason)
   select distinct on (g.rec) g.rec, 'account_id',
     'account_id ' || g.account_id || ' belongs to customer ' || o.customer_id || ' in the '
       || to_char(o.snapshot_month, 'YYYY-MM') || ' snapshot'
   from {good} g join customer_snapshots o on o.account_id = g.account_id::int
   where o.customer_id <> g.customer_id::int and o.snapshot_month <> '${month}-01'
   order by g.rec, o.snapshot_month`,
  `insert into {problems} (rec, col, reason)
   select distinct on (g.rec) g.rec, 'account_id',
     'customer ' || g.customer_id || ' had account_id ' || o.account_id || ' in the '
       || to_char(o.snapshot_month, 'YYYY-MM') || ' snapshot'
   from {good} g join customer_snapshots o on o.customer_id = g.customer_id::int
   where o.account_id <> g.account_id::int and o.snapshot_month <> '${month}-01'
     and not exists (select 1 from {problems} p where p.rec = g.rec and p.col = 'account_id')
   order by g.rec, o.snapshot_month`,
];

export const customerSnapshots = defineAsset<PipelineConfig>({
  key: 'customer_snapshots',
  group: 'ingest',
  description: "the CRM's customer snapshot at the end of each month, from customers/YYYY-MM.csv",
  partitions: 'monthly',
  retry: { attempts: 3, backoffMs: 2_000 },
  checks: [emptyPartitionCheck('customer_snapshots', 'snapshot_month')],
  source: monthlyLandingSource('customers'),
  materialize: async (ctx) => {
    const month = ctx.partition;
    // The account check compares with the other snapshots: two months loading at once would not
    // see each other's rows, so snapshot loads take turns (they are small).
    await ctx.sql`select pg_advisory_xact_lock(hashtext('pipeline.customer_snapshots.accounts'))`;
    return loadCsv(ctx, {
      ...landingFile(ctx.config, `customers/${month}.csv`),
      onRead: ctx.recordSource,
      columns: [
        'customer_id',
        'account_id',
        'customer_name',
        'segment',
        'industry',
        'country',
        'created_date',
      ],
      valueRules: {
        customer_id: wholeNumber('customer_id'),
        account_id: wholeNumber('account_id'),
        customer_name: required('customer_name', 255),
        segment: required('segment', 50),
        industry: required('industry', 100),
        country: required('country', 100),
        created_date: date('created_date'),
      },
      rowChecks: [
        repeatedKey({
          key: ['"customer_id"::int'],
          column: 'customer_id',
          what: 'duplicate customer_id, also on',
        }),
        repeatedKey({
          key: ['"account_id"::int'],
          column: 'account_id',
          what: 'duplicate account_id, also on',
        }),
        ...accountsStayPut(month),
      ],
      write: [
        `delete from customer_snapshots where snapshot_month = '${ctx.period}'`,
        `insert into customer_snapshots (snapshot_month, customer_id, account_id, customer_name, segment, industry,
           country, created_date)
         select '${ctx.period}', customer_id::int, account_id::int, customer_name, segment, industry, country,
           created_date::date
         from {stage} order by customer_id::int`,
      ],
      countLoaded: `select count(*)::int as n from customer_snapshots where snapshot_month = '${ctx.period}'`,
    });
  },
});
