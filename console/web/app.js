// regionlab console: the shared core — calls to the management API (with
// the admin token when the API asks for one), the /events stream, tabs and
// messages. Every control of the page goes through RL.api / RL.region.
'use strict';
const RL = (window.RL = {
  state: null,       // the last `state` event: regions, links and faults, scenario
  metrics: [],       // the `metrics` events kept for the charts (last minutes)
  listeners: { state: [], metrics: [], reset: [], tab: [] },
  token: sessionStorage.getItem('regionlab-admin-token') || '',
  maxPoints: 300,
});

RL.on = (type, fn) => RL.listeners[type].push(fn);
RL.emit = (type, value) => {
  for (const fn of RL.listeners[type]) {
    try { fn(value); } catch (e) { RL.toast(String(e), true); }
  }
};

RL.el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
};

RL.toast = (message, error = false) => {
  const box = document.getElementById('toast');
  const d = RL.el('div', { class: error ? 'error' : '', text: message });
  box.append(d);
  setTimeout(() => d.remove(), error ? 8000 : 3000);
};

RL.headers = (extra = {}) => (RL.token ? { Authorization: 'Bearer ' + RL.token, ...extra } : { ...extra });

RL.login = () => new Promise((resolve) => {
  const dlg = document.getElementById('login-dialog');
  const form = document.getElementById('login-form');
  form.onsubmit = () => {
    RL.token = document.getElementById('login-token').value.trim();
    sessionStorage.setItem('regionlab-admin-token', RL.token);
    resolve();
  };
  if (!dlg.open) dlg.showModal();
});

// A management API call: JSON in and out; errors become exceptions with the
// server's message.
RL.api = async (method, path, body) => {
  for (let attempt = 0; ; attempt++) {
    const init = { method, headers: RL.headers(body === undefined ? {} : { 'Content-Type': 'application/json' }) };
    if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
    const res = await fetch(path, init);
    if (res.status === 401 && attempt < 3) { await RL.login(); continue; }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json && json.message ? json.message : text}`);
    return json;
  }
};

// A data-plane request to one region, signed by the server on our behalf
// (/console/api/regions/{r}/...). Returns {status, json, charge, continuation}.
RL.region = async (region, method, path, { body, headers = {} } = {}) => {
  const init = { method, headers: RL.headers(headers) };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch('/console/api/regions/' + encodeURIComponent(region) + path, init);
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return {
    status: res.status, ok: res.ok, json,
    charge: Number(res.headers.get('x-ms-request-charge') || 0),
    continuation: res.headers.get('x-ms-continuation') || '',
    message: json && json.message ? json.message : text,
  };
};

RL.enc = (s) => encodeURIComponent(s);
RL.fmt = (v, digits = 0) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(digits));
RL.regionNames = () => (RL.state ? RL.state.regions.map((r) => r.name) : []);
RL.stateLabel = (s) => ({ online: 'online', 'offline-503': 'offline (503)', 'offline-403': 'offline (403)', killed: 'killed' }[s] || s);

RL.faultText = (f) => {
  if (!f) return 'none';
  const parts = [];
  if (f.partitioned) parts.push('cut');
  if (f.delayMs) parts.push(`delay ${f.delayMs} ms`);
  if (f.jitterMs) parts.push(`jitter ${f.jitterMs} ms`);
  if (f.dropRate) parts.push(`loss ${Math.round(f.dropRate * 100)}%`);
  if (f.duplicateRate) parts.push(`dup ${Math.round(f.duplicateRate * 100)}%`);
  if (f.reorderRate) parts.push(`reorder ${Math.round(f.reorderRate * 100)}%`);
  if (f.bandwidthKBps) parts.push(`${f.bandwidthKBps} KB/s`);
  return parts.length ? parts.join(', ') : 'none';
};

// ---- tabs (arrow keys move between them, as the ARIA tabs pattern says)
RL.showTab = (id) => {
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const on = tab.id === id;
    tab.setAttribute('aria-selected', on ? 'true' : 'false');
    tab.tabIndex = on ? 0 : -1;
    document.getElementById(tab.getAttribute('aria-controls')).hidden = !on;
  }
  RL.emit('tab', id);
};
document.addEventListener('DOMContentLoaded', () => {
  const tabs = [...document.querySelectorAll('[role=tab]')];
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => RL.showTab(tab.id));
    tab.addEventListener('keydown', (e) => {
      const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
      if (!d) return;
      const next = tabs[(i + d + tabs.length) % tabs.length];
      next.focus();
      RL.showTab(next.id);
    });
  });
  RL.showTab('tab-cluster');
  RL.stream();
});

// ---- the /events stream (text/event-stream read with fetch, so that the
// admin token can travel in a header); reconnects with Last-Event-ID.
RL.stream = async () => {
  const conn = document.getElementById('conn');
  const setConn = (text, cls) => { conn.textContent = text; conn.className = 'badge ' + cls; };
  let lastId = '';
  for (;;) {
    try {
      const res = await fetch('/events', { headers: RL.headers(lastId ? { 'Last-Event-ID': lastId } : {}), cache: 'no-store' });
      if (res.status === 401) { await RL.login(); continue; }
      if (!res.ok || !res.body) throw new Error('events: HTTP ' + res.status);
      setConn('live', 'live');
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const ev = { type: 'message', data: [] };
          for (const line of block.split('\n')) {
            const i = line.indexOf(':');
            if (i === 0) continue;
            const field = i < 0 ? line : line.slice(0, i);
            const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
            if (field === 'id') ev.id = val;
            else if (field === 'event') ev.type = val;
            else if (field === 'data') ev.data.push(val);
          }
          if (ev.id) lastId = ev.id;
          if (!ev.data.length) continue;
          RL.dispatch(ev.type, JSON.parse(ev.data.join('\n')));
        }
      }
    } catch (e) {
      /* reconnect below */
    }
    setConn('reconnecting…', 'down');
    await new Promise((r) => setTimeout(r, 1000));
  }
};

RL.dispatch = (type, data) => {
  if (type === 'reset') {
    RL.metrics = [];
    RL.emit('reset', data);
  } else if (type === 'state') {
    RL.state = data;
    document.getElementById('seed').textContent = 'seed ' + data.seed;
    RL.emit('state', data);
  } else if (type === 'metrics') {
    RL.metrics.push(data);
    if (RL.metrics.length > RL.maxPoints) RL.metrics.shift();
    RL.latest = data;
    RL.emit('metrics', data);
  }
};
