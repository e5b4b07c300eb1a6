import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PIPELINE_BIN = fileURLToPath(new URL('../../bin/pipeline.js', import.meta.url));

export type CliResult = { code: number | null; stdout: string; stderr: string };

/** Runs the real `pipeline` command as a subprocess, the way a user does. */
export function runCli(
  args: string[],
  options: {
    env?: Record<string, string | undefined>;
    cwd?: string;
    timeoutMs?: number;
    /** Sends SIGINT (a user's Ctrl-C) after this long. */
    killAfterMs?: number;
    /** Sends SIGINT once this returns true (polled): when the command is surely under way. */
    interruptWhen?: () => boolean;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // Executed through its shebang, exactly as npx runs it.
    const child = spawn(PIPELINE_BIN, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, FORCE_COLOR: '0', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    const interrupt =
      options.killAfterMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGINT'), options.killAfterMs);
    const poll =
      options.interruptWhen === undefined
        ? undefined
        : setInterval(() => {
            if (options.interruptWhen?.()) {
              clearInterval(poll);
              child.kill('SIGINT');
            }
          }, 25);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(interrupt);
      clearInterval(poll);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A `pipeline` subprocess that keeps running (a worker, a waiting materialize) for a test to watch and signal. */
export type CliChild = {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Settles when the process has exited and its output is complete. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first match of `pattern` in stdout; rejects if the process exits or time runs out. */
  waitForStdout: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves once it is gone. */
  stop: (graceMs?: number) => Promise<void>;
};

export function startCli(
  args: string[],
  options: { env?: Record<string, string | undefined> } = {},
): CliChild {
  const child = spawn(PIPELINE_BIN, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, FORCE_COLOR: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  const describe = () => `pipeline ${args.join(' ')}\nstdout:\n${stdout}\nstderr:\n${stderr}`;
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForStdout: (pattern, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const poll = setInterval(() => {
          const match = stdout.match(pattern);
          if (match) {
            clearInterval(poll);
            resolve(match);
          } else if (!running || Date.now() > deadline) {
            clearInterval(poll);
            const why = running
              ? `no ${pattern} within ${timeoutMs} ms`
              : `exited before printing ${pattern}`;
            reject(new Error(`${why}: ${describe()}`));
          }
        }, 25);
      }),
    stop: async (graceMs = 30_000) => {
      if (!running) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
