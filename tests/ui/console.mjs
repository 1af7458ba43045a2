// Drives the console in a real browser (Debian's chromium, headless, through
// playwright-core) against a server that tests/all/ui.rs started and
// preloaded. Prints one line per step; any failure exits 1 with the reason.
//
//   node console.mjs <scenario> <base URL> <screenshot dir>
//
// Scenarios: `tour` (clusters, dashboard, list, filters, paging, document,
// YAML, copy, live changes, phone width, dark theme), `auth` (the token
// prompt; the token kept in session storage only). The test data: see
// tests/all/ui.rs.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [scenario, base, shots] = process.argv.slice(2);
const modules = process.env.BCS_UI_NODE_MODULES;
const { chromium } = await import(join(modules, 'playwright-core', 'index.mjs'));
mkdirSync(shots, { recursive: true });

const API = `${base}/bcsapi/v4/storage`;
const C1 = 'BCS-K8S-40001';
const C2 = 'BCS-K8S-40002';

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

function step(what) {
  console.log(`- ${what}`);
}

async function put(path, data, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${API}${path}`, { method: 'PUT', headers, body: JSON.stringify({ data }) });
  const reply = await res.json();
  check(reply.result === true, `PUT ${path}: ${JSON.stringify(reply)}`);
}

const browser = await chromium.launch({
  executablePath: process.env.BCS_UI_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function page(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', ...options });
  const p = await context.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(e.message));
  p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  return { context, p, errors };
}

async function shot(p, name) {
  await p.screenshot({ path: join(shots, name) });
  step(`screenshot ${name}`);
}

async function tour() {
  const { context, p, errors } = await page();
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });

  // Clusters, with their totals, on the first page and in the sidebar.
  await p.goto(`${base}/`);
  await p.waitForSelector('.card');
  check(p.url().endsWith('/ui/'), `/ goes to the console (at ${p.url()})`);
  const cards = await p.locator('.card h2').allTextContents();
  check(cards.join() === [C1, C2].join(), `both clusters shown: ${cards}`);
  const card = await p.locator('.card').first().textContent();
  check(card.includes('69 documents'), `C1 counts 69 documents (events are copied as Event): ${card}`);
  await shot(p, '01-clusters.png');

  // A cluster's dashboard: pods by phase, restarts, newest warnings, kinds.
  await p.click(`.side a:has-text("${C1}")`);
  await p.waitForSelector('#phases-h');
  check((await p.textContent('#phases-h')) === 'Pods by phase (60)', await p.textContent('#phases-h'));
  const running = await p.locator('.bars dd').first().textContent();
  check(running.includes('45'), `45 running pods: ${running}`);
  const top = await p.locator('#restarts-h + table tbody tr').first().textContent();
  check(top.includes('web-7') && top.includes('14'), `most restarts first: ${top}`);
  const warn = await p.locator('#warn-h + table tbody tr').first().textContent();
  check(warn.includes('Back-off restarting failed container'), `newest warning: ${warn}`);
  check(await p.locator('.side .kinds a:has-text("Node")').count() === 1, 'kinds listed under the cluster');
  await shot(p, '02-dashboard.png');

  // The pods of C1: 50 to a page, then the rest.
  await p.click('.side .kinds a:has-text("Pod")');
  await p.waitForSelector('table.list tbody tr[data-key]');
  check(await p.locator('table.list tbody tr').count() === 50, 'a page holds 50 pods');
  check((await p.textContent('.range')) === '1–50 of 60', await p.textContent('.range'));
  await p.click('button:has-text("Next")');
  await p.waitForFunction(() => document.querySelector('.range')?.textContent === '51–60 of 60');
  check(await p.locator('table.list tbody tr').count() === 10, 'the second page holds 10');

  // Filters: name contains, label selector, namespace; kept in the URL.
  await p.fill('input[name=q]', 'web-1');
  await p.press('input[name=q]', 'Enter');
  await p.waitForFunction(() => document.querySelector('.range')?.textContent === '1–11 of 11');
  check(await p.evaluate(() => document.activeElement?.name) === 'q', 'focus stays in the field filtered');
  const names = await p.locator('table.list tbody td.name').allTextContents();
  check(names.every((n) => n.startsWith('web-1')), `only web-1*: ${names}`);
  await p.fill('input[name=sel]', 'tier=db');
  await p.fill('input[name=ns]', 'shop');
  await p.press('input[name=sel]', 'Enter');
  await p.waitForFunction(() => document.querySelector('.range')?.textContent === '1–2 of 2');
  const filtered = (await p.locator('table.list tbody td.name').allTextContents()).sort();
  check(filtered.join() === 'web-10,web-12', `web-1* in shop with tier=db: ${filtered}`);
  check(p.url().includes('sel=tier%3Ddb') && p.url().includes('ns=shop'), `filters in the URL: ${p.url()}`);
  await shot(p, '03-list-filtered.png');
  // Updated within the last 5 minutes: only what was written just now.
  await p.fill('input[name=sel]', '');
  await p.fill('input[name=ns]', '');
  await p.fill('input[name=q]', '');
  await p.selectOption('select[name=within]', '300');
  await p.waitForFunction(() => document.querySelector('.range')?.textContent === '1–50 of 60');

  // One document: JSON, folding, YAML, copy, its events beside it.
  await p.goto(`${base}/ui/#/clusters/${C1}/kinds/Pod?q=web-7`);
  await p.waitForSelector('table.list tbody tr[data-key="shop/web-7"]');
  await p.keyboard.press('j');
  check(await p.evaluate(() => document.activeElement?.textContent) === 'web-7', 'j focuses the first row');
  await p.keyboard.press('Enter');
  await p.waitForSelector('.tree.json');
  const json = await p.textContent('.tree');
  check(json.includes('"resourceName": "web-7"') && json.includes('"restartCount": 10'), `the document as JSON: ${json.slice(0, 300)}`);
  // Its events arrive after the document.
  await p.waitForFunction(() => document.querySelectorAll('.event-list li').length === 2);
  await shot(p, '04-document.png');
  await p.click('button:has-text("Fold all")');
  check(await p.locator('.tree details[open]').count() === 1, 'fold all leaves the top open');
  await p.click('button:has-text("Unfold all")');
  await p.click('a.tab:has-text("YAML")');
  await p.waitForSelector('.tree.yaml');
  const yaml = await p.textContent('.tree');
  check(yaml.includes('resourceName: web-7'), 'the document as YAML');
  await p.click('button:has-text("Copy YAML")');
  await p.waitForFunction(() => document.querySelector('.copied')?.textContent === 'Copied');
  const copied = await p.evaluate(() => navigator.clipboard.readText());
  check(copied.includes('resourceName: web-7\n') && copied.includes('  phase: Running'), `YAML copied: ${copied.slice(0, 80)}`);
  await shot(p, '05-document-yaml.png');
  await p.keyboard.press('Escape');
  await p.waitForSelector('table.list');

  // Live: a changed pod is redrawn in place within 2 s, nothing moves;
  // a new pod is announced, and shown when asked for.
  await p.goto(`${base}/ui/#/clusters/${C1}/kinds/Pod`);
  await p.waitForSelector('.live-state.on');
  await p.waitForSelector('table.list tbody tr[data-key]');
  await p.evaluate(() => {
    window.shifts = 0;
    new PerformanceObserver((l) => { for (const e of l.getEntries()) window.shifts += e.value; })
      .observe({ type: 'layout-shift', buffered: false });
  });
  // The newest pods come first: web-50 is on the first page.
  const row = p.locator('tr[data-key="default/web-50"]');
  const before = await row.boundingBox();
  let t0 = Date.now();
  await put(`/k8s/dynamic/namespace_resources/clusters/${C1}/namespaces/default/Pod/web-50`, {
    metadata: { name: 'web-50', namespace: 'default', labels: { app: 'web' } },
    spec: { nodeName: 'node-b' },
    status: { phase: 'Failed' },
  });
  await p.waitForSelector('tr[data-key="default/web-50"] .mk.changed', { timeout: 2000 });
  const changedMs = Date.now() - t0;
  check((await row.locator('td.st').textContent()) === 'Failed', 'the new phase is shown');
  const after = await row.boundingBox();
  check(before.y === after.y && before.height === after.height, 'the row did not move');
  t0 = Date.now();
  await put(`/k8s/dynamic/namespace_resources/clusters/${C1}/namespaces/default/Pod/live-0`, {
    metadata: { name: 'live-0', namespace: 'default', labels: { app: 'live' } },
    status: { phase: 'Pending' },
  });
  await p.waitForSelector('.notice .fresh', { timeout: 2000 });
  const newMs = Date.now() - t0;
  check((await p.textContent('.notice')) === 'Show 1 new document', await p.textContent('.notice'));
  check((await p.textContent('.range')) === '1–50 of 60', 'nothing inserted until asked');
  const shifts = await p.evaluate(() => window.shifts);
  check(shifts === 0, `no layout shift from live updates (${shifts})`);
  await p.keyboard.press('n');
  await p.waitForSelector('tr[data-key="default/live-0"] .mk.new');
  check((await p.textContent('.range')) === '1–51 of 61', await p.textContent('.range'));
  check(await p.locator('table.list tbody tr').first().getAttribute('data-key') === 'default/live-0', 'the new pod on top');
  step(`live: a change shown after ${changedMs} ms, a new pod announced after ${newMs} ms`);
  await shot(p, '06-list-live.png');

  // Alarms.
  await p.click('.sections a:has-text("Alarms")');
  await p.waitForSelector('table.alarms');
  check(await p.locator('table.alarms tbody tr').count() === 3, 'three alarms');
  await p.selectOption('select[aria-label=Cluster]', C2);
  await p.waitForFunction(() => document.querySelectorAll('table.alarms tbody tr').length === 1);
  await shot(p, '07-alarms.png');
  check(errors.length === 0, `no page errors: ${errors}`);
  await context.close();

  // Phone width and dark theme.
  const phone = await page({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
  await phone.p.goto(`${base}/ui/#/clusters/${C1}/kinds/Pod`);
  await phone.p.waitForSelector('table.list tbody tr[data-key]');
  const width = await phone.p.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, `nothing wider than the phone (${width}px)`);
  const bg = await phone.p.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg === 'rgb(17, 21, 28)', `dark theme followed (${bg})`);
  await shot(phone.p, '08-phone-dark.png');
  await phone.p.goto(`${base}/ui/#/clusters/${C1}`);
  await phone.p.waitForSelector('#phases-h');
  await shot(phone.p, '09-phone-dashboard.png');
  const dark = await page({ colorScheme: 'dark' });
  await dark.p.goto(`${base}/ui/#/clusters/${C1}/kinds/Pod/doc?ns=shop&name=web-7`);
  await dark.p.waitForSelector('.tree.json');
  await shot(dark.p, '10-document-dark.png');
  check(phone.errors.length === 0 && dark.errors.length === 0, `no page errors: ${phone.errors} ${dark.errors}`);
}

async function auth() {
  const token = process.env.BCS_UI_TOKEN;
  const { p, errors } = await page();
  await p.goto(`${base}/ui/`);
  await p.waitForSelector('dialog[open] input[type=password]');
  check((await p.textContent('dialog .reason')).length > 0, 'the dialog says why');
  await shot(p, '11-token-prompt.png');
  await p.fill('dialog input', 'not-a-token');
  await p.press('dialog input', 'Enter');
  // A wrong token is asked for again, saying so.
  await p.waitForFunction(() => document.querySelector('dialog[open] .reason')?.textContent === 'the token is not valid');
  await p.fill('dialog input', token);
  await p.press('dialog input', 'Enter');
  await p.waitForSelector('.card');
  check((await p.locator('.card h2').allTextContents()).join() === C1, 'the cluster, read with the token');
  const kept = await p.evaluate(() => [sessionStorage.length, localStorage.length, document.cookie]);
  check(kept[0] === 1 && kept[1] === 0 && kept[2] === '', `token in session storage only: ${kept}`);
  // Forgetting it asks again.
  await p.click('#forget-token');
  await p.waitForSelector('dialog[open]');
  check(errors.every((e) => e.includes('401')), `no page errors but the refusals: ${errors}`);
}

try {
  if (scenario === 'tour') await tour();
  else if (scenario === 'auth') await auth();
  else throw new Error(`no scenario ${scenario}`);
  console.log('ok');
} catch (e) {
  console.error(e.stack || String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
