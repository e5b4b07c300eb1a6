import { UsageError } from '../engine/errors.ts';

/** A commander argument parser for a whole-number flag, with one clear error for anything else. */
export function wholeNumber(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
      throw new UsageError(`--${name} must be a whole number ${range}, got '${value}'`);
    }
    return parsed;
  };
}
