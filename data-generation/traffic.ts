import { daysInMonth, type Month, monthKey, monthNumberOf } from '../engine/months.ts';
import { CHANNELS, SEASONALITY, SEGMENT_PROFILES, WEEKDAY_FACTOR, WORLD } from './catalog.ts';
import type { Customer } from './customers.ts';
import type { FileWriter } from './file-writer.ts';
import { Random } from './random.ts';

export const TRAFFIC_HEADER = 'send_date,account_id,customer_id,channel_id,interactions_count,revenue_eur\n';

// Unit prices in cents: revenue is computed in integer cents, so it never needs rounding twice.
const PRICE_CENTS = CHANNELS.map((channel) => Math.round(channel.unitPriceEur * 100));
const CHANNEL_FIELDS = CHANNELS.map((channel) => Buffer.from(`,${channel.id},`));
const COMMA = 44;
const DOT = 46;
const NEWLINE = 10;
const ZERO = 48;

/** What one customer sends in one month, resolved once so the per-row loop only multiplies. */
type MonthPlan = {
  keyFields: Buffer; // ",account_id,customer_id"
  firstDay: number;
  activeDayProbability: number;
  channels: number[];
  expectedDaily: number[]; // per channel, before the weekday factor and noise
};

function planMonth(
  customers: readonly Customer[],
  month: Month,
  firstMonth: Month,
  random: Random,
): MonthPlan[] {
  const season =
    (SEASONALITY[monthNumberOf(month) - 1] ?? 1) * (1 + WORLD.monthlyGrowth) ** (month - firstMonth);
  const plans: MonthPlan[] = [];
  for (const customer of customers) {
    // Draw for every customer, skipping or not, so one customer's luck never shifts another's.
    const skips = random.chance(customer.skipProbability);
    const monthNoise = random.between(0.8, 1.2);
    if (skips) continue;
    const profile = SEGMENT_PROFILES[customer.segment];
    const daily = profile.dailyInteractions * customer.sizeFactor * season * monthNoise;
    plans.push({
      keyFields: Buffer.from(`,${customer.accountId},${customer.customerId}`),
      firstDay: customer.joinMonth === month ? customer.firstActiveDay : 1,
      activeDayProbability: profile.activeDayProbability,
      channels: customer.channels,
      expectedDaily: customer.channelShares.map((share) => daily * share),
    });
  }
  return plans;
}

/**
 * Writes traffic/YYYY-MM.csv rows for the month's snapshot: by day, then customer, then channel.
 * Each month has its own random stream, so a month's file does not depend on the others.
 * `write()` stops after a customer's rows when the writer's sink is behind (an upload) and picks
 * up there on the next call, so the rows and their random draws come out in the same order.
 */
export class TrafficMonth {
  rows = 0;
  private readonly random: Random;
  private readonly plans: MonthPlan[];
  private readonly prefix: string;
  private readonly firstWeekday: number;
  private readonly days: number;
  private day = 1;
  private planIndex = 0;

  constructor(
    private readonly writer: FileWriter,
    customers: readonly Customer[],
    month: Month,
    firstMonth: Month,
    seed: number,
  ) {
    this.random = new Random(seed, 1_000 + (month - firstMonth));
    this.plans = planMonth(customers, month, firstMonth, this.random);
    this.prefix = monthKey(month);
    this.firstWeekday = new Date(`${this.prefix}-01T00:00:00Z`).getUTCDay();
    this.days = daysInMonth(month);
    writer.text(TRAFFIC_HEADER);
  }

  /** Writes on; true when the month is complete, false when it paused for the sink. */
  write(): boolean {
    const { writer, random, plans, prefix, days } = this;
    const [jitterLow, jitterHigh] = WORLD.priceJitter;
    const jitterSpan = jitterHigh - jitterLow;
    const channelDay = WORLD.channelDayProbability;
    let rows = this.rows;
    for (let day = this.day; day <= days; day++) {
      const date = Buffer.from(`${prefix}-${day < 10 ? '0' : ''}${day}`);
      const weekday = WEEKDAY_FACTOR[(this.firstWeekday + day - 1) % 7] ?? 1;
      for (let p = day === this.day ? this.planIndex : 0; p < plans.length; p++) {
        if (writer.backlogged) {
          this.day = day;
          this.planIndex = p;
          this.rows = rows;
          return false;
        }
        const plan = plans[p] as MonthPlan;
        if (day < plan.firstDay || random.float() >= plan.activeDayProbability) continue;
        const { channels, expectedDaily } = plan;
        for (let i = 0; i < channels.length; i++) {
          if (random.float() >= channelDay) continue;
          const channel = channels[i] as number;
          // Noise in [0.6, 1.4): day-to-day variation around the month's expectation.
          const interactions = Math.max(
            1,
            Math.round((expectedDaily[i] as number) * weekday * (0.6 + 0.8 * random.float())),
          );
          const cents = Math.round(
            interactions * (PRICE_CENTS[channel] as number) * (jitterLow + jitterSpan * random.float()),
          );
          const euros = Math.floor(cents / 100);
          const rest = cents - euros * 100;
          writer.reserve();
          writer.bytesOf(date);
          writer.bytesOf(plan.keyFields);
          writer.bytesOf(CHANNEL_FIELDS[channel] as Buffer);
          writer.uint(interactions);
          writer.byte(COMMA);
          writer.uint(euros);
          writer.byte(DOT);
          if (rest < 10) writer.byte(ZERO);
          writer.uint(rest);
          writer.byte(NEWLINE);
          rows++;
        }
      }
    }
    this.day = days + 1;
    this.rows = rows;
    return true;
  }
}
