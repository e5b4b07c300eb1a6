/**
 * The few error classes that carry meaning. The CLI prints any PipelineError as one line
 * (no stack trace) and exits with its exitCode; anything else is a bug and shows its stack.
 */
export class PipelineError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The asset definitions are inconsistent (duplicate key, unknown dependency, cycle). */
export class DefinitionError extends PipelineError {}

/** A failure that trying again cannot fix (bad input, a failed check, a source refusing the request). */
export class PermanentError extends PipelineError {}

/** Bad input data (file:line: column: reason); never retried. */
export class InputError extends PermanentError {
  override readonly exitCode = 1;
}

/** An `error` severity check failed; the asset's write was rolled back. Never retried. */
export class CheckFailedError extends PermanentError {}

/** An asset's materialization failed; names the node and run, keeps the original as `cause`. */
export class AssetFailedError extends PipelineError {}

/** Bad command-line usage or flag values. */
export class UsageError extends PipelineError {
  override readonly exitCode = 2;
}

/** A plan selects partitioned assets but names no partition; the caller says how to name one. */
export class PartitionRequiredError extends UsageError {
  readonly assets: readonly string[];
  constructor(assets: readonly string[]) {
    super(`partitioned asset(s) ${assets.join(', ')} need a partition or a range of partitions`);
    this.assets = assets;
  }
}

/** The environment is invalid (a bad URL, a missing pair of variables). */
export class ConfigError extends PipelineError {
  override readonly exitCode = 2;
}

export type ServiceProblem = 'unreachable' | 'no-database' | 'credentials';

/**
 * Postgres or Redis (or another service) does not answer. `service` and `problem` let the caller
 * add, in its own words, how to fix it.
 */
export class ServiceUnreachableError extends PipelineError {
  override readonly exitCode = 3;
  readonly service: string | undefined;
  readonly problem: ServiceProblem | undefined;
  constructor(message: string, options?: { cause?: unknown; service?: string; problem?: ServiceProblem }) {
    super(message, options);
    this.service = options?.service;
    this.problem = options?.problem;
  }
}

/** The user stopped the command (Ctrl-C); exit code 130 as a shell would report. */
export class Interrupted extends PipelineError {
  override readonly exitCode = 130;
}

/** Replaces the password of a connection URL with ****, so URLs can be shown to users. */
export function redactUrl(value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.password) parsed.password = '****';
    return parsed.toString();
  } catch {
    return '<unparsable URL>';
  }
}

/** Shorter values are not secret enough to hide (Alpha Vantage's public key is `demo`). */
const MIN_SECRET_LENGTH = 8;
export const REDACTED = '****';

/**
 * Replaces every secret in `text` with ****, as written and as a URL query would encode it (a
 * server that echoes its request echoes the encoded form). Secrets shorter than 8 characters
 * are left alone.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let redacted = text;
  for (const secret of secrets) {
    if (!secret || secret.length < MIN_SECRET_LENGTH) continue;
    const forms = new Set([
      secret,
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString().slice(2),
    ]);
    for (const form of forms) redacted = redacted.replaceAll(form, REDACTED);
  }
  return redacted;
}
