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

/** Icons Grafana serves from its own public folder that @grafana/ui does not ship. */
const GRAFANA_ICONS = {
  'unicons/spinner.svg':
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M12,2A10,10,0,1,0,22,12,10,10,0,0,0,12,2Zm0,18a8,8,0,1,1,8-8A8,8,0,0,1,12,20Z" opacity=".25"/><path d="M10.14,1.16a11,11,0,0,0-9,8.92A1.59,1.59,0,0,0,2.46,12,1.52,1.52,0,0,0,4.11,10.7a8,8,0,0,1,6.66-6.61A1.42,1.42,0,0,0,12,2.69h0A1.57,1.57,0,0,0,10.14,1.16Z"/></svg>',
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
    const icon = GRAFANA_ICONS[pathname.slice('/public/build/img/icons/'.length)];
    if (pathname.startsWith('/public/build/img/icons/') && icon) {
      res.writeHead(200, { 'content-type': TYPES['.svg'] });
      res.end(icon);
      return;
    }
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
