import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionKeys } from '../../engine/plan.ts';
import { runCli } from '../support/cli.ts';
import { hashTree, type LandingZone, readCsv, readLandingZone, type TrafficRow } from '../support/landing.ts';

const scratch = mkdtempSync(join(tmpdir(), 'pipeline-generate-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const SMALL = ['--customers', '150', '--months', '14', '--end', '2026-10'];
const MONTHS_2025_09_TO_2026_10 = partitionKeys('2025-09', '2026-10');

async function generate(out: string, args: string[] = SMALL) {
  const result = await runCli(['generate', '--out', out, ...args]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result;
}

describe('pipeline generate: determinism and layout', () => {
  it('writes byte-identical files for the same arguments, different ones for another seed', async () => {
    await generate(join(scratch, 'a'));
    await generate(join(scratch, 'b'));
    await generate(join(scratch, 'c'), [...SMALL, '--seed', '7']);
    const a = hashTree(join(scratch, 'a'));
    expect(Object.keys(a)).toHaveLength(1 + 2 * 14);
    expect(hashTree(join(scratch, 'b'))).toEqual(a);
    const c = hashTree(join(scratch, 'c'));
    expect(c['traffic/2026-10.csv']).not.toBe(a['traffic/2026-10.csv']);
    expect(c['channels.csv']).toBe(a['channels.csv']);
  });

  it('lays out the landing zone: channels.csv, customers/ and traffic/ per month, with the contract headers', () => {
    const dir = join(scratch, 'a');
    expect(readdirSync(dir).sort()).toEqual(['channels.csv', 'customers', 'traffic']);
    const files = MONTHS_2025_09_TO_2026_10.map((m) => `${m}.csv`);
    expect(readdirSync(join(dir, 'customers')).sort()).toEqual(files);
    expect(readdirSync(join(dir, 'traffic')).sort()).toEqual(files);
    expect(readCsv(join(dir, 'channels.csv')).header).toEqual([
      'channel_id',
      'channel_name',
      'channel_type',
      'unit_price_eur',
    ]);
    expect(readCsv(join(dir, 'customers', '2026-10.csv')).header).toEqual([
      'customer_id',
      'account_id',
      'customer_name',
      'segment',
      'industry',
      'country',
      'created_date',
    ]);
    expect(readCsv(join(dir, 'traffic', '2026-10.csv')).header).toEqual([
      'send_date',
      'account_id',
      'customer_id',
      'channel_id',
      'interactions_count',
      'revenue_eur',
    ]);
  });

  it("writes the seed's eight channels and prices", () => {
    const { rows } = readCsv(join(scratch, 'a', 'channels.csv'));
    expect(rows.map((r) => [r.channel_name, Number(r.unit_price_eur)])).toEqual([
      ['SMS', 0.05],
      ['Email', 0.01],
      ['Push Notification', 0.02],
      ['Voice Call', 0.15],
      ['WhatsApp', 0.08],
      ['Viber', 0.06],
      ['Telegram', 0.04],
      ['Facebook Messenger', 0.07],
    ]);
  });

  it('prints one summary line and nothing else when not on a terminal', async () => {
    const result = await generate(join(scratch, 'summary'), [
      '--customers',
      '20',
      '--months',
      '2',
      '--end',
      '2026-10',
    ]);
    expect(result.stdout).toMatch(
      /^wrote 5 files, [\d,]+ rows \([\d,]+ traffic\), [\d.]+ MB in [\d.]+ s \(peak RSS \d+ MB\) to .*summary\n$/,
    );
  });
});

/**
 * Every loading rule of docs/contract.md §9, checked independently of the loader; returns the
 * violations found.
 */
function loadingRuleViolations(zone: LandingZone): string[] {
  const problems: string[] = [];
  const fail = (message: string) => {
    if (problems.length < 20) problems.push(message);
  };
  const prices = new Map<string, number>();
  const channelNames = new Set<string>();
  for (const channel of zone.channels) {
    if (prices.has(channel.channel_id)) fail(`duplicate channel_id ${channel.channel_id}`);
    if (channelNames.has(channel.channel_name)) fail(`duplicate channel_name ${channel.channel_name}`);
    const price = Number(channel.unit_price_eur);
    if (!(price >= 0)) fail(`bad unit_price_eur ${channel.unit_price_eur}`);
    prices.set(channel.channel_id, price);
    channelNames.add(channel.channel_name);
  }
  const accountOwner = new Map<string, string>(); // account_id → customer_id, across all snapshots
  for (const [month, snapshot] of zone.snapshots) {
    const accountOf = new Map<string, string>();
    const accounts = new Set<string>();
    for (const c of snapshot) {
      const where = `customers/${month} ${c.customer_id}`;
      if (Object.values(c).some((value) => value === '')) fail(`${where}: empty field`);
      if (!/^\d+$/.test(c.customer_id) || !/^\d+$/.test(c.account_id)) fail(`${where}: bad id`);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(c.created_date) || c.created_date.slice(0, 7) > month) {
        fail(`${where}: bad created_date ${c.created_date}`);
      }
      if (accountOf.has(c.customer_id)) fail(`${where}: duplicate customer_id`);
      if (accounts.has(c.account_id)) fail(`${where}: duplicate account_id`);
      const owner = accountOwner.get(c.account_id);
      if (owner !== undefined && owner !== c.customer_id) fail(`${where}: account ${c.account_id} moved`);
      accountOf.set(c.customer_id, c.account_id);
      accounts.add(c.account_id);
      accountOwner.set(c.account_id, c.customer_id);
    }
    const keys = new Set<string>();
    for (const t of zone.traffic.get(month) ?? []) {
      const where = `traffic/${month} ${t.send_date} ${t.customer_id} ${t.channel_id}`;
      if (t.send_date.slice(0, 7) !== month || Number.isNaN(Date.parse(t.send_date)))
        fail(`${where}: bad send_date`);
      if (accountOf.get(t.customer_id) !== t.account_id) fail(`${where}: unknown customer or wrong account`);
      const price = prices.get(t.channel_id);
      if (price === undefined) fail(`${where}: unknown channel`);
      if (!/^\d+$/.test(t.interactions_count)) fail(`${where}: bad interactions_count`);
      if (!/^\d+\.\d{2}$/.test(t.revenue_eur)) fail(`${where}: bad revenue_eur ${t.revenue_eur}`);
      const key = `${t.send_date}|${t.account_id}|${t.customer_id}|${t.channel_id}`;
      if (keys.has(key)) fail(`${where}: duplicate key`);
      keys.add(key);
      // The traffic asset warns outside ±25 % of interactions × unit price; generated data stays inside.
      const expected = Number(t.interactions_count) * (price ?? 0);
      if (Math.abs(Number(t.revenue_eur) - expected) > 0.25 * expected) fail(`${where}: revenue outlier`);
    }
  }
  return problems;
}

describe('pipeline generate: realism with the defaults', () => {
  const dir = join(scratch, 'defaults');
  let zone: LandingZone;
  beforeAll(async () => {
    await generate(dir, ['--end', '2026-10']);
    zone = readLandingZone(dir);
  }, 120_000);

  it('passes every loading rule of the contract', () => {
    expect(zone.snapshots.size).toBe(24);
    expect(loadingRuleViolations(zone)).toEqual([]);
  });

  it('(the rule checker itself catches broken rows)', () => {
    const october = zone.traffic.get('2026-10') ?? [];
    const [first] = october;
    if (!first) throw new Error('no traffic in 2026-10');
    const broken: LandingZone = {
      ...zone,
      traffic: new Map([
        [
          '2026-10',
          [...october, { ...first }, { ...first, channel_id: '99', account_id: '1', revenue_eur: '1.005' }],
        ],
      ]),
    };
    const problems = loadingRuleViolations(broken).join('\n');
    expect(problems).toContain('duplicate key');
    expect(problems).toContain('unknown customer or wrong account');
    expect(problems).toContain('unknown channel');
    expect(problems).toContain('bad revenue_eur 1.005');
  });

  it('keeps account ids unique and stable, and lets customers join over the months', () => {
    const accountOf = new Map<string, string>();
    for (const snapshot of zone.snapshots.values()) {
      for (const c of snapshot) {
        expect(accountOf.get(c.customer_id) ?? c.account_id).toBe(c.account_id);
        accountOf.set(c.customer_id, c.account_id);
      }
    }
    expect(new Set(accountOf.values()).size).toBe(accountOf.size);
    const sizes = [...zone.snapshots.values()].map((s) => s.length);
    expect(sizes[0]).toBeLessThan(sizes[sizes.length - 1] ?? 0);
    expect(accountOf.size).toBeGreaterThan(Math.max(...sizes)); // some churned: ever-seen exceeds any snapshot
  });

  it('changes the segment of about 1 % of customers per month', () => {
    const months = [...zone.snapshots.keys()];
    let changes = 0;
    let exposures = 0;
    for (let i = 1; i < months.length; i++) {
      const before = new Map(
        (zone.snapshots.get(months[i - 1] ?? '') ?? []).map((c) => [c.customer_id, c.segment]),
      );
      for (const c of zone.snapshots.get(months[i] ?? '') ?? []) {
        const previous = before.get(c.customer_id);
        if (previous === undefined) continue;
        exposures++;
        if (previous !== c.segment) changes++;
      }
    }
    expect(changes / exposures).toBeGreaterThan(0.005);
    expect(changes / exposures).toBeLessThan(0.02);
  });

  it('covers the four segments, ten industries and several countries', () => {
    const latest = zone.snapshots.get('2026-10') ?? [];
    expect(new Set(latest.map((c) => c.segment))).toEqual(
      new Set(['Enterprise', 'Mid-Market', 'SMB', 'Startup']),
    );
    expect(new Set(latest.map((c) => c.industry)).size).toBe(10);
    expect(new Set(latest.map((c) => c.country)).size).toBeGreaterThanOrEqual(8);
  });

  it('writes names with commas, quotes and non-ASCII letters that parse back intact', () => {
    const names = [...zone.snapshots.values()].flat().map((c) => c.customer_name);
    expect(names.some((n) => n.includes(','))).toBe(true);
    expect(names.some((n) => n.includes('"'))).toBe(true);
    expect(names.some((n) => /[^ -~]/.test(n))).toBe(true); // outside printable ASCII
    const raw = readFileSync(join(dir, 'customers', '2026-10.csv'), 'utf8');
    const quoted = (zone.snapshots.get('2026-10') ?? []).find((c) => c.customer_name.includes('"'));
    if (quoted) expect(raw).toContain(`"${quoted.customer_name.replaceAll('"', '""')}"`);
  });

  it('scales volume by segment and makes Q5 select a real subset of the top 10 %', () => {
    const window = [...zone.snapshots.keys()].slice(-12);
    const latest = zone.snapshots.get('2026-10') ?? [];
    const revenue = new Map<string, number>();
    const activeMonths = new Map<string, Set<string>>();
    for (const month of window) {
      for (const t of zone.traffic.get(month) ?? []) {
        revenue.set(t.customer_id, (revenue.get(t.customer_id) ?? 0) + Number(t.revenue_eur));
        if (!activeMonths.has(t.customer_id)) activeMonths.set(t.customer_id, new Set());
        activeMonths.get(t.customer_id)?.add(month);
      }
    }
    const meanBySegment = (segment: string) => {
      const members = latest.filter((c) => c.segment === segment);
      return members.reduce((sum, c) => sum + (revenue.get(c.customer_id) ?? 0), 0) / members.length;
    };
    expect(meanBySegment('Enterprise')).toBeGreaterThan(20 * meanBySegment('Startup'));
    expect(meanBySegment('Mid-Market')).toBeGreaterThan(meanBySegment('SMB'));

    const ranked = [...latest].sort(
      (a, b) =>
        (revenue.get(b.customer_id) ?? 0) - (revenue.get(a.customer_id) ?? 0) ||
        Number(a.customer_id) - Number(b.customer_id),
    );
    const top = ranked.slice(0, Math.ceil(0.1 * latest.length));
    const consistent = top.filter((c) => activeMonths.get(c.customer_id)?.size === 12);
    expect(consistent.length).toBeGreaterThan(0);
    expect(consistent.length).toBeLessThan(top.length);
  });

  it('has seasonality: December above August of the same year', () => {
    const total = (rows: TrafficRow[]) => rows.reduce((sum, t) => sum + Number(t.revenue_eur), 0);
    expect(total(zone.traffic.get('2025-12') ?? [])).toBeGreaterThan(
      total(zone.traffic.get('2025-08') ?? []),
    );
  });
});

describe('pipeline generate: bad flags and output folders', () => {
  for (const [flags, message] of [
    [['--months', '0'], "--months must be a whole number from 1 to 600, got '0'"],
    [['--end', '2026-13'], "--end '2026-13' is not a month"],
    [['--customers', 'many'], '--customers must be a whole number'],
  ] as const) {
    it(`rejects ${flags.join(' ')} with exit 2 and writes nothing`, async () => {
      const out = join(scratch, `bad-${flags[0].slice(2)}`);
      const result = await runCli(['generate', '--out', out, ...flags]);
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toContain(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(scratch).filter((e) => e.includes('partial'))).toEqual([]);
    });
  }

  it('rejects an unwritable --out with exit 2', async () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'not a folder');
    const result = await runCli(['generate', '--out', join(file, 'landing'), ...SMALL]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--out .*a-file\/landing is not writable \(ENOTDIR\)/);
  });

  it('refuses to replace a folder that is not a landing zone, and replaces an earlier drop', async () => {
    const project = join(scratch, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'notes.txt'), 'keep me');
    const refused = await runCli(['generate', '--out', project, ...SMALL]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('is not empty and not a landing zone');
    expect(readFileSync(join(project, 'notes.txt'), 'utf8')).toBe('keep me');

    const drop = join(scratch, 'replaced');
    await generate(drop, ['--customers', '30', '--months', '3', '--end', '2026-10']);
    await generate(drop, ['--customers', '30', '--months', '2', '--end', '2026-10']);
    expect(readdirSync(join(drop, 'traffic')).sort()).toEqual(['2026-09.csv', '2026-10.csv']);
  });

  it('leaves nothing behind when interrupted', async () => {
    const out = join(scratch, 'interrupted');
    // Interrupted once it is writing (its staging folder exists), however slowly it started.
    const run = runCli(['generate', '--out', out, '--customers', '30000', '--months', '24'], {
      interruptWhen: () => readdirSync(scratch).some((entry) => entry.includes('partial')),
    });
    const result = await run;
    expect(result.code).toBe(130);
    expect(result.stderr).toContain('generate interrupted: nothing was written');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(scratch).filter((e) => e.includes('partial'))).toEqual([]);
  });
});
