import { describe, expect, it } from 'vitest';
import { assetSecrets } from '../../cli/asset-config.ts';
import { loadConfig } from '../../cli/config.ts';
import { ConfigError, PermanentError, redactSecrets } from '../../engine/errors.ts';
import { printable, table } from '../../engine/format.ts';
import { isRetryable } from '../../engine/materialize-node.ts';
import { withoutMachinePaths } from '../../workers/job-errors.ts';
import { REPO_ROOT } from '../support/cli.ts';

/** What is shown of secrets, data and this machine: redaction, terminal-safe text, paths, retries. */

describe('redactSecrets', () => {
  it('replaces a secret, as written and URL-encoded, everywhere in the text', () => {
    const key = 'Ab+c/d=e f!';
    const text = `apikey=${encodeURIComponent(key)}&k=${new URLSearchParams({ k: key }).toString().slice(2)} ${key} ${key}`;
    expect(redactSecrets(text, [key])).toBe('apikey=****&k=**** **** ****');
  });

  it('leaves secrets shorter than 8 characters (the public key `demo`) and undefined ones alone', () => {
    expect(redactSecrets('apikey=demo&x=1234567', ['demo', '1234567', undefined, ''])).toBe(
      'apikey=demo&x=1234567',
    );
    expect(redactSecrets('x=12345678', ['12345678'])).toBe('x=****');
  });
});

describe('printable', () => {
  it('removes OSC (window title), CSI (clear screen), other ESC sequences, C0, DEL and C1', () => {
    expect(printable('Customer 14\u001b]0;pwned\u0007')).toBe('Customer 14');
    expect(printable('a\u001b]2;t\u001b\\b')).toBe('ab');
    expect(printable('\u001b[2J\u001b[31mred\u001b[0m')).toBe('red');
    expect(printable('reset\u001bc!')).toBe('reset!');
    expect(printable('bell\u0007 del\u007f c1\u009b2J cr\r bs\b')).toBe('bell del c12J cr bs');
  });

  it('keeps line breaks, tabs and any other Unicode; oneLine turns breaks and tabs into spaces', () => {
    expect(printable('Zoë\tŁódź\n株式会社 🐟')).toBe('Zoë\tŁódź\n株式会社 🐟');
    expect(printable('a\nb\tc', { oneLine: true })).toBe('a b c');
    // An unterminated OSC ends at the line break, so the next line is kept.
    expect(printable('x\u001b]0;rest\nnext')).toBe('x\nnext');
  });

  it('is applied to every table cell', () => {
    expect(table(['NAME'], [['Acme\u001b]0;x\u0007\nInc']])).toBe('NAME\nAcme Inc');
  });
});

describe('withoutMachinePaths (what Bull Board shows of a failed job)', () => {
  it('names project files relative to the project root and other files by their name only', () => {
    const error = new Error(`failed reading ${REPO_ROOT}data/landing/traffic/2026-10.csv`);
    error.stack = [
      `Error: ${error.message}`,
      `    at materialize (${REPO_ROOT}assets/ingest/traffic.ts:12:3)`,
      `    at file://${REPO_ROOT}node_modules/bullmq/dist/esm/classes/worker.js:5:6`,
      '    at /usr/lib/node_modules/tsx/dist/loader.mjs:3:4',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    ].join('\n');
    const same = withoutMachinePaths(error);
    expect(same).toBe(error);
    expect(error.message).toBe('failed reading data/landing/traffic/2026-10.csv');
    expect(error.stack).toBe(
      [
        'Error: failed reading data/landing/traffic/2026-10.csv',
        '    at materialize (assets/ingest/traffic.ts:12:3)',
        '    at node_modules/bullmq/dist/esm/classes/worker.js:5:6',
        '    at …/loader.mjs:3:4',
        '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
      ].join('\n'),
    );
  });
});

describe('isRetryable', () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });
  it('does not retry SQLSTATE classes 22, 23, 42, 53 and 54, nor a PermanentError', () => {
    for (const code of ['22P02', '23505', '42P01', '53200', '53100', '53400', '54000', '54001', '54011']) {
      expect(isRetryable(withCode(code)), code).toBe(false);
    }
    expect(isRetryable(new PermanentError('no'))).toBe(false);
  });

  it('retries the rest: too many connections (53300), deadlocks, lost connections, plain errors', () => {
    for (const code of ['53300', '40P01', '40001', '08006', '57P01', 'ECONNREFUSED']) {
      expect(isRetryable(withCode(code)), code).toBe(true);
    }
    expect(isRetryable(new Error('boom'))).toBe(true);
  });
});

describe('loadConfig: the new variables', () => {
  it('PIPELINE_MAX_RECORD_BYTES defaults to 1 MiB and must be a whole number of bytes', () => {
    expect(loadConfig({}).maxRecordBytes).toBe(1_048_576);
    expect(loadConfig({ PIPELINE_MAX_RECORD_BYTES: '4096' }).maxRecordBytes).toBe(4096);
    for (const bad of ['lots', '0', '1.5', '2000000000']) {
      expect(() => loadConfig({ PIPELINE_MAX_RECORD_BYTES: bad }), bad).toThrow(ConfigError);
    }
  });

  it('ALPHA_VANTAGE_URL with a user name or password is refused without quoting it', () => {
    for (const url of ['http://user:pw-secret@127.0.0.1:9/query', 'https://only-user@example.com/query']) {
      const failure = (() => {
        try {
          loadConfig({ ALPHA_VANTAGE_URL: url });
        } catch (error) {
          return error as Error;
        }
      })();
      expect(failure).toBeInstanceOf(ConfigError);
      expect(failure?.message).toBe(
        'invalid environment: ALPHA_VANTAGE_URL must not carry a user name or password: the key goes in ALPHA_VANTAGE_API_KEY',
      );
    }
    expect(loadConfig({ ALPHA_VANTAGE_URL: 'http://127.0.0.1:9/query' }).alphaVantage.url).toBe(
      'http://127.0.0.1:9/query',
    );
  });

  it('the secrets handed to the node runner: the Alpha Vantage key and the Azure account key', () => {
    expect(assetSecrets(loadConfig({}))).toEqual([]);
    const config = loadConfig({
      ALPHA_VANTAGE_API_KEY: 'AVKEY-Zq7X3p9LmR2w',
      AZURE_STORAGE_CONNECTION_STRING:
        'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0LWtleQ==;EndpointSuffix=core.windows.net',
      AZURE_CONTAINER: 'exports',
    });
    expect(assetSecrets(config)).toEqual(['AVKEY-Zq7X3p9LmR2w', 'c2VjcmV0LWtleQ==']);
  });
});
