import type { Faker } from '@faker-js/faker';
// Per-locale entry points: the package root loads every locale (~45 MB of heap for nothing).
import { faker as de } from '@faker-js/faker/locale/de';
import { faker as en_GB } from '@faker-js/faker/locale/en_GB';
import { faker as en_IN } from '@faker-js/faker/locale/en_IN';
import { faker as en_US } from '@faker-js/faker/locale/en_US';
import { faker as es } from '@faker-js/faker/locale/es';
import { faker as fr } from '@faker-js/faker/locale/fr';
import { faker as hr } from '@faker-js/faker/locale/hr';
import { faker as it } from '@faker-js/faker/locale/it';
import { faker as pl } from '@faker-js/faker/locale/pl';
import { faker as pt_BR } from '@faker-js/faker/locale/pt_BR';
import { faker as sv } from '@faker-js/faker/locale/sv';
import { daysInMonth, type Month, monthKey } from '../engine/months.ts';
import {
  CHANNEL_POPULARITY,
  CHANNELS,
  COUNTRIES,
  INDUSTRY_WEIGHTS,
  SEGMENT_MOVES,
  SEGMENT_PROFILES,
  SEGMENTS,
  type Segment,
  WORLD,
} from './catalog.ts';
import { Random } from './random.ts';

/** One customer and everything that decides its traffic. Attributes change month by month. */
export type Customer = {
  customerId: number;
  accountId: number;
  name: string;
  segment: Segment;
  industry: string;
  country: string;
  createdDate: string;
  /** First month it appears in a snapshot, and the first month it no longer does. */
  joinMonth: Month;
  churnMonth: Month;
  /** Day of the join month from which it sends traffic (1 for customers that existed before). */
  firstActiveDay: number;
  /** Log-normal size relative to its segment's median. */
  sizeFactor: number;
  /** Indexes into CHANNELS, ascending, and the share of its traffic each one carries. */
  channels: number[];
  channelShares: number[];
  /** Probability of sending nothing at all in a month. */
  skipProbability: number;
};

const FAKERS: Record<string, Faker> = { de, es, fr, hr, it, pl, pt_BR, sv, en_GB, en_IN, en_US };
const TRADE_NAMES = ['Nova', 'Orbit', 'Pulse', 'Zenith', 'Atlas', 'Blue Sky', 'Nordlicht', 'Sol'];

/** Company names from faker in the customer's country's language (so non-ASCII letters appear). */
class NameSource {
  private readonly seeded = new Set<string>();

  constructor(
    private readonly seed: number,
    private readonly random: Random,
  ) {}

  next(locale: string): string {
    const faker = FAKERS[locale];
    if (!faker) throw new Error(`no faker locale ${locale}`);
    if (!this.seeded.has(locale)) {
      // Seeded on first use, in a deterministic order, so names depend only on --seed.
      faker.seed(this.seed + this.seeded.size);
      this.seeded.add(locale);
    }
    const name = faker.company.name();
    // Real CRM names carry quotes and angle brackets too; loaders and pages must cope.
    if (this.random.chance(0.03)) return `${name} "${this.random.pick(TRADE_NAMES)}"`;
    if (this.random.chance(0.01)) return `${name} <${locale.slice(-2).toUpperCase()}>`;
    return name;
  }
}

/**
 * The simulated CRM: a fixed population of customers that join, churn, change segment and get
 * renamed over the generated months. Deterministic for a given seed.
 */
export class CustomerWorld {
  readonly customers: Customer[];
  private readonly random: Random;
  private readonly names: NameSource;
  private advancedTo: Month;

  constructor(options: { customers: number; firstMonth: Month; lastMonth: Month; seed: number }) {
    this.random = new Random(options.seed, 1);
    this.names = new NameSource(options.seed, this.random);
    this.customers = createPopulation(options, this.random, this.names);
    this.advancedTo = options.firstMonth;
  }

  /** Customers in the month's snapshot, in customer_id order, after applying the month's changes. */
  snapshot(month: Month): Customer[] {
    if (month < this.advancedTo) throw new Error('months must be generated in order');
    while (this.advancedTo < month) {
      this.advancedTo++;
      this.applyMonthlyChanges(this.advancedTo);
    }
    return this.customers.filter((customer) => customer.joinMonth <= month && month < customer.churnMonth);
  }

  private applyMonthlyChanges(month: Month): void {
    for (const customer of this.customers) {
      if (customer.joinMonth >= month || month >= customer.churnMonth) continue;
      if (this.random.chance(WORLD.segmentChange)) {
        const next = this.random.pick(SEGMENT_MOVES[customer.segment]);
        // A customer that moves up a segment grows into it, one that moves down shrinks.
        customer.sizeFactor *=
          SEGMENT_PROFILES[next].dailyInteractions / SEGMENT_PROFILES[customer.segment].dailyInteractions;
        customer.segment = next;
      }
      if (this.random.chance(WORLD.rename)) {
        customer.name = this.names.next(localeOf(customer.country));
      }
    }
  }
}

function localeOf(country: string): string {
  return COUNTRIES.find((c) => c.name === country)?.locale ?? 'en_US';
}

function createPopulation(
  options: { customers: number; firstMonth: Month; lastMonth: Month; seed: number },
  random: Random,
  names: NameSource,
): Customer[] {
  const span = options.lastMonth - options.firstMonth + 1;
  const drafts = Array.from({ length: options.customers }, () => {
    const existing = random.chance(WORLD.existingShare);
    // Existing customers were created up to eight years before the first month.
    const joinMonth = existing ? options.firstMonth : options.firstMonth + random.int(0, span - 1);
    const createdMonth = existing ? options.firstMonth - random.int(1, 96) : joinMonth;
    const createdDay = random.int(1, daysInMonth(createdMonth));
    return { existing, joinMonth, createdMonth, createdDay };
  });
  // Ids follow creation order, as a CRM's sequence would.
  drafts.sort((a, b) => a.createdMonth - b.createdMonth || a.createdDay - b.createdDay);

  // A bijection id → account id: (id × a + b) mod M with a coprime to M, so ids never collide.
  const accountModulus = 9_000_000;
  const accountOffset = random.int(0, accountModulus - 1);

  return drafts.map((draft, index): Customer => {
    const customerId = index + 1;
    const segment = random.weighted(SEGMENTS.map((s) => [s, SEGMENT_PROFILES[s].share] as const));
    const country = random.weighted(COUNTRIES.map((c) => [c.name, c.weight] as const));
    const profile = SEGMENT_PROFILES[segment];
    const channels = pickChannels(random, random.int(profile.channels[0], profile.channels[1]));
    const rawShares = channels.map(() => random.between(0.2, 1));
    const shareTotal = rawShares.reduce((sum, share) => sum + share, 0);
    const months = Math.ceil(-Math.log(1 - random.float()) / WORLD.churn);
    return {
      customerId,
      accountId: 1_000_000 + ((customerId * 7_919 + accountOffset) % accountModulus),
      name: names.next(localeOf(country)),
      segment,
      industry: random.weighted(INDUSTRY_WEIGHTS),
      country,
      createdDate: `${monthKey(draft.createdMonth)}-${String(draft.createdDay).padStart(2, '0')}`,
      joinMonth: draft.joinMonth,
      churnMonth: draft.joinMonth + Math.max(1, months),
      firstActiveDay: draft.existing ? 1 : draft.createdDay,
      sizeFactor: random.logNormal(0.6),
      channels,
      channelShares: rawShares.map((share) => share / shareTotal),
      skipProbability: random.chance(WORLD.irregularShare)
        ? random.between(WORLD.irregularSkip[0], WORLD.irregularSkip[1])
        : 0,
    };
  });
}

/** `count` distinct channel indexes, popular channels more likely, in ascending order. */
function pickChannels(random: Random, count: number): number[] {
  const chosen = new Set<number>();
  const choices = CHANNELS.map((_, index) => [index, CHANNEL_POPULARITY[index] ?? 1] as const);
  while (chosen.size < Math.min(count, CHANNELS.length)) chosen.add(random.weighted(choices));
  return [...chosen].sort((a, b) => a - b);
}
