import { spawn } from 'node:child_process';
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
