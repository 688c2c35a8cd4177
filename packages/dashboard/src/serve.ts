/**
 * Serves the built dashboard bundle at `/ui/`. Owns: the files of dist/ui, read once into memory
 * (the bundle is small) as a map from URL path to bytes, so only a file the build wrote can be
 * answered: a path naming anything else (`..`, encoded or not, an absolute path, a folder) is a
 * plain 404 by construction, never a lookup on disk. Guarantees: the content type of each file by
 * its extension (a table), `Cache-Control: immutable` for Vite's hashed `assets/` and `no-cache`
 * for index.html, a strict Content-Security-Policy (scripts, styles and requests from this origin
 * only: no inline script, no eval, no framing) and nosniff on every answer, GET and HEAD only.
 * `/ui/access.json` tells the page whether it needs an admin key. While the bundle is not built the answer is 503 naming the command that builds it.
 * Needs injected: nothing (the bundle folder may be given, for tests).
 */

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type http from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the dashboard is served. */
export const UI_PATH = '/ui/';
/** The build output, from src/ (source) and from dist/ (built) alike. */
export const BUNDLE_DIR = fileURLToPath(new URL('../dist/ui/', import.meta.url));

/** Hashed file names (Vite's `assets/`) never change content: cache them for a year. */
const IMMUTABLE_MAX_AGE_S = 365 * 24 * 60 * 60;
const HASHED_PREFIX = 'assets/';
const INDEX = 'index.html';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

interface BundleFile {
  body: Buffer;
  type: string;
  etag: string;
  cache: string;
}

export interface DashboardOptions {
  /** Default: BUNDLE_DIR. */
  dir?: string;
  /** The API routes answer without a key (http.ui.open_on_loopback): told to the page by ACCESS_FILE. */
  open?: boolean;
}

/** `/ui/access.json`: `{"key_needed": bool}`, so the page asks for a key before any request would be refused. */
export const ACCESS_FILE = 'access.json';

/** Answers a request under /ui (true), or leaves it (false: not a dashboard path). */
export type DashboardHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

function readBundle(dir: string): Map<string, BundleFile> | undefined {
  try {
    if (!statSync(join(dir, INDEX)).isFile()) return undefined;
  } catch {
    return undefined;
  }
  const files = new Map<string, BundleFile>();
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const name = relative(dir, path).split(sep).join('/');
    const type = CONTENT_TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(path);
    files.set(name, {
      body,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      cache: name.startsWith(HASHED_PREFIX)
        ? `public, max-age=${IMMUTABLE_MAX_AGE_S}, immutable`
        : 'no-cache',
    });
  }
  return files;
}

export function createDashboardHandler(options: DashboardOptions = {}): DashboardHandler {
  const dir = options.dir ?? BUNDLE_DIR;
  let files: Map<string, BundleFile> | undefined;
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== '/ui' && !path.startsWith(UI_PATH)) return false;
    const answer = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS, ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return answer(405, 'method not allowed\n', { allow: 'GET, HEAD' });
    if (path === '/ui') return answer(308, '', { location: UI_PATH });
    files ??= readBundle(dir);
    if (!files) return answer(503, 'the dashboard is not built: run `npm run build`\n');
    const name = path.slice(UI_PATH.length) || INDEX;
    if (name === ACCESS_FILE)
      return answer(200, JSON.stringify({ key_needed: !options.open }), {
        'content-type': CONTENT_TYPES['.json']!,
        'cache-control': 'no-store',
      });
    const file = files.get(name);
    if (!file) return answer(404, 'not found\n');
    const headers = {
      'content-type': file.type,
      'cache-control': file.cache,
      etag: file.etag,
      ...SECURITY_HEADERS,
    };
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    res.writeHead(200, { ...headers, 'content-length': String(file.body.length) });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  };
}
