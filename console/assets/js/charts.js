// Hand-drawn SVG line charts: no library, every element made with
// createElementNS, every label a text node.

import { h, s, fmtNum, fmtTime } from './ui.js';

const W = 640;
const H = 200;
const PAD = { left: 48, right: 12, top: 12, bottom: 26 };

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

// lineChart draws series [{name, points: [[ms, value|null], …]}] over time.
// The first series is shaded when area is set; a series may name its
// colour (an index) and be dashed.
export function lineChart({ title, series, unit = '', area = false, testid }) {
  const fig = h('figure', { class: 'chart', 'data-testid': testid });
  const caption = h('figcaption', { class: 'chart-title' }, title, unit ? h('span', { class: 'chart-unit' }, ` (${unit})`) : null);
  fig.append(caption);
  const all = series.flatMap((sr) => sr.points);
  const values = all.map((p) => p[1]).filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (all.length === 0) {
    fig.append(h('p', { class: 'chart-empty muted' }, 'No data yet.'));
    return fig;
  }
  const t0 = Math.min(...all.map((p) => p[0]));
  const t1 = Math.max(...all.map((p) => p[0]));
  const span = Math.max(1, t1 - t0);
  const maxV = niceMax(Math.max(0, ...values));
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + ((t - t0) / span) * iw;
  const y = (v) => PAD.top + ih - (v / maxV) * ih;

  const latest = series.map((sr) => {
    for (let i = sr.points.length - 1; i >= 0; i -= 1) {
      if (typeof sr.points[i][1] === 'number') return sr.points[i][1];
    }
    return null;
  });
  const label = `${title}: ${series.map((sr, i) => `${sr.name} latest ${fmtNum(latest[i])}${unit ? ` ${unit}` : ''}`).join('; ')}`;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img', 'aria-label': label, preserveAspectRatio: 'none' });
  svg.append(s('title', null, label));

  // Grid and y axis labels.
  for (const f of [0, 0.5, 1]) {
    const v = maxV * f;
    const yy = y(v);
    svg.append(s('line', { x1: PAD.left, x2: W - PAD.right, y1: yy, y2: yy, class: f === 0 ? 'axis' : 'grid' }));
    svg.append(s('text', { x: PAD.left - 6, y: yy + 4, class: 'tick', 'text-anchor': 'end' }, fmtNum(v)));
  }
  // x axis labels: start, middle, end.
  for (const [f, anchor] of [[0, 'start'], [0.5, 'middle'], [1, 'end']]) {
    svg.append(s('text', { x: PAD.left + f * iw, y: H - 8, class: 'tick', 'text-anchor': anchor }, fmtTime(t0 + f * span)));
  }

  const colour = (sr, i) => (Number.isInteger(sr.colour) ? sr.colour : i) % 8;
  series.forEach((sr, i) => {
    const pts = [...sr.points].sort((a, b) => a[0] - b[0]);
    let d = '';
    let pen = false;
    let runs = [];
    let run = [];
    for (const [t, v] of pts) {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        pen = false;
        if (run.length) runs.push(run);
        run = [];
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      run.push([x(t), y(v)]);
      pen = true;
    }
    if (run.length) runs.push(run);
    if (area && i === 0) {
      for (const r of runs) {
        const a = `M${r[0][0].toFixed(1)},${y(0).toFixed(1)}${r.map(([px, py]) => `L${px.toFixed(1)},${py.toFixed(1)}`).join('')}L${r[r.length - 1][0].toFixed(1)},${y(0).toFixed(1)}Z`;
        svg.append(s('path', { d: a, class: `area series-${colour(sr, i)}` }));
      }
    }
    if (d) svg.append(s('path', { d, class: `line series-${colour(sr, i)}${sr.dashed ? ' dashed' : ''}`, fill: 'none' }));
    // A lone point draws no line: mark it.
    for (const r of runs) {
      if (r.length === 1) svg.append(s('circle', { cx: r[0][0], cy: r[0][1], r: 2.5, class: `dot series-${colour(sr, i)}` }));
    }
    runs = [];
  });
  fig.append(h('div', { class: 'chart-box' }, svg));
  fig.append(h('ul', { class: 'legend' }, series.map((sr, i) => h('li', null,
    h('span', { class: `swatch series-${colour(sr, i)}${sr.dashed ? ' dashed' : ''}`, 'aria-hidden': 'true' }),
    h('span', { class: 'legend-name' }, sr.name),
    h('span', { class: 'legend-value' }, `${fmtNum(latest[i])}${unit ? ` ${unit}` : ''}`)))));
  return fig;
}
