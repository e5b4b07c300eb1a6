import { dateShape, dayOf, decimalShape, digits, type FieldShape, nonBlankUpTo } from './field-shapes.ts';

/**
 * Validation rules for one text column of a staging table. `reason` is an SQL expression: NULL
 * when the value is fine, otherwise why it is rejected. `valid` is a regular expression that
 * matches exactly the values `reason` accepts: all columns' patterns are checked with a single
 * regex per row, and only rows that fail it pay for the detailed reasons. COPY turns an empty
 * unquoted field into NULL and "" into '', so both count as empty. Column names are constants.
 */
export type ValueRule = {
  reason: string;
  /** SQL regex for values the rule certainly accepts (the SQL fast path). */
  valid: string;
  /** A further SQL condition of the fast path, where a regex would be slow (lengths). */
  alsoValid?: string;
  /** The same in Node, on the bytes as they stream (lets a clean file skip the SQL scan). */
  shape: FieldShape;
};

const q = (column: string) => `"${column}"`;
const empty = (column: string) => `coalesce(${q(column)}, '') = ''`;
const shown = (column: string) => `left(${q(column)}, 40)`;

/**
 * Not empty or blank, and at most `maxLength` (≤ 255) characters: the column's varchar length.
 * In the fast path a value never contains the unit separator that joins a row's fields: one that
 * does fails the pattern and is judged by the detailed rule instead.
 */
export function required(column: string, maxLength: number): ValueRule {
  const c = q(column);
  return {
    reason: `case when coalesce(btrim(${c}), '') = '' then 'empty'
      when char_length(${c}) > ${maxLength} then 'longer than ${maxLength} characters' end`,
    // Bounded repetitions make Postgres regexes slow: the length is a plain condition instead.
    valid: '[^\\x1f]*[^\\s\\x1f][^\\x1f]*',
    alsoValid: `coalesce(char_length(${c}), 0) <= ${maxLength}`,
    shape: nonBlankUpTo(maxLength),
  };
}

/** A non-negative integer that fits a Postgres integer. */
export function wholeNumber(column: string, negative = 'negative'): ValueRule {
  const c = q(column);
  return {
    reason: `case when ${empty(column)} then 'empty'
      when ${c} ~ '^-[0-9]+$' then '${negative}: ' || ${c}
      when ${c} !~ '^[0-9]+$' then 'not a whole number: ' || ${shown(column)}
      when length(${c}) > 10 or ${c}::bigint > 2147483647 then 'out of range: ' || ${shown(column)} end`,
    valid: '[0-9]{1,9}', // ten digits may overflow: those take the detailed path
    shape: digits(9),
  };
}

/** A non-negative decimal with at most `scale` decimals and `digits` digits before the point. */
export function decimal(column: string, scale: number, digits: number, negative = 'negative'): ValueRule {
  const c = q(column);
  return {
    reason: `case when ${empty(column)} then 'empty'
      when ${c} ~ '^-[0-9]+(\\.[0-9]+)?$' then '${negative}: ' || ${c}
      when ${c} !~ '^[0-9]+(\\.[0-9]+)?$' then 'not a number: ' || ${shown(column)}
      when ${c} ~ '\\.[0-9]{${scale + 1},}$' then 'more than ${scale} decimals: ' || ${c}
      when length(split_part(${c}, '.', 1)) > ${digits} then 'out of range: ' || ${c} end`,
    valid: `[0-9]{1,${digits}}(\\.[0-9]{1,${scale}})?`,
    shape: decimalShape(digits, scale),
  };
}

const dateReason = (column: string) => {
  const c = q(column);
  const year = `substr(${c}, 1, 4)::int`;
  const month = `substr(${c}, 6, 2)::int`;
  const day = `substr(${c}, 9, 2)::int`;
  return `case when ${empty(column)} then 'empty'
    when ${c} !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then 'not a date (YYYY-MM-DD): ' || ${shown(column)}
    when ${year} < 1 or ${month} not between 1 and 12 or ${day} < 1
      or ${day} > extract(day from make_date(${year}, ${month}, 1) + interval '1 month - 1 day')
      then 'not a valid date: ' || ${c} end`;
};

/** Days 01 … last as a regex alternation. */
function dayPattern(last: number): string {
  const days = Array.from({ length: last }, (_, i) => String(i + 1).padStart(2, '0'));
  return `(${days.join('|')})`;
}

/** A real calendar date written YYYY-MM-DD. */
export function date(column: string): ValueRule {
  // Days 29–31 are checked in detail (month lengths); the fast path takes 01–28 of any month.
  return {
    reason: dateReason(column),
    valid: `(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-${dayPattern(28)}`, // year 0000 does not exist
    shape: dateShape,
  };
}

/** A date that also lies in the month `month` (YYYY-MM, with `days` days): a drop holds only its month. */
export function dateInMonth(column: string, month: string, days: number): ValueRule {
  return {
    reason: `coalesce(${dateReason(column)},
      case when left(${q(column)}, 7) <> '${month}' then 'outside the file''s month ${month}: ' || ${q(column)} end)`,
    valid: `${month}-${dayPattern(days)}`,
    shape: dayOf(`${month}-`, days),
  };
}
