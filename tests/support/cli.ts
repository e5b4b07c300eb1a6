import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PIPELINE_BIN = fileURLToPath(new URL('../../bin/pipeline.js', import.meta.url));

export type CliResult = {
  code: number | null;
  stdout: string;
  stderr: string;
  /** With `measureMemory`: the process's peak resident set, in MB (GNU time's %M). */
  peakRssMb?: number;
};

/** What GNU time appends to stderr (after a line of its own when the command failed). */
const PEAK_RSS = /(?:Command exited with non-zero status \d+\n)?peak-rss-kb (\d+)\n$/;

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
    /** Runs it under /usr/bin/time to learn its peak RSS (`peakRssMb`). */
    measureMemory?: boolean;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // Executed through its shebang, exactly as npx runs it.
    const [command, commandArgs] = options.measureMemory
      ? ['/usr/bin/time', ['-f', 'peak-rss-kb %M', PIPELINE_BIN, ...args]]
      : [PIPELINE_BIN, args];
    const child = spawn(command, commandArgs, {
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
      const peak = options.measureMemory ? PEAK_RSS.exec(stderr) : null;
      if (!peak) resolve({ code, stdout, stderr });
      else resolve({ code, stdout, stderr: stderr.slice(0, peak.index), peakRssMb: Number(peak[1]) / 1024 });
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
  /** Sends a signal: to the process, or with `group` to its whole process group. */
  signal: (signal: NodeJS.Signals) => void;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves once it is gone. */
  stop: (graceMs?: number) => Promise<void>;
};

export function startCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): CliChild {
  return startProcess(PIPELINE_BIN, args, options);
}

/**
 * Any command as a watched subprocess (`startCli` is `pipeline` itself). With `group` it runs in
 * a process group of its own and every signal goes to the whole group, as a terminal's Ctrl-C
 * does: for commands that run others (npm, npx, a shell), whose leader may exit before the
 * program it started; `exited` settles once the last of them has closed its output.
 */
export function startProcess(
  command: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; group?: boolean } = {},
): CliChild {
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, FORCE_COLOR: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group ?? false,
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
  const describe = () =>
    `${command === PIPELINE_BIN ? 'pipeline' : command} ${args.join(' ')}\nstdout:\n${stdout}\nstderr:\n${stderr}`;
  const signal = (name: NodeJS.Signals) => {
    if (!running) return;
    if (options.group && child.pid !== undefined) {
      try {
        process.kill(-child.pid, name);
      } catch {
        // The group is gone already.
      }
    } else child.kill(name);
  };
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
    signal,
    stop: async (graceMs = 30_000) => {
      if (!running) return;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
