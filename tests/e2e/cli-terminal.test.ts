import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { copyLanding } from '../support/landing-copy.ts';
import { serverUrl, withDatabase } from '../support/urls.ts';

/**
 * Text from data reaches the terminal without the control characters a terminal acts on: a
 * customer name that would set the window title (OSC 0 … BEL) and a landing-file value that would
 * clear the screen (CSI 2J), through the real CLI's summary, failure lines, `run` and `status`.
 */

const MONTH = '2026-10';
const TITLE = '\u001b]0;pwned\u0007';
const CLEAR = '\u001b[2J';
let database: TestDatabase;
let landing: string;

function pipeline(args: string[]): Promise<CliResult> {
  return runCli(args, {
    env: {
      DATABASE_URL: withDatabase(serverUrl(), database.name),
      LANDING_DIR: landing,
      LOG_LEVEL: undefined,
    },
    timeoutMs: 120_000,
  });
}

/** Sets one field of line `line` (1 = the header) of a landing file, keeping its line ends. */
function setField(file: string, line: number, column: string, value: string): void {
  const path = join(landing, file);
  const text = readFileSync(path, 'utf8');
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(eol);
  const index = (lines[0] ?? '').split(',').indexOf(column);
  const fields = (lines[line - 1] ?? '').split(',');
  fields[index] = value;
  lines[line - 1] = fields.join(',');
  writeFileSync(path, lines.join(eol));
}

/** The control characters in a text (line feeds aside), as code points. */
function controls(text: string): number[] {
  return [...text]
    .map((char) => char.codePointAt(0) ?? 0)
    .filter((code) => (code < 0x20 && code !== 0x0a) || (code >= 0x7f && code <= 0x9f));
}

function expectPrintable(result: CliResult): void {
  expect(result.stdout).not.toContain('\u001b');
  expect(result.stdout).not.toContain('\u0007');
  expect(controls(result.stdout + result.stderr)).toEqual([]);
}

beforeAll(async () => {
  database = await createTestDatabase();
  landing = copyLanding();
  // Customer 14 (line 15), the month's top customer, with a name that retitles the terminal.
  setField(`customers/${MONTH}.csv`, 15, 'customer_name', `Customer 14${TITLE}`);
});
afterAll(async () => {
  await database?.drop();
  if (landing) rmSync(landing, { recursive: true, force: true });
});

describe('the CLI prints data without control characters', () => {
  it('the summary after materialize names the customer without its escape sequence', async () => {
    const result = await pipeline([
      'materialize',
      'top_customers',
      '--partition',
      MONTH,
      '--upstream',
      'missing',
      '--in-process',
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('    1. Customer 14  214,505.70 EUR');
    expectPrintable(result);
    // Only the print is cleaned: the data keeps what the file said.
    const [row] = await database.sql<{ name: string }[]>`
      select customer_name as name from customer_snapshots where snapshot_month = '2026-10-01' and customer_id = 14`;
    expect(row?.name).toBe(`Customer 14${TITLE}`);
  });

  it('a rejected value with escape sequences: the failure line, `pipeline run` and `pipeline status`', async () => {
    setField(`traffic/${MONTH}.csv`, 7, 'revenue_eur', `${CLEAR}12${TITLE}`);
    const failed = await pipeline(['materialize', 'traffic', '--partition', MONTH, '--in-process']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain(`traffic/${MONTH}.csv:7: revenue_eur: not a number: 12\n`);
    expectPrintable(failed);
    const runId = /^run (\S+):/m.exec(failed.stdout)?.[1] ?? '';
    const run = await pipeline(['run', runId]);
    expect(run.stdout).toContain('revenue_eur: not a number: 12\n');
    expectPrintable(run);
    const status = await pipeline(['status', 'traffic', '--partition', MONTH]);
    expect(status.stdout).toContain(`traffic[${MONTH}]  failed: traffic/${MONTH}.csv: 1 problem`);
    expectPrintable(status);
  });
});
