import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { rateLimit } from 'express-rate-limit';

/**
 * What the dashboard refuses before any route sees a request: a Host that is not its own (DNS
 * rebinding), an unsafe method from another origin (cross-site requests — Bull Board's API has no
 * CSRF protection of its own), a Bull Board API body that is not JSON (a cross-site `text/plain`
 * form), and too many failed basic-auth attempts.
 */

/** The names a loopback dashboard answers to. */
export const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'] as const;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The host names a dashboard answers to: loopback's and those named (DASHBOARD_ALLOWED_HOSTS).
 * On all interfaces without names, the names it is reached by are not known: 'any'.
 */
export function ownHosts(named: readonly string[], allInterfaces: boolean): readonly string[] | 'any' {
  return allInterfaces && named.length === 0 ? 'any' : [...LOOPBACK_HOSTS, ...named];
}

/** The host name of a Host header, without its port, lower case (`[::1]:3000` → `[::1]`). */
function hostName(host: string): string {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
  return name.toLowerCase();
}

/**
 * 421 for a Host that is not one of `allowed` (undefined: any Host is taken). A rebinding page
 * reaches a loopback server under its own name, so the name is what gives it away.
 */
export function hostGuard(allowed: readonly string[] | undefined): RequestHandler {
  const names = allowed ? new Set(allowed.map((name) => name.toLowerCase())) : undefined;
  return (req, res, next) => {
    if (!names) return next();
    const host = req.headers.host;
    if (host && names.has(hostName(host))) return next();
    res
      .status(421)
      .type('text/plain')
      .send(
        `421: this dashboard does not answer to the host '${(host ?? '').slice(0, 100)}' (DASHBOARD_ALLOWED_HOSTS)\n`,
      );
  };
}

/**
 * 403 for an unsafe method unless the browser says the request is same-origin
 * (`Sec-Fetch-Site: same-origin`) or its `Origin` names this very host. A client that sends
 * neither (curl) is refused too: it can say `Origin: http://HOST` if it means to.
 */
export function sameOriginGuard(): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method) || isSameOrigin(req)) return next();
    res
      .status(403)
      .type('text/plain')
      .send('403: a request that changes something must come from this dashboard’s own pages\n');
  };
}

function isSameOrigin(req: Request): boolean {
  if (req.headers['sec-fetch-site'] === 'same-origin') return true;
  const origin = req.headers.origin;
  if (!origin || origin === 'null' || !req.headers.host) return false;
  try {
    // The host is compared, not the scheme: behind a TLS proxy the page is https, this server http.
    return new URL(origin).host.toLowerCase() === req.headers.host.toLowerCase();
  } catch {
    return false;
  }
}

/**
 * 415 for a request with a body that is not JSON. Bull Board's own buttons send JSON or no body at
 * all; a cross-site HTML form can only send form encodings or `text/plain`.
 */
export function jsonBodyOnly(): RequestHandler {
  return (req, res, next) => {
    if (!hasBody(req) || req.is('application/json')) return next();
    res.status(415).type('text/plain').send('415: the queues API takes JSON bodies only\n');
  };
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export type AuthLimit = { attempts: number; windowMs: number };

/** Per client, a failed basic-auth attempt counts; past the limit every request gets 429 until the window passes. */
export const DEFAULT_AUTH_LIMIT: AuthLimit = { attempts: 20, windowMs: 60_000 };

export function failedAuthLimiter(limit: AuthLimit = DEFAULT_AUTH_LIMIT): RequestHandler {
  return rateLimit({
    windowMs: limit.windowMs,
    limit: limit.attempts,
    // Only answers that refused the credentials count.
    requestWasSuccessful: (_req: Request, res: Response) => res.statusCode !== 401,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req: Request, res: Response, _next: NextFunction) => {
      res.status(429).type('text/plain').send('429: too many failed sign-in attempts; wait a minute\n');
    },
  });
}
