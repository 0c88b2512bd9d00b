// Live charts (uPlot, vendored from npm at build time): replication lag per
// link (p50 and p99 of the entries applied each second), backlog per link
// and operations per second per region, over the last RL.maxPoints seconds.
'use strict';
(() => {
  const palette = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bf8700', '#0a7c86', '#d1242f', '#57606a'];
  const charts = {};  // id -> {plot, keys, el}
  RL.charts = charts;

  const linkKey = (l) => `${l.from}→${l.to}`;

  // Each chart: how to list its series from a snapshot, and a value per series.
  const defs = {
    'chart-lag': {
      series: (m) => m.links.flatMap((l, i) => [
        { key: linkKey(l) + ' p50', color: palette[i % palette.length], dash: [] },
        { key: linkKey(l) + ' p99', color: palette[i % palette.length], dash: [6, 4] },
      ]),
      value: (m, key) => {
        const [link, q] = key.split(' ');
        const l = m.links.find((x) => linkKey(x) === link);
        return l && l.windowLagMs ? l.windowLagMs[q] : null;
      },
      unit: 'ms',
    },
    'chart-backlog': {
      series: (m) => m.links.map((l, i) => ({ key: linkKey(l), color: palette[i % palette.length] })),
      value: (m, key) => {
        const l = m.links.find((x) => linkKey(x) === key);
        return l && l.queue !== undefined ? l.queue : null;
      },
      unit: 'entries',
    },
    'chart-ops': {
      series: (m) => m.regions.map((r, i) => ({ key: r.name, color: palette[i % palette.length] })),
      value: (m, key) => {
        const r = m.regions.find((x) => x.name === key);
        return r && r.opsPerSec !== undefined ? r.opsPerSec : null;
      },
      unit: 'ops/s',
    },
  };
  RL.chartDefs = defs;

  // The chart's data: [times, ...one array per series].
  RL.chartData = (id, keys) => {
    const d = defs[id];
    return [RL.metrics.map((m) => m.timeMs / 1000), ...keys.map((k) => RL.metrics.map((m) => d.value(m, k)))];
  };

  function build(id, series) {
    const el = document.getElementById(id);
    el.textContent = '';
    const width = Math.max(280, el.clientWidth || 600);
    const opts = {
      width, height: 170,
      legend: { live: false },
      cursor: { show: true, points: { show: false } },
      scales: { x: { time: true } },
      axes: [{}, { label: defs[id].unit, size: 50 }],
      // No line across seconds without a value (no entry applied): a gap, and
      // isolated values as points.
      series: [{}, ...series.map((s) => ({ label: s.key, stroke: s.color, width: 2, dash: s.dash, spanGaps: false, points: { size: 5 } }))],
    };
    const keys = series.map((s) => s.key);
    const plot = new uPlot(opts, RL.chartData(id, keys), el);
    charts[id] = { plot, keys, el };
  }

  function update() {
    const last = RL.metrics[RL.metrics.length - 1];
    if (!last) return;
    for (const id of Object.keys(defs)) {
      const series = defs[id].series(last);
      const keys = series.map((s) => s.key);
      const c = charts[id];
      if (!c || c.keys.join('|') !== keys.join('|')) build(id, series);
      else c.plot.setData(RL.chartData(id, keys));
    }
  }

  RL.on('metrics', update);
  RL.on('reset', () => { for (const c of Object.values(charts)) c.plot.setData(RL.chartData(c.el.id, c.keys)); });

  const resize = () => {
    for (const c of Object.values(charts)) {
      const w = c.el.clientWidth;
      if (w > 0 && Math.abs(w - c.plot.width) > 4) c.plot.setSize({ width: w, height: 170 });
    }
  };
  window.addEventListener('resize', resize);
  RL.on('tab', () => setTimeout(resize, 0));
})();
