import { defineAsset } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';
import { landingFile } from './csv-file.ts';
import { landingFileSource } from './landing-source.ts';
import { loadCsv } from './load.ts';
import { decimal, required, wholeNumber } from './rules.ts';
import { repeatedKey } from './validate.ts';

/** channel_name is unique in the table too: a name already held by another channel_id is refused. */
const nameTakenByAnotherChannel = `
  insert into {problems} (rec, col, reason)
  select g.rec, 'channel_name', 'channel_name ' || g.channel_name || ' belongs to channel_id ' || c.channel_id
  from {good} g join channels c on c.channel_name = g.channel_name and c.channel_id <> g.channel_id::int`;

export const channels = defineAsset<PipelineConfig>({
  key: 'channels',
  group: 'ingest',
  description: 'every messaging channel and its unit price, upserted from channels.csv',
  retry: { attempts: 3, backoffMs: 2_000 },
  source: landingFileSource('channels.csv'),
  materialize: async (ctx) => {
    const loaded = await loadCsv(ctx, {
      ...landingFile(ctx.config, 'channels.csv'),
      onRead: ctx.recordSource,
      columns: ['channel_id', 'channel_name', 'channel_type', 'unit_price_eur'],
      valueRules: {
        channel_id: wholeNumber('channel_id'),
        channel_name: required('channel_name', 100),
        channel_type: required('channel_type', 50),
        unit_price_eur: decimal('unit_price_eur', 4, 6, 'negative price'),
      },
      rowChecks: [
        repeatedKey({
          key: ['"channel_id"::int'],
          column: 'channel_id',
          what: 'duplicate channel_id, also on',
        }),
        repeatedKey({
          key: ['"channel_name"'],
          column: 'channel_name',
          what: 'duplicate channel_name, also on',
        }),
        nameTakenByAnotherChannel,
      ],
      // Upsert: channels missing from the file stay, since traffic refers to them.
      write: `insert into channels (channel_id, channel_name, channel_type, unit_price_eur)
        select channel_id::int, channel_name, channel_type, unit_price_eur::numeric from {stage}
        on conflict (channel_id) do update set channel_name = excluded.channel_name,
          channel_type = excluded.channel_type, unit_price_eur = excluded.unit_price_eur`,
      countLoaded: 'select count(*)::int as n from {stage}',
    });
    return loaded;
  },
});
