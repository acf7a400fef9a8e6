// The browser half of bench/bench_web.sh: prints figures, asserts nothing.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

const E = process.env;
const B = E.BASE_URL;
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// ---- JS shipped before anything is drawn: index.html's scripts and preloads -------------------
const html = readFileSync(join(E.WEB_OUT, 'index.html'), 'utf8');
const initial = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
let gz = 0;
for (const f of initial) gz += gzipSync(readFileSync(join(E.WEB_OUT, f)), { level: 9 }).length;
console.log(`web: initial JS ${(gz / 1024).toFixed(1)} KB gzipped (${initial.length} files; target < 350 KB)`);

const ctx = await chromium.launchPersistentContext(mkdtempSync(join(E.TMPDIR ?? '/tmp', 'chromium-')), {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 720 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
await ctx.addInitScript((t) => {
  sessionStorage.setItem('tfdrift.token', t);
  sessionStorage.setItem('tfdrift.token.role', 'operator');
}, E.TOKEN);

// ---- first rows ------------------------------------------------------------------------------
const firsts = [];
for (let i = 0; i < 5; i++) {
  const p = await ctx.newPage();
  await p.goto(B + '/drifts', { waitUntil: 'commit' });
  await p.getByRole('grid').getByRole('row').nth(1).waitFor();
  firsts.push(await p.evaluate(() => performance.now()));
  await p.close();
}
console.log(`web: first table rows after load: median ${pct(firsts, 50).toFixed(0)} ms, worst ${Math.max(...firsts).toFixed(0)} ms over 5 loads (target < 1500 ms)`);

// ---- commit -> row visible ---------------------------------------------------------------------
const page = await ctx.newPage();
await page.goto(B + '/drifts');
await page.getByRole('grid').getByRole('row').nth(1).waitFor();
await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
await page.evaluate(() => {
  window.__seen = {};
  new MutationObserver((ms) => {
    const now = performance.timeOrigin + performance.now();
    for (const m of ms)
      for (const n of m.addedNodes) {
        const id = n.id?.startsWith('drift-row-') ? Number(n.id.slice(10)) : 0;
        if (id && !(id in window.__seen)) window.__seen[id] = now;
      }
  }).observe(document.querySelector('[role=grid]'), { childList: true, subtree: true });
});
const N = 200;
await new Promise((res) => {
  const g = spawn(E.ALERT_GEN, ['send', E.PERSIST_URL, '--count', String(N), '--batch', '1', '--seed', '2', '--rate', '20'], { stdio: 'ignore' });
  g.on('exit', res);
});
const deadline = Date.now() + 20000;
let seen = {};
while (Date.now() < deadline) {
  seen = await page.evaluate(() => window.__seen);
  if (Object.keys(seen).length >= N) break;
  await new Promise((r) => setTimeout(r, 200));
}
const lat = [];
const api = async (path) => (await fetch(B + path, { headers: { Authorization: `Bearer ${E.TOKEN}` } })).json();
for (const [id, t] of Object.entries(seen)) {
  const d = await api(`/api/v1/drifts/${id}`);
  if (d.committed_at) lat.push(t - Date.parse(d.committed_at));
}
console.log(`web: commit -> row visible over ${lat.length}/${N} alerts: p50 ${pct(lat, 50).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms (target p99 < 500 ms)`);
await page.close();

// ---- 10,000 loaded rows: scrolling --------------------------------------------------------------
{
  await new Promise((res) => {
    const g = spawn(E.ALERT_GEN, ['send', E.PERSIST_URL, '--count', '9300', '--batch', '500', '--seed', '3'], { stdio: 'ignore' });
    g.on('exit', res);
  });
  const tp = await ctx.newPage();
  await tp.goto(B + '/drifts');
  const grid = tp.getByRole('grid');
  await grid.getByRole('row').nth(1).waitFor();
  // scroll to the end until every page is loaded (the table fetches 200 rows a page)
  const t0 = Date.now();
  let rows = 0;
  while (Date.now() - t0 < 120000) {
    rows = Number(await grid.getAttribute('aria-rowcount')) - 1;
    if (rows >= 10000) break;
    await grid.evaluate((g) => g.scrollTo(0, g.scrollHeight));
    await new Promise((r) => setTimeout(r, 150));
  }
  const loadMs = Date.now() - t0;
  const r = await grid.evaluate(async (g) => {
    let frames = 0;
    const start = performance.now();
    let worst = 0;
    let last = start;
    await new Promise((res) => {
      const tick = () => {
        const now = performance.now();
        worst = Math.max(worst, now - last);
        last = now;
        frames++;
        // a fast wheel: 600 px a frame, down then up
        const dir = Math.floor((now - start) / 1500) % 2 === 0 ? -1 : 1;
        g.scrollBy(0, dir * 600);
        if (now - start < 3000) requestAnimationFrame(tick);
        else res();
      };
      requestAnimationFrame(tick);
    });
    return { fps: (frames * 1000) / (performance.now() - start), worst, dom: g.querySelectorAll('[role=row]').length };
  });
  console.log(`web: table with ${rows} loaded rows (loaded by scrolling in ${loadMs} ms): scrolling ${r.fps.toFixed(1)} frames/s, worst frame ${r.worst.toFixed(0)} ms, ${r.dom} rows in the DOM`);
  await tp.close();
}

// ---- 5,000-node graph ----------------------------------------------------------------------------
const gp = await ctx.newPage();
const t0 = Date.now();
await gp.goto(`${B}/graph?ws=${encodeURIComponent(E.WORKSPACE)}`);
const laid = await gp
  .getByText(/laid out in \d+ ms/)
  .first()
  .textContent({ timeout: 120000 })
  .catch(async (e) => {
    await gp.screenshot({ path: join(E.TMPDIR ?? '/tmp', 'graph-timeout.png') });
    console.log('web: graph did not lay out:', await gp.evaluate(() => window.__tfdriftCy?.nodes().length), 'nodes in cy');
    throw e;
  });
// the first frame after the layout (Cytoscape computes label and compound bounds then)
const firstFrame = await gp.evaluate(async () => {
  const t = performance.now();
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return performance.now() - t;
});
const total = Date.now() - t0;
const fetchMs = await gp.evaluate(() => {
  const rs = performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/v1/graph'));
  return rs.length ? Math.max(...rs.map((r) => r.responseEnd)) - Math.min(...rs.map((r) => r.startTime)) : 0;
});
const when = await gp.evaluate(() => {
  const r = performance.getEntriesByType('resource');
  const at = (f) => Math.round(r.find(f)?.startTime ?? -1);
  const m = performance.getEntriesByType('measure').find((x) => x.name === 'graph:pack');
  return `workspaces asked at ${at((x) => x.name.includes('/api/v1/workspaces'))} ms, graph at ${at((x) => x.name.includes('/api/v1/graph'))} ms, graph chunk at ${at((x) => x.name.includes('GraphPanel'))} ms, layout began at ${Math.round(m?.startTime ?? -1)} ms`;
});
console.log(`web: graph timeline after navigation: ${when}`);
const info = await gp.evaluate(() => ({ nodes: window.__tfdriftCy.nodes().length, parents: window.__tfdriftCy.nodes(':parent, .box').length, edges: window.__tfdriftCy.edges().length }));
const phases = await gp.evaluate(() => performance.getEntriesByType('measure').filter((m) => m.name.startsWith('graph:')).map((m) => `${m.name.slice(6)} ${Math.round(m.duration)} ms`).join(', '));
console.log(`web: graph of ${info.nodes} nodes (${info.parents} compound), ${info.edges} edges: load + layout ${total} ms from navigation (graph pages fetched in ${Math.round(fetchMs)} ms; ${laid.trim().replace(/^· /, '')}: ${phases}; first frame after it ${Math.round(firstFrame)} ms; target < 4000 ms)`);
// pan by dragging with the mouse (what a user does; Cytoscape draws a cached
// texture while the viewport moves), at the zoom that fits the graph and at
// 1x; frames counted with requestAnimationFrame in the page
const box = await gp.getByRole('img', { name: /Resource graph/ }).boundingBox();
const cx = box.x + box.width / 2;
const cy0 = box.y + box.height / 2;
for (const zoom of ['fit', 1]) {
  const z = await gp.evaluate((zz) => {
    const cy = window.__tfdriftCy;
    if (zz === 'fit') cy.fit(undefined, 30);
    else cy.zoom({ level: zz, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
    window.__frames = 0;
    const tick = () => {
      window.__frames++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    return cy.zoom();
  }, zoom);
  await gp.mouse.move(cx, cy0);
  await gp.mouse.down();
  const f0 = await gp.evaluate(() => window.__frames);
  const t0 = Date.now();
  let k = 0;
  while (Date.now() - t0 < 3000) {
    const a = (k++ / 8) * Math.PI;
    await gp.mouse.move(cx + Math.cos(a) * 200, cy0 + Math.sin(a) * 120, { steps: 10 });
  }
  const f1 = await gp.evaluate(() => window.__frames);
  const secs = (Date.now() - t0) / 1000;
  await gp.mouse.up();
  console.log(`web: dragging the ${info.nodes}-node graph at zoom ${z.toFixed(2)}${zoom === 'fit' ? ' (fit)' : ''}: ${((f1 - f0) / secs).toFixed(1)} frames/s over ${secs.toFixed(1)} s (${k * 10} mouse moves)`);
}
await ctx.close();
