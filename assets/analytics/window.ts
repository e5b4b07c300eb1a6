import type { AssetContext } from '../../engine/asset.ts';
import { firstDay, lastDay, parseMonth } from '../../engine/months.ts';

/** The months an analytics partition reads, as dates (SPEC §2). */
export type MonthWindow = {
  /** First day of the first month. */
  first: string;
  /** First day of the last month (the partition's `period`). */
  period: string;
  /** Last day of the last month (the partition's `as_of`). */
  last: string;
};

/** W12(P) for months = 12: the months P-11 … P. */
export function trailingMonths(ctx: AssetContext<unknown>, months: number): MonthWindow {
  const month = parseMonth(partitionOf(ctx));
  return { first: firstDay(month - months + 1), period: firstDay(month), last: lastDay(month) };
}

export function partitionOf(ctx: AssetContext<unknown>): string {
  if (!ctx.partition) throw new Error(`${ctx.assetKey} is partitioned but ran without a partition`);
  return ctx.partition;
}
