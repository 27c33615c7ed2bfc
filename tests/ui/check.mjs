// Drives the gateway's web UI in headless Chromium (Debian's, at /usr/bin/chromium) and prints,
// as one JSON object, what the pages show: tests/tests/web_ui.rs compares it with the API's own
// answers to the same requests.
//
//   node tests/ui/check.mjs <gateway-url> <screenshot-dir>
//
// The queries are over the series web_ui.rs stores (`ui_requests_total`,
// `ui_temperature_celsius`); the output names each query it ran.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const GRAPH_QUERY = 'rate(ui_requests_total[5m])';
const TABLE_QUERY = 'ui_requests_total';
// A parse error inside the query (at `by`: `sum(` lacks its parenthesis), not at its end.
const BAD_QUERY = 'sum(rate(ui_requests_total[5m]) by (job)';
const COMPLETION_PREFIX = 'ui_';
const WAIT = { timeout: 15000 };
// A flat line has no height, so Playwright never calls it visible: wait for it to exist.
const DRAWN = { ...WAIT, state: 'attached' };

const [url, screenshotDir] = process.argv.slice(2);
if (!url || !screenshotDir) {
  console.error('usage: node check.mjs <gateway-url> <screenshot-dir>');
  process.exit(2);
}
mkdirSync(screenshotDir, { recursive: true });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  // Root in a container has no user namespaces for Chromium's sandbox.
  args: ['--no-sandbox'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const pageErrors = [];
const failedRequests = [];
page.on('pageerror', (error) => pageErrors.push(error.message));
page.on('console', (message) => {
  // Chromium logs every failed request: those are in failedRequests.
  if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
    pageErrors.push(message.text());
  }
});
page.on('response', (response) => {
  if (response.status() >= 400) {
    const { pathname } = new URL(response.url());
    failedRequests.push({ method: response.request().method(), path: pathname, status: response.status() });
  }
});

try {
  const result = {
    home: await home(),
    completions: await completions(),
    graph: await graph(),
    table: await table(),
    error: await parseError(),
    stores: await stores(),
    status: await status(),
    pageErrors,
    failedRequests,
  };
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}

// `/`, redirected to the query page.
async function home() {
  const response = await page.goto(`${url}/`);
  await page.waitForSelector('#query-view:not([hidden])', WAIT);
  return {
    url: page.url(),
    status: response.status(),
    redirectedFrom: response.request().redirectedFrom()?.url() ?? null,
  };
}

async function completions() {
  await page.click('#expr');
  await page.keyboard.type(COMPLETION_PREFIX);
  await page.waitForSelector('#completions:not([hidden]) li', WAIT);
  const names = await completionNames();
  // Inside braces, label names.
  await page.fill('#expr', `${names[0]}{`);
  await page.keyboard.type('j');
  await page.waitForSelector('#completions:not([hidden]) li[data-name="job"]', WAIT);
  const labelNames = await completionNames();
  await page.keyboard.press('Escape');
  return { prefix: COMPLETION_PREFIX, names, labelNames };
}

function completionNames() {
  return page.$$eval('#completions li', (items) => items.map((li) => li.dataset.name));
}

// Types the query, executes it with Enter, and reads back what the graph drew.
async function runQuery(query) {
  await page.fill('#expr', query);
  await page.press('#expr', 'Enter');
}

async function graph() {
  await runQuery(GRAPH_QUERY);
  await page.waitForSelector('svg.chart path.series', DRAWN);
  const drawn = await page.$eval('svg.chart', (svg) => ({
    start: Number(svg.dataset.start),
    end: Number(svg.dataset.end),
    step: Number(svg.dataset.step),
    series: [...svg.querySelectorAll('path.series')].map((path) => ({
      metric: JSON.parse(path.dataset.series),
      // Every point drawn is one move or line command of the path.
      points: (path.getAttribute('d').match(/[ML]/g) || []).length,
    })),
  }));
  const legend = await page.$$eval('#legend li', (items) =>
    items.map((li) => ({ metric: JSON.parse(li.dataset.series), text: li.textContent })));
  const tooltip = await hover();
  const screenshot = resolve(join(screenshotDir, 'query-graph.png'));
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.mouse.move(0, 0);
  await page.check('#stacked');
  const stackedSeries = await page.$$eval('svg.chart path.series', (paths) => paths.length);
  const stackedAreas = await page.$$eval('svg.chart polygon.area', (areas) => areas.length);
  await page.uncheck('#stacked');
  return { query: GRAPH_QUERY, ...drawn, legend, tooltip, stackedSeries, stackedAreas, screenshot };
}

// Hovers over the middle of the plot: the read-out's time and one row per series.
async function hover() {
  const box = await page.locator('svg.chart .hover-layer').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForSelector('#tooltip:not([hidden])', WAIT);
  return page.$eval('#tooltip', (tooltip) => ({
    timeMs: Number(tooltip.dataset.time),
    time: tooltip.querySelector('.tooltip-time').textContent,
    rows: [...tooltip.querySelectorAll('.tooltip-row')].map((row) => row.textContent),
  }));
}

async function table() {
  await page.click('[data-tab="table"]');
  await runQuery(TABLE_QUERY);
  await page.waitForSelector('#table tr[data-series]', WAIT);
  return page.$eval('#table', (table, query) => ({
    query,
    time: Number(table.dataset.time),
    rows: [...table.querySelectorAll('tr[data-series]')].map((row) => ({
      metric: JSON.parse(row.dataset.series),
      value: row.querySelector('td.value').textContent,
    })),
  }), TABLE_QUERY);
}

// The bad query on the table tab (an instant query): the message and the marked column.
async function parseError() {
  await runQuery(BAD_QUERY);
  await page.waitForSelector('#error-pointer:not([hidden])', WAIT);
  return page.evaluate((query) => {
    const pointer = document.getElementById('error-pointer');
    const input = document.getElementById('expr');
    return {
      query,
      message: document.getElementById('error-message').textContent,
      line: Number(pointer.dataset.line),
      column: Number(pointer.dataset.column),
      pointer: pointer.textContent,
      selectionStart: input.selectionStart,
      // The mark under the input: where it is and what it covers.
      markedOffset: document.querySelector('#expr-marks mark')?.previousSibling?.textContent.length ?? null,
      markedText: document.querySelector('#expr-marks mark')?.textContent ?? null,
      inputMarked: input.classList.contains('invalid'),
    };
  }, BAD_QUERY);
}

async function stores() {
  await page.goto(`${url}/stores`);
  await page.waitForSelector('tr[data-endpoint]', WAIT);
  const endpoints = await page.$$eval('tr[data-endpoint]', (rows) => rows.map((row) => ({
    name: row.dataset.endpoint,
    component: row.dataset.component,
    healthy: row.dataset.healthy === 'true',
    cells: [...row.querySelectorAll('td')].map((td) => td.textContent),
  })));
  const screenshot = resolve(join(screenshotDir, 'stores.png'));
  await page.screenshot({ path: screenshot, fullPage: true });
  return { endpoints, screenshot };
}

// Each status table's rows, by the API path they show.
async function status() {
  await page.goto(`${url}/status`);
  await page.waitForSelector('table[data-source]', WAIT);
  return page.$$eval('table[data-source]', (tables) => Object.fromEntries(tables.map((table) => [
    table.dataset.source,
    Object.fromEntries([...table.querySelectorAll('tr')].map((row) =>
      [row.querySelector('th').textContent, row.querySelector('td').textContent])),
  ])));
}
