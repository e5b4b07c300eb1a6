import { defineAsset } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';

export const customers = defineAsset<PipelineConfig>({
  key: 'customers',
  group: 'ingest',
  description: 'every customer ever seen in a snapshot, with the attributes of its latest snapshot',
  deps: ['customer_snapshots'],
  retry: { attempts: 3, backoffMs: 2_000 },
  materialize: async (ctx) => {
    // Upsert, never delete: traffic keeps referring to customers that left the CRM.
    const upserted = await ctx.sql`
      insert into customers (customer_id, account_id, customer_name, segment, industry, country, created_date)
      select distinct on (customer_id) customer_id, account_id, customer_name, segment, industry, country, created_date
      from customer_snapshots
      order by customer_id, snapshot_month desc
      on conflict (customer_id) do update set account_id = excluded.account_id,
        customer_name = excluded.customer_name, segment = excluded.segment, industry = excluded.industry,
        country = excluded.country, created_date = excluded.created_date
      where (customers.account_id, customers.customer_name, customers.segment, customers.industry,
             customers.country, customers.created_date)
        is distinct from (excluded.account_id, excluded.customer_name, excluded.segment, excluded.industry,
             excluded.country, excluded.created_date)`;
    const [total] = await ctx.sql<{ n: number }[]>`select count(*)::int as n from customers`;
    return { rowCount: total?.n ?? 0, rowsChanged: upserted.count };
  },
});
