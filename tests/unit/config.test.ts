import { describe, expect, it } from 'vitest';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, loadConfig } from '../../cli/config.ts';
import { ConfigError, redactUrl } from '../../engine/errors.ts';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBe(DEFAULT_DATABASE_URL);
    expect(config.redisUrl).toBe(DEFAULT_REDIS_URL);
    expect(config.landingDir).toMatch(/data\/landing$/);
    expect(config.exportDir).toMatch(/data\/exports$/);
    expect(config.alphaVantage.symbols).toEqual(['TWLO', 'BAND', 'EGHT']);
    expect(config.alphaVantage.start).toBe('2020-01-01');
    expect(config.azure).toBeUndefined();
    expect(config.dashboard).toEqual({ port: 3000, auth: undefined, readOnly: false, allowedHosts: [] });
    expect(config.maxPartitions).toBe(600);
  });

  it('reads and normalises the variables it is given', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://u:p@db:5433/x',
      STOCK_SYMBOLS: ' twlo, band ',
      DASHBOARD_PORT: '8080',
      DASHBOARD_USER: 'admin',
      DASHBOARD_PASSWORD: 'pw',
      DASHBOARD_READ_ONLY: '1',
      DASHBOARD_ALLOWED_HOSTS: ' Dash.Example.com, [::1] ',
      PIPELINE_MAX_PARTITIONS: '120',
    });
    expect(config.databaseUrl).toBe('postgresql://u:p@db:5433/x');
    expect(config.alphaVantage.symbols).toEqual(['TWLO', 'BAND']);
    expect(config.dashboard).toEqual({
      port: 8080,
      auth: { user: 'admin', password: 'pw' },
      readOnly: true,
      allowedHosts: ['dash.example.com', '[::1]'],
    });
    expect(config.maxPartitions).toBe(120);
  });

  it('names every invalid variable at once', () => {
    const attempt = () =>
      loadConfig({
        REDIS_URL: 'http://x',
        DASHBOARD_PORT: '99999',
        STOCK_START: '2020',
        DASHBOARD_ALLOWED_HOSTS: 'ok.example, http://bad/',
        PIPELINE_MAX_PARTITIONS: '0',
      });
    expect(attempt).toThrow(ConfigError);
    for (const name of [
      'REDIS_URL must be a URL',
      'DASHBOARD_PORT',
      'STOCK_START must be a date',
      'DASHBOARD_ALLOWED_HOSTS.1 must be host names',
      'PIPELINE_MAX_PARTITIONS',
    ]) {
      expect(attempt).toThrow(name);
    }
  });

  it('refuses half of a credential pair', () => {
    expect(() => loadConfig({ DASHBOARD_USER: 'admin' })).toThrow(ConfigError);
    expect(() => loadConfig({ AZURE_CONTAINER: 'exports' })).toThrow(/AZURE_STORAGE_CONNECTION_STRING/);
  });
});

describe('redactUrl', () => {
  it('masks a password and leaves URLs without one alone', () => {
    expect(redactUrl('postgres://u:secret@h:5432/db')).toBe('postgres://u:****@h:5432/db');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactUrl('not a url')).toBe('<unparsable URL>');
  });
});
