/*
 * The plugin's editors in a real browser: Debian's Chromium, driven by playwright-core, loads the harness page
 * (harness.tsx: ConfigEditor, QueryEditor or VariableQueryEditor inside Grafana's theme, with a stubbed backend)
 * from a loopback server, types and clicks as a person would, and checks the options / query JSON the editor
 * emits and the messages it shows.
 *
 * Run: npm run test:browser (Chromium at /usr/bin/chromium, or $CHROMIUM_PATH).
 * Screenshots go to test-results/browser/, or to $STITCH_SCREENSHOT_DIR (npm run screenshots: src/img/screenshots).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { buildHarness } from './build.mjs';
import { startServer } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOTS = resolve(repo, process.env.STITCH_SCREENSHOT_DIR || join('test-results', 'browser'));

/** The harness's fixed panel time range (harness.tsx). */
const FROM = 1_700_000_000_000;
const TO = 1_700_003_600_000;

const GOOD_SESSION = '0af7651916cd43dd8448eb211c80319c';
const GOOD_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

try {
  accessSync(CHROMIUM, constants.X_OK);
} catch {
  throw new Error(
    `Chromium not found at ${CHROMIUM}. The browser tests drive Debian's Chromium: run \`apt-get install chromium\` ` +
      '(or set CHROMIUM_PATH to a Chromium or Chrome binary).'
  );
}

let server;
let browser;

before(async () => {
  const ms = await buildHarness();
  console.log(`# harness bundled in ${(ms / 1000).toFixed(1)}s`);
  server = await startServer();
  // As root Chromium needs --no-sandbox; nothing but the loopback harness is loaded.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/**
 * Opens the harness with one editor. Returns the page; page.problems collects uncaught errors and console
 * errors, which every test checks are none.
 */
async function open(editor, { state, theme = 'dark', resource = 'ok' } = {}) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(10_000);
  const problems = [];
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      problems.push(`console.error: ${msg.text()}`);
    }
  });
  page.problems = problems;
  const params = new URLSearchParams({ editor, theme, resource });
  if (state !== undefined) {
    params.set('state', JSON.stringify(state));
  }
  await page.goto(`${server.url}?${params}`);
  await page.waitForFunction(() => window.stitch?.ready === true);
  return page;
}

/** Closes the page after checking it logged no errors. */
async function done(page) {
  const problems = [...page.problems];
  await page.close();
  assert.deepEqual(problems, [], 'the page logged errors');
}

/** What the harness recorded: latest options / query, change and run counts, resource calls. */
function recorded(page) {
  return page.evaluate(() => JSON.parse(JSON.stringify(window.stitch)));
}

async function options(page) {
  return (await recorded(page)).options;
}

async function query(page) {
  return (await recorded(page)).query;
}

function exact(text) {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

/** The open select menu. */
function menu(page) {
  return page.locator('[aria-label="Select options menu"]');
}

/** The option labels of the open select menu. */
async function menuLabels(page) {
  await menu(page).waitFor();
  return menu(page).locator('[role="option"] > div > span').allTextContents();
}

/** Opens the select whose input has this id and picks the option with this label. */
async function choose(page, inputId, label) {
  await page.locator(`#${inputId}`).click();
  await menu(page)
    .locator('[role="option"]')
    .filter({ has: page.locator('span', { hasText: exact(label) }) })
    .click();
}

/** The text a select shows for its current value ('' when it shows its placeholder). */
async function selected(page, inputId) {
  const container = page.locator(`#${inputId}`).locator('xpath=../../..');
  return (await container.locator('[class*="singleValue"]').allTextContents()).join(',').trim();
}

/** Clicks a Grafana Switch (the visible toggle next to its hidden checkbox). */
async function toggle(page, id) {
  await page.locator(`input#${id} + label`).click();
}

/** The section (FieldSet) of one store in the ConfigEditor. */
function section(page, title) {
  return page.locator('fieldset').filter({ has: page.locator('legend', { hasText: exact(title) }) });
}

async function visible(locator) {
  return (await locator.count()) > 0 && locator.first().isVisible();
}

async function screenshot(page, name, { menu = false } = {}) {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.evaluate(() => document.fonts.ready);
  // Leave no caret or hover highlight in the picture.
  if (!menu) {
    await page.mouse.move(1279, 899);
    await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
  }
  const box = await page.locator('#editor').boundingBox();
  let bottom = box.y + box.height;
  if (menu) {
    const m = await page.locator('[aria-label="Select options menu"]').boundingBox();
    bottom = Math.max(bottom, m.y + m.height);
  }
  const pad = 8;
  const clip = { x: box.x - pad, y: box.y - pad, width: box.width + 2 * pad, height: bottom - box.y + 2 * pad };
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, clip, fullPage: true });
  return path;
}

describe('ConfigEditor', () => {
  test('starts with every store off and a warning; turning a store on gives it defaults, off removes it', async () => {
    const page = await open('config');
    assert.ok(await visible(page.getByText('No store configured')));
    assert.deepEqual((await options(page)).jsonData, {});

    await toggle(page, 'stitch-traces-enabled');
    assert.deepEqual((await options(page)).jsonData, {
      traces: { kind: 'jaeger', url: '', auth: 'none', timeoutSeconds: 30 },
    });
    assert.equal(await visible(page.getByText('No store configured')), false);
    assert.equal(await selected(page, 'stitch-traces-kind'), 'Jaeger');
    assert.equal(await page.locator('#stitch-traces-url').getAttribute('placeholder'), 'http://127.0.0.1:16686');
    assert.ok(await visible(section(page, 'Traces').getByText('URL is required')));

    await toggle(page, 'stitch-logs-enabled');
    await toggle(page, 'stitch-metrics-enabled');
    const { jsonData } = await options(page);
    assert.equal(jsonData.logs.kind, 'victorialogs');
    assert.equal(jsonData.metrics.kind, 'prometheus');

    await toggle(page, 'stitch-traces-enabled');
    assert.deepEqual(Object.keys((await options(page)).jsonData).sort(), ['logs', 'metrics']);
    assert.equal(await page.locator('#stitch-traces-url').count(), 0);
    await done(page);
  });

  test('traces: every field, URL and timeout validation, Jaeger ↔ Tempo keeps only the fields a kind takes', async () => {
    const page = await open('config');
    const traces = section(page, 'Traces');
    await toggle(page, 'stitch-traces-enabled');

    await page.fill('#stitch-traces-url', 'ftp://jaeger:16686');
    assert.ok(await visible(traces.getByText('Use an http:// or https:// URL')));
    await page.fill('#stitch-traces-url', 'http://jaeger:16686');
    assert.equal(await visible(traces.getByText('Use an http:// or https:// URL')), false);
    assert.equal(await visible(traces.getByText('URL is required')), false);

    // Jaeger takes no tenant.
    assert.equal(await page.locator('#stitch-traces-tenant').count(), 0);
    await choose(page, 'stitch-traces-kind', 'Tempo');
    assert.equal(await selected(page, 'stitch-traces-kind'), 'Tempo');
    await page.fill('#stitch-traces-tenant', 'team-a');
    await page.fill('#stitch-traces-url', 'https://tempo.example:3200');

    await page.fill('#stitch-traces-tlsServerName', 'tempo.internal');
    await toggle(page, 'stitch-traces-tlsSkipVerify');
    await page.fill('#stitch-traces-timeoutSeconds', '0');
    assert.ok(await visible(traces.getByText('Use a whole number of seconds, 1 or more')));
    await page.fill('#stitch-traces-timeoutSeconds', '15');
    assert.equal(await visible(traces.getByText('Use a whole number of seconds, 1 or more')), false);

    // The Grafana data source the links open traces in: a uid, checked as typed.
    await page.fill('#stitch-traces-linkDatasourceUid', 'tempo prod');
    assert.ok(await visible(traces.getByText('A data source uid: 1 to 40 letters, digits, - and _')));
    await page.fill('#stitch-traces-linkDatasourceUid', 'tempo-prod');
    assert.equal(await visible(traces.getByText('A data source uid: 1 to 40 letters, digits, - and _')), false);

    assert.deepEqual((await options(page)).jsonData.traces, {
      kind: 'tempo',
      url: 'https://tempo.example:3200',
      auth: 'none',
      tenant: 'team-a',
      tlsServerName: 'tempo.internal',
      tlsSkipVerify: true,
      timeoutSeconds: 15,
      linkDatasourceUid: 'tempo-prod',
    });

    // Back to Jaeger: the tenant field goes, and so does the tenant in jsonData.
    await choose(page, 'stitch-traces-kind', 'Jaeger');
    assert.equal(await page.locator('#stitch-traces-tenant').count(), 0);
    assert.deepEqual((await options(page)).jsonData.traces, {
      kind: 'jaeger',
      url: 'https://tempo.example:3200',
      auth: 'none',
      tlsServerName: 'tempo.internal',
      tlsSkipVerify: true,
      timeoutSeconds: 15,
      linkDatasourceUid: 'tempo-prod',
    });

    // Clearing the timeout removes it (the backend's default applies).
    await page.fill('#stitch-traces-timeoutSeconds', '');
    assert.equal('timeoutSeconds' in (await options(page)).jsonData.traces, false);
    await done(page);
  });

  test('logs: VictoriaLogs account and project IDs (digits only) ↔ Loki tenant', async () => {
    const page = await open('config');
    const logs = section(page, 'Logs');
    await toggle(page, 'stitch-logs-enabled');
    assert.equal(await selected(page, 'stitch-logs-kind'), 'VictoriaLogs');
    assert.equal(await page.locator('#stitch-logs-tenant').count(), 0);

    await page.fill('#stitch-logs-url', 'http://victorialogs:9428');
    await page.fill('#stitch-logs-accountId', '12a');
    assert.equal(await logs.getByText('Digits only').count(), 1);
    await page.fill('#stitch-logs-accountId', '12');
    await page.fill('#stitch-logs-projectId', 'x');
    assert.equal(await logs.getByText('Digits only').count(), 1);
    await page.fill('#stitch-logs-projectId', '3');
    assert.equal(await logs.getByText('Digits only').count(), 0);
    assert.deepEqual((await options(page)).jsonData.logs, {
      kind: 'victorialogs',
      url: 'http://victorialogs:9428',
      auth: 'none',
      timeoutSeconds: 30,
      accountId: '12',
      projectId: '3',
    });

    await choose(page, 'stitch-logs-kind', 'Loki');
    assert.equal(await page.locator('#stitch-logs-accountId').count(), 0);
    assert.equal(await page.locator('#stitch-logs-projectId').count(), 0);
    assert.equal(await page.locator('#stitch-logs-url').getAttribute('placeholder'), 'http://127.0.0.1:3100');
    await page.fill('#stitch-logs-url', 'http://loki:3100');
    await page.fill('#stitch-logs-tenant', 'tenant-1');
    assert.deepEqual((await options(page)).jsonData.logs, {
      kind: 'loki',
      url: 'http://loki:3100',
      auth: 'none',
      timeoutSeconds: 30,
      tenant: 'tenant-1',
    });

    await choose(page, 'stitch-logs-kind', 'VictoriaLogs');
    assert.equal(await page.locator('#stitch-logs-tenant').count(), 0);
    const back = (await options(page)).jsonData.logs;
    assert.equal(back.kind, 'victorialogs');
    assert.equal('tenant' in back, false);
    assert.equal(await page.locator('#stitch-logs-accountId').inputValue(), '');
    await done(page);
  });

  test('metrics: Prometheus with an optional tenant', async () => {
    const page = await open('config');
    await toggle(page, 'stitch-metrics-enabled');
    assert.equal(await selected(page, 'stitch-metrics-kind'), 'Prometheus');
    await page.fill('#stitch-metrics-url', 'http://mimir:9009/prometheus');
    await page.fill('#stitch-metrics-tenant', 'anonymous');
    assert.deepEqual((await options(page)).jsonData.metrics, {
      kind: 'prometheus',
      url: 'http://mimir:9009/prometheus',
      auth: 'none',
      timeoutSeconds: 30,
      tenant: 'anonymous',
    });
    await done(page);
  });

  test('basic and bearer auth: secrets typed into each store are all kept, none replaces another', async () => {
    const page = await open('config');
    for (const role of ['traces', 'logs', 'metrics']) {
      await toggle(page, `stitch-${role}-enabled`);
    }
    await choose(page, 'stitch-traces-auth', 'Bearer token');
    assert.equal(await page.locator('#stitch-traces-basicAuthUser').count(), 0);
    await page.fill('#stitch-traces-BearerToken', 'traces-token');

    await choose(page, 'stitch-logs-auth', 'Basic authentication');
    await page.fill('#stitch-logs-basicAuthUser', 'vl-reader');
    await page.fill('#stitch-logs-BasicAuthPassword', 'vl-password');

    await choose(page, 'stitch-metrics-auth', 'Bearer token');
    await page.fill('#stitch-metrics-BearerToken', 'metrics-token');
    await page.fill('#stitch-traces-TLSCACert', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----');

    // A secret's field is a password field: typed text is not shown.
    assert.equal(await page.locator('#stitch-traces-BearerToken').getAttribute('type'), 'password');

    const { jsonData, secureJsonData } = await options(page);
    assert.equal(jsonData.traces.auth, 'bearer');
    assert.equal(jsonData.logs.auth, 'basic');
    assert.equal(jsonData.logs.basicAuthUser, 'vl-reader');
    assert.equal(jsonData.metrics.auth, 'bearer');
    assert.deepEqual(secureJsonData, {
      tracesBearerToken: 'traces-token',
      logsBasicAuthPassword: 'vl-password',
      metricsBearerToken: 'metrics-token',
      tracesTLSCACert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
    });
    // Secrets are never put in jsonData.
    assert.equal(JSON.stringify(jsonData).includes('token'), false);
    await done(page);
  });

  test('configured secrets show as configured; resetting one keeps every other secret', async () => {
    const configured = {
      tracesBearerToken: true,
      tracesTLSCACert: true,
      logsBasicAuthPassword: true,
      metricsBearerToken: true,
    };
    const page = await open('config', {
      state: {
        jsonData: {
          traces: { kind: 'tempo', url: 'http://tempo:3200', auth: 'bearer', tenant: 't' },
          logs: { kind: 'loki', url: 'http://loki:3100', auth: 'basic', basicAuthUser: 'loki' },
          metrics: { kind: 'prometheus', url: 'http://prometheus:9090', auth: 'bearer' },
        },
        secureJsonFields: configured,
      },
    });

    const secret = (key) => page.getByTestId(`secret-${key}`);
    for (const key of ['tracesBearerToken', 'logsBasicAuthPassword', 'metricsBearerToken']) {
      const input = secret(key).locator('input');
      assert.equal(await input.inputValue(), 'configured', key);
      assert.ok(await input.isDisabled(), key);
      assert.ok(await visible(secret(key).getByRole('button', { name: 'Reset' })), key);
    }
    // A configured certificate shows as configured too; one not configured is an empty text area.
    assert.equal(await secret('tracesTLSCACert').locator('textarea').inputValue(), 'configured');
    assert.equal(await secret('tracesTLSClientCert').locator('textarea').inputValue(), '');

    await secret('tracesBearerToken').getByRole('button', { name: 'Reset' }).click();
    let state = await options(page);
    assert.deepEqual(state.secureJsonFields, { ...configured, tracesBearerToken: false });
    assert.deepEqual(state.secureJsonData, { tracesBearerToken: '' });
    // The others still show as configured.
    assert.equal(await secret('logsBasicAuthPassword').locator('input').inputValue(), 'configured');
    assert.equal(await secret('metricsBearerToken').locator('input').inputValue(), 'configured');

    await page.fill('#stitch-traces-BearerToken', 'new-traces-token');
    state = await options(page);
    assert.deepEqual(state.secureJsonFields, { ...configured, tracesBearerToken: false });
    assert.deepEqual(state.secureJsonData, { tracesBearerToken: 'new-traces-token' });

    // Resetting a second secret keeps the first one's new value.
    await secret('logsBasicAuthPassword').getByRole('button', { name: 'Reset' }).click();
    await page.fill('#stitch-logs-BasicAuthPassword', 'new-loki-password');
    state = await options(page);
    assert.deepEqual(state.secureJsonFields, {
      ...configured,
      tracesBearerToken: false,
      logsBasicAuthPassword: false,
    });
    assert.deepEqual(state.secureJsonData, {
      tracesBearerToken: 'new-traces-token',
      logsBasicAuthPassword: 'new-loki-password',
    });
    assert.equal(await secret('metricsBearerToken').locator('input').inputValue(), 'configured');
    assert.equal(await secret('tracesTLSCACert').locator('textarea').inputValue(), 'configured');
    // Non-secret settings are untouched by all this.
    assert.equal(state.jsonData.traces.tenant, 't');
    assert.equal(state.jsonData.logs.basicAuthUser, 'loki');
    await done(page);
  });

  test('renders in both Grafana themes with Grafana fonts and icons', async () => {
    for (const [theme, background] of [
      ['dark', 'rgb(24, 27, 31)'],
      ['light', 'rgb(255, 255, 255)'],
    ]) {
      const page = await open('config', { theme, state: { jsonData: { traces: { kind: 'jaeger', url: '' } } } });
      const style = await page.evaluate(() => ({
        editor: getComputedStyle(document.getElementById('editor')).backgroundColor,
        font: getComputedStyle(document.body).fontFamily,
      }));
      assert.equal(style.editor, background, theme);
      assert.match(style.font, /^Inter/, theme);
      await page.evaluate(() => document.fonts.ready);
      assert.ok(await page.evaluate(() => document.fonts.check('14px Inter')), `${theme}: Inter loaded`);
      // The select's chevron is one of Grafana's icons, fetched as SVG.
      await page.locator('#editor [data-testid="icon-angle-down"]').first().waitFor();
      await done(page);
    }
    assert.deepEqual(server.notFound, [], 'the page asked for files that are not there');
  });
});

describe('QueryEditor', () => {
  test('sessions: filters load values for the panel time range, offer variables and accept typed values', async () => {
    const page = await open('query');
    assert.deepEqual(await query(page), { refId: 'A', queryType: 'sessions', limit: 100 });
    assert.equal(await selected(page, 'stitch-query-A-type'), 'Sessions');

    await page.locator('#stitch-query-A-appService').click();
    await menu(page).getByText('android-app').waitFor();
    assert.deepEqual(await menuLabels(page), ['$session', '$endpoint', 'android-app', 'ios-app']);
    assert.deepEqual((await recorded(page)).resourceCalls, [
      { path: 'values', params: { attribute: 'appService', from: FROM, to: TO } },
    ]);
    await page.locator('[role="option"]', { hasText: 'ios-app' }).click();
    assert.equal((await query(page)).appService, 'ios-app');
    assert.equal((await recorded(page)).runs, 1);

    // Reopening the same filter does not ask again for the same time range.
    await page.locator('#stitch-query-A-appService').click();
    await page.keyboard.press('Escape');
    assert.equal((await recorded(page)).resourceCalls.length, 1);

    await choose(page, 'stitch-query-A-appVersion', '2.5.0');
    await choose(page, 'stitch-query-A-deviceModel', '$session');

    // The endpoint route says its list is truncated: a disabled hint says so, and a typed value is accepted.
    await page.locator('#stitch-query-A-endpoint').click();
    const hint = page.getByText('Only the first 3 values are listed: type to use another');
    await hint.waitFor();
    await page.keyboard.type('/api/orders');
    await page.keyboard.press('Enter');
    assert.equal((await query(page)).endpoint, '/api/orders');

    await toggle(page, 'stitch-query-A-errorsOnly');

    await page.fill('#stitch-query-A-minDurationMs', '-5');
    assert.ok(await visible(page.getByText('Use 0 or more milliseconds')));
    await page.fill('#stitch-query-A-minDurationMs', '250');
    assert.equal(await visible(page.getByText('Use 0 or more milliseconds')), false);

    // The limit is committed on blur, clamped to 1..1000.
    await page.fill('#stitch-query-A-limit', '5000');
    assert.ok(await visible(page.getByText('Use a whole number from 1 to 1000')));
    await page.locator('#stitch-query-A-limit').blur();
    assert.equal(await page.locator('#stitch-query-A-limit').inputValue(), '1000');

    assert.deepEqual(await query(page), {
      refId: 'A',
      queryType: 'sessions',
      appService: 'ios-app',
      appVersion: '2.5.0',
      deviceModel: '$session',
      endpoint: '/api/orders',
      errorsOnly: true,
      minDurationMs: 250,
      limit: 1000,
    });
    const { resourceCalls, runs } = await recorded(page);
    assert.deepEqual(
      resourceCalls.map((c) => c.params.attribute),
      ['appService', 'appVersion', 'deviceModel', 'endpoint']
    );
    assert.ok(runs >= 6, `runs: ${runs}`);

    // Clearing a filter removes it from the query.
    await page.locator('#stitch-query-A-appVersion').focus();
    await page.keyboard.press('Backspace');
    assert.equal('appVersion' in (await query(page)), false);
    await done(page);
  });

  test('sessions: a failing values route is shown on the filter, and typed values still work', async () => {
    const page = await open('query', { resource: 'error' });
    await page.locator('#stitch-query-A-networkType').click();
    await page.getByText('Could not load network type values: logs store unreachable: connection refused').waitFor();
    await page.keyboard.type('wifi');
    await page.keyboard.press('Enter');
    assert.equal((await query(page)).networkType, 'wifi');
    await done(page);
  });

  test('query type: each type shows its own fields and gets the defaults it needs', async () => {
    const page = await open('query');
    const fieldsOf = {
      Sessions: ['appService', 'endpoint', 'errorsOnly', 'minDurationMs', 'limit'],
      'Session timeline': ['sessionId'],
      'Trace to session': ['traceId'],
      'Latency breakdown': ['groupBy', 'limit'],
      'Error cascades': ['limit'],
      'Propagation health': [],
      'Session metrics': ['metric', 'metricGroupBy'],
      'Exemplar sessions': ['endpoint', 'errorsOnly', 'minDurationMs'],
    };
    const all = [...new Set(Object.values(fieldsOf).flat())];
    const expected = {
      Sessions: { queryType: 'sessions' },
      'Session timeline': { queryType: 'sessionTimeline' },
      'Trace to session': { queryType: 'traceToSession' },
      'Latency breakdown': { queryType: 'latencyBreakdown', groupBy: ['endpoint'] },
      'Error cascades': { queryType: 'errorCascades', groupBy: ['endpoint'] },
      'Propagation health': { queryType: 'propagationHealth', groupBy: ['endpoint'] },
      'Session metrics': { queryType: 'sessionMetrics', groupBy: 'endpoint', metric: 'errorSessionRatio' },
      'Exemplar sessions': { queryType: 'exemplarSessions' },
    };
    let runs = 0;
    for (const label of [
      'Session timeline',
      'Trace to session',
      'Latency breakdown',
      'Error cascades',
      'Propagation health',
      'Session metrics',
      'Exemplar sessions',
      'Sessions',
    ]) {
      await choose(page, 'stitch-query-A-type', label);
      assert.equal(await selected(page, 'stitch-query-A-type'), label);
      const q = await query(page);
      for (const [key, value] of Object.entries(expected[label])) {
        assert.deepEqual(q[key], value, `${label}: ${key}`);
      }
      assert.equal(q.limit, 100, `${label}: limit kept`);
      const shown = [];
      for (const field of all) {
        if ((await page.locator(`#stitch-query-A-${field}`).count()) > 0) {
          shown.push(field);
        }
      }
      assert.deepEqual(shown.sort(), [...fieldsOf[label]].sort(), `${label}: fields`);
      // Switching the type runs the query.
      const now = (await recorded(page)).runs;
      assert.equal(now, runs + 1, `${label}: runs`);
      runs = now;
    }
    await done(page);
  });

  test('session timeline: a bad session ID is explained before the query runs; good IDs and variables are not', async () => {
    const page = await open('query', { state: { refId: 'A', queryType: 'sessionTimeline' } });
    const cases = [
      ['abc123', 'A session ID is 32 lowercase hex characters; this has 6. Or use a variable such as $session'],
      [GOOD_SESSION.toUpperCase(), 'Session IDs are lowercase: use 0-9 and a-f only'],
      ['0'.repeat(32), 'The all-zero session ID is not valid'],
      ['session-42', 'A session ID is 32 lowercase hex characters (0-9, a-f), or a variable such as $session'],
      ['$session', undefined],
      ['${session}', undefined],
      [GOOD_SESSION, undefined],
    ];
    for (const [id, message] of cases) {
      await page.fill('#stitch-query-A-sessionId', id);
      assert.equal((await query(page)).sessionId, id);
      const error = page.locator('#editor').getByText(/session ID|Session IDs/);
      if (message) {
        assert.equal(await error.textContent(), message, id);
      } else {
        assert.equal(await error.count(), 0, id);
      }
    }
    const before = (await recorded(page)).runs;
    await page.locator('#stitch-query-A-sessionId').blur();
    assert.equal((await recorded(page)).runs, before + 1, 'leaving the field runs the query');
    assert.deepEqual(await query(page), { refId: 'A', queryType: 'sessionTimeline', sessionId: GOOD_SESSION });
    await done(page);
  });

  test('trace to session: a bad trace ID is explained; 32 or 16 hex characters and variables are accepted', async () => {
    const page = await open('query', { state: { refId: 'A', queryType: 'traceToSession' } });
    const cases = [
      ['4bf92f35', 'A trace ID is 32 or 16 hex characters; this has 8. Or use a variable such as $trace'],
      ['0'.repeat(16), 'The all-zero trace ID is not valid'],
      ['trace:4bf9', 'A trace ID is 32 or 16 hex characters (0-9, a-f), or a variable such as $trace'],
      ['$trace', undefined],
      [GOOD_TRACE.slice(16), undefined],
      [GOOD_TRACE.toUpperCase(), undefined],
      [GOOD_TRACE, undefined],
    ];
    for (const [id, message] of cases) {
      await page.fill('#stitch-query-A-traceId', id);
      const error = page.locator('#editor').getByText(/trace ID/);
      if (message) {
        assert.equal(await error.textContent(), message, id);
      } else {
        assert.equal(await error.count(), 0, id);
      }
    }
    assert.deepEqual(await query(page), { refId: 'A', queryType: 'traceToSession', traceId: GOOD_TRACE });
    await done(page);
  });

  test('latency breakdown: group by several attributes, and a limit', async () => {
    const page = await open('query', { state: { refId: 'A', queryType: 'latencyBreakdown' } });
    // Shown as the default before anything is picked.
    const chips = () =>
      page.locator('#stitch-query-A-groupBy').locator('xpath=../../..').locator('[class*="multi-value-container"]');
    assert.deepEqual(await chips().allTextContents(), ['Endpoint']);

    await choose(page, 'stitch-query-A-groupBy', 'App version');
    await page.keyboard.press('Escape');
    await choose(page, 'stitch-query-A-groupBy', 'Network type');
    await page.keyboard.press('Escape');
    assert.deepEqual((await query(page)).groupBy, ['endpoint', 'appVersion', 'networkType']);
    assert.deepEqual(await chips().allTextContents(), ['Endpoint', 'App version', 'Network type']);

    await chips().filter({ hasText: 'Endpoint' }).getByRole('button', { name: 'Remove' }).click();
    assert.deepEqual((await query(page)).groupBy, ['appVersion', 'networkType']);

    await page.fill('#stitch-query-A-limit', '25');
    await page.locator('#stitch-query-A-limit').blur();
    assert.deepEqual(await query(page), {
      refId: 'A',
      queryType: 'latencyBreakdown',
      groupBy: ['appVersion', 'networkType'],
      limit: 25,
    });
    await done(page);
  });

  test('session metrics: a metric and at most one group-by attribute', async () => {
    const page = await open('query', { state: { refId: 'A', queryType: 'sessions', limit: 100 } });
    await choose(page, 'stitch-query-A-type', 'Session metrics');
    assert.equal(await selected(page, 'stitch-query-A-metric'), 'Error-session ratio');
    assert.deepEqual(await query(page), {
      refId: 'A',
      queryType: 'sessionMetrics',
      limit: 100,
      metric: 'errorSessionRatio',
    });

    await page.locator('#stitch-query-A-metric').click();
    assert.deepEqual(await menuLabels(page), [
      'Sessions',
      'Sessions with errors',
      'Error-session ratio',
      'Client latency p95',
      'Server latency p95',
      'Network latency p95',
      'Propagation coverage',
      'New cascade signatures',
    ]);
    await page.locator('[role="option"]', { hasText: 'Client latency p95' }).click();
    await choose(page, 'stitch-query-A-metricGroupBy', 'Device model');
    assert.deepEqual(await query(page), {
      refId: 'A',
      queryType: 'sessionMetrics',
      limit: 100,
      metric: 'clientLatencyP95',
      groupBy: 'deviceModel',
    });

    // Cleared: one series, no groupBy.
    await page.locator('#stitch-query-A-metricGroupBy').focus();
    await page.keyboard.press('Backspace');
    assert.equal((await query(page)).groupBy, undefined);
    assert.equal(await selected(page, 'stitch-query-A-metricGroupBy'), '');

    // A latency breakdown started from here groups by a list.
    await choose(page, 'stitch-query-A-metricGroupBy', 'OS version');
    await choose(page, 'stitch-query-A-type', 'Latency breakdown');
    assert.deepEqual((await query(page)).groupBy, ['osVersion']);
    await done(page);
  });
});

describe('VariableQueryEditor', () => {
  test('picking an attribute stores { attribute }; an unknown stored attribute is explained', async () => {
    let page = await open('variable');
    assert.equal((await recorded(page)).variableQuery, '');
    await choose(page, 'stitch-variable-attribute', 'Session ID');
    assert.deepEqual((await recorded(page)).variableQuery, { refId: 'StitchVariableQuery', attribute: 'sessionId' });
    await choose(page, 'stitch-variable-attribute', 'Endpoint');
    assert.deepEqual((await recorded(page)).variableQuery, { refId: 'StitchVariableQuery', attribute: 'endpoint' });
    await done(page);

    page = await open('variable', { state: 'devicemodel' });
    await page.getByText('Unknown attribute "devicemodel": pick one from the list').waitFor();
    await choose(page, 'stitch-variable-attribute', 'Device model');
    assert.deepEqual((await recorded(page)).variableQuery, {
      refId: 'StitchVariableQuery',
      attribute: 'deviceModel',
    });
    assert.equal(await page.getByText(/Unknown attribute/).count(), 0);
    await done(page);
  });
});

describe('screenshots', () => {
  test('config editor (dark, light), query editor (sessions, session metrics, session timeline), variable editor', async () => {
    const files = [];

    let page = await open('config', {
      state: {
        jsonData: {
          traces: { kind: 'tempo', url: 'http://tempo:3200', auth: 'bearer', tenant: 'mobile', timeoutSeconds: 30 },
        },
        secureJsonFields: { tracesBearerToken: true, tracesTLSCACert: true },
      },
    });
    files.push(await screenshot(page, 'config-editor'));
    await done(page);

    page = await open('config', {
      theme: 'light',
      state: {
        jsonData: {
          logs: {
            kind: 'victorialogs',
            url: 'https://victorialogs.example:9428',
            auth: 'basic',
            basicAuthUser: 'stitch',
            accountId: '12',
            projectId: 'x',
            timeoutSeconds: 30,
          },
        },
        secureJsonFields: { logsBasicAuthPassword: true },
      },
    });
    files.push(await screenshot(page, 'config-editor-logs-light'));
    await done(page);

    page = await open('query', {
      state: {
        refId: 'A',
        queryType: 'sessions',
        appService: 'ios-app',
        appVersion: '2.5.0',
        networkType: 'cellular',
        endpoint: '/api/checkout',
        errorsOnly: true,
        minDurationMs: 2000,
        limit: 100,
      },
    });
    files.push(await screenshot(page, 'query-editor-sessions'));
    await done(page);

    page = await open('query', {
      state: { refId: 'A', queryType: 'sessionMetrics', metric: 'errorSessionRatio', groupBy: 'appVersion' },
    });
    await page.locator('#stitch-query-A-metric').click();
    await menu(page).getByText('New cascade signatures').waitFor();
    files.push(await screenshot(page, 'query-editor-session-metrics', { menu: true }));
    await done(page);

    page = await open('query', { state: { refId: 'A', queryType: 'sessionTimeline', sessionId: '0AF76519' } });
    files.push(await screenshot(page, 'query-editor-session-timeline'));
    await done(page);

    page = await open('variable', { state: { refId: 'StitchVariableQuery', attribute: 'sessionId' } });
    await page.locator('#stitch-variable-attribute').click();
    await menu(page).getByText('Network type').waitFor();
    files.push(await screenshot(page, 'variable-query-editor', { menu: true }));
    await done(page);

    for (const file of files) {
      console.log(`# screenshot: ${file}`);
    }
  });
});
