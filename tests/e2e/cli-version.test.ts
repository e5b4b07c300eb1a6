import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../support/cli.ts';

/** What a newcomer types first: the version, and help texts that say each default once. */

const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

describe('pipeline --version and help', () => {
  it.each([['--version'], ['-V']])('%s prints the version of package.json', async (flag) => {
    const result = await runCli([flag]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it.each([['assets'], ['status']])('%s --help states the default selection once', async (command) => {
    const result = await runCli([command, '--help']);
    expect(result.code).toBe(0);
    // The arguments' section, its wrapped lines joined.
    const section = result.stdout.split('Arguments:')[1]?.split('Options:')[0]?.replace(/\s+/g, ' ');
    expect(section).toMatch(/^ selection /);
    expect(section?.match(/default/g)).toHaveLength(1);
    expect(section).toContain('(default: "*")');
  });
});
