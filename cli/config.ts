import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_MAX_RECORD_BYTES } from '../assets/config.ts';
import type { S3Options } from '../assets/landing/s3-client.ts';
import { isS3Url, parseS3Url } from '../assets/landing/s3-location.ts';
import { ConfigError } from '../engine/errors.ts';
import { DEFAULT_MAX_PARTITIONS } from '../engine/plan.ts';

/** The defaults of docs/contract.md §10; every process reads the environment once, here, and passes plain values on. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres:postgres@127.0.0.1:5432/pipeline';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const flag = z
  .enum(['', '0', '1', 'false', 'true'])
  .default('')
  .transform((value) => value === '1' || value === 'true');

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value === '' ? undefined : value));

/** A user name or password in a URL that is not meant to carry one (fetch refuses it, quoting the URL). */
const withoutUserInfo = (value: string) => {
  try {
    const parsed = new URL(value);
    return !parsed.username && !parsed.password;
  } catch {
    return true; // not a URL: url() says so
  }
};

/** An S3-compatible endpoint: credentials come from the AWS variables or a profile, never the URL. */
const s3Endpoint = optionalText.pipe(
  url(['http:', 'https:'])
    .refine(withoutUserInfo, 'must not carry a user name or password: use the AWS credential variables')
    .optional(),
);

const yearMonthDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD');

const environmentSchema = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']).default(DEFAULT_DATABASE_URL),
  REDIS_URL: url(['redis:', 'rediss:']).default(DEFAULT_REDIS_URL),
  LANDING_DIR: z.string().min(1).default('./data/landing'),
  EXPORT_DIR: z.string().min(1).default('./data/exports'),
  AWS_ENDPOINT_URL_S3: s3Endpoint,
  AWS_ENDPOINT_URL: s3Endpoint,
  AWS_REGION: optionalText,
  S3_FORCE_PATH_STYLE: flag,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  QUEUE_PREFIX: z.string().min(1).default('pipeline'),
  PIPELINE_EXECUTOR_LEASE_SECONDS: z.coerce.number().int().min(2).max(86_400).default(30),
  PIPELINE_MAX_PARTITIONS: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_MAX_PARTITIONS),
  LANDING_SENSOR_INTERVAL: z.coerce.number().int().min(0).max(86_400).default(60),
  LANDING_SETTLE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(10),
  ALPHA_VANTAGE_API_KEY: optionalText,
  PIPELINE_MAX_RECORD_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_073_741_824)
    .default(DEFAULT_MAX_RECORD_BYTES),
  ALPHA_VANTAGE_URL: url(['http:', 'https:'])
    .refine(withoutUserInfo, 'must not carry a user name or password: the key goes in ALPHA_VANTAGE_API_KEY')
    .default('https://www.alphavantage.co/query'),
  STOCK_SYMBOLS: z
    .string()
    .default('TWLO,BAND,EGHT')
    .transform((value) =>
      value
        .split(',')
        .map((symbol) => symbol.trim().toUpperCase())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[A-Z.]{1,10}$/, 'must be ticker symbols like TWLO')).min(1)),
  STOCK_START: yearMonthDay.default('2020-01-01'),
  AZURE_STORAGE_CONNECTION_STRING: optionalText,
  AZURE_CONTAINER: optionalText,
  DASHBOARD_PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  DASHBOARD_USER: optionalText,
  DASHBOARD_PASSWORD: optionalText,
  DASHBOARD_READ_ONLY: flag,
  DASHBOARD_ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((host) => host.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z.string().regex(/^[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/, 'must be host names, e.g. dash.example.com'),
      ),
    ),
});

export type Config = Readonly<{
  databaseUrl: string;
  redisUrl: string;
  /** A resolved folder, or `s3://BUCKET/PREFIX` as given. */
  landingDir: string;
  /** Endpoint, path style and region for an `s3://` LANDING_DIR (and `generate --out s3://…`). */
  s3: S3Options;
  exportDir: string;
  logLevel: z.infer<typeof environmentSchema>['LOG_LEVEL'];
  queuePrefix: string;
  /** How long an in-process run stays its CLI's without a heartbeat before it counts as lost. */
  executorLeaseSeconds: number;
  /** The most months one run may cover. */
  maxPartitions: number;
  /** The landing-zone sensor: seconds between ticks (0: no sensor), and how long a file must be left alone. */
  sensor: { intervalSeconds: number; settleSeconds: number };
  /** The longest CSV record a landing file may have (a longer one rejects the file). */
  maxRecordBytes: number;
  alphaVantage: { apiKey: string | undefined; url: string; symbols: string[]; start: string };
  azure: { connectionString: string; container: string } | undefined;
  dashboard: {
    port: number;
    auth: { user: string; password: string } | undefined;
    readOnly: boolean;
    /** Host names the dashboard answers to besides loopback's ([] on all interfaces: any). */
    allowedHosts: string[];
  };
}>;

/** Validates the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  if (Boolean(e.DASHBOARD_USER) !== Boolean(e.DASHBOARD_PASSWORD)) {
    throw new ConfigError('invalid environment: set both DASHBOARD_USER and DASHBOARD_PASSWORD, or neither');
  }
  if (Boolean(e.AZURE_STORAGE_CONNECTION_STRING) !== Boolean(e.AZURE_CONTAINER)) {
    throw new ConfigError(
      'invalid environment: set both AZURE_STORAGE_CONNECTION_STRING and AZURE_CONTAINER, or neither',
    );
  }
  return Object.freeze({
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    landingDir: landingDir(e.LANDING_DIR),
    s3: {
      ...(e.AWS_ENDPOINT_URL_S3 || e.AWS_ENDPOINT_URL
        ? { endpoint: e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL }
        : {}),
      forcePathStyle: e.S3_FORCE_PATH_STYLE,
      ...(e.AWS_REGION ? { region: e.AWS_REGION } : {}),
    },
    exportDir: resolve(e.EXPORT_DIR),
    logLevel: e.LOG_LEVEL,
    queuePrefix: e.QUEUE_PREFIX,
    executorLeaseSeconds: e.PIPELINE_EXECUTOR_LEASE_SECONDS,
    maxPartitions: e.PIPELINE_MAX_PARTITIONS,
    sensor: { intervalSeconds: e.LANDING_SENSOR_INTERVAL, settleSeconds: e.LANDING_SETTLE_SECONDS },
    maxRecordBytes: e.PIPELINE_MAX_RECORD_BYTES,
    alphaVantage: {
      apiKey: e.ALPHA_VANTAGE_API_KEY,
      url: e.ALPHA_VANTAGE_URL,
      symbols: e.STOCK_SYMBOLS,
      start: e.STOCK_START,
    },
    azure:
      e.AZURE_STORAGE_CONNECTION_STRING && e.AZURE_CONTAINER
        ? { connectionString: e.AZURE_STORAGE_CONNECTION_STRING, container: e.AZURE_CONTAINER }
        : undefined,
    dashboard: {
      port: e.DASHBOARD_PORT,
      auth:
        e.DASHBOARD_USER && e.DASHBOARD_PASSWORD
          ? { user: e.DASHBOARD_USER, password: e.DASHBOARD_PASSWORD }
          : undefined,
      readOnly: e.DASHBOARD_READ_ONLY,
      allowedHosts: e.DASHBOARD_ALLOWED_HOSTS,
    },
  });
}

/** An `s3://` landing zone is kept as given (checked now, not at the first load); a folder is resolved. */
function landingDir(value: string): string {
  if (!isS3Url(value)) return resolve(value);
  parseS3Url(value);
  return value;
}
