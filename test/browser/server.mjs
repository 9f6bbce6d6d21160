/*
 * A static server for the browser harness on 127.0.0.1 (a free port): the bundle in test/browser/dist, and the
 * files Grafana's frontend fetches from its own server: @grafana/ui's icons (public/build/img/icons/) and the
 * Inter font (public/fonts/inter/, from @fontsource/inter).
 */
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, '..', '..', 'node_modules');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
};

const INTER = {
  'Inter-Regular.woff2': 'inter-latin-400-normal.woff2',
  'Inter-Medium.woff2': 'inter-latin-500-normal.woff2',
  'Inter-Italic.woff2': 'inter-latin-400-italic.woff2',
  'Inter-MediumItalic.woff2': 'inter-latin-500-italic.woff2',
};

/** The file under root that `rest` names, or undefined when it would leave root. */
function under(root, rest) {
  const file = normalize(join(root, decodeURIComponent(rest)));
  return file.startsWith(root + sep) ? file : undefined;
}

function resolve(pathname) {
  if (pathname === '/') {
    return join(here, 'dist', 'index.html');
  }
  const icons = '/public/build/img/icons/';
  if (pathname.startsWith(icons)) {
    return under(join(modules, '@grafana', 'ui', 'dist', 'public', 'img', 'icons'), pathname.slice(icons.length));
  }
  const inter = '/public/fonts/inter/';
  if (pathname.startsWith(inter)) {
    const file = INTER[pathname.slice(inter.length)];
    return file && join(modules, '@fontsource', 'inter', 'files', file);
  }
  return under(join(here, 'dist'), pathname.slice(1));
}

/**
 * Starts the server. Resolves to { url, notFound, close }: notFound lists the paths answered with 404, so a
 * test can tell a missing asset from a rendering problem.
 */
export async function startServer() {
  const notFound = [];
  const server = createServer(async (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    const file = req.method === 'GET' ? resolve(pathname) : undefined;
    try {
      if (!file) {
        throw new Error('not found');
      }
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      notFound.push(pathname);
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    notFound,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
