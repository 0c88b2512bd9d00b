// The other views: conflicts (winner vs loser as a field-level diff), the
// split-brain report and the front door, the data explorer (databases,
// containers, documents, queries, upserts) and scenarios.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const el = RL.el;
  const queryHeaders = (extra = {}) => ({
    'Content-Type': 'application/query+json', 'x-ms-documentdb-isquery': 'True',
    'x-ms-documentdb-query-enablecrosspartition': 'True', ...extra,
  });
  const pretty = (v) => JSON.stringify(v, null, 2);

  function fillRegionSelect(select) {
    const names = RL.regionNames();
    const keep = select.value;
    if ([...select.options].map((o) => o.value).join() === names.join()) return;
    select.textContent = '';
    for (const n of names) select.append(el('option', { value: n, text: n }));
    if (names.includes(keep)) select.value = keep;
  }
  RL.on('state', () => { fillRegionSelect($('conflicts-region')); fillRegionSelect($('data-region')); });

  async function listContainers(region) {
    const dbs = await RL.region(region, 'GET', '/dbs');
    if (!dbs.ok) throw new Error(`${region}: ${dbs.status} ${dbs.message}`);
    const out = [];
    for (const db of dbs.json.Databases || []) {
      const colls = await RL.region(region, 'GET', `/dbs/${RL.enc(db.id)}/colls`);
      if (!colls.ok) throw new Error(`${region}: ${colls.status} ${colls.message}`);
      for (const c of colls.json.DocumentCollections || []) out.push({ db: db.id, coll: c });
    }
    return { dbs: dbs.json.Databases || [], containers: out };
  }

  // `partitionKey` (a JSON array) scopes the query to one partition.
  async function queryAll(region, db, coll, query, parameters = [], maxPages = 10, partitionKey = null) {
    let continuation = '', charge = 0, docs = [], pages = 0;
    do {
      const h = queryHeaders({ 'x-ms-max-item-count': '100' });
      if (partitionKey) h['x-ms-documentdb-partitionkey'] = JSON.stringify(partitionKey);
      if (continuation) h['x-ms-continuation'] = continuation;
      const r = await RL.region(region, 'POST', `/dbs/${RL.enc(db)}/colls/${RL.enc(coll)}/docs`, { headers: h, body: { query, parameters } });
      if (!r.ok) throw new Error(`${r.status} ${r.message}`);
      charge += r.charge;
      docs = docs.concat(r.json.Documents || []);
      continuation = r.continuation;
    } while (continuation && ++pages < maxPages);
    return { docs, charge, more: !!continuation };
  }

  // ---- conflicts
  function flatten(v, prefix = '', out = {}) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
      if (!Object.keys(v).length && prefix) out[prefix] = v;
    } else out[prefix] = v;
    return out;
  }
  function diffTable(winner, loser) {
    const w = flatten(winner || {}), l = flatten(loser || {});
    const keys = [...new Set([...Object.keys(w), ...Object.keys(l)])].sort((a, b) => (a.startsWith('_') - b.startsWith('_')) || a.localeCompare(b));
    const t = el('table', { class: 'diff' }, el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Field' }), el('th', { scope: 'col', text: 'Winner' }), el('th', { scope: 'col', text: 'Loser' }), el('th', { scope: 'col', text: '' }))));
    const body = el('tbody');
    for (const k of keys) {
      const a = k in w ? JSON.stringify(w[k]) : undefined, b = k in l ? JSON.stringify(l[k]) : undefined;
      const same = a === b;
      const mark = same ? '' : a === undefined ? 'only loser' : b === undefined ? 'only winner' : 'differs';
      const cls = same ? '' : a === undefined || b === undefined ? 'only' : 'changed';
      body.append(el('tr', {}, el('th', { scope: 'row', text: k }), el('td', { class: cls }, el('code', { text: a ?? '—' })), el('td', { class: cls }, el('code', { text: b ?? '—' })), el('td', { text: mark })));
    }
    t.append(body);
    return t;
  }
  const vv = (v) => (v ? Object.entries(v).map(([r, n]) => `${r}:${n}`).join(' ') : '–');

  let conflictsSeq = 0;  // a newer refresh wins over one still running
  async function refreshConflicts() {
    const region = $('conflicts-region').value;
    const seq = ++conflictsSeq;
    const list = el('div');  // built aside, swapped in whole
    if (!region) return;
    $('conflicts-count').textContent = 'loading…';
    try {
      const { containers } = await listContainers(region);
      let total = 0;
      for (const { db, coll } of containers) {
        const path = `/dbs/${RL.enc(db)}/colls/${RL.enc(coll.id)}/conflicts`;
        const r = await RL.region(region, 'GET', path);
        if (!r.ok) throw new Error(`${r.status} ${r.message}`);
        for (const c of r.json.Conflicts || []) {
          total++;
          const x = c.regionlab || {};
          let loser = null;
          try { loser = JSON.parse(c.content); } catch { loser = c.content; }
          const pk = x.partitionKey;
          const pkArray = Array.isArray(pk) ? pk : [pk];
          // The winner: the document as this region has it now (same id, same partition).
          const winner = await queryAll(region, db, coll.id, 'SELECT * FROM c WHERE c.id = @id', [{ name: '@id', value: x.documentId }], 1, pkArray).catch(() => ({ docs: [] }));
          const win = x.winner || {}, lose = x.loser || {};
          const del = el('button', { class: 'danger', text: 'Delete conflict', 'aria-label': `Delete conflict ${c.id}` });
          del.addEventListener('click', async () => {
            const res = await RL.region(region, 'DELETE', `${path}/${RL.enc(c.id)}`, { headers: { 'x-ms-documentdb-partitionkey': JSON.stringify(pkArray) } });
            if (res.ok) { RL.toast(`conflict ${c.id} deleted in ${region}`); refreshConflicts(); } else RL.toast(`delete: ${res.status} ${res.message}`, true);
          });
          list.append(el('article', { class: 'conflict', 'data-document': x.documentId || '' },
            el('h3', { text: `${db}/${coll.id}: document "${x.documentId}" (${c.operationType})` }),
            el('p', {}, `Policy ${x.policy || '–'}: ${x.reason || '–'}`),
            el('p', {}, el('strong', { text: 'Winner ' }), `${win.region || win.regionId} — version ${vv(win.version)}${win.deleted ? ' (delete)' : ''}`, el('br'),
              el('strong', { text: 'Loser ' }), `${lose.region || lose.regionId} — version ${vv(lose.version)}${lose.deleted ? ' (delete)' : ''}`),
            diffTable(winner.docs[0] || (win.deleted ? { deleted: true } : null), loser),
            el('div', { class: 'row' }, del)));
        }
      }
      if (seq !== conflictsSeq) return;
      if (!total) list.append(el('p', { class: 'muted', text: 'No conflicts recorded in this region. (LastWriterWins records its losers only with "recordLosers": true.)' }));
      $('conflicts-list').replaceChildren(...list.childNodes);
      $('conflicts-count').textContent = `${total} conflict${total === 1 ? '' : 's'} in ${region}`;
    } catch (e) {
      if (seq !== conflictsSeq) return;
      $('conflicts-count').textContent = 'error';
      RL.toast(e.message, true);
    }
  }
  $('conflicts-refresh').addEventListener('click', refreshConflicts);
  $('conflicts-region').addEventListener('change', refreshConflicts);

  // ---- split-brain and front door
  async function refreshSplitBrain() {
    const w = Math.max(1, Number($('sb-window').value) || 1000);
    try {
      const r = await RL.api('GET', `/splitbrain?windowMs=${w}`);
      const box = $('sb-list');
      box.textContent = '';
      const docs = r.documents || [];
      $('sb-count').textContent = `${docs.length} document${docs.length === 1 ? '' : 's'} written in two or more regions within ${w} ms`;
      if (docs.length) {
        const t = el('table', {}, el('thead', {}, el('tr', {}, ...['Document', 'Partition key', 'Writes (region, time, concurrent)'].map((h) => el('th', { scope: 'col', text: h })))));
        const tb = el('tbody');
        for (const d of docs) {
          tb.append(el('tr', {}, el('td', { text: `${d.database}/${d.container}/${d.id}` }), el('td', { text: JSON.stringify(d.partitionKey) }),
            el('td', {}, ...d.writes.map((x) => el('div', { text: `${x.region} at ${new Date(x.timeMs).toISOString()}${x.concurrent ? ' — concurrent' : ''}` })))));
        }
        t.append(tb);
        box.append(t);
      }
    } catch (e) { RL.toast(e.message, true); }
    try {
      const fd = await RL.api('GET', '/console/frontdoor');
      const box = $('fd');
      box.textContent = '';
      if (!fd.present) {
        box.append(el('p', { class: 'muted', text: 'No front door runs in this process. Start one with `regionlab up --config FILE` and a frontDoor section (docs/frontdoor.md).' }));
        return;
      }
      const s = fd.state || {};
      const t = el('table', {}, el('thead', {}, el('tr', {}, ...['Origin', 'Priority / weight', 'Enabled', 'Health per POP (window, newest last)', 'Requests'].map((h) => el('th', { scope: 'col', text: h })))));
      const tb = el('tbody');
      for (const o of s.origins || []) {
        tb.append(el('tr', {}, el('th', { scope: 'row', text: `${o.name} (${o.url})` }), el('td', { text: `${o.priority} / ${o.weight}` }), el('td', { text: o.enabled ? 'yes' : 'no' }),
          el('td', {}, ...(o.pops || []).map((p) => el('div', { class: p.healthy ? 'ok' : 'bad', text: `POP ${p.pop}: ${p.healthy ? 'healthy' : 'unhealthy'} [${p.windowText || ''}]${p.latencyMs != null ? ` ${RL.fmt(p.latencyMs, 1)} ms` : ''}` }))),
          el('td', { text: `${o.requests} (${o.responses5xx} 5xx)` })));
      }
      t.append(tb);
      box.append(t);
      for (const p of s.pops || []) box.append(el('p', { text: `POP ${p.pop}: ${p.mode}, routing to ${JSON.stringify(p.routing)}` }));
      const f = fd.failover && fd.failover.failover;
      box.append(el('h3', { text: 'Last failover' }));
      if (!f) box.append(el('p', { class: 'muted', text: 'No failover yet.' }));
      else {
        const bound = fd.failover.promise ? ` (worst case promised: ${RL.fmt(fd.failover.promise.worstCaseWallMs)} ms of wall time)` : '';
        box.append(el('p', { text: `${f.origin} failed${f.newOrigin ? `, traffic moved to ${f.newOrigin}` : ''}; ${f.popsMarked}/${f.pops} POPs marked it unhealthy${f.recovered ? '; recovered' : ''}; within the promised bound: ${f.withinPromise ? 'yes' : 'no'}${bound}` }));
        box.append(el('ol', {}, ...(f.timeline || []).map((e) => el('li', { text: `+${e.afterFirstFailureWallMs} ms (front-door +${e.afterFirstFailureFdMs} ms): ${e.event}${e.pop !== undefined ? ` at POP ${e.pop}` : ''}${e.origin ? ` (${e.origin})` : ''}` }))));
      }
    } catch (e) { RL.toast(e.message, true); }
  }
  $('sb-refresh').addEventListener('click', refreshSplitBrain);

  // ---- data explorer
  const data = { region: '', db: '', coll: null, continuation: '', pageStack: [] };
  let treeSeq = 0;  // a newer refresh wins over one still running
  async function refreshTree() {
    data.region = $('data-region').value;
    if (!data.region) return;
    const seq = ++treeSeq;
    const tree = $('data-tree');
    try {
      const { dbs, containers } = await listContainers(data.region);
      if (seq !== treeSeq) return;
      tree.textContent = '';
      const ul = el('ul', { class: 'tree' });
      for (const db of dbs) {
        const inner = el('ul');
        for (const { coll } of containers.filter((c) => c.db === db.id)) {
          const p = coll.conflictResolutionPolicy || {};
          const policy = p.mode === 'Custom' ? `Custom${p.conflictResolutionProcedure ? ' (' + p.conflictResolutionProcedure + ')' : ' (feed)'}` : `LastWriterWins on ${p.conflictResolutionPath || '/_ts'}${p.recordLosers ? ', losers recorded' : ''}`;
          const ttl = coll.defaultTtl === undefined ? 'TTL off' : `TTL ${coll.defaultTtl}`;
          inner.append(el('li', {}, el('button', { 'data-container': `${db.id}/${coll.id}`, onclick: () => openContainer(db.id, coll), text: coll.id }),
            el('span', { class: 'muted small', text: ` key ${(coll.partitionKey && coll.partitionKey.paths || []).join(', ')} · ${policy} · ${ttl}` })));
        }
        ul.append(el('li', {}, el('strong', { text: db.id }), inner));
      }
      if (!dbs.length) ul.append(el('li', { class: 'muted', text: 'No databases yet.' }));
      tree.append(ul);
    } catch (e) { RL.toast(e.message, true); }
  }
  async function loadPage(continuation) {
    const { region, db, coll } = data;
    const h = queryHeaders({ 'x-ms-max-item-count': '10' });
    if (continuation) h['x-ms-continuation'] = continuation;
    const r = await RL.region(region, 'POST', `/dbs/${RL.enc(db)}/colls/${RL.enc(coll.id)}/docs`, { headers: h, body: { query: 'SELECT * FROM c', parameters: [] } });
    if (!r.ok) { RL.toast(`${r.status} ${r.message}`, true); return; }
    data.continuation = r.continuation;
    const box = $('docs');
    box.textContent = '';
    const docs = r.json.Documents || [];
    for (const d of docs) box.append(el('details', {}, el('summary', { text: `${d.id}  (_etag ${d._etag}, _ts ${d._ts})` }), el('pre', { class: 'json', text: pretty(d) })));
    if (!docs.length) box.append(el('p', { class: 'muted', text: 'No documents.' }));
    $('docs-status').textContent = `${docs.length} documents on this page from ${region} · ${RL.fmt(r.charge, 2)} RU`;
    $('docs-next').disabled = !data.continuation;
    $('docs-first').disabled = !continuation;
  }
  function openContainer(db, coll) {
    data.db = db; data.coll = coll;
    $('docs-title').textContent = `Documents of ${db}/${coll.id} in ${data.region}`;
    loadPage('');
  }
  $('docs-next').addEventListener('click', () => loadPage(data.continuation));
  $('docs-first').addEventListener('click', () => loadPage(''));
  $('data-refresh').addEventListener('click', refreshTree);
  $('data-region').addEventListener('change', () => { refreshTree(); if (data.coll) { data.region = $('data-region').value; openContainer(data.db, data.coll); } });
  $('query-run').addEventListener('click', async () => {
    if (!data.coll) { RL.toast('choose a container first', true); return; }
    $('query-status').textContent = 'running…';
    try {
      const r = await queryAll(data.region, data.db, data.coll.id, $('query-text').value);
      $('query-results').textContent = pretty(r.docs);
      $('query-status').textContent = `${r.docs.length} result${r.docs.length === 1 ? '' : 's'} from ${data.region} · request charge ${RL.fmt(r.charge, 2)} RU${r.more ? ' (more pages not shown)' : ''}`;
    } catch (e) {
      $('query-status').textContent = 'error: ' + e.message;
      $('query-results').textContent = '';
    }
  });
  $('upsert-run').addEventListener('click', async () => {
    if (!data.coll) { RL.toast('choose a container first', true); return; }
    let doc;
    try { doc = JSON.parse($('upsert-text').value); } catch (e) { $('upsert-status').textContent = 'not JSON: ' + e.message; return; }
    const paths = (data.coll.partitionKey && data.coll.partitionKey.paths) || [];
    const pk = paths.map((p) => p.split('/').filter(Boolean).reduce((v, k) => (v && typeof v === 'object' ? v[k] : undefined), doc)).map((v) => (v === undefined ? {} : v));
    const r = await RL.region(data.region, 'POST', `/dbs/${RL.enc(data.db)}/colls/${RL.enc(data.coll.id)}/docs`, {
      headers: { 'Content-Type': 'application/json', 'x-ms-documentdb-is-upsert': 'True', 'x-ms-documentdb-partitionkey': JSON.stringify(pk) }, body: doc });
    $('upsert-status').textContent = r.ok ? `upserted in ${data.region} (${r.status}, ${RL.fmt(r.charge, 2)} RU)` : `error ${r.status}: ${r.message}`;
    if (r.ok) loadPage('');
  });

  // ---- scenario
  const example = [
    { atMs: 0, put: { from: 'uksouth', to: 'westeurope', delayMs: 240 } },
    { atMs: 2000, partition: { groups: [['uksouth'], ['westeurope']] } },
    { atMs: 5000, heal: true },
  ];
  $('scenario-text').value = pretty(example);
  $('scenario-file').addEventListener('change', async (e) => {
    const f = e.target.files[0];
    if (f) $('scenario-text').value = await f.text();
  });
  let started = 0, steps = [];
  function drawTimeline(progress) {
    const box = $('scenario-timeline');
    box.textContent = '';
    if (!steps.length) return;
    const end = Math.max(1, ...steps.map((s) => s.atMs || 0));
    const elapsed = started ? Date.now() - started : 0;
    const bar = el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': progress.steps, 'aria-valuenow': progress.done, 'aria-label': 'Scenario progress' }, el('div', { style: `width:${Math.min(100, (100 * elapsed) / end)}%` }));
    box.append(bar);
    // Each step as a numbered tick at its time on the track.
    const track = el('div', { class: 'track', 'aria-hidden': 'true' });
    steps.forEach((s, i) => {
      track.append(el('span', { class: 'tick' + (i < progress.done ? ' done' : ''), style: `left:${(100 * (s.atMs || 0)) / end}%`, title: `${s.atMs || 0} ms`, text: String(i + 1) }));
    });
    box.append(track);
    const failed = progress.errors || [];
    box.append(el('ol', {}, ...steps.map((s, i) => {
      const { atMs, ...rest } = s;
      const done = i < progress.done;
      return el('li', { class: done ? 'done' : '' }, el('strong', { text: `${i + 1}. at ${atMs || 0} ms` }), el('span', { text: (done ? '✓ done: ' : 'pending: ') + JSON.stringify(rest) }));
    })));
    if (failed.length) box.append(el('p', { class: 'bad', text: 'Failed steps: ' + failed.join('; ') }));
  }
  async function pollScenario() {
    try {
      const p = await RL.api('GET', '/scenario');
      drawTimeline(p);
      $('scenario-status').textContent = `${p.done} of ${p.steps} steps done${p.running ? ' — running' : ''}${(p.errors || []).length ? `, ${p.errors.length} failed` : ''}`;
      if (p.running) setTimeout(pollScenario, 250);
    } catch (e) { RL.toast(e.message, true); }
  }
  $('scenario-run').addEventListener('click', async () => {
    let parsed;
    try { parsed = JSON.parse($('scenario-text').value); } catch (e) { $('scenario-status').textContent = 'not JSON: ' + e.message; return; }
    steps = Array.isArray(parsed) ? parsed : parsed.steps || [];
    try {
      await RL.api('POST', '/scenario', parsed);
      started = Date.now();
      RL.toast(`scenario started: ${steps.length} steps`);
      pollScenario();
    } catch (e) { $('scenario-status').textContent = e.message; }
  });

  RL.on('tab', (id) => {
    if (id === 'tab-conflicts') refreshConflicts();
    if (id === 'tab-splitbrain') refreshSplitBrain();
    if (id === 'tab-data') refreshTree();
  });
  RL.refreshConflicts = refreshConflicts;
})();
