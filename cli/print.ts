import { printable } from '../engine/format.ts';

/**
 * Prints a line that carries text from data or from errors (customer names, landing-file values,
 * error messages) to stdout, without the control characters a terminal would act on.
 */
export function say(text: string): void {
  console.log(printable(text));
}
