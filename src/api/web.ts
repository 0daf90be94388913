// The web dashboard: `/` serves public/index.html, `/assets/` the page's own scripts and styles
// (plain ES modules, no build step) and `/assets/vendor/` uPlot from node_modules. The page reads
// only the public JSON API, so it stays outside auth and asks for the read token itself.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type Response } from 'express';
import { HttpError } from './errors.js';

/** Where public/ is: two levels up from src/api, three from dist/src/api (the compiled file). */
function publicDir(): string {
  const candidates = ['../../public/', '../../../public/'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  const found = candidates.find((dir) => existsSync(path.join(dir, 'index.html')));
  if (!found)
    throw new Error(`the dashboard's files are missing (looked in ${candidates.join(', ')})`);
  return found;
}

/** uPlot's dist/ folder, or undefined when the package is not installed. */
function uplotDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return path.join(path.dirname(require.resolve('uplot/package.json')), 'dist');
  } catch {
    return undefined;
  }
}

// The page's own policy: no inline script or style, requests to this origin only. Unlike the
// app-wide one it leaves out upgrade-insecure-requests, which breaks a page served over plain
// HTTP on anything but localhost (every script and API call would be sent to https://).
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const withPolicy = (res: Response) => {
  res.setHeader('Content-Security-Policy', CSP);
  // Revalidate every load (ETag / Last-Modified make that a 304), so an upgrade shows at once.
  res.setHeader('Cache-Control', 'no-cache');
};

export function webRouter(): Router {
  const router = Router();
  const root = publicDir();
  const uplot = uplotDir();
  const staticOptions = {
    index: false,
    // A missing file goes on to the app's problem+json 404.
    fallthrough: true,
    setHeaders: withPolicy,
  } as const;

  router.get('/', (_req, res) => {
    withPolicy(res);
    res.sendFile(path.join(root, 'index.html'));
  });
  const vendor = express.Router();
  vendor.get(['/uPlot.esm.js', '/uPlot.min.css'], (req, res, next) => {
    if (!uplot) {
      next(new HttpError(500, 'Internal Server Error', 'uplot is not installed: run npm ci'));
      return;
    }
    withPolicy(res);
    res.sendFile(path.join(uplot, req.path.slice(1)));
  });
  router.use('/assets/vendor', vendor);
  router.use('/assets', express.static(root, staticOptions));
  return router;
}
