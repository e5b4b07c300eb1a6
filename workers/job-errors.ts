import { fileURLToPath } from 'node:url';

/** The project's root on this machine, with its trailing slash (this file is in workers/). */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A stack frame line: `    at fn (/path/file.ts:1:2)`, `    at /path/file.ts:1:2`, `    at async …`. */
const FRAME = /^\s+at\s/;
/** An absolute path (or file URL) in a frame, up to its `:line:column` (not node:internal/…). */
const ABSOLUTE_PATH = /(?<=^|[\s(])(?:file:\/\/)?\/(?:[^\s():/]+\/)*([^\s():/]+)/g;

/**
 * BullMQ stores a failed job's `err.message` (failedReason) and `err.stack` (stacktrace), and Bull
 * Board shows both to whoever opens the job: the error a job fails with names this project's
 * files relative to its root, and any other file in a frame by its name only, so the page does not
 * tell where and under which user this machine keeps things. The message is kept, but for the
 * project root. Changes the error in place (its class decides whether BullMQ retries) and returns it.
 */
export function withoutMachinePaths<E>(error: E): E {
  if (!(error instanceof Error)) return error;
  error.message = relativeToProject(error.message);
  if (error.stack) {
    error.stack = error.stack
      .split('\n')
      .map((line) =>
        FRAME.test(line)
          ? relativeToProject(line).replace(ABSOLUTE_PATH, (_path, name: string) => `…/${name}`)
          : relativeToProject(line),
      )
      .join('\n');
  }
  return error;
}

/** Paths under the project root made relative to it (job log lines: Bull Board's Logs tab). */
export function relativeToProject(text: string): string {
  return text.replaceAll(`file://${PROJECT_ROOT}`, '').replaceAll(PROJECT_ROOT, '');
}
