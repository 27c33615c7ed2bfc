// The Panoptes web UI: one script for every page (picked by path), reading only the gateway's
// Prometheus HTTP API. No framework: small functions that build DOM and SVG nodes.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

// ------------------------------------------------------------------------------------------
// DOM, API and formatting helpers
// ------------------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  return build(document.createElement(tag), attributes, children);
}

function svgElement(tag, attributes = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attributes, children);
}

function build(node, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

class ApiError extends Error {
  constructor(type, message) {
    super(message);
    this.type = type;
  }
}

// The answer's envelope, or an ApiError with the API's type and message.
async function api(path, params = {}, method = 'GET') {
  const form = new URLSearchParams(params);
  const response = method === 'GET'
    ? await fetch(form.size ? `${path}?${form}` : path)
    : await fetch(path, { method, body: form });
  let answer;
  try {
    answer = await response.json();
  } catch {
    throw new ApiError('http', `${path}: HTTP ${response.status}`);
  }
  if (answer.status !== 'success') {
    throw new ApiError(answer.errorType, answer.error);
  }
  return answer;
}

// `name{a="b", c="d"}`, as Prometheus' UI names series.
function seriesName(metric) {
  const name = metric.__name__ || '';
  const labels = Object.entries(metric)
    .filter(([label]) => label !== '__name__')
    .map(([label, value]) => `${label}=${JSON.stringify(value)}`);
  return labels.length || !name ? `${name}{${labels.join(', ')}}` : name;
}

function sampleValue(text) {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

function formatNumber(value) {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude >= 1e6 || magnitude < 1e-3)) return value.toExponential(2);
  return String(Number(value.toPrecision(6)));
}

const pad = (n) => String(n).padStart(2, '0');

// Local time, `YYYY-MM-DD HH:MM:SS`.
function formatTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const DURATION_UNITS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

// Seconds in `1h30m`, `90s` or `90`; null when it is not a duration.
function parseDuration(text) {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const parts = [...trimmed.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== trimmed) return null;
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * DURATION_UNITS[unit], 0);
}

// A `datetime-local` input's time in seconds, or now when it is empty.
function inputTime(input) {
  const ms = input.value ? new Date(input.value).getTime() : Date.now();
  return Math.floor(ms / 1000);
}

// ------------------------------------------------------------------------------------------
// The query page
// ------------------------------------------------------------------------------------------

const query = { tab: 'graph', generation: 0, completion: null };

function setupQueryPage() {
  const params = new URLSearchParams(location.search);
  $('expr').value = params.get('expr') || '';
  $('range').value = params.get('range') || '1h';
  $('step').value = params.get('step') || '';
  $('stacked').checked = params.get('stacked') === '1';
  query.tab = params.get('tab') === 'table' ? 'table' : 'graph';
  $('execute').addEventListener('click', execute);
  $('expr').addEventListener('keydown', onExpressionKey);
  $('expr').addEventListener('input', onExpressionInput);
  $('expr').addEventListener('blur', hideCompletions);
  $('expr').addEventListener('scroll', () => { $('expr-marks').scrollTop = $('expr').scrollTop; });
  $('stacked').addEventListener('change', () => query.lastGraph && drawGraph(query.lastGraph));
  for (const button of document.querySelectorAll('[data-tab]')) {
    button.addEventListener('click', () => selectTab(button.dataset.tab));
  }
  window.addEventListener('resize', () => query.lastGraph && drawGraph(query.lastGraph));
  showTab();
  resizeInput();
  loadCompletions();
  if ($('expr').value) execute();
}

function selectTab(tab) {
  query.tab = tab;
  showTab();
  if ($('expr').value.trim()) execute();
}

function showTab() {
  for (const button of document.querySelectorAll('[data-tab]')) {
    button.classList.toggle('active', button.dataset.tab === query.tab);
  }
  $('graph-panel').hidden = query.tab !== 'graph';
  $('table-panel').hidden = query.tab !== 'table';
}

// The page's address keeps the query, so that it can be reloaded and shared.
function saveState(expr) {
  const params = new URLSearchParams({ expr, tab: query.tab, range: $('range').value });
  if ($('step').value) params.set('step', $('step').value);
  if ($('stacked').checked) params.set('stacked', '1');
  history.replaceState(null, '', `${location.pathname}?${params}`);
}

async function execute() {
  // Sent as typed: the parser's positions must point into the input as it is.
  const expr = $('expr').value;
  hideCompletions();
  if (!expr.trim()) return;
  saveState(expr);
  const generation = ++query.generation;
  const started = performance.now();
  try {
    const answer = query.tab === 'graph' ? await rangeQuery(expr) : await instantQuery(expr);
    if (generation !== query.generation) return;
    showError(null);
    showAnnotations(answer);
    $('result-info').textContent = `${Math.round(performance.now() - started)} ms, ` +
      `${resultCount(answer.data)} result${resultCount(answer.data) === 1 ? '' : 's'}`;
    if (query.tab === 'graph') drawGraph(answer.graph);
    else drawTable(answer.data, answer.time);
  } catch (error) {
    if (generation !== query.generation) return;
    showAnnotations({});
    $('result-info').textContent = '';
    clearResults();
    showError(error, expr);
  }
}

function resultCount(data) {
  return Array.isArray(data.result) ? data.result.length : 1;
}

// Prometheus' default resolution: a point every range/250, at least a second, whole seconds.
function defaultStep(range) {
  return Math.max(Math.floor(range / 250), 1);
}

async function rangeQuery(expr) {
  const range = parseDuration($('range').value);
  if (!range || range <= 0) throw new ApiError('ui', `invalid range "${$('range').value}"`);
  const step = $('step').value.trim() ? parseDuration($('step').value) : defaultStep(range);
  if (!step || step <= 0) throw new ApiError('ui', `invalid step "${$('step').value}"`);
  const end = inputTime($('end'));
  const start = end - range;
  const answer = await api('/api/v1/query_range', { query: expr, start, end, step }, 'POST');
  answer.graph = { start, end, step, result: answer.data.result };
  return answer;
}

async function instantQuery(expr) {
  const time = inputTime($('time'));
  const answer = await api('/api/v1/query', { query: expr, time }, 'POST');
  answer.time = time;
  return answer;
}

function clearResults() {
  query.lastGraph = null;
  $('graph').replaceChildren();
  $('legend').replaceChildren();
  $('table').replaceChildren();
}

function showAnnotations(answer) {
  const notes = [
    ...(answer.warnings || []).map((text) => element('div', { class: 'warning' }, text)),
    ...(answer.infos || []).map((text) => element('div', { class: 'info' }, text)),
  ];
  $('annotations').replaceChildren(...notes);
}

// ------------------------------------------------------------------------------------------
// Errors, with the parser's position marked in the expression
// ------------------------------------------------------------------------------------------

function showError(error, expr) {
  const box = $('error');
  $('expr').classList.remove('invalid');
  $('expr-marks').replaceChildren();
  box.hidden = !error;
  $('error-pointer').hidden = true;
  if (!error) return;
  $('error-message').textContent = error.message;
  const position = parsePosition(error.message);
  if (position) markPosition(expr, position);
}

// The `line:column:` (column in bytes, from 1) that the parser's messages start with.
function parsePosition(message) {
  const match = /(\d+):(\d+): parse error/.exec(message || '');
  return match && { line: Number(match[1]), column: Number(match[2]) };
}

// Points a caret at the error under its line, and marks and selects that character in the
// input.
function markPosition(expr, { line, column }) {
  const lines = expr.split('\n');
  const text = lines[line - 1] ?? '';
  const bytes = new TextEncoder().encode(text).slice(0, column - 1);
  const characters = new TextDecoder().decode(bytes).length;
  const pointer = $('error-pointer');
  pointer.textContent = `${text}\n${' '.repeat(characters)}^`;
  pointer.dataset.line = line;
  pointer.dataset.column = column;
  pointer.hidden = false;
  const offset = lines.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0) + characters;
  const input = $('expr');
  input.classList.add('invalid');
  markCharacter(input.value, offset);
  input.focus();
  input.setSelectionRange(offset, Math.min(offset + 1, input.value.length));
}

// Under the input, the text with the character at `offset` in a <mark> (a space when the
// error is at the end of a line, where there is no character).
function markCharacter(text, offset) {
  const character = text.slice(offset, offset + 1);
  const atEnd = character === '' || character === '\n';
  $('expr-marks').replaceChildren(
    text.slice(0, offset),
    element('mark', {}, atEnd ? ' ' : character),
    text.slice(atEnd ? offset : offset + 1));
}

// ------------------------------------------------------------------------------------------
// Completion of metric and label names
// ------------------------------------------------------------------------------------------

async function loadCompletions() {
  try {
    const [metrics, labels] = await Promise.all([
      api('/api/v1/label/__name__/values'),
      api('/api/v1/labels'),
    ]);
    query.metricNames = metrics.data;
    query.labelNames = labels.data.filter((name) => name !== '__name__');
  } catch {
    // Completion is a help: the page works without it.
    query.metricNames = [];
    query.labelNames = [];
  }
}

function onExpressionInput() {
  $('expr-marks').replaceChildren();
  $('expr').classList.remove('invalid');
  resizeInput();
  showCompletions();
}

function resizeInput() {
  const input = $('expr');
  input.rows = Math.min(input.value.split('\n').length, 10);
}

// The word being typed before the caret, and whether label names fit there (none does
// inside a string).
function wordAtCaret() {
  const input = $('expr');
  const before = input.value.slice(0, input.selectionStart);
  if (insideString(before)) return { word: '', labels: false };
  const word = /[A-Za-z_:][A-Za-z0-9_:]*$/.exec(before)?.[0] || '';
  const head = before.slice(0, before.length - word.length);
  const inBraces = head.lastIndexOf('{') > head.lastIndexOf('}');
  const inGrouping = /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*$/.test(head);
  return { word, labels: inBraces || inGrouping };
}

// Whether `text` ends inside a quoted string.
function insideString(text) {
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    if (quote && text[i] === '\\') i++;
    else if (quote && text[i] === quote) quote = null;
    else if (!quote && '"\'`'.includes(text[i])) quote = text[i];
  }
  return quote !== null;
}

function showCompletions() {
  const { word, labels } = wordAtCaret();
  const names = (labels ? query.labelNames : query.metricNames) || [];
  const matches = word ? names.filter((name) => name.startsWith(word) && name !== word) : [];
  const list = $('completions');
  query.completion = null;
  list.replaceChildren(...matches.slice(0, 20).map((name) => {
    const item = element('li', { 'data-name': name }, name);
    item.addEventListener('mousedown', (event) => {
      event.preventDefault();
      complete(name);
    });
    return item;
  }));
  list.hidden = !matches.length;
}

function hideCompletions() {
  $('completions').hidden = true;
  query.completion = null;
}

function moveCompletion(by) {
  const items = [...$('completions').children];
  const index = query.completion === null ? (by > 0 ? 0 : items.length - 1)
    : (query.completion + by + items.length) % items.length;
  query.completion = index;
  items.forEach((item, i) => item.classList.toggle('selected', i === index));
}

// Replaces the word before the caret with `name`.
function complete(name) {
  const input = $('expr');
  const { word } = wordAtCaret();
  const caret = input.selectionStart;
  input.value = input.value.slice(0, caret - word.length) + name + input.value.slice(caret);
  const after = caret - word.length + name.length;
  input.setSelectionRange(after, after);
  hideCompletions();
  input.focus();
}

// Enter executes (Shift+Enter is a new line) unless a completion is chosen; arrows and Tab
// choose completions; Escape closes them.
function onExpressionKey(event) {
  const listOpen = !$('completions').hidden;
  const items = [...$('completions').children];
  if (listOpen && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
    event.preventDefault();
    moveCompletion(event.key === 'ArrowDown' ? 1 : -1);
  } else if (listOpen && event.key === 'Tab') {
    event.preventDefault();
    complete(items[query.completion ?? 0].dataset.name);
  } else if (listOpen && event.key === 'Escape') {
    hideCompletions();
  } else if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    if (listOpen && query.completion !== null) complete(items[query.completion].dataset.name);
    else execute();
  }
}

// ------------------------------------------------------------------------------------------
// The graph: an SVG of the range query's series, with a legend and a hover read-out
// ------------------------------------------------------------------------------------------

const MARGIN = { top: 10, right: 16, bottom: 28, left: 64 };
const GRAPH_HEIGHT = 340;

// The series to draw: finite points keyed by whole milliseconds, and their stacked tops.
function graphSeries(result, stacked) {
  const base = new Map();
  return result.map((series, index) => {
    const points = (series.values || [])
      .map(([t, v]) => ({ t: Math.round(t * 1000), v: sampleValue(v) }))
      .filter((p) => Number.isFinite(p.v));
    for (const p of points) {
      p.low = stacked ? (base.get(p.t) || 0) : 0;
      p.y = stacked ? p.low + p.v : p.v;
      if (stacked) base.set(p.t, p.y);
    }
    return { metric: series.metric, name: seriesName(series.metric), color: COLORS[index % COLORS.length], points };
  });
}

function drawGraph(graph) {
  query.lastGraph = graph;
  const stacked = $('stacked').checked;
  const series = graphSeries(graph.result, stacked);
  if (!series.length) {
    $('graph').replaceChildren(element('p', { class: 'empty' }, 'Empty query result'));
    $('legend').replaceChildren();
    return;
  }
  const width = Math.max($('graph').clientWidth, 320);
  const frame = graphFrame(graph, series, width, stacked);
  const svg = svgElement('svg', {
    width, height: GRAPH_HEIGHT, class: 'chart',
    'data-start': graph.start, 'data-end': graph.end, 'data-step': graph.step,
  });
  svg.append(...yAxis(frame), ...xAxis(frame));
  for (const s of series) {
    if (stacked) svg.append(...seriesAreas(s, frame, graph.step));
    svg.append(svgElement('path', {
      class: 'series', d: seriesPath(s.points, frame, graph.step), stroke: s.color,
      'data-series': JSON.stringify(s.metric), 'data-points': s.points.length,
    }), ...lonePoints(s, frame, graph.step));
  }
  svg.append(hoverLayer(svg, series, frame, graph));
  $('graph').replaceChildren(svg, element('div', { id: 'tooltip', class: 'tooltip', hidden: '' }));
  drawLegend(series);
}

// Scales from time (ms) and value to pixels.
function graphFrame(graph, series, width, stacked) {
  const values = series.flatMap((s) => s.points.flatMap((p) => (stacked ? [p.low, p.y] : [p.y])));
  let min = values.length ? values.reduce((a, b) => Math.min(a, b)) : 0;
  let max = values.length ? values.reduce((a, b) => Math.max(a, b)) : 1;
  if (min === max) {
    const spread = Math.abs(min) * 0.1 || 1;
    [min, max] = [min - spread, max + spread];
  }
  const ticks = niceTicks(min, max, 5);
  [min, max] = [Math.min(min, ticks[0]), Math.max(max, ticks[ticks.length - 1])];
  const [start, end] = [graph.start * 1000, graph.end * 1000];
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = GRAPH_HEIGHT - MARGIN.top - MARGIN.bottom;
  return {
    width, start, end, ticks,
    x: (t) => MARGIN.left + ((t - start) / (end - start || 1)) * plotWidth,
    y: (v) => MARGIN.top + ((max - v) / (max - min)) * plotHeight,
    time: (x) => start + ((x - MARGIN.left) / plotWidth) * (end - start),
  };
}

// About `count` round values (1, 2 or 5 times a power of ten apart) covering [min, max].
function niceTicks(min, max, count) {
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  const step = (normalized < 1.5 ? 1 : normalized < 3 ? 2 : normalized < 7 ? 5 : 10) * magnitude;
  const ticks = [];
  for (let v = Math.floor(min / step) * step; v < max + step; v += step) {
    ticks.push(Number(v.toPrecision(12)));
    if (v >= max) break;
  }
  return ticks;
}

function yAxis(frame) {
  return frame.ticks.flatMap((v) => [
    svgElement('line', { class: 'grid', x1: MARGIN.left, x2: frame.width - MARGIN.right, y1: frame.y(v), y2: frame.y(v) }),
    svgElement('text', { class: 'tick', x: MARGIN.left - 6, y: frame.y(v) + 4, 'text-anchor': 'end' }, formatNumber(v)),
  ]);
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
  21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);

function xAxis(frame) {
  const span = frame.end - frame.start;
  const step = TIME_STEPS.find((s) => span / s <= 8) || TIME_STEPS[TIME_STEPS.length - 1];
  const offset = new Date(frame.start).getTimezoneOffset() * 60000;
  const nodes = [];
  for (let t = Math.ceil((frame.start - offset) / step) * step + offset; t <= frame.end; t += step) {
    const x = frame.x(t);
    nodes.push(
      svgElement('line', { class: 'grid', x1: x, x2: x, y1: MARGIN.top, y2: GRAPH_HEIGHT - MARGIN.bottom }),
      svgElement('text', { class: 'tick', x, y: GRAPH_HEIGHT - 8, 'text-anchor': 'middle' }, timeTick(t, step)),
    );
  }
  return nodes;
}

function timeTick(ms, step) {
  const [date, time] = formatTime(ms).split(' ');
  if (step >= 86400000) return date.slice(5);
  return step < 60000 ? time : time.slice(0, 5);
}

// Runs of points one step apart: a missing step is a gap in the line.
function runs(points, step) {
  const result = [];
  for (const p of points) {
    const run = result[result.length - 1];
    if (run && p.t - run[run.length - 1].t <= step * 1000 * 1.5) run.push(p);
    else result.push([p]);
  }
  return result;
}

// Every point is one move or line command (a test counts them).
function seriesPath(points, frame, step) {
  return runs(points, step).map((run) => run.map((p, i) =>
    `${i ? 'L' : 'M'}${frame.x(p.t).toFixed(1)},${frame.y(p.y).toFixed(1)}`).join('')).join('');
}

// A point with no neighbour draws no line: a dot shows it.
function lonePoints(series, frame, step) {
  return runs(series.points, step).filter((run) => run.length === 1).map(([p]) =>
    svgElement('circle', { class: 'dot', cx: frame.x(p.t), cy: frame.y(p.y), r: 2.5, fill: series.color }));
}

// Stacked: each run filled down to the series below it.
function seriesAreas(series, frame, step) {
  return runs(series.points, step).map((run) => {
    const top = run.map((p) => `${frame.x(p.t).toFixed(1)},${frame.y(p.y).toFixed(1)}`);
    const bottom = run.slice().reverse().map((p) => `${frame.x(p.t).toFixed(1)},${frame.y(p.low).toFixed(1)}`);
    return svgElement('polygon', { class: 'area', points: [...top, ...bottom].join(' '), fill: series.color });
  });
}

// A transparent layer over the plot: on hover, a line at the nearest step and a read-out of
// every series' value there.
function hoverLayer(svg, series, frame, graph) {
  const line = svgElement('line', { class: 'hover', y1: MARGIN.top, y2: GRAPH_HEIGHT - MARGIN.bottom, visibility: 'hidden' });
  svg.append(line);
  const layer = svgElement('rect', {
    class: 'hover-layer', x: MARGIN.left, y: MARGIN.top,
    width: frame.width - MARGIN.left - MARGIN.right, height: GRAPH_HEIGHT - MARGIN.top - MARGIN.bottom,
  });
  layer.addEventListener('mousemove', (event) => {
    const box = svg.getBoundingClientRect();
    const [x, y] = [event.clientX - box.left, event.clientY - box.top];
    const stepMs = graph.step * 1000;
    const t = frame.start + Math.round((frame.time(x) - frame.start) / stepMs) * stepMs;
    line.setAttribute('x1', frame.x(t));
    line.setAttribute('x2', frame.x(t));
    line.setAttribute('visibility', 'visible');
    showTooltip(series, t, x, y);
  });
  layer.addEventListener('mouseleave', () => {
    line.setAttribute('visibility', 'hidden');
    $('tooltip').hidden = true;
  });
  return layer;
}

function showTooltip(series, t, x, y) {
  const rows = series
    .map((s) => ({ s, point: s.points.find((p) => p.t === t) }))
    .filter(({ point }) => point)
    .map(({ s, point }) => element('div', { class: 'tooltip-row' },
      element('span', { class: 'swatch', style: `background:${s.color}` }),
      `${s.name}: `, element('b', {}, formatNumber(point.v))));
  const tooltip = $('tooltip');
  tooltip.replaceChildren(element('div', { class: 'tooltip-time' }, formatTime(t)), ...rows);
  tooltip.dataset.time = t;
  tooltip.hidden = false;
  const left = x + 16 + tooltip.offsetWidth > $('graph').clientWidth ? x - 16 - tooltip.offsetWidth : x + 16;
  tooltip.style.left = `${Math.max(left, 0)}px`;
  tooltip.style.top = `${y + 16}px`;
}

function drawLegend(series) {
  $('legend').replaceChildren(...series.map((s) => element('li',
    { 'data-series': JSON.stringify(s.metric) },
    element('span', { class: 'swatch', style: `background:${s.color}` }),
    s.name)));
}

// ------------------------------------------------------------------------------------------
// The table: an instant query's result
// ------------------------------------------------------------------------------------------

function drawTable(data, time) {
  const head = element('tr', {}, element('th', {}, 'Series'), element('th', {}, 'Value'));
  $('table').replaceChildren(head, ...tableRows(data));
  $('table').dataset.time = time;
}

function tableRows({ resultType, result }) {
  if (resultType === 'scalar' || resultType === 'string') {
    return [row(resultType, result[1])];
  }
  if (!result.length) {
    return [element('tr', {}, element('td', { colspan: 2, class: 'empty' }, 'Empty result'))];
  }
  return result.map((series) => row(seriesName(series.metric), seriesValue(series), series.metric));
}

function row(name, value, metric) {
  const attributes = metric ? { 'data-series': JSON.stringify(metric) } : {};
  return element('tr', attributes, element('td', {}, name), element('td', { class: 'value' }, value));
}

// A vector's value, a matrix's samples (`value @ time` lines), or a histogram's count and sum.
function seriesValue(series) {
  if (series.value) return series.value[1];
  if (series.histogram) return histogramText(series.histogram[1]);
  const floats = (series.values || []).map(([t, v]) => `${v} @${t}`);
  const histograms = (series.histograms || []).map(([t, h]) => `${histogramText(h)} @${t}`);
  return [...floats, ...histograms].join('\n');
}

function histogramText(histogram) {
  return `histogram (count ${histogram.count}, sum ${histogram.sum})`;
}

// ------------------------------------------------------------------------------------------
// The stores page: every endpoint, its health and what it serves
// ------------------------------------------------------------------------------------------

const TIME_UNBOUNDED = 9e15;

function formatBound(ms) {
  if (ms <= -TIME_UNBOUNDED) return '-∞';
  if (ms >= TIME_UNBOUNDED) return '+∞';
  return formatTime(ms);
}

function ago(rfc3339) {
  if (!rfc3339) return 'never';
  const seconds = Math.round((Date.now() - Date.parse(rfc3339)) / 1000);
  return `${formatTime(Date.parse(rfc3339))} (${seconds}s ago)`;
}

async function showStores() {
  const { data } = await api('/api/v1/stores');
  const groups = Object.entries(data);
  if (!groups.length) {
    $('stores').replaceChildren(element('p', {}, 'No endpoints.'));
    return;
  }
  $('stores').replaceChildren(...groups.flatMap(([component, endpoints]) => [
    element('h2', {}, `${component} (${endpoints.length})`),
    storesTable(component, endpoints),
  ]));
}

function storesTable(component, endpoints) {
  const titles = ['Endpoint', 'Health', 'Last check', 'Last error', 'Label sets', 'Min time', 'Max time'];
  const head = element('tr', {}, ...titles.map((title) => element('th', {}, title)));
  const rows = endpoints.map((endpoint) => element('tr',
    { 'data-endpoint': endpoint.name, 'data-component': component, 'data-healthy': endpoint.healthy },
    element('td', {}, endpoint.name),
    element('td', {}, element('span', { class: endpoint.healthy ? 'up' : 'down' }, endpoint.healthy ? 'UP' : 'DOWN')),
    element('td', {}, ago(endpoint.lastCheck)),
    element('td', { class: 'last-error' }, endpoint.lastError || ''),
    element('td', {}, ...(endpoint.labelSets || []).map((set) => element('div', { class: 'labels' }, seriesName(set)))),
    element('td', {}, formatBound(endpoint.minTime)),
    element('td', {}, formatBound(endpoint.maxTime))));
  return element('table', { class: 'data' }, head, ...rows);
}

// ------------------------------------------------------------------------------------------
// The status page: build and runtime information, flags
// ------------------------------------------------------------------------------------------

async function showStatus() {
  const sections = [
    ['Build information', '/api/v1/status/buildinfo'],
    ['Runtime information', '/api/v1/status/runtimeinfo'],
    ['Command-line flags', '/api/v1/status/flags'],
  ];
  const answers = await Promise.all(sections.map(([, path]) => api(path)));
  $('status').replaceChildren(...sections.flatMap(([title, path], i) => [
    element('h2', {}, title),
    keyValueTable(answers[i].data, path),
  ]));
}

function keyValueTable(object, source) {
  const rows = Object.entries(object).map(([key, value]) =>
    element('tr', {}, element('th', {}, key), element('td', {}, String(value))));
  return element('table', { class: 'data key-value', 'data-source': source }, ...rows);
}

// ------------------------------------------------------------------------------------------
// Which page
// ------------------------------------------------------------------------------------------

const PAGES = {
  '/query': ['query', setupQueryPage],
  '/graph': ['query', setupQueryPage],
  '/stores': ['stores', showStores],
  '/status': ['status', showStatus],
};

async function main() {
  const [name, show] = PAGES[location.pathname] || PAGES['/query'];
  $(`${name}-view`).hidden = false;
  document.querySelector(`[data-nav="${name}"]`)?.classList.add('active');
  document.title = `Panoptes · ${name[0].toUpperCase()}${name.slice(1)}`;
  try {
    await show();
  } catch (error) {
    $(`${name}-view`).append(element('div', { class: 'error' }, error.message));
  }
}

main();
