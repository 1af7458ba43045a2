// Rendering helpers of the console: DOM building, human ages, and a stored
// document as foldable, highlighted JSON or YAML.

/** An element: `h('a', {href: '#/'}, 'text', child)`. */
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    // Custom properties through the CSSOM: the page's policy allows no
    // inline style attributes.
    else if (k === 'vars') for (const [name, value] of Object.entries(v)) e.style.setProperty(name, value);
    else e.setAttribute(k, v === true ? '' : v);
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else e.append(c instanceof Node ? c : String(c));
  }
}

/** kubectl's human durations: 45s, 3m20s, 5h12m, 3d4h, 120d. */
export function age(time, now = Date.now()) {
  const t = typeof time === 'number' ? time * 1000 : Date.parse(time);
  if (!Number.isFinite(t)) return '';
  let s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  let m = Math.floor(s / 60);
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (m < 180) return `${m}m`;
  const hrs = Math.floor(m / 60);
  if (hrs < 8) return m % 60 ? `${hrs}h${m % 60}m` : `${hrs}h`;
  if (hrs < 48) return `${hrs}h`;
  const d = Math.floor(hrs / 24);
  if (d < 8) return hrs % 24 ? `${d}d${hrs % 24}h` : `${d}d`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

/** A `<time>` showing the age, the exact time on hover. */
export function when(time) {
  if (time === undefined || time === null || time === '') return '';
  const iso = typeof time === 'number' ? new Date(time * 1000).toISOString() : String(time);
  return h('time', { datetime: iso, title: iso }, age(time));
}

/** The value at a dotted path. */
export function at(doc, path) {
  let v = doc;
  for (const p of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[p];
  }
  return v;
}

// ---- JSON ---------------------------------------------------------------

/** The document as JSON text (two-space indent). */
export function jsonText(v) {
  return JSON.stringify(v, null, 2);
}

/** The document as foldable, highlighted JSON: every object and array is a
 * `<details>` (keyboard: Tab to its summary, Enter or Space folds). */
export function jsonTree(v) {
  return h('div', { class: 'tree json' }, jsonNode(v, null, true));
}

function scalar(v) {
  if (v === null) return h('span', { class: 't-null' }, 'null');
  switch (typeof v) {
    case 'string': return h('span', { class: 't-str' }, JSON.stringify(v));
    case 'number': return h('span', { class: 't-num' }, String(v));
    case 'boolean': return h('span', { class: 't-bool' }, String(v));
    default: return h('span', {}, String(v));
  }
}

function jsonNode(v, key, last) {
  const label = key === null ? [] : [h('span', { class: 't-key' }, JSON.stringify(key)), ': '];
  const comma = last ? '' : ',';
  if (v === null || typeof v !== 'object') {
    return h('div', { class: 'line' }, label, scalar(v), comma);
  }
  const isArray = Array.isArray(v);
  const entries = isArray ? v.map((x, i) => [i, x]) : Object.entries(v);
  const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) {
    return h('div', { class: 'line' }, label, open + close, comma);
  }
  const summary = h('summary', {}, label, open,
    h('span', { class: 'fold-note' }, ` ${entries.length} ${isArray ? 'items' : 'keys'} ${close}${comma}`));
  const body = h('div', { class: 'nest' },
    entries.map(([k, x], i) => jsonNode(x, isArray ? null : k, i === entries.length - 1)));
  return h('details', { open: true }, summary, body, h('div', { class: 'line close' }, close + comma));
}

// ---- YAML ---------------------------------------------------------------

const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

/** A string as YAML writes it: plain when that reads back as the same
 * string, else double-quoted (JSON's escapes are YAML's). */
function yamlString(s) {
  if (s !== '' && PLAIN.test(s) && !RESERVED.test(s)) return s;
  return JSON.stringify(s);
}

function yamlKey(k) {
  return yamlString(String(k));
}

function yamlScalar(v) {
  if (v === null) return 'null';
  if (typeof v === 'string') return yamlString(v);
  return String(v);
}

/** The document as YAML text. */
export function yamlText(v) {
  const out = [];
  yamlLines(v, 0, out, null);
  return out.join('\n') + '\n';
}

function isEmpty(v) {
  return v !== null && typeof v === 'object' && Object.keys(v).length === 0;
}

function yamlLines(v, depth, out, prefix) {
  const pad = '  '.repeat(depth);
  if (v === null || typeof v !== 'object' || isEmpty(v)) {
    const s = isEmpty(v) ? (Array.isArray(v) ? '[]' : '{}') : yamlScalar(v);
    out.push(prefix === null ? pad + s : prefix + s);
    return;
  }
  if (Array.isArray(v)) {
    for (const item of v) {
      if (item !== null && typeof item === 'object' && !isEmpty(item) && !Array.isArray(item)) {
        const lines = [];
        yamlLines(item, depth + 1, lines, null);
        lines[0] = pad + '- ' + lines[0].slice(pad.length + 2);
        out.push(...lines);
      } else if (Array.isArray(item) && item.length) {
        out.push(pad + '-');
        yamlLines(item, depth + 1, out, null);
      } else {
        yamlLines(item, depth, out, pad + '- ');
      }
    }
    return;
  }
  for (const [k, x] of Object.entries(v)) {
    if (x !== null && typeof x === 'object' && !isEmpty(x)) {
      out.push(`${pad}${yamlKey(k)}:`);
      yamlLines(x, Array.isArray(x) ? depth : depth + 1, out, null);
    } else {
      yamlLines(x, depth, out, `${pad}${yamlKey(k)}: `);
    }
  }
}

/** The document as foldable, highlighted YAML: every mapping or sequence
 * under a key is a `<details>`. */
export function yamlTree(v) {
  return h('div', { class: 'tree yaml' }, yamlBlock(v));
}

function yamlValue(v) {
  if (isEmpty(v)) return h('span', { class: 't-null' }, Array.isArray(v) ? '[]' : '{}');
  if (v === null) return h('span', { class: 't-null' }, 'null');
  if (typeof v === 'string') return h('span', { class: 't-str' }, yamlString(v));
  if (typeof v === 'number') return h('span', { class: 't-num' }, String(v));
  return h('span', { class: 't-bool' }, String(v));
}

function yamlBlock(v) {
  const rows = [];
  if (Array.isArray(v)) {
    for (const item of v) {
      if (item !== null && typeof item === 'object' && !isEmpty(item)) {
        rows.push(h('div', { class: 'seq' }, h('span', { class: 't-punct' }, '- '), yamlBlock(item)));
      } else {
        rows.push(h('div', { class: 'line' }, h('span', { class: 't-punct' }, '- '), yamlValue(item)));
      }
    }
  } else {
    for (const [k, x] of Object.entries(v)) {
      const key = h('span', { class: 't-key' }, yamlKey(k));
      if (x !== null && typeof x === 'object' && !isEmpty(x)) {
        const n = Array.isArray(x) ? `${x.length} items` : `${Object.keys(x).length} keys`;
        rows.push(h('details', { open: true },
          h('summary', {}, key, ':', h('span', { class: 'fold-note' }, ` ${n}`)),
          h('div', { class: 'nest' }, yamlBlock(x))));
      } else {
        rows.push(h('div', { class: 'line' }, key, ': ', yamlValue(x)));
      }
    }
  }
  return h('div', { class: 'block' }, rows);
}

/** Copies text; resolves to whether it worked. */
export async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h('textarea', { class: 'offscreen', 'aria-hidden': 'true' });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

// ---- label selectors ------------------------------------------------------

/** A label selector as a predicate over a labels object; null when it is
 * not one this reader understands (the server then decides alone). */
export function selectorMatcher(text) {
  const terms = [];
  const s = text.trim();
  if (!s) return () => true;
  // Split on commas outside parentheses.
  let depth = 0, start = 0;
  const parts = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') depth--;
    else if (s[i] === ',' && depth === 0) { parts.push(s.slice(start, i)); start = i + 1; }
  }
  parts.push(s.slice(start));
  for (const raw of parts) {
    const p = raw.trim();
    let m;
    if ((m = p.match(/^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const set = m[3].split(',').map((x) => x.trim());
      const inSet = m[2] === 'in';
      terms.push((l) => (m[1] in l ? set.includes(l[m[1]]) === inSet : !inSet));
    } else if ((m = p.match(/^([^\s!=]+)\s*!=\s*(\S*)$/))) {
      terms.push((l) => l[m[1]] !== m[2]);
    } else if ((m = p.match(/^([^\s!=]+)\s*==?\s*(\S*)$/))) {
      terms.push((l) => l[m[1]] === m[2]);
    } else if ((m = p.match(/^!\s*([^\s!=]+)$/))) {
      terms.push((l) => !(m[1] in l));
    } else if ((m = p.match(/^([^\s!=()]+)$/))) {
      terms.push((l) => m[1] in l);
    } else {
      return null;
    }
  }
  return (labels) => terms.every((t) => t(labels || {}));
}
