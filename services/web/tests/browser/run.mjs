// Browser tests of the web UI against the real stack that
// tests/integration/test_web_ui.sh started.  playwright-core drives Debian's
// chromium; every check prints "ok - NAME" or "not ok - NAME: why" (TAP-like,
// counted by tests/run.sh) and saves a screenshot under $SHOTS.
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, openSync } from 'node:fs';
import { join } from 'node:path';

const E = process.env;
const B = E.BASE_URL;
let failed = 0;
const ok = (name) => console.log(`ok - ${name}`);
const notOk = (name, why) => {
  failed++;
  console.log(`not ok - ${name}: ${String(why).split('\n').slice(0, 6).join(' | ')}`);
};

async function api(path, token, init = {}) {
  const r = await fetch(B + path, { ...init, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) } });
  const body = await r.json().catch(() => null);
  return { status: r.status, body, headers: r.headers };
}

/** Polls fn until it returns a truthy value or the deadline passes. */
async function until(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

const userData = mkdtempSync(join(E.TMPDIR ?? '/tmp', 'chromium-'));
const ctx = await chromium.launchPersistentContext(userData, {
  executablePath: E.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 720 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const consoleErrors = [];
async function newPage() {
  const p = await ctx.newPage();
  p.on('pageerror', (e) => consoleErrors.push(String(e)));
  return p;
}

async function test(name, page, fn) {
  const shot = join(E.SHOTS, name.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 70) + '.png');
  try {
    await fn();
    ok(name);
  } catch (e) {
    notOk(name, e instanceof Error ? e.message : e);
  }
  try {
    if (page && !page.isClosed()) await page.screenshot({ path: shot });
  } catch {
    /* the page may be gone */
  }
}

async function signIn(page, token, path = '/') {
  await page.goto(B + path);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 15000 });
}

const rowsOf = (page) => page.getByRole('grid').getByRole('row');
async function gridCount(page) {
  return Number(await page.getByRole('grid').getAttribute('aria-rowcount')) - 1;
}

const all = (await api('/api/v1/drifts?limit=500', E.TOK_OPERATOR)).body.items;

// ---- sign in ---------------------------------------------------------------------------------
const op = await newPage();
await test('sign in with an operator token shows the role and a Live status', op, async () => {
  await op.goto(B + '/drifts');
  const bad = op.getByLabel('API token');
  await bad.fill('not-a-token');
  await op.getByRole('button', { name: 'Sign in' }).click();
  await op.getByRole('alert').filter({ hasText: '401' }).waitFor();
  await signIn(op, E.TOK_OPERATOR, '/drifts');
  await op.getByText('Role: operator').waitFor();
  if (op.url().includes(E.TOK_OPERATOR)) throw new Error('the token is in the URL');
});

await test('the table shows exactly the alerts the API returns', op, async () => {
  await op.goto(B + '/drifts');
  await until('the grid', async () => (await gridCount(op)) === all.length);
  const rows = rowsOf(op);
  const n = Math.min(5, all.length);
  for (let i = 0; i < n; i++) {
    const t = await rows.nth(i + 1).innerText();
    if (!t.includes(all[i].resource_address) || !t.includes(all[i].event_name)) throw new Error(`row ${i + 1} is "${t}", API item ${all[i].id} is ${all[i].resource_address} ${all[i].event_name}`);
  }
});

let filteredUrl = '';
await test('a filter changes the URL and the rows', op, async () => {
  await op.goto(B + '/drifts');
  await op.getByLabel('Severity').selectOption('high');
  await until('severity=high in the URL', async () => op.url().includes('severity=high'));
  const want = (await api('/api/v1/drifts?severity=high&limit=500', E.TOK_OPERATOR)).body.items;
  if (want.length === all.length) throw new Error('the filter should leave out some alerts; the fixture has only high ones');
  await until(`${want.length} rows`, async () => (want.length === 0 ? (await op.getByText('No drift matches').count()) > 0 : (await gridCount(op)) === want.length));
  const texts = await rowsOf(op).allInnerTexts();
  for (const t of texts.slice(1)) if (!t.includes('high')) throw new Error(`a row without high: ${t}`);
  filteredUrl = op.url();
});

await test('a deep link opens the same view', op, async () => {
  const p2 = await newPage();
  try {
    await p2.goto(filteredUrl);
    // a new tab has no session: sign in, and the same view opens
    await p2.getByLabel('API token').fill(E.TOK_OPERATOR);
    await p2.getByRole('button', { name: 'Sign in' }).click();
    await p2.getByRole('grid').waitFor();
    if (p2.url() !== filteredUrl) throw new Error(`the URL changed to ${p2.url()}`);
    const want = (await api('/api/v1/drifts?severity=high&limit=500', E.TOK_OPERATOR)).body.items.length;
    await until('same rows', async () => (await gridCount(p2)) === want);
    const v = await p2.getByLabel('Severity').inputValue();
    if (v !== 'high') throw new Error(`the severity select shows ${v}`);
    await p2.screenshot({ path: join(E.SHOTS, 'deep-link.png') });
  } finally {
    await p2.close();
  }
});

// a drift with attribute changes, to open
let withChanges = null;
for (const it of all) {
  const d = (await api(`/api/v1/drifts/${it.id}`, E.TOK_OPERATOR)).body;
  if (d.changes.length > 0 && d.changes.some((c) => !c.sensitive && c.old !== undefined && c.new !== undefined) && d.status === 'open') {
    withChanges = d;
    break;
  }
}

await test('a row opens the detail with old -> new values', op, async () => {
  if (!withChanges) throw new Error('no open alert with attribute changes in the demo data');
  await op.goto(B + '/drifts');
  const grid = op.getByRole('grid');
  await grid.waitFor();
  const i = all.findIndex((a) => a.id === withChanges.id);
  const row = rowsOf(op).nth(i + 1);
  await row.scrollIntoViewIfNeeded();
  // the row itself shows the first change as old -> new
  await row.getByText(withChanges.changes[0].path, { exact: true }).first().waitFor();
  if ((await row.getByLabel('old value').count()) !== 1 || (await row.getByLabel('new value').count()) !== 1) {
    throw new Error('the row does not show old -> new');
  }
  await row.click();
  await until('/drifts/id in the URL', async () => op.url().includes(`/drifts/${withChanges.id}`));
  const panel = op.getByRole('complementary', { name: `Drift ${withChanges.id}` });
  await panel.getByRole('heading', { name: `Drift #${withChanges.id}` }).waitFor();
  await panel.getByRole('heading', { name: 'Changes' }).waitFor();
  const c = withChanges.changes.find((x) => !x.sensitive);
  await panel.getByText(c.path, { exact: true }).first().waitFor();
  const olds = await panel.getByLabel('old value').count();
  const docs = await panel.locator('ul[aria-label^="Changes in"]').count();
  if (olds + docs === 0) throw new Error('no old/new values shown');
});

await test('an operator acknowledges with a note and after a reload it is still acknowledged', op, async () => {
  if (!withChanges) throw new Error('no alert to acknowledge');
  await op.goto(B + `/drifts/${withChanges.id}`);
  const panel = op.getByRole('complementary', { name: `Drift ${withChanges.id}` });
  await panel.getByLabel('Note').fill('looking into it (browser test)');
  await panel.getByRole('button', { name: 'Acknowledge' }).click();
  await panel.getByRole('heading', { name: /Status: acknowledged/ }).waitFor();
  await op.reload();
  await panel.getByRole('heading', { name: /Status: acknowledged/ }).waitFor();
  await panel.getByText('looking into it (browser test)').waitFor();
  const d = (await api(`/api/v1/drifts/${withChanges.id}`, E.TOK_OPERATOR)).body;
  if (d.status !== 'acknowledged') throw new Error(`the API says ${d.status}`);
});

const viewer = await newPage();
await test('a viewer cannot change a status and is told why', viewer, async () => {
  const target = all.find((a) => a.id !== withChanges?.id) ?? all[0];
  await signIn(viewer, E.TOK_VIEWER, `/drifts/${target.id}`);
  await viewer.getByText('Role: viewer').waitFor();
  const panel = viewer.getByRole('complementary', { name: `Drift ${target.id}` });
  await panel.getByText(/needs the operator role/).first().waitFor();
  const buttons = panel.getByRole('button', { name: /Acknowledge|Resolve|Ignore|Reopen/ });
  const n = await buttons.count();
  if (n === 0) throw new Error('no status buttons');
  for (let i = 0; i < n; i++) if (!(await buttons.nth(i).isDisabled())) throw new Error('a status button is enabled for a viewer');
  const r = await api(`/api/v1/drifts/${target.id}`, E.TOK_VIEWER, { method: 'PATCH', body: JSON.stringify({ status: 'acknowledged' }) });
  if (r.status !== 403) throw new Error(`the API answered a viewer's PATCH with ${r.status}`);
});
await viewer.close();

// ---- live -----------------------------------------------------------------------------------
function replay(file) {
  execFileSync(E.INGEST_BIN, ['--config', E.CONFIG, 'replay', file], { stdio: 'ignore', timeout: 30000 });
}
async function eventAlerts(name) {
  return (await api(`/api/v1/drifts?event_name=${name}&limit=500`, E.TOK_OPERATOR)).body.items;
}

await test('a replayed event appears in the open table and turns its graph node red without a reload', op, async () => {
  await op.goto(B + '/');
  await op.getByRole('grid').waitFor();
  await op.getByRole('img', { name: /Resource graph/ }).waitFor();
  await until('the graph laid out', () => op.evaluate(() => (window.__tfdriftCy?.nodes().length ?? 0) > 0));
  await op.evaluate(() => (window.__marker = 'no reload'));
  replay(E.EVENTS_LIVE);
  const alerts = await until('the alert in the API', async () => {
    const a = await eventAlerts('AuthorizeSecurityGroupIngress');
    return a.length > 0 && a;
  });
  const a = alerts[0];
  await op.getByRole('grid').getByRole('row').filter({ hasText: 'AuthorizeSecurityGroupIngress' }).first().waitFor({ timeout: 10000 }).catch(async () => {
    // the split view's table hides the event column: look for the address
    await op.getByRole('grid').getByRole('row').filter({ hasText: a.resource_address }).first().waitFor({ timeout: 5000 });
  });
  const id = `${a.workspace}:${a.resource_address}`;
  await until('the node red', () => op.evaluate((nid) => {
    const n = window.__tfdriftCy?.getElementById(nid);
    return !!n && n.nonempty() && n.hasClass('flash');
  }, id));
  await op.getByRole('list', { name: 'Resources with drift' }).getByText('new alert').first().waitFor({ state: 'attached' });
  if ((await op.evaluate(() => window.__marker)) !== 'no reload') throw new Error('the page reloaded');
});

await test('the gateway restarts: Reconnecting -> Live, and the alert committed meanwhile appears once', op, async () => {
  await op.goto(B + '/drifts');
  await op.getByRole('grid').waitFor();
  await op.getByRole('status').filter({ hasText: 'Live' }).waitFor();
  process.kill(Number(E.GATEWAY_PID), 'SIGTERM');
  await op.getByRole('status').filter({ hasText: /Reconnecting \(attempt \d+\)/ }).waitFor({ timeout: 15000 });
  await until('the gateway gone', async () => {
    try {
      await fetch(B + '/openapi.json');
      return false;
    } catch {
      return true;
    }
  });
  replay(E.EVENTS_GAP); // committed by persistence while the gateway is away
  const out = openSync(E.GATEWAY_LOG, 'a');
  const gw = spawn(E.GATEWAY_BIN, ['--config', E.CONFIG], { stdio: ['ignore', out, out], detached: false });
  writeFileSync(E.GATEWAY_PIDFILE, String(gw.pid));
  gw.unref();
  await op.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 30000 });
  const alerts = await until('the alert in the API', async () => {
    const a = await eventAlerts('ModifyVpcAttribute');
    return a.length > 0 && a;
  });
  await until('the row', async () => (await rowsOf(op).filter({ hasText: 'ModifyVpcAttribute' }).count()) === alerts.length, 15000);
  const total = (await api('/api/v1/drifts?limit=500', E.TOK_OPERATOR)).body.items.length;
  await until(`${total} rows`, async () => (await gridCount(op)) === total);
  await new Promise((r) => setTimeout(r, 1000)); // a late duplicate would show by now
  const n = await rowsOf(op).filter({ hasText: 'ModifyVpcAttribute' }).count();
  if (n !== alerts.length) throw new Error(`${n} rows for ${alerts.length} alerts`);
  if ((await gridCount(op)) !== total) throw new Error(`the grid has ${await gridCount(op)} rows, the API ${total}`);
});

// ---- graph ----------------------------------------------------------------------------------
await test('the graph nests subnets in their VPC', op, async () => {
  await op.goto(B + '/graph?ws=prod/network');
  await until('the graph laid out', () => op.evaluate(() => (window.__tfdriftCy?.nodes().length ?? 0) > 0));
  const r = await op.evaluate(() => {
    const cy = window.__tfdriftCy;
    const subnets = cy.nodes('[type = "aws_subnet"]');
    return { n: subnets.length, parents: [...new Set(subnets.map((s) => s.parent().id()))], vpcIsParent: cy.getElementById('prod/network:aws_vpc.main').isParent() };
  });
  if (r.n < 2 || r.parents.length !== 1 || r.parents[0] !== 'prod/network:aws_vpc.main' || !r.vpcIsParent) throw new Error(JSON.stringify(r));
});

await test('all workspaces: prod/app instances sit in prod/network subnets', op, async () => {
  await op.goto(B + '/graph');
  await until('the graph laid out', () => op.evaluate(() => (window.__tfdriftCy?.nodes('[workspace = "prod/app"]').length ?? 0) > 0));
  const n = await op.evaluate(() => window.__tfdriftCy.nodes('[type = "aws_instance"]').filter((x) => x.parent().nonempty() && x.parent().data('type') === 'aws_subnet').length);
  if (n < 1) throw new Error('no instance inside a subnet');
});

await test('the split view links selection both ways', op, async () => {
  await op.goto(B + '/');
  await op.getByRole('grid').waitFor();
  await until('the graph laid out', () => op.evaluate(() => (window.__tfdriftCy?.nodes().length ?? 0) > 0));
  // row -> node (and its blast radius)
  const first = all.find((a) => a.workspace === 'prod/network' || a.workspace === 'prod/app');
  const row = rowsOf(op).filter({ hasText: first.resource_address }).first();
  await row.click();
  await until('sel= in the URL', async () => op.url().includes('sel='));
  const sel = Number(new URL(op.url()).searchParams.get('sel'));
  const item = (await api(`/api/v1/drifts/${sel}`, E.TOK_OPERATOR)).body;
  await until('the node focused', () => op.evaluate((id) => window.__tfdriftCy.getElementById(id).hasClass('focus'), `${item.workspace}:${item.resource_address}`));
  // node -> table
  const nodeId = await op.evaluate(() => window.__tfdriftCy.nodes('[drift_count > 0]').first().id());
  await op.getByRole('list', { name: 'Resources with drift' }).getByRole('button', { name: nodeId.slice(nodeId.indexOf(':') + 1), exact: true }).first().evaluate((b) => b.click());
  await until('node= in the URL', async () => new URL(op.url()).searchParams.get('node') === nodeId);
  await op.getByText('Showing drifts of').waitFor();
  const addr = nodeId.slice(nodeId.indexOf(':') + 1);
  const want = (await api(`/api/v1/drifts?workspace=${encodeURIComponent(nodeId.slice(0, nodeId.indexOf(':')))}&address=${encodeURIComponent(addr)}&limit=500`, E.TOK_OPERATOR)).body.items.length;
  await until(`${want} rows of the node`, async () => (await gridCount(op)) === want);
  for (const t of (await rowsOf(op).allInnerTexts()).slice(1)) if (!t.includes(addr)) throw new Error(`a row of another resource: ${t}`);
});

// ---- accessibility: every route ---------------------------------------------------------------
const routes = [
  ['/', 'split'],
  ['/graph', 'graph'],
  ['/drifts', 'drifts'],
  [`/drifts/${withChanges?.id ?? all[0].id}`, 'drift-detail'],
  [`/resources/${encodeURIComponent(all[0].resource_address)}?workspace=${encodeURIComponent(all[0].workspace)}`, 'resource'],
  ['/dashboard', 'dashboard'],
  ['/workspaces', 'workspaces'],
];
for (const [path, name] of routes) {
  await test(`axe: ${path} has no serious or critical violations`, op, async () => {
    await op.goto(B + path);
    await op.getByRole('main').first().waitFor();
    await op.waitForLoadState('networkidle');
    const r = await new AxeBuilder({ page: op }).analyze();
    const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    if (bad.length) throw new Error(bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`).join('; '));
  });
  await op.screenshot({ path: join(E.SHOTS, `route-${name}.png`) });
}
// dark theme and the sign-in page
await test('axe: dark theme on /drifts', op, async () => {
  await op.goto(B + '/drifts');
  await op.getByRole('button', { name: /Switch to dark theme/ }).click();
  await op.getByRole('grid').waitFor();
  const r = await new AxeBuilder({ page: op }).analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) throw new Error(bad.map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`).join('; '));
  await op.screenshot({ path: join(E.SHOTS, 'route-drifts-dark.png') });
  await op.goto(B + '/');
  await until('the graph laid out', () => op.evaluate(() => (window.__tfdriftCy?.nodes().length ?? 0) > 0));
  await op.screenshot({ path: join(E.SHOTS, 'route-split-dark.png') });
  await op.getByRole('button', { name: /Switch to light theme/ }).click();
});
const anon = await newPage();
await test('axe: the sign-in page', anon, async () => {
  await anon.goto(B + '/');
  await anon.getByLabel('API token').waitFor();
  const r = await new AxeBuilder({ page: anon }).analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) throw new Error(bad.map((v) => v.id).join(', '));
});

if (consoleErrors.length) notOk('no uncaught errors in the pages', consoleErrors.slice(0, 3).join(' | '));
else ok('no uncaught errors in the pages');
await ctx.close();
process.exit(failed ? 1 : 0);
