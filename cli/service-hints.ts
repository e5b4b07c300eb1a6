import { type PipelineError, ServiceUnreachableError } from '../engine/errors.ts';

/** What to do about a service that does not answer, in this CLI's words (the engine only says what failed). */
const POSTGRES_HINTS = {
  unreachable:
    'start it with `docker compose up -d postgres` (or your system service, e.g. `pg_ctlcluster 15 main start`), or set DATABASE_URL',
  'no-database': 'run `npx pipeline migrate` to create it',
  credentials: 'check the user and password in DATABASE_URL',
} as const;

/** The error's one line, with how to fix it when it is an unreachable PostgreSQL. */
export function withServiceHint(error: PipelineError): string {
  if (error instanceof ServiceUnreachableError && error.service === 'postgres' && error.problem) {
    return `${error.message}: ${POSTGRES_HINTS[error.problem]}`;
  }
  return error.message;
}
