/**
 * SQL expressions that validate one text column of a staging table: each is NULL when the value
 * is fine and otherwise the reason it is rejected. COPY turns an empty unquoted field into NULL
 * and "" into '', so both count as empty. Column names are constants of this module's callers.
 */

const q = (column: string) => `"${column}"`;
const empty = (column: string) => `coalesce(${q(column)}, '') = ''`;
const shown = (column: string) => `left(${q(column)}, 40)`;

export function required(column: string): string {
  return `case when coalesce(btrim(${q(column)}), '') = '' then 'empty' end`;
}

/** A non-negative integer that fits a Postgres integer. */
export function wholeNumber(column: string, negative = 'negative'): string {
  const c = q(column);
  return `case when ${empty(column)} then 'empty'
    when ${c} ~ '^-[0-9]+$' then '${negative}: ' || ${c}
    when ${c} !~ '^[0-9]{1,10}$' then 'not a whole number: ' || ${shown(column)}
    when ${c}::bigint > 2147483647 then 'out of range: ' || ${c} end`;
}

/** A non-negative decimal with at most `scale` decimals and `digits` digits before the point. */
export function decimal(column: string, scale: number, digits: number, negative = 'negative'): string {
  const c = q(column);
  return `case when ${empty(column)} then 'empty'
    when ${c} ~ '^-[0-9]+(\\.[0-9]+)?$' then '${negative}: ' || ${c}
    when ${c} !~ '^[0-9]+(\\.[0-9]+)?$' then 'not a number: ' || ${shown(column)}
    when ${c} ~ '\\.[0-9]{${scale + 1},}$' then 'more than ${scale} decimals: ' || ${c}
    when length(split_part(${c}, '.', 1)) > ${digits} then 'out of range: ' || ${c} end`;
}

/** A real calendar date written YYYY-MM-DD. */
export function date(column: string): string {
  const c = q(column);
  const year = `substr(${c}, 1, 4)::int`;
  const month = `substr(${c}, 6, 2)::int`;
  const day = `substr(${c}, 9, 2)::int`;
  return `case when ${empty(column)} then 'empty'
    when ${c} !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then 'not a date (YYYY-MM-DD): ' || ${shown(column)}
    when ${year} < 1 or ${month} not between 1 and 12 or ${day} < 1
      or ${day} > extract(day from make_date(${year}, ${month}, 1) + interval '1 month - 1 day')
      then 'not a valid date: ' || ${c} end`;
}

/** A date that also lies in the month `month` (YYYY-MM): a drop holds only its own month. */
export function dateInMonth(column: string, month: string): string {
  return `coalesce(${date(column)},
    case when left(${q(column)}, 7) <> '${month}' then 'outside the file''s month ${month}: ' || ${q(column)} end)`;
}
