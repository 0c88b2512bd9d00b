// The cluster view: regions as nodes, directed links as edges coloured by
// health and labelled (lag, faults); region controls, the links table, the
// link dialog and partition / heal. Every control calls the management API.
'use strict';
(() => {
  const svgNS = 'http://www.w3.org/2000/svg';
  const S = (tag, attrs = {}, text) => {
    const e = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  let counts = {};  // region -> documents (GET /digest)
  let editing = null;  // {from, to} of the open link dialog

  const metricsLink = (from, to) => (RL.latest ? RL.latest.links.find((l) => l.from === from && l.to === to) : null);
  const metricsRegion = (name) => (RL.latest ? RL.latest.regions.find((r) => r.name === name) : null);

  // Health of a link, as a word (shown) and a colour (never alone).
  function health(link) {
    const f = link.faults || {};
    if (f.partitioned) return { word: 'cut', color: '#cf222e' };
    if (!link.connected) return { word: 'disconnected', color: '#cf222e' };
    if (f.delayMs || f.jitterMs || f.dropRate || f.duplicateRate || f.reorderRate || f.bandwidthKBps) return { word: 'degraded', color: '#bf8700' };
    return { word: 'healthy', color: '#1a7f37' };
  }
  function lagText(m) {
    if (!m) return 'lag –';
    if (m.windowLagMs) return `lag p50 ${RL.fmt(m.windowLagMs.p50)} / p99 ${RL.fmt(m.windowLagMs.p99)} ms`;
    return `lag ${RL.fmt(m.lagMs)} ms`;
  }

  async function act(what, fn) {
    try {
      await fn();
      RL.toast(what);
    } catch (e) {
      RL.toast(e.message, true);
    }
  }

  function drawTopology() {
    const st = RL.state;
    if (!st) return;
    const svg = document.getElementById('topology');
    // Redrawn every second: keep the keyboard focus on the same link.
    const f = document.activeElement;
    const focusedLink = f && f.classList && f.classList.contains('link') ? [f.dataset.from, f.dataset.to] : null;
    svg.textContent = '';
    const defs = S('defs');
    for (const [id, color] of [['ok', '#1a7f37'], ['deg', '#bf8700'], ['bad', '#cf222e']]) {
      const m = S('marker', { id: 'arrow-' + id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 12, markerHeight: 12, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' });
      m.append(S('path', { d: 'M0,0 L10,5 L0,10 z', fill: color }));
      defs.append(m);
    }
    svg.append(defs);
    const n = st.regions.length;
    const W = 640, H = n <= 2 ? 190 : 300, R = 34;
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    const pos = {};
    st.regions.forEach((r, i) => {
      if (n === 2) pos[r.name] = { x: i === 0 ? 120 : W - 120, y: H / 2 };
      else {
        const a = (2 * Math.PI * i) / n - Math.PI / 2;
        pos[r.name] = { x: W / 2 + 230 * Math.cos(a), y: H / 2 + 110 * Math.sin(a) };
      }
    });
    for (const link of st.links) {
      const a = pos[link.from], b = pos[link.to];
      if (!a || !b) continue;
      const h = health(link);
      const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
      const ux = dx / len, uy = dy / len, nx = -uy, ny = ux;
      const off = 16;  // the two directions side by side
      const x1 = a.x + ux * R + nx * off, y1 = a.y + uy * R + ny * off;
      const x2 = b.x - ux * R + nx * off, y2 = b.y - uy * R + ny * off;
      const cx = (x1 + x2) / 2 + nx * 26, cy = (y1 + y2) / 2 + ny * 26;
      const m = metricsLink(link.from, link.to);
      const label = `${link.from} → ${link.to}: ${h.word}, ${lagText(m)}, faults: ${RL.faultText(link.faults)}`;
      const g = S('g', { class: 'link', tabindex: 0, role: 'button', 'aria-label': label + '. Edit faults', 'data-from': link.from, 'data-to': link.to });
      g.append(S('title', {}, label));
      const marker = h.word === 'healthy' ? 'ok' : h.word === 'degraded' ? 'deg' : 'bad';
      g.append(S('path', { d: `M${x1},${y1} Q${cx},${cy} ${x2},${y2}`, stroke: h.color, 'stroke-dasharray': h.word === 'cut' ? '6 5' : '', 'marker-end': `url(#arrow-${marker})` }));
      const lx = (x1 + 2 * cx + x2) / 4 + nx * 10, ly = (y1 + 2 * cy + y2) / 4 + ny * 10;
      const t = S('text', { class: 'label', x: lx, y: ly, 'text-anchor': 'middle' });
      t.append(S('tspan', { x: lx, dy: 0 }, `${h.word} · ${lagText(m)}`));
      t.append(S('tspan', { x: lx, dy: 13 }, `faults: ${RL.faultText(link.faults)}`));
      g.append(t);
      const open = () => openLink(link.from, link.to);
      g.addEventListener('click', open);
      g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } });
      svg.append(g);
      if (focusedLink && focusedLink[0] === link.from && focusedLink[1] === link.to) g.focus();
    }
    for (const r of st.regions) {
      const p = pos[r.name];
      const color = r.state === 'online' ? '#dafbe1' : r.state === 'killed' ? '#ffebe9' : '#fff8c5';
      const g = S('g', { class: 'node', 'data-region': r.name });
      g.append(S('circle', { cx: p.x, cy: p.y, r: R, fill: color }));
      g.append(S('text', { x: p.x, y: p.y - 2, 'font-weight': 600 }, r.name));
      g.append(S('text', { x: p.x, y: p.y + 13 }, RL.stateLabel(r.state)));
      const mr = metricsRegion(r.name);
      const sub = `skew ${r.clockSkewMs || 0} ms · ${counts[r.name] ?? '–'} docs` + (mr ? ` · ${RL.fmt(mr.opsPerSec, 1)} ops/s` : '');
      g.append(S('text', { x: p.x, y: p.y + R + 16, class: 'label' }, sub));
      svg.append(g);
    }
  }

  const opsText = (mr) => (mr ? `${RL.fmt(mr.opsPerSec, 1)} (${mr.reads} reads, ${mr.writes} writes so far)` : '–');
  // The live numbers of the region cards, without rebuilding them (a skew
  // being typed stays).
  function updateRegionNumbers() {
    for (const r of (RL.state && RL.state.regions) || []) {
      const ops = document.getElementById(`ops-${r.name}`), docs = document.getElementById(`docs-${r.name}`);
      if (ops) ops.textContent = opsText(metricsRegion(r.name));
      if (docs) docs.textContent = String(counts[r.name] ?? '–');
    }
  }

  function drawRegions() {
    const st = RL.state;
    if (!st) return;
    const box = document.getElementById('regions');
    const focused = document.activeElement && document.activeElement.id;
    box.textContent = '';
    for (const r of st.regions) {
      const mr = metricsRegion(r.name);
      const cls = r.state === 'online' ? 'online' : r.state === 'killed' ? 'killed' : 'offline';
      const post = (action, body, what) => act(what, () => RL.api('POST', `/regions/${RL.enc(r.name)}/${action}`, body));
      const skewInput = RL.el('input', { type: 'number', id: `skew-${r.name}`, value: r.clockSkewMs || 0, step: 1, style: 'width:6rem' });
      const card = RL.el('div', { class: 'region ' + cls, 'data-region': r.name },
        RL.el('h3', { text: `${r.displayName || r.name} (${r.name})` }),
        RL.el('dl', {},
          RL.el('dt', { text: 'State' }), RL.el('dd', { class: cls === 'online' ? 'ok' : 'bad', text: RL.stateLabel(r.state) }),
          RL.el('dt', { text: 'Endpoint' }), RL.el('dd', { text: r.endpoint || '' }),
          RL.el('dt', { text: 'Clock skew' }), RL.el('dd', { text: `${r.clockSkewMs || 0} ms` }),
          RL.el('dt', { text: 'Documents' }), RL.el('dd', { id: `docs-${r.name}`, text: String(counts[r.name] ?? '–') }),
          RL.el('dt', { text: 'Ops/s' }), RL.el('dd', { id: `ops-${r.name}`, text: opsText(mr) })),
        RL.el('div', { class: 'row' },
          RL.el('button', { id: `offline503-${r.name}`, onclick: () => post('offline', { mode: '503' }, `${r.name} offline (503)`), text: 'Offline 503' }),
          RL.el('button', { id: `offline403-${r.name}`, onclick: () => post('offline', { mode: '403' }, `${r.name} offline (403)`), text: 'Offline 403' }),
          RL.el('button', { id: `online-${r.name}`, onclick: () => post('online', {}, `${r.name} online`), text: 'Online' })),
        RL.el('div', { class: 'row' },
          RL.el('label', { for: `skew-${r.name}`, text: 'Skew (ms)' }), skewInput,
          RL.el('button', { id: `skewset-${r.name}`, onclick: () => post('clock', { skewMs: Number(skewInput.value) }, `${r.name} clock skew ${skewInput.value} ms`), text: 'Set skew' }),
          RL.el('button', { class: 'danger', id: `kill-${r.name}`, onclick: () => post('kill', {}, `${r.name} killed`), text: 'Kill' }),
          RL.el('button', { id: `restart-${r.name}`, onclick: () => post('restart', {}, `${r.name} restarted`), text: 'Restart' })));
      box.append(card);
    }
    if (focused) { const f = document.getElementById(focused); if (f) f.focus(); }
  }

  function drawLinks() {
    const st = RL.state;
    if (!st) return;
    const body = document.getElementById('links-body');
    const focused = document.activeElement && document.activeElement.id;
    body.textContent = '';
    for (const link of st.links) {
      const h = health(link);
      const m = metricsLink(link.from, link.to);
      const id = `${link.from}-${link.to}`;
      body.append(RL.el('tr', { 'data-from': link.from, 'data-to': link.to },
        RL.el('th', { scope: 'row', text: `${link.from} → ${link.to}` }),
        RL.el('td', { class: h.word === 'healthy' ? 'ok' : h.word === 'degraded' ? 'warn' : 'bad', text: h.word }),
        RL.el('td', { text: lagText(m).replace(/^lag /, '') }),
        RL.el('td', { text: m && m.queue !== undefined ? String(m.queue) : '–' }),
        RL.el('td', { text: RL.faultText(link.faults) }),
        RL.el('td', {},
          RL.el('button', { id: `edit-${id}`, onclick: () => openLink(link.from, link.to), text: 'Edit', 'aria-label': `Edit faults of ${link.from} to ${link.to}` }),
          ' ',
          RL.el('button', { id: `heal-${id}`, onclick: () => act(`${link.from} → ${link.to} healed`, () => RL.api('DELETE', `/links/${RL.enc(link.from)}/${RL.enc(link.to)}`)), text: 'Heal', 'aria-label': `Heal ${link.from} to ${link.to}` }))));
    }
    if (focused) { const f = document.getElementById(focused); if (f) f.focus(); }
  }

  function openLink(from, to) {
    const link = RL.state.links.find((l) => l.from === from && l.to === to);
    const f = (link && link.faults) || {};
    editing = { from, to };
    document.getElementById('link-dialog-title').textContent = `Faults of ${from} → ${to}`;
    const form = document.getElementById('link-form');
    for (const k of ['delayMs', 'jitterMs', 'dropRate', 'duplicateRate', 'reorderRate', 'bandwidthKBps']) form.elements[k].value = f[k] || 0;
    form.elements.partitioned.checked = !!f.partitioned;
    document.getElementById('link-dialog').showModal();
    form.elements.delayMs.focus();
  }

  document.addEventListener('DOMContentLoaded', () => {
    const dlg = document.getElementById('link-dialog');
    const form = document.getElementById('link-form');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const { from, to } = editing;
      const body = {};
      for (const k of ['delayMs', 'jitterMs', 'bandwidthKBps']) body[k] = Math.round(Number(form.elements[k].value) || 0);
      for (const k of ['dropRate', 'duplicateRate', 'reorderRate']) body[k] = Number(form.elements[k].value) || 0;
      body.partitioned = form.elements.partitioned.checked;
      dlg.close();
      act(`${from} → ${to}: ${RL.faultText(body)}`, () => RL.api('PUT', `/links/${RL.enc(from)}/${RL.enc(to)}`, body));
    });
    document.getElementById('link-heal').addEventListener('click', () => {
      const { from, to } = editing;
      dlg.close();
      act(`${from} → ${to} healed`, () => RL.api('DELETE', `/links/${RL.enc(from)}/${RL.enc(to)}`));
    });
    document.getElementById('link-cancel').addEventListener('click', () => dlg.close());
    document.getElementById('partition-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const text = document.getElementById('partition-groups').value;
      const groups = text.split('|').map((g) => g.split(/[\s,]+/).filter(Boolean)).filter((g) => g.length);
      act(`partitioned: ${groups.map((g) => g.join(', ')).join(' | ')}`, () => RL.api('POST', '/partition', { groups }));
    });
    document.getElementById('heal-btn').addEventListener('click', () => act('healed everything', () => RL.api('POST', '/heal')));
  });

  // Documents per region, from GET /digest, every few seconds while visible.
  async function refreshCounts() {
    try {
      const d = await RL.api('GET', '/digest');
      counts = {};
      for (const r of d.regions || []) counts[r.name] = (r.containers || []).reduce((n, c) => n + (c.count || 0), 0);
    } catch { /* shown as – */ }
  }
  setInterval(() => { if (!document.hidden && !document.getElementById('view-cluster').hidden) refreshCounts(); }, 5000);

  RL.on('state', (st) => {
    const input = document.getElementById('partition-groups');
    if (!input.value && st.regions.length) input.placeholder = st.regions.map((r) => r.name).join(' | ');
    drawTopology(); drawRegions(); drawLinks();
    refreshCounts();
  });
  RL.on('metrics', () => { drawTopology(); drawLinks(); updateRegionNumbers(); });
  RL.openLink = openLink;
})();
