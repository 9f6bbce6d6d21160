/*
 * Bundles the browser harness (harness.tsx: the plugin's editors with Grafana's @grafana/ui and @grafana/data)
 * into test/browser/dist/, a static page the browser tests load. Run: node test/browser/build.mjs
 */
import { build } from 'esbuild';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const distDir = join(here, 'dist');

const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Stitch editors</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="harness.css" />
    <script>
      // What Grafana's index page gives its frontend before any plugin code runs.
      window.grafanaBootData = { settings: {}, user: {}, navTree: [] };
    </script>
  </head>
  <body>
    <div id="root"></div>
    <script src="harness.js"></script>
  </body>
</html>
`;

export async function buildHarness() {
  await mkdir(distDir, { recursive: true });
  const started = Date.now();
  await build({
    entryPoints: [join(here, 'harness.tsx')],
    outfile: join(distDir, 'harness.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    jsx: 'automatic',
    define: {
      'process.env.NODE_ENV': '"production"',
      global: 'globalThis',
    },
    loader: {
      '.svg': 'dataurl',
      '.png': 'dataurl',
      '.woff': 'dataurl',
      '.woff2': 'dataurl',
      '.ttf': 'empty',
      '.eot': 'empty',
    },
  });
  await writeFile(join(distDir, 'index.html'), page);
  return Date.now() - started;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ms = await buildHarness();
  console.log(`browser harness built in ${(ms / 1000).toFixed(1)}s: ${join(distDir, 'index.html')}`);
}
