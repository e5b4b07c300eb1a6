import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/**
 * Browser scripts the pages use, served from the installed packages under /static/vendor/NAME:
 * nothing a page loads leaves the server (the dashboard works offline). Name → file in a package.
 */
const VENDOR_FILES: Record<string, string> = {};

const ONE_DAY_SECONDS = 86_400;

/** The dashboard's own files (/static/…), the vendored browser scripts and /favicon.ico. */
export function staticFiles(): Router {
  const router = express.Router();
  const ownFiles = join(here, 'static');
  router.use('/static', express.static(ownFiles, { maxAge: ONE_DAY_SECONDS * 1000, index: false }));
  router.get('/static/vendor/:name', (req, res, next) => {
    const file = VENDOR_FILES[req.params.name];
    if (!file) return next();
    res.setHeader('Cache-Control', `public, max-age=${ONE_DAY_SECONDS}`);
    res.sendFile(require.resolve(file));
  });
  // Browsers ask for /favicon.ico whatever the page says; the SVG answers it.
  router.get('/favicon.ico', (_req, res) => {
    res.setHeader('Cache-Control', `public, max-age=${ONE_DAY_SECONDS}`);
    res.type('image/svg+xml').sendFile(join(ownFiles, 'favicon.svg'));
  });
  return router;
}
