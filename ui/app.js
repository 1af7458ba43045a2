// The bcs-storage console: clusters → resource kinds → lists → documents,
// live lists, events, alarms and a per-cluster dashboard. It speaks only
// the service's public HTTP API (the bcs routes under /bcsapi/v4/storage).

import {
  h, when, at, jsonTree, jsonText, yamlTree, yamlText, copy, selectorMatcher,
} from './view.js';

const API = '/bcsapi/v4/storage';
const TOKEN = 'bcs-storage-token';
const PAGE = 50;
const main = document.getElementById('main');
const nav = document.getElementById('clusters');
const status = document.getElementById('status');

// ---- the API ----------------------------------------------------------------

class Refused extends Error {
  constructor(message, status = 0, code = 0) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(json) {
  const out = {};
  const token = sessionStorage.getItem(TOKEN);
  if (token) out.Authorization = `Bearer ${token}`;
  if (json) out['Content-Type'] = 'application/json';
  return out;
}

function url(path, query = {}) {
  const u = new URL(API + path, location.origin);
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.append(k, v);
  }
  return u;
}

/** One request; the reply's envelope, or Refused with the server's words.
 * A 401 asks for a token and tries again. */
async function api(method, path, { query, body, signal } = {}) {
  let res;
  try {
    res = await fetch(url(path, query), {
      method,
      headers: headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new Refused('the server does not answer');
  }
  if (res.status === 401) {
    const reply = await res.json().catch(() => ({}));
    await askToken(reply.message || 'this server needs a token');
    return api(method, path, { query, body, signal });
  }
  const text = await res.text();
  let reply;
  try {
    reply = JSON.parse(text);
  } catch {
    throw new Refused(`HTTP ${res.status}: ${text.slice(0, 200)}`, res.status);
  }
  if (!reply.result) throw new Refused(reply.message || `HTTP ${res.status}`, res.status, reply.code);
  return reply;
}

const seg = encodeURIComponent;

/** Every cluster with its count per resource type. */
const summaries = () => api('GET', '/dynamic/clusters').then((r) => r.data || []);

// ---- the token ------------------------------------------------------------

let asking = null;

/** Shows the token dialog (once, however many requests wait on it); the
 * token is kept in this tab's session storage only. */
function askToken(reason) {
  if (asking) return asking;
  const dialog = document.getElementById('token-dialog');
  const input = dialog.querySelector('input');
  dialog.querySelector('.reason').textContent = reason;
  input.value = '';
  asking = new Promise((resolve) => {
    dialog.onsubmit = (ev) => {
      ev.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN, token);
      dialog.close();
      asking = null;
      showTokenButton();
      resolve();
    };
  });
  dialog.showModal();
  input.focus();
  return asking;
}

function showTokenButton() {
  const b = document.getElementById('forget-token');
  b.hidden = !sessionStorage.getItem(TOKEN);
}

document.getElementById('forget-token').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN);
  showTokenButton();
  route();
});

// ---- routing ------------------------------------------------------------------

/** The current place: `#/clusters/C/kinds/K?ns=...` → {parts, params}. */
function place() {
  const [path, q = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(q) };
}

function link(parts, params) {
  const q = params ? new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''),
  ).toString() : '';
  return '#/' + parts.map(seg).join('/') + (q ? `?${q}` : '');
}

let leave = () => {};

async function route() {
  leave();
  leave = () => {};
  const { parts, params } = place();
  const ctl = new AbortController();
  leave = () => ctl.abort();
  try {
    if (parts[0] === 'clusters' && parts[1] && parts[2] === 'kinds' && parts[3] && parts[4] === 'doc') {
      await documentView(parts[1], parts[3], params, ctl.signal);
    } else if (parts[0] === 'clusters' && parts[1] && parts[2] === 'kinds' && parts[3]) {
      await listView(parts[1], parts[3], params, ctl);
    } else if (parts[0] === 'clusters' && parts[1]) {
      await dashboard(parts[1], ctl.signal);
    } else if (parts[0] === 'alarms') {
      await alarmsView(params, ctl.signal);
    } else {
      await overview(ctl.signal);
    }
  } catch (e) {
    if (e.name === 'AbortError') return;
    show(h('h1', {}, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, e.message));
  }
}

// `#main` (the skip link) is a place in the page, not a view.
window.addEventListener('hashchange', () => {
  if (location.hash === '' || location.hash.startsWith('#/')) route();
});

/** The filter field to keep focus on when the filters themselves asked
 * for the new view. */
let refocus = null;

/** Replaces the main panel. Focus returns to the filter field that asked
 * for it, else moves to the new heading. */
function show(...children) {
  const field = refocus;
  refocus = null;
  main.replaceChildren(...children);
  const again = field && main.querySelector(`.filters [name="${field}"]`);
  if (again) {
    again.focus({ preventScroll: true });
    return;
  }
  const heading = main.querySelector('h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

function setStatus(text) {
  status.textContent = text;
}

// ---- the sidebar -------------------------------------------------------------

let known = [];

async function refreshNav(current) {
  known = await summaries();
  const { parts } = place();
  nav.replaceChildren(...known.map((c) => {
    const here = c.clusterId === current;
    const item = h('li', {},
      h('a', {
        href: link(['clusters', c.clusterId]),
        'aria-current': here && parts.length === 2 ? 'page' : undefined,
        class: 'cluster',
      }, h('span', {}, c.clusterId), h('span', { class: 'count' }, c.total.toLocaleString())));
    if (here) {
      item.append(h('ul', { class: 'kinds' }, Object.entries(c.resources).map(([kind, n]) =>
        h('li', {}, h('a', {
          href: link(['clusters', c.clusterId, 'kinds', kind]),
          'aria-current': parts[3] === kind ? 'page' : undefined,
        }, h('span', {}, kind), h('span', { class: 'count' }, n.toLocaleString()))))));
    }
    return item;
  }));
  if (!known.length) nav.replaceChildren(h('li', { class: 'muted' }, 'No clusters stored yet'));
  return known;
}

// ---- overview -------------------------------------------------------------------

async function overview() {
  const all = await refreshNav(null);
  show(
    h('h1', {}, 'Clusters'),
    all.length
      ? h('div', { class: 'cards' }, all.map((c) => h('a', { class: 'card', href: link(['clusters', c.clusterId]) },
        h('h2', {}, c.clusterId),
        h('p', { class: 'big' }, c.total.toLocaleString(), h('span', { class: 'muted' }, ' documents')),
        h('p', { class: 'muted' }, Object.entries(c.resources)
          .sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, n]) => `${k} ${n}`).join(' · ')))))
      : h('p', { class: 'muted' }, 'Nothing is stored yet: data-watch agents PUT under /bcsapi/v4/storage/k8s/dynamic/.'),
  );
  setStatus(`${all.length} clusters`);
}

// ---- the cluster dashboard -----------------------------------------------------

const PHASES = ['Running', 'Pending', 'Succeeded', 'Failed', 'Unknown'];

/** Every pod's phase and restart counts (projected: a few dozen bytes a
 * pod), read in pages of 2,000, four at a time, up to 100,000 pods. Pages
 * follow the store's natural order: a pod written meanwhile may be
 * counted twice or not at all, which a dashboard can live with. */
async function podStates(cluster, count, signal) {
  const field = 'resourceName,namespace,data.status.phase,data.status.containerStatuses.restartCount';
  const size = 2000;
  const pages = Math.min(Math.ceil(count / size), 50);
  const out = [];
  let next = 0;
  const reader = async () => {
    while (next < pages) {
      const i = next++;
      const r = await api('GET', `/k8s/dynamic/all_resources/clusters/${seg(cluster)}/Pod`,
        { query: { field, offset: i * size, limit: size }, signal });
      out[i] = r.data || [];
    }
  };
  await Promise.all([reader(), reader(), reader(), reader()]);
  return { pods: out.flat(), complete: count <= pages * size };
}

function restarts(pod) {
  const cs = at(pod, 'data.status.containerStatuses');
  return Array.isArray(cs) ? cs.reduce((n, c) => n + (Number(c?.restartCount) || 0), 0) : 0;
}

async function dashboard(cluster, signal) {
  const all = await refreshNav(cluster);
  const summary = all.find((c) => c.clusterId === cluster);
  show(h('h1', {}, cluster), h('p', { class: 'muted' }, 'Loading…'));
  const podCount = summary?.resources.Pod ?? 0;
  const [{ pods, complete }, warnings] = await Promise.all([
    podStates(cluster, podCount, signal),
    api('GET', '/events', { query: { clusterId: cluster, level: 'Warning,warning', length: 10 }, signal })
      .then((r) => r.data || []),
  ]);
  const phases = new Map(PHASES.map((p) => [p, 0]));
  for (const p of pods) {
    const phase = PHASES.includes(at(p, 'data.status.phase')) ? at(p, 'data.status.phase') : 'Unknown';
    phases.set(phase, phases.get(phase) + 1);
  }
  const most = Math.max(1, ...phases.values());
  const top = pods.map((p) => [p, restarts(p)]).filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]).slice(0, 10);
  const podLink = (p) => link(['clusters', cluster, 'kinds', 'Pod', 'doc'], { ns: p.namespace, name: p.resourceName });
  show(
    h('h1', {}, cluster),
    h('div', { class: 'grid' },
      h('section', { class: 'panel', 'aria-labelledby': 'phases-h' },
        h('h2', { id: 'phases-h' }, complete
          ? `Pods by phase (${pods.length.toLocaleString()})`
          : `Pods by phase (the first ${pods.length.toLocaleString()} of ${podCount.toLocaleString()})`),
        h('dl', { class: 'bars' }, [...phases].map(([phase, n]) => [
          h('dt', {}, h('a', { href: link(['clusters', cluster, 'kinds', 'Pod']) }, phase)),
          h('dd', {}, h('span', { class: `bar phase-${phase.toLowerCase()}`, vars: { '--w': `${(100 * n) / most}%` } }),
            h('span', { class: 'num' }, n.toLocaleString())),
        ]))),
      h('section', { class: 'panel', 'aria-labelledby': 'restarts-h' },
        h('h2', { id: 'restarts-h' }, 'Most restarts'),
        top.length
          ? table(['Pod', 'Namespace', 'Restarts'], top.map(([p, n]) => [
            h('a', { href: podLink(p) }, p.resourceName), p.namespace ?? '', n.toLocaleString()]), 'compact')
          : h('p', { class: 'muted' }, 'No container has restarted.')),
      h('section', { class: 'panel wide', 'aria-labelledby': 'warn-h' },
        h('h2', { id: 'warn-h' }, 'Newest warnings'),
        warnings.length ? eventsTable(warnings) : h('p', { class: 'muted' }, 'No warning events.')),
      h('section', { class: 'panel wide', 'aria-labelledby': 'kinds-h' },
        h('h2', { id: 'kinds-h' }, 'Resource kinds'),
        table(['Kind', 'Documents'], Object.entries(summary?.resources || {}).map(([k, n]) => [
          h('a', { href: link(['clusters', cluster, 'kinds', k]) }, k), n.toLocaleString()]), 'compact')),
    ),
  );
  setStatus(`${cluster}: ${(summary?.total ?? 0).toLocaleString()} documents`);
}

function table(head, rows, cls = '') {
  return h('table', { class: cls },
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
}

function eventsTable(events) {
  return table(['Age', 'Level', 'Object', 'Message'], events.map((e) => [
    when(e.eventTime),
    h('span', { class: `badge ${String(e.level).toLowerCase()}` }, e.level ?? ''),
    [e.extraInfo?.kind, [e.extraInfo?.namespace, e.extraInfo?.name].filter(Boolean).join('/')].filter(Boolean).join(' '),
    h('span', { class: 'msg' }, e.describe ?? ''),
  ]), 'events');
}

// ---- a list of one kind ----------------------------------------------------------

const WITHIN = [['', 'any time'], ['300', '5 minutes'], ['3600', '1 hour'], ['86400', '24 hours'], ['604800', '7 days']];

/** The list's columns: [heading, value of a document, class]. */
function columns(kind) {
  const cols = [
    ['Name', (d) => d.resourceName ?? d._id, 'name'],
    ['Namespace', (d) => d.namespace ?? '', 'ns'],
    ['Status', (d) => at(d, 'data.status.phase') ?? '', 'st'],
  ];
  if (kind === 'Pod') {
    cols.push(['Restarts', (d) => String(restarts(d)), 'num'], ['Node', (d) => at(d, 'data.spec.nodeName') ?? '', 'node']);
  }
  cols.push(['Updated', (d) => when(d.updateTime), 'time'], ['Age', (d) => when(d.createTime ?? at(d, 'data.metadata.creationTimestamp')), 'time']);
  return cols;
}

async function listView(cluster, kind, params, ctl) {
  const { signal } = ctl;
  refreshNav(cluster).catch(() => {});
  const f = {
    ns: params.get('ns') || '',
    sel: params.get('sel') || '',
    q: params.get('q') || '',
    within: params.get('within') || '',
    page: Math.max(0, Number(params.get('page')) || 0),
  };
  const cols = columns(kind);
  const go = (over) => {
    if (form.contains(document.activeElement)) refocus = document.activeElement.name || null;
    location.hash = link(['clusters', cluster, 'kinds', kind], { ...f, page: 0, ...over });
  };
  const input = (name, label, placeholder) => h('label', {}, h('span', {}, label),
    h('input', { name, value: f[name], placeholder, autocomplete: 'off', spellcheck: 'false' }));
  const form = h('form', {
    class: 'filters', role: 'search',
    onsubmit: (ev) => {
      ev.preventDefault();
      const data = new FormData(form);
      go(Object.fromEntries(['ns', 'sel', 'q', 'within'].map((k) => [k, data.get(k).trim()])));
    },
  },
  input('q', 'Name contains', 'nginx'),
  input('ns', 'Namespace', 'all'),
  input('sel', 'Label selector', 'app=web,tier!=db'),
  h('label', {}, h('span', {}, 'Updated within'),
    h('select', { name: 'within', onchange: () => form.requestSubmit() },
      WITHIN.map(([v, t]) => h('option', { value: v, selected: v === f.within }, t)))),
  h('button', { type: 'submit' }, 'Filter'));
  const liveBox = h('input', { type: 'checkbox', checked: true, id: 'live' });
  const liveState = h('span', { class: 'live-state', role: 'status' }, '');
  const tbody = h('tbody', {});
  const notice = h('div', { class: 'notice', role: 'status', 'aria-live': 'polite' });
  const counter = h('span', { class: 'range' }, '');
  const prev = h('button', { type: 'button', disabled: true, onclick: () => go({ ...f, page: f.page - 1 }) }, '← Previous');
  const next = h('button', { type: 'button', disabled: true, onclick: () => go({ ...f, page: f.page + 1 }) }, 'Next →');
  show(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: link(['clusters', cluster]) }, cluster), ' / '),
    h('div', { class: 'titlebar' }, h('h1', {}, kind),
      h('label', { class: 'live' }, liveBox, ' Live ', liveState), notice),
    form,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list', 'aria-label': `${kind} in ${cluster}` },
      h('colgroup', {}, h('col', { class: 'mark' }), cols.map(([, , c]) => h('col', { class: c }))),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, h('span', { class: 'sr' }, 'Change')),
        cols.map(([t, , c]) => h('th', { scope: 'col', class: c }, t)))),
      tbody)),
    h('div', { class: 'pager' }, prev, counter, next),
  );

  // The watch starts first; frames that arrive before the page are applied
  // after it, so no change falls between the two. Rows change in place;
  // objects new to the list wait in a fixed slot above it until asked for,
  // so nothing the reader looks at moves by itself.
  const rows = new Map();
  const fresh = new Map();
  let pending = [];
  let loaded = false;
  let total = 0;
  const matches = filterOf(f);
  const keyOf = (d) => `${d.namespace ?? ''}/${d.resourceName}`;
  const render = (d, mark) => {
    const href = link(['clusters', cluster, 'kinds', kind, 'doc'], { ns: d.namespace, name: d.resourceName });
    return h('tr', { dataset: { key: keyOf(d) } },
      h('td', { class: 'mark' }, markOf(mark)),
      cols.map(([, get, c], i) => h('td', { class: c },
        i === 0 && d.resourceName !== undefined ? h('a', { href }, get(d)) : get(d))));
  };
  const showFresh = () => {
    tbody.querySelector('tr.empty')?.remove();
    for (const d of [...fresh.values()].reverse()) {
      const tr = render(d, 'new');
      tr.classList.add('flash');
      tbody.prepend(tr);
      rows.set(keyOf(d), tr);
    }
    total += fresh.size;
    fresh.clear();
    noteFresh();
  };
  const noteFresh = () => {
    const n = fresh.size;
    const what = `${n} new ${n === 1 ? 'document' : 'documents'}`;
    notice.replaceChildren(n === 0 ? '' : f.page === 0
      ? h('button', { type: 'button', class: 'fresh', onclick: showFresh }, `Show ${what}`)
      : h('a', { href: link(['clusters', cluster, 'kinds', kind], { ...f, page: 0 }) }, `${what} on the first page`));
    counter.textContent = rangeText(f.page, rows.size, total);
  };
  const apply = (frame) => {
    const d = frame.value;
    if (!d || typeof d !== 'object' || !d.resourceName) return;
    const key = keyOf(d);
    const old = rows.get(key);
    if (frame.type === 2) {
      if (old && !old.classList.contains('deleted')) {
        old.classList.add('deleted');
        old.querySelector('.mark').replaceChildren(markOf('deleted'));
        total -= 1;
      }
      if (fresh.delete(key)) noteFresh();
    } else if (frame.type === 1 || frame.type === 3) {
      if (old) {
        if (old.classList.contains('deleted')) total += 1;
        const tr = render(d, old.classList.contains('deleted') ? 'new' : 'changed');
        tr.classList.add('flash');
        old.replaceWith(tr);
        rows.set(key, tr);
      } else if (matches(d)) {
        fresh.set(key, d);
      }
    }
    noteFresh();
  };
  if (liveBox.checked) follow(cluster, kind, signal, liveState, (frame) => (loaded ? apply(frame) : pending.push(frame)));
  liveBox.addEventListener('change', () => {
    if (liveBox.checked) route(); else { ctl.abort(); liveState.textContent = 'paused'; }
  });
  setStatus(`Loading ${kind}…`);
  const reply = await api('POST', `/k8s/dynamic/multicluster_resources/${seg(kind)}`, {
    body: listBody(cluster, f), signal,
  });
  total = reply.total ?? 0;
  for (const d of reply.data || []) {
    const tr = render(d, null);
    rows.set(keyOf(d), tr);
    tbody.append(tr);
  }
  if (!rows.size) tbody.append(h('tr', { class: 'empty' }, h('td', { colspan: cols.length + 1 }, 'No documents match.')));
  loaded = true;
  for (const frame of pending) apply(frame);
  pending = [];
  counter.textContent = rangeText(f.page, rows.size, total);
  prev.disabled = f.page === 0;
  next.disabled = (f.page + 1) * PAGE >= total;
  setStatus(`${kind} in ${cluster}: ${total.toLocaleString()} match`);
}

function rangeText(page, shown, total) {
  if (!total) return '0 documents';
  const first = page * PAGE + 1;
  return `${first.toLocaleString()}–${(page * PAGE + shown).toLocaleString()} of ${total.toLocaleString()}`;
}

function markOf(mark) {
  const marks = { new: ['+', 'new'], changed: ['●', 'changed'], deleted: ['✕', 'deleted'] };
  if (!mark) return '';
  const [sym, label] = marks[mark];
  return h('span', { class: `mk ${mark}`, title: label }, sym, h('span', { class: 'sr' }, label));
}

/** The multi-cluster list request of the filters (one cluster). */
function listBody(cluster, f) {
  const conditions = [];
  if (f.q) conditions.push({ Op: 'con', Value: { resourceName: f.q } });
  if (f.within) {
    const since = new Date(Date.now() - Number(f.within) * 1000).toISOString();
    conditions.push({ Op: 'gte', Value: { updateTime: since } });
  }
  return {
    offset: f.page * PAGE,
    limit: PAGE,
    clusteredNamespaces: [{ clusterId: cluster, namespaces: f.ns ? f.ns.split(',').map((s) => s.trim()) : null }],
    labelSelector: f.sel,
    conditions: conditions.length ? conditions : null,
  };
}

/** Whether a watched document belongs in the list as filtered. */
function filterOf(f) {
  const namespaces = f.ns ? f.ns.split(',').map((s) => s.trim()) : null;
  const labels = selectorMatcher(f.sel) || (() => true);
  return (d) => (!namespaces || namespaces.includes(d.namespace))
    && (!f.q || String(d.resourceName).includes(f.q))
    && labels(at(d, 'data.metadata.labels'));
}

/** Follows the watch route of a kind: each frame to `onFrame`, watching
 * again from the last revision when the stream ends or the connection
 * drops, until `signal` aborts. */
async function follow(cluster, kind, signal, state, onFrame) {
  let rev = null;
  let wait = 250;
  while (!signal.aborted) {
    try {
      const res = await fetch(url(`/dynamic/watch/${seg(cluster)}/${seg(kind)}`), {
        method: 'POST',
        headers: headers(true),
        body: JSON.stringify(rev ? { allowBookmarks: true, resourceVersion: rev } : { allowBookmarks: true }),
        signal,
      });
      if (res.status === 401) {
        await askToken('this server needs a token');
        continue;
      }
      state.textContent = 'live';
      state.className = 'live-state on';
      wait = 250;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const frame = JSON.parse(line);
          if (frame.result === false) throw new Refused(frame.message, res.status, frame.code);
          if (frame.resourceVersion) rev = frame.resourceVersion;
          if (frame.type === -1) break;
          onFrame(frame);
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof Refused && e.code === 1405096) rev = null; // too old: from now on
    }
    if (signal.aborted) return;
    state.textContent = 'reconnecting';
    state.className = 'live-state off';
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 5000);
  }
}

// ---- one document ----------------------------------------------------------------

async function documentView(cluster, kind, params, signal) {
  refreshNav(cluster).catch(() => {});
  const ns = params.get('ns');
  const name = params.get('name') || '';
  const format = params.get('as') === 'yaml' ? 'yaml' : 'json';
  const path = ns
    ? `/k8s/dynamic/namespace_resources/clusters/${seg(cluster)}/namespaces/${seg(ns)}/${seg(kind)}/${seg(name)}`
    : `/k8s/dynamic/cluster_resources/clusters/${seg(cluster)}/${seg(kind)}/${seg(name)}`;
  const back = link(['clusters', cluster, 'kinds', kind]);
  let doc;
  try {
    doc = (await api('GET', path, { signal })).data;
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    show(h('h1', {}, name), h('p', { class: 'error', role: 'alert' }, e.message), h('a', { href: back }, `Back to ${kind}`));
    return;
  }
  const self = (over) => link(['clusters', cluster, 'kinds', kind, 'doc'], { ns, name, as: format, ...over });
  const tree = format === 'yaml' ? yamlTree(doc) : jsonTree(doc);
  const copied = h('span', { class: 'copied', role: 'status' }, '');
  const copyButton = (label, text) => h('button', {
    type: 'button',
    onclick: async () => { copied.textContent = (await copy(text())) ? 'Copied' : 'Copy failed'; },
  }, label);
  const fold = (open) => () => tree.querySelectorAll('details').forEach((d, i) => { d.open = open || i === 0; });
  const events = h('div', { class: 'side-events' }, h('p', { class: 'muted' }, 'Loading events…'));
  show(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: link(['clusters', cluster]) }, cluster), ' / ', h('a', { href: back }, kind), ' / '),
    h('div', { class: 'titlebar' }, h('h1', {}, name), ns ? h('span', { class: 'muted' }, `namespace ${ns}`) : ''),
    h('div', { class: 'doc-layout' },
      h('section', { class: 'doc', 'aria-label': 'Document' },
        h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Document view' },
          h('a', { class: 'tab', href: self({ as: 'json' }), 'aria-current': format === 'json' ? 'true' : undefined }, 'JSON'),
          h('a', { class: 'tab', href: self({ as: 'yaml' }), 'aria-current': format === 'yaml' ? 'true' : undefined }, 'YAML'),
          h('span', { class: 'spacer' }),
          h('button', { type: 'button', onclick: fold(false) }, 'Fold all'),
          h('button', { type: 'button', onclick: fold(true) }, 'Unfold all'),
          copyButton(`Copy ${format.toUpperCase()}`, () => (format === 'yaml' ? yamlText(doc) : jsonText(doc))),
          copyButton('Copy data', () => (format === 'yaml' ? yamlText(doc.data ?? null) : jsonText(doc.data ?? null))),
          copied),
        tree),
      h('aside', { class: 'panel', 'aria-labelledby': 'ev-h' }, h('h2', { id: 'ev-h' }, 'Events'), events)),
  );
  setStatus(`${kind} ${ns ? `${ns}/` : ''}${name} in ${cluster}`);
  const query = {
    clusterId: cluster, 'extraInfo.kind': kind, 'extraInfo.name': name, 'extraInfo.namespace': ns || undefined, length: 20,
  };
  const list = await api('GET', '/events', { query, signal }).then((r) => r.data || [], (e) => e);
  if (list instanceof Error) {
    events.replaceChildren(h('p', { class: 'error' }, list.message));
  } else {
    events.replaceChildren(list.length
      ? h('ol', { class: 'event-list' }, list.map((e) => h('li', {},
        h('span', { class: `badge ${String(e.level).toLowerCase()}` }, e.level ?? ''), ' ', when(e.eventTime),
        h('p', {}, e.describe ?? ''))))
      : h('p', { class: 'muted' }, 'No events for this object.'));
  }
}

// ---- alarms -------------------------------------------------------------------------

async function alarmsView(params, signal) {
  const cluster = params.get('cluster') || '';
  await refreshNav(cluster || null);
  const reply = await api('GET', '/alarms', { query: { clusterId: cluster, length: 200 }, signal });
  const list = (reply.data || []).slice().sort((a, b) => (b.receivedTime ?? 0) - (a.receivedTime ?? 0));
  const pick = h('select', {
    'aria-label': 'Cluster',
    onchange: (ev) => { location.hash = link(['alarms'], { cluster: ev.target.value }); },
  }, h('option', { value: '' }, 'all clusters'),
  known.map((c) => h('option', { value: c.clusterId, selected: c.clusterId === cluster }, c.clusterId)));
  show(
    h('div', { class: 'titlebar' }, h('h1', {}, 'Alarms'), pick),
    list.length
      ? h('div', { class: 'table-wrap' }, table(['Age', 'Cluster', 'Namespace', 'Type', 'Source', 'Message'], list.map((a) => [
        when(a.receivedTime), a.clusterId ?? '', a.namespace ?? '', a.type ?? '', a.source ?? '',
        h('span', { class: 'msg' }, a.message ?? '')]), 'alarms'))
      : h('p', { class: 'muted' }, 'No alarms.'),
  );
  setStatus(`${list.length} alarms`);
}

// ---- keyboard ----------------------------------------------------------------------

document.addEventListener('keydown', (ev) => {
  const typing = ev.target.closest('input, select, textarea, [contenteditable]');
  if (ev.key === 'Escape' && !typing) {
    const crumbs = main.querySelectorAll('.crumbs a');
    if (crumbs.length) crumbs[crumbs.length - 1].click();
    return;
  }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === '/') {
    const first = main.querySelector('.filters input');
    if (first) { ev.preventDefault(); first.focus(); }
  } else if (ev.key === 'n') {
    main.querySelector('.notice .fresh')?.click();
  } else if (ev.key === 'j' || ev.key === 'k') {
    // Move between the rows' links of the table in view.
    const links = [...main.querySelectorAll('tbody tr td:nth-child(2) a, tbody tr td:first-child a')];
    if (!links.length) return;
    const i = links.indexOf(document.activeElement);
    const to = ev.key === 'j' ? Math.min(links.length - 1, i + 1) : Math.max(0, i - 1);
    links[i < 0 ? 0 : to].focus();
    ev.preventDefault();
  }
});

showTokenButton();
route();
