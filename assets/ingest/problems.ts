import { InputError } from '../../engine/errors.ts';

/** One rejected value or row, located the way docs/contract.md §9 asks: file:line: column: reason. */
export type Problem = { line: number; column: string; reason: string };

const SHOWN = 20;

export function formatProblem(file: string, problem: Problem): string {
  return `${file}:${problem.line}: ${problem.column}: ${problem.reason}`;
}

/** The first 20 problems, one per line, and the total: the message of a rejected load. */
export function rejectionError(file: string, problems: Problem[], total = problems.length): InputError {
  const shown = [...problems].sort((a, b) => a.line - b.line).slice(0, SHOWN);
  const more = total > shown.length ? `\n  … and ${total - shown.length} more` : '';
  return new InputError(
    `${file}: ${total} problem${total === 1 ? '' : 's'}, nothing was loaded:\n` +
      shown.map((p) => `  ${formatProblem(file, p)}`).join('\n') +
      more,
  );
}
