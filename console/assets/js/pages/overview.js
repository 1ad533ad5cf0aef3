// Overview: GET /v1/admin/stats, refreshed every 10 s while shown.

import * as api from '../api.js';
import { h, append, clear, loading, errorBox, table, time, relative, fmtNum, fmtTime, badge, mono, empty } from '../ui.js';
import { lineChart } from '../charts.js';

const REFRESH_MS = 10000;

export function render(ctx) {
  ctx.setTitle('Overview');
  const updated = h('span', { class: 'muted', role: 'status', 'aria-live': 'off', 'data-testid': 'stats-updated' });
  const refreshBtn = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'stats-refresh' }, 'Refresh now');
  const errSlot = h('div', { 'aria-live': 'polite' });
  const content = h('div', { class: 'overview', 'data-testid': 'overview' }, loading('Loading the statistics…'));
  append(ctx.main, [
    h('div', { class: 'page-head' },
      h('h1', null, 'Overview'),
      h('div', { class: 'page-actions' }, updated, refreshBtn)),
    errSlot,
    content,
  ]);

  let controller = null;
  let stopped = false;
  let loaded = false;
  const load = async () => {
    if (stopped || controller) return;
    controller = new AbortController();
    try {
      const stats = await api.admin('GET', '/stats', { signal: controller.signal });
      if (stopped) return;
      clear(errSlot);
      clear(content);
      content.append(renderStats(stats || {}));
      loaded = true;
      updated.textContent = `Updated ${fmtTime(Date.now())} · every ${REFRESH_MS / 1000} s`;
    } catch (err) {
      if (stopped || err.name === 'AbortError' || err.expired) return;
      clear(errSlot);
      errSlot.append(errorBox(err, loaded ? 'Refresh failed; showing the last statistics.' : 'Could not load the statistics.'));
      if (!loaded) clear(content);
    } finally {
      controller = null;
    }
  };
  refreshBtn.addEventListener('click', load);
  const timer = setInterval(() => { if (!document.hidden) load(); }, REFRESH_MS);
  const onVisible = () => { if (!document.hidden) load(); };
  document.addEventListener('visibilitychange', onVisible);
  ctx.onCleanup(() => {
    stopped = true;
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisible);
    if (controller) controller.abort();
  });
  load();
}

const ms = (iso) => new Date(iso).getTime();

function nodeSeries(node, values) {
  const t = (node.series && node.series.t) || [];
  return t.map((iso, i) => [ms(iso), values && typeof values[i] === 'number' ? values[i] : null]);
}

// fleetSum adds the nodes' series point by point, aligned on the interval.
function fleetSum(nodes, pick, intervalSecs) {
  const step = Math.max(1, intervalSecs || 10) * 1000;
  const sums = new Map();
  for (const n of nodes) {
    for (const [t, v] of nodeSeries(n, pick(n))) {
      if (v === null || Number.isNaN(t)) continue;
      const k = Math.round(t / step);
      sums.set(k, (sums.get(k) || 0) + v);
    }
  }
  return [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k * step, v]);
}

function fleetMax(nodes, pick, intervalSecs) {
  const step = Math.max(1, intervalSecs || 10) * 1000;
  const maxes = new Map();
  for (const n of nodes) {
    for (const [t, v] of nodeSeries(n, pick(n))) {
      if (v === null || Number.isNaN(t)) continue;
      const k = Math.round(t / step);
      maxes.set(k, Math.max(maxes.has(k) ? maxes.get(k) : -Infinity, v));
    }
  }
  return [...maxes.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k * step, v]);
}

function card(label, value, testid, sub) {
  return h('div', { class: 'card stat' },
    h('div', { class: 'stat-label' }, label),
    h('div', { class: 'stat-value', 'data-testid': testid }, value),
    sub ? h('div', { class: 'stat-sub' }, sub) : null);
}

function sumValues(obj) {
  return Object.values(obj || {}).reduce((a, v) => a + (Number(v) || 0), 0);
}

function renderStats(stats) {
  const nodes = Array.isArray(stats.nodes) ? stats.nodes : [];
  const keys = Array.isArray(stats.keys) ? stats.keys : [];
  const interval = Number(stats.interval_seconds) || 10;
  const multi = nodes.length > 1;
  const frag = document.createDocumentFragment();

  // The key numbers.
  let issued = 0;
  let limited = 0;
  const refusalsByCode = {};
  for (const n of nodes) {
    const t = n.totals || {};
    issued += Number(t.tokens_issued) || 0;
    limited += Number(t.rate_limited) || 0;
    for (const [code, c] of Object.entries(t.refusals || {})) refusalsByCode[code] = (refusalsByCode[code] || 0) + (Number(c) || 0);
  }
  const refusals = sumValues(refusalsByCode);
  const active = keys.find((k) => k.state === 'active');
  const storeOK = nodes.length > 0 && nodes.every((n) => n.store && n.store.healthy);
  const redisConfigured = nodes.some((n) => n.redis && n.redis.configured);
  const redisOK = redisConfigured && nodes.every((n) => !n.redis || !n.redis.configured || n.redis.healthy);
  const staleness = nodes.reduce((m, n) => Math.max(m, Number(n.store && n.store.replica_staleness_seconds) || 0), 0);
  const windowMin = Math.round((Number(stats.window_seconds) || 0) / 60);
  const windowText = windowMin ? `charts: last ${windowMin} min` : 'charts: recent';
  const scopeText = multi ? `sum over ${nodes.length} nodes` : 'this node';

  frag.append(h('p', { class: 'muted overview-sub' },
    `${nodes.length} ${nodes.length === 1 ? 'node' : 'nodes'} · ${windowText}, every ${interval} s · generated `, time(stats.generated_at)));

  frag.append(h('div', { class: 'cards' },
    card('Tokens issued', fmtNum(issued), 'tokens-issued-total', scopeText),
    card('Refusals', fmtNum(refusals), 'refusals-total',
      Object.keys(refusalsByCode).length ? Object.entries(refusalsByCode).map(([c, n]) => `${c} ${fmtNum(n)}`).join(', ') : 'none'),
    card('Rate limited (429)', fmtNum(limited), 'rate-limited-total', scopeText),
    card('Store', h('span', { class: storeOK ? 'ok' : 'bad' }, storeOK ? 'Healthy' : 'Unhealthy'), 'store-health',
      h('span', null, 'replica staleness ', h('span', { 'data-testid': 'replica-staleness' }, `${fmtNum(staleness)} s`))),
    card('Redis', redisConfigured ? h('span', { class: redisOK ? 'ok' : 'bad' }, redisOK ? 'Healthy' : 'Unhealthy') : h('span', { class: 'muted' }, 'Not configured'), 'redis-health'),
    card('Signing key', active ? mono(active.kid) : h('span', { class: 'bad' }, 'No active key'), 'active-key',
      h('span', null, 'next rotation ', h('span', { 'data-testid': 'next-rotation' }, stats.next_rotation ? `${relative(stats.next_rotation)}` : 'not scheduled'))),
  ));

  // Charts.
  const perNode = (pick, name) => nodes.map((n) => ({ name: `${name ? `${name} · ` : ''}${n.node}${n.this ? ' (this)' : ''}`, points: nodeSeries(n, pick(n)) }));
  const tokenSeries = [{ name: multi ? 'Fleet total' : 'Tokens/s', points: fleetSum(nodes, (n) => n.series && n.series.tokens_per_second, interval) }];
  if (multi) tokenSeries.push(...perNode((n) => n.series && n.series.tokens_per_second));

  const codes = new Set();
  for (const n of nodes) for (const c of Object.keys((n.series && n.series.refusals_per_second) || {})) codes.add(c);
  let refusalSeries = [...codes].sort().map((c) => ({ name: c, points: fleetSum(nodes, (n) => n.series && n.series.refusals_per_second && n.series.refusals_per_second[c], interval) }));
  if (refusalSeries.length === 0) {
    refusalSeries = [{ name: 'No refusals', points: fleetSum(nodes, (n) => ((n.series && n.series.t) || []).map(() => 0), interval) }];
  }

  const limitedSeries = [{ name: multi ? 'Fleet total' : '429s/s', points: fleetSum(nodes, (n) => n.series && n.series.rate_limited_per_second, interval) }];
  if (multi) limitedSeries.push(...perNode((n) => n.series && n.series.rate_limited_per_second));

  let latencySeries;
  if (multi) {
    latencySeries = [{ name: 'Fleet p99 (slowest node)', points: fleetMax(nodes, (n) => n.series && n.series.latency_p99_ms, interval) }];
    nodes.forEach((n, j) => {
      const label = `${n.node}${n.this ? ' (this)' : ''}`;
      latencySeries.push({ name: `p50 · ${label}`, points: nodeSeries(n, n.series && n.series.latency_p50_ms), colour: j + 1 });
      latencySeries.push({ name: `p99 · ${label}`, points: nodeSeries(n, n.series && n.series.latency_p99_ms), colour: j + 1, dashed: true });
    });
  } else {
    const n = nodes[0] || {};
    latencySeries = [
      { name: 'p50', points: nodeSeries(n, n.series && n.series.latency_p50_ms) },
      { name: 'p99', points: nodeSeries(n, n.series && n.series.latency_p99_ms), dashed: true },
    ];
  }

  frag.append(h('section', { class: 'charts', 'aria-label': 'Charts' },
    lineChart({ title: 'Tokens issued per second', series: tokenSeries, unit: '/s', area: true, testid: 'chart-tokens' }),
    lineChart({ title: 'Refusals per second, by error', series: refusalSeries, unit: '/s', testid: 'chart-refusals' }),
    lineChart({ title: 'Rate limited (429) per second', series: limitedSeries, unit: '/s', area: true, testid: 'chart-rate-limited' }),
    lineChart({ title: 'Token endpoint latency', series: latencySeries, unit: 'ms', testid: 'chart-latency' })));

  // Top rate-limited clients, over the fleet.
  const top = new Map();
  for (const n of nodes) {
    for (const r of n.top_rate_limited || []) top.set(r.client_id, (top.get(r.client_id) || 0) + (Number(r.count) || 0));
  }
  const topRows = [...top.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
  const topSection = h('section', { class: 'panel', 'data-testid': 'top-rate-limited' }, h('h2', null, 'Most rate-limited clients'));
  if (topRows.length === 0) topSection.append(empty('No client was rate limited.'));
  else {
    topSection.append(table([
      { label: 'Client', cell: ([id]) => h('a', { href: `#/clients/${api.page(id)}` }, mono(id)) },
      { label: '429s', class: 'num', cell: ([, c]) => fmtNum(c) },
    ], topRows, { caption: 'Most rate-limited clients' }));
  }

  // Keys.
  const keySection = h('section', { class: 'panel', 'data-testid': 'overview-keys' },
    h('div', { class: 'panel-head' }, h('h2', null, 'Signing keys'), h('a', { href: '#/keys', class: 'more' }, 'Manage keys')),
    h('p', { class: 'muted' }, 'Next rotation: ', stats.next_rotation ? time(stats.next_rotation) : 'not scheduled',
      stats.next_rotation ? ` (${relative(stats.next_rotation)})` : ''));
  if (keys.length === 0) keySection.append(empty('No signing keys.'));
  else {
    keySection.append(table([
      { label: 'Key ID', cell: (k) => mono(k.kid) },
      { label: 'Algorithm', cell: (k) => k.alg },
      { label: 'State', cell: (k) => keyState(k.state) },
      { label: 'Created', cell: (k) => time(k.created_at) },
      { label: 'Signing from', cell: (k) => time(k.signing_from) },
    ], keys, { caption: 'Signing keys' }));
  }

  // Nodes.
  const nodeSection = h('section', { class: 'panel', 'data-testid': 'overview-nodes' }, h('h2', null, 'Nodes'));
  if (nodes.length === 0) nodeSection.append(empty('No node has reported yet.'));
  else {
    const staleAfter = interval * 3 * 1000;
    nodeSection.append(table([
      { label: 'Node', cell: (n) => [mono(n.node), n.this ? [' ', badge('this node', 'accent')] : null] },
      { label: 'Reported', cell: (n) => [time(n.updated_at), Date.now() - ms(n.updated_at) > staleAfter ? [' ', badge('stale', 'warn')] : null] },
      { label: 'Store', cell: (n) => (n.store && n.store.healthy ? badge('healthy', 'ok') : badge('unhealthy', 'bad')) },
      { label: 'Replica staleness', class: 'num', cell: (n) => `${fmtNum(n.store && n.store.replica_staleness_seconds)} s` },
      { label: 'Redis', cell: (n) => (!n.redis || !n.redis.configured ? h('span', { class: 'muted' }, 'not configured') : n.redis.healthy ? badge('healthy', 'ok') : badge('unhealthy', 'bad')) },
      { label: 'Tokens', class: 'num', cell: (n) => fmtNum(n.totals && n.totals.tokens_issued) },
      { label: 'Refusals', class: 'num', cell: (n) => fmtNum(sumValues(n.totals && n.totals.refusals)) },
      { label: '429s', class: 'num', cell: (n) => fmtNum(n.totals && n.totals.rate_limited) },
    ], nodes, { caption: 'Nodes' }));
  }

  frag.append(h('div', { class: 'grid-2' }, topSection, keySection));
  frag.append(nodeSection);
  return frag;
}

export function keyState(state) {
  const kind = { active: 'ok', next: 'accent', retired: 'neutral', expired: 'muted' }[state] || 'neutral';
  return badge(state || 'unknown', kind);
}
