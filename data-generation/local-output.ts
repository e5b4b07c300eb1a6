import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../engine/errors.ts';
import { fileSink } from './file-writer.ts';
import type { LandingOutput } from './landing-zone.ts';

const LANDING_ENTRIES = new Set(['channels.csv', 'customers', 'traffic']);

/**
 * A landing zone in a folder: written into a staging folder next to `out` and moved into place
 * only when every file is written, so a failure or Ctrl-C never leaves half a drop behind.
 */
export function localOutput(outArgument: string): LandingOutput {
  const out = resolve(outArgument);
  assertReplaceable(out);
  const staging = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  prepareStaging(staging, out);
  mkdirSync(join(staging, 'customers'));
  mkdirSync(join(staging, 'traffic'));
  const removeStaging = () => {
    rmSync(staging, { recursive: true, force: true });
    process.removeListener('exit', removeStaging);
  };
  process.once('exit', removeStaging);
  return {
    name: out,
    open: async (name) => fileSink(join(staging, name)),
    commit: async () => {
      try {
        swapIntoPlace(staging, out);
      } finally {
        removeStaging();
      }
    },
    discard: async () => removeStaging(),
  };
}

/** Refuses to replace anything but an earlier landing zone, so --out . cannot wipe a project. */
function assertReplaceable(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new UsageError(`--out ${out} exists and is not a directory`);
  const foreign = readdirSync(out).filter((entry) => !LANDING_ENTRIES.has(entry));
  if (foreign.length > 0) {
    throw new UsageError(
      `--out ${out} is not empty and not a landing zone (it holds ${foreign.slice(0, 3).join(', ')}): choose an empty or new folder`,
    );
  }
}

function prepareStaging(staging: string, out: string): void {
  try {
    rmSync(staging, { recursive: true, force: true });
    makeParents(dirname(out));
    mkdirSync(staging);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`--out ${out} is not writable (${code ?? String(error)})`, { cause: error });
  }
}

/**
 * mkdir -p one level at a time: Node's recursive mkdir never returns for a path under /proc
 * (it retries ENOENT forever), and a typo in --out must end in an error, not a hang.
 */
function makeParents(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) makeParents(parent);
  mkdirSync(dir);
}

function swapIntoPlace(staging: string, out: string): void {
  const previous = `${staging}.previous`;
  if (existsSync(out)) renameSync(out, previous);
  try {
    renameSync(staging, out);
  } catch (error) {
    // Put the earlier drop back rather than leave neither.
    if (existsSync(previous)) renameSync(previous, out);
    throw error;
  }
  rmSync(previous, { recursive: true, force: true });
}
