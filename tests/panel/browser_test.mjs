// Browser test of xfed-panel (issue 5): a real xfed-panel on 127.0.0.1 with
// a temporary configuration directory, driven in Debian's headless chromium
// through playwright-core. Every wait is bounded; the panel is stopped by
// its pid; the temporary directory is removed.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const BIN = process.env.XFED_BIN;
const SRC = process.env.XFED_SRC;
if (!BIN || !SRC) {
  console.error('XFED_BIN and XFED_SRC must be set (ctest sets them)');
  process.exit(2);
}
// Screenshots go to the working directory (the build tree under ctest); a run
// with XFED_PANEL_SCREENSHOTS=$XFED_SRC/docs/img refreshes the documentation's.
const SHOTS = process.env.XFED_PANEL_SCREENSHOTS ||
  path.join(process.env.XFED_PANEL_WORK || process.cwd(), 'panel-screenshots');
const ADMIN_PW = 'admin-password-1';
const VIEWER_PW = 'viewer-password-1';
const DELAY_BASE_MS = 250;

let passed = 0;
let failed = 0;
function check(cond, what) {
  if (cond) {
    passed++;
    console.log(`ok   ${what}`);
  } else {
    failed++;
    console.log(`FAIL ${what}`);
  }
  return cond;
}
function must(cond, what) {
  if (!check(cond, what)) throw new Error(`required step failed: ${what}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const tmp = fs.mkdtempSync(path.join(process.env.XFED_PANEL_WORK || os.tmpdir(), 'panel-browser-'));
const confdir = path.join(tmp, 'etc');
const xfedctl = (args, input) =>
  execFileSync(path.join(BIN, 'xfedctl'), ['-c', confdir, ...args], { input, stdio: ['pipe', 'pipe', 'inherit'] });
const confBytes = () => fs.readFileSync(path.join(confdir, 'xfed.conf'));

let panel = null;
let context = null;
let panelLog = '';
// the live edge of the status section and what feeds it, stopped by pid
const helpers = [];
const S2S_PARTNER = path.join(path.dirname(new URL(import.meta.url).pathname), 's2s_partner.py');

function startHelper(cmd, args) {
  const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  p.out = '';
  p.stdout.on('data', (d) => { p.out += d; });
  p.stderr.on('data', (d) => { p.out += d; });
  helpers.push(p);
  return p;
}

async function waitFor(pred, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return pred();
}

async function stopHelper(p) {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.stdin.end();
  process.kill(p.pid, 'SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
  if (p.exitCode === null && p.signalCode === null) process.kill(p.pid, 'SIGKILL');
}

async function main() {
  xfedctl(['init', '--hosted-domain', 'contoso.com']);
  xfedctl(['admin', 'add', 'alice', '--role', 'admin', '--password-stdin'], ADMIN_PW + '\n');
  xfedctl(['admin', 'add', 'victor', '--role', 'viewer', '--password-stdin'], VIEWER_PW + '\n');
  must(xfedctl(['admin', 'list']).toString() === 'alice admin\nvictor viewer\n', 'xfedctl admin list shows both accounts');
  fs.mkdirSync(path.join(confdir, 'tls'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', path.join(confdir, 'tls', 'xfed.key'), '-out', path.join(confdir, 'tls', 'xfed.crt')],
  { stdio: 'ignore' });

  // The status page's edge: its keys, an operator key for the panel, a key
  // for gateway gw1, certificates from a test CA, edge.conf and ops.conf.
  // It starts later, in the status section.
  xfedctl(['keys', 'init-edge']);
  xfedctl(['keys', 'add-gateway', 'operator']);
  xfedctl(['keys', 'add-gateway', 'gw1']);
  const certs = execFileSync('python3', [S2S_PARTNER, 'certs', path.join(tmp, 'ca'), 'contoso.com',
    'fabrikam.com']).toString();
  const cafile = certs.match(/^ca (\S+)$/m)[1];
  const certOf = (d) => certs.match(new RegExp(`^cert ${d.replace('.', '\\.')} (\\S+) (\\S+)$`, 'm')).slice(1);
  const [edgeChain, edgeKey] = certOf('contoso.com');
  const [fabChain, fabKey] = certOf('fabrikam.com');
  const s2sPort = await freePort();
  const ipcEndpoint = `tcp://127.0.0.1:${await freePort()}`;
  fs.writeFileSync(path.join(confdir, 'edge.conf'), `name = "edge1";\nlisten = "127.0.0.1";\n` +
    `port = ${s2sPort};\nlisten_tls = "";\ncert_file = "${edgeChain}";\nkey_file = "${edgeKey}";\n` +
    `ca_file = "${cafile}";\nipc_endpoint = "${ipcEndpoint}";\n`);
  fs.writeFileSync(path.join(confdir, 'ops.conf'),
    `edges = "${ipcEndpoint}";\ntimeout_ms = 1000;\ncache_ms = 0;\n`);

  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  panel = spawn(path.join(BIN, 'xfed-panel'), ['-c', confdir, '-l', `127.0.0.1:${port}`,
    '-o', `signin_delay_base=${DELAY_BASE_MS}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  panel.stdout.on('data', (d) => { panelLog += d; });
  panel.stderr.on('data', (d) => { panelLog += d; });
  must(await waitForPort(port, 10000), `xfed-panel listens on 127.0.0.1:${port}`);

  const profile = fs.mkdtempSync(path.join(tmp, 'chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    ignoreHTTPSErrors: true, // the test's own self-signed certificate
    viewport: { width: 1024, height: 760 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 60000,
  });
  context.setDefaultTimeout(15000);
  const page = context.pages()[0] || await context.newPage();
  const api = context.request;
  const csrf = async () => page.locator('meta[name="csrf-token"]').getAttribute('content');

  // --- sign in as admin, with the keyboard alone --------------------------
  let resp = await page.goto(`${base}/`);
  must(page.url().endsWith('/signin'), 'an anonymous visit lands on the sign-in page');
  const hdr = resp.headers();
  check(/frame-ancestors 'none'/.test(hdr['content-security-policy'] || '') &&
        !/unsafe-inline/.test(hdr['content-security-policy']), 'CSP forbids framing and inline script');
  check(/max-age=/.test(hdr['strict-transport-security'] || ''), 'HSTS header is sent');
  check(hdr['x-content-type-options'] === 'nosniff', 'nosniff header is sent');
  await page.keyboard.type('alice'); // the name field has autofocus
  await page.keyboard.press('Tab');
  await page.keyboard.type(ADMIN_PW);
  await page.keyboard.press('Enter');
  await page.waitForURL('**/partners');
  must(await page.locator('h1').innerText() === 'XMPP Federated Partners', 'admin signed in by keyboard sees the partner list');
  const cookies = await context.cookies(base);
  const sc = cookies.find((c) => c.name === '__Host-xfed-session');
  check(sc && sc.secure && sc.httpOnly && sc.sameSite === 'Strict' && sc.path === '/', 'session cookie is Secure, HttpOnly, SameSite=Strict, Path=/');
  check(await page.locator('nav.side').textContent().then((t) => t.includes('Federation and External Access') && t.includes('XMPP Federated Partners')), 'navigation shows "Federation and External Access" -> "XMPP Federated Partners"');

  // --- create a partner: matrix row 1 saves with its warning ---------------
  await page.click('#new-partner');
  await page.fill('#f-domain', 'fabrikam.com');
  await page.fill('#f-description', 'Fabrikam, Inc.');
  await page.selectOption('#f-type', 'Federated');
  await page.selectOption('#f-tls', 'Required');
  await page.selectOption('#f-sasl', 'Required');
  await page.selectOption('#f-dialback', 'true');
  check(await page.locator('details summary').innerText().then((t) => /connection limit/i.test(t)), 'advanced fields sit in a <details>');
  await page.click('#commit');
  await page.waitForURL('**/partners/edit?domain=fabrikam.com');
  const banner = await page.locator('#form-banner').innerText();
  check(/Saved partner fabrikam\.com, with a warning/.test(banner) && /dialback will never be used/.test(banner), 'row 1: the save is confirmed with its warning');
  check(await page.locator('#form-banner.flash.warning').count() === 1, 'row 1: the banner is styled as a warning');
  const warn = await page.locator('#dialback-msg').innerText();
  check(/dialback will never be used/.test(warn) && /matrix row 1/.test(warn), 'row 1: the warning sits next to the dialback field');
  check(confBytes().toString().includes('fabrikam.com'), 'row 1: the partner is in xfed.conf');
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'panel-edit-warning.png'), fullPage: true });

  // --- matrix row 5: rejected, nothing saved, the form keeps what was typed -
  await page.goto(`${base}/partners/new`);
  await page.fill('#f-domain', 'northwind.example');
  await page.fill('#f-description', 'Northwind Traders');
  await page.fill('#f-additional_domains', 'chat.northwind.example');
  await page.selectOption('#f-type', 'PublicVerified');
  await page.selectOption('#f-tls', 'NotSupported');
  await page.selectOption('#f-sasl', 'Required');
  await page.selectOption('#f-dialback', 'true');
  const before5 = confBytes();
  await page.click('#commit');
  await page.waitForSelector('#tls-msg');
  const rej = await page.locator('#tls-msg').innerText();
  check(/SASL requires TLS/.test(rej) && /matrix row 5/.test(rej), 'row 5: the rejection is shown next to the TLS field');
  check(await page.locator('#f-tls').getAttribute('aria-invalid') === 'true', 'row 5: the TLS field is marked invalid');
  check(/Nothing was saved/.test(await page.locator('#form-banner').innerText()), 'row 5: the page says nothing was saved');
  check(Buffer.compare(before5, confBytes()) === 0, 'row 5: xfed.conf is byte-for-byte unchanged');
  check(await page.inputValue('#f-domain') === 'northwind.example' &&
        await page.inputValue('#f-description') === 'Northwind Traders' &&
        await page.inputValue('#f-additional_domains') === 'chat.northwind.example' &&
        await page.inputValue('#f-type') === 'PublicVerified' &&
        await page.inputValue('#f-tls') === 'NotSupported' &&
        await page.inputValue('#f-sasl') === 'Required', 'row 5: the form still holds what was typed');
  resp = await api.get(`${base}/api/partners`);
  check(!(await resp.text()).includes('northwind'), 'row 5: the API lists no such partner');

  // --- a second partner through the API (for the list) --------------------
  const token = await csrf();
  resp = await api.post(`${base}/api/partners`, {
    headers: { 'X-CSRF-Token': token },
    data: { domain: 'litware.example', description: 'Litware (dialback only)', type: 'PublicUnverified', tls: 'Optional', sasl: 'NotSupported', dialback: true },
  });
  check(resp.status() === 201 && (await resp.json()).outcome === 'saved', 'API: a second partner is created (201, saved)');

  // --- edit additional domains ------------------------------------------------
  await page.goto(`${base}/partners`);
  await page.click('table#partners a[href="/partners/edit?domain=fabrikam.com"]:not(.button)');
  await page.fill('#f-additional_domains', 'im.fabrikam.com\nchat.fabrikam.com');
  await page.click('#commit');
  await page.waitForURL('**/partners/edit?domain=fabrikam.com');
  resp = await api.get(`${base}/api/partners/fabrikam.com`);
  const fab = await resp.json();
  check(JSON.stringify(fab.additional_domains) === '["im.fabrikam.com","chat.fabrikam.com"]', 'additional domains are edited and saved');

  // --- the list: filter, sort, screenshot ----------------------------------------
  await page.goto(`${base}/partners?sort=domain&dir=asc`);
  const rows = page.locator('table#partners tbody tr');
  check(await rows.count() === 2, 'the list shows both partners');
  check(/Required/.test(await rows.nth(0).innerText()) && /PublicUnverified/.test(await rows.nth(1).innerText()), 'the list shows type and TLS/SASL/dialback policy at a glance');
  await page.screenshot({ path: path.join(SHOTS, 'panel-partners.png') });
  await page.fill('#q', 'litware');
  check(await page.locator('table#partners tbody tr:not([hidden])').count() === 1, 'typing in the filter narrows the list');
  await page.goto(`${base}/partners?q=fabrikam`);
  check(await rows.count() === 1, 'the filter works without script (server side)');
  await page.goto(`${base}/partners?sort=domain&dir=desc`);
  check(/litware/.test(await rows.nth(0).innerText()), 'sorting by domain descending');

  // --- phone width ---------------------------------------------------------------
  await page.setViewportSize({ width: 375, height: 740 });
  for (const p of ['/partners', '/partners/edit?domain=fabrikam.com', '/settings', '/status']) {
    await page.goto(base + p);
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    check(w <= 376, `${p} fits a 375 px wide phone screen (scrollWidth ${w})`);
  }
  await page.setViewportSize({ width: 1024, height: 760 });

  // --- status: honest "not connected", then a live edge --------------------------------
  await page.goto(`${base}/status`);
  check(/Not connected/.test(await page.locator('#edge-state').innerText()), 'status: edges are "Not connected"');
  check(/Not connected\.\s*no answer within 1\.0 s/.test(await page.locator('article.edge').innerText()),
    'status: the edge that does not run is "Not connected", with the reason');
  check(/Not connected/.test(await page.locator('#gateway-state').innerText()), 'status: gateways are "Not connected"');

  const edge = startHelper(path.join(BIN, 'xfed-edge'), ['-c', confdir]);
  must(await waitForPort(s2sPort, 15000), `xfed-edge listens on 127.0.0.1:${s2sPort}`);
  const tap = startHelper(path.join(BIN, 'xfedctl'), ['-c', confdir, 'tap', '--endpoint', ipcEndpoint,
    '--key', path.join(confdir, 'keys', 'gateway', 'gw1'), '--name', 'gw1', '--timeout', '300']);
  must(await waitFor(() => tap.out.includes('connected to edge'), 15000), 'gateway gw1 (xfedctl tap) connects to the edge');
  const fabPeer = startHelper('python3', [S2S_PARTNER, 'stream', '--port', String(s2sPort), '--from', 'fabrikam.com',
    '--to', 'contoso.com', '--cert', fabChain, '--key', fabKey, '--cafile', cafile, '--messages', '3']);
  const litPeer = startHelper('python3', [S2S_PARTNER, 'stream', '--port', String(s2sPort), '--from', 'litware.example',
    '--to', 'contoso.com']);
  must(await waitFor(() => /^ready/m.test(fabPeer.out) && /^ready/m.test(litPeer.out), 20000),
    `partners fabrikam.com (${fabPeer.out.trim()}) and litware.example (${litPeer.out.trim()}) opened streams`);
  must(await waitFor(() => (tap.out.match(/^stanza id=/gm) || []).length === 3, 15000), 'gw1 got the 3 messages of fabrikam.com');
  await page.goto(`${base}/status`);
  check(/1 of 1 edge connected/.test(await page.locator('#edge-state').innerText()), 'status: the live edge is connected');
  const live = await page.locator('article.edge[data-state="connected"]').innerText();
  check(/edge1/.test(live) && /configuration version 4/.test(live) && /current/.test(live),
    'status: the edge runs the stored configuration version 4, current');
  const rowsS = page.locator('table.streams tbody tr');
  check(await rowsS.count() === 2, 'status: two streams');
  const row0 = await rowsS.nth(0).innerText();
  const row1 = await rowsS.nth(1).innerText();
  const in0 = await rowsS.nth(0).locator('td[data-label="Stanzas in"]').innerText();
  check(/fabrikam\.com/.test(row0) && /inbound/.test(row0) && /TLSv1\.[23]/.test(row0) && /sasl-external/.test(row0) && in0 === '3',
    `status: fabrikam.com inbound over TLS with SASL EXTERNAL, 3 stanzas in (${row0.replace(/\s+/g, ' ')})`);
  check(/litware\.example/.test(row1) && /negotiating/.test(row1), 'status: litware.example still negotiating');
  check(/gw1/.test(await page.locator('table.gateways').innerText()), 'status: gateway gw1 with its queue depth');
  await page.screenshot({ path: path.join(SHOTS, 'panel-status.png'), fullPage: true });
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto(`${base}/status`);
  const sw = await page.evaluate(() => document.documentElement.scrollWidth);
  check(sw <= 376, `/status with live data fits a 375 px wide phone screen (scrollWidth ${sw})`);
  await page.setViewportSize({ width: 1024, height: 760 });
  for (const h of [fabPeer, litPeer, tap, edge]) await stopHelper(h);
  check(edge.exitCode === 0, `xfed-edge stops on SIGTERM (exit ${edge.exitCode})`);

  // --- a change without the CSRF token is refused ---------------------------------
  let snap = confBytes();
  resp = await api.post(`${base}/api/partners`, { data: { domain: 'nocsrf.example', type: 'Federated' } });
  check(resp.status() === 403, `API change without X-CSRF-Token: ${resp.status()}`);
  resp = await api.post(`${base}/partners/new`, { form: { domain: 'nocsrf.example', type: 'Federated' } });
  check(resp.status() === 403, `form change without the csrf field: ${resp.status()}`);
  resp = await api.post(`${base}/partners/new`, { form: { csrf: '0'.repeat(64), domain: 'nocsrf.example', type: 'Federated' } });
  check(resp.status() === 403, `form change with a wrong token: ${resp.status()}`);
  check(Buffer.compare(snap, confBytes()) === 0, 'refused changes left xfed.conf unchanged');

  // --- delete with a confirmation step -------------------------------------------------
  await page.goto(`${base}/partners`);
  await page.click('a.button[href="/partners/delete?domain=fabrikam.com"]');
  check(/Delete partner fabrikam\.com\?/.test(await page.locator('h1').innerText()), 'delete asks for confirmation first');
  check(confBytes().toString().includes('fabrikam.com'), 'nothing is deleted before confirming');
  await page.click('#confirm-delete');
  await page.waitForURL('**/partners');
  check(/Deleted partner fabrikam\.com/.test(await page.locator('.flash').innerText()), 'the deletion is confirmed');
  check(!confBytes().toString().includes('fabrikam.com'), 'the partner is gone from xfed.conf');

  // --- audit log --------------------------------------------------------------------------
  await page.goto(`${base}/audit`);
  const audit = await page.locator('#audit').innerText();
  check(/partner\.delete/.test(audit) && /partner\.create/.test(audit) && /partner\.update/.test(audit) && /alice/.test(audit), 'the audit log shows who did what');
  const auditFile = fs.readFileSync(path.join(confdir, 'panel-audit.log'), 'utf8');
  check(!auditFile.includes(ADMIN_PW) && !/dialback_secret"\s*:\s*"/.test(auditFile), 'the audit log holds no password or secret');

  // --- sign out ends the session --------------------------------------------------------------
  await page.click('header form button');
  await page.waitForURL('**/signin');
  resp = await api.get(`${base}/api/session`);
  check(resp.status() === 401, 'after sign-out the session is gone');

  // --- viewer: reads, no edit controls, every change refused ---------------------------------------
  await page.fill('#name', 'victor');
  await page.fill('#password', VIEWER_PW);
  await page.click('button[type="submit"]');
  await page.waitForURL('**/partners');
  check(await page.locator('#new-partner').count() === 0 && await page.locator('a[href^="/partners/edit"]').count() === 0 &&
        await page.locator('a[href^="/partners/delete"]').count() === 0, 'viewer: no New, Edit or Delete controls');
  for (const p of ['/settings', '/domains', '/access']) {
    await page.goto(base + p);
    check(await page.locator('main form').count() === 0 && await page.locator('main button').count() === 0, `viewer: ${p} has no edit controls`);
  }
  const vt = await csrf();
  snap = confBytes();
  const changes = [
    ['POST', '/partners/new', 'form'], ['POST', '/partners/edit', 'form'], ['POST', '/partners/delete', 'form'],
    ['POST', '/settings', 'form'], ['POST', '/settings/secret', 'form'], ['POST', '/domains/add', 'form'],
    ['POST', '/domains/remove', 'form'], ['POST', '/access/default', 'form'], ['POST', '/access/rule', 'form'],
    ['POST', '/access/rule/remove', 'form'],
    ['POST', '/api/partners'], ['POST', '/api/partners/validate'], ['PUT', '/api/partners/litware.example'],
    ['DELETE', '/api/partners/litware.example'], ['PUT', '/api/settings'], ['POST', '/api/settings/dialback-secret'],
    ['POST', '/api/domains'], ['DELETE', '/api/domains/contoso.com'], ['PUT', '/api/access'],
    ['PUT', '/api/access/domains/contoso.com'], ['DELETE', '/api/access/domains/contoso.com'],
    ['PUT', '/api/access/users/ann@contoso.com'], ['DELETE', '/api/access/users/ann@contoso.com'],
  ];
  const refused = [];
  for (const [method, p, kind] of changes) {
    const opts = kind === 'form'
      ? { method, form: { csrf: vt, domain: 'litware.example', original: 'litware.example', access: 'deny', kind: 'user', subject: 'ann@contoso.com', max_connections: '5' } }
      : { method, headers: { 'X-CSRF-Token': vt }, data: { domain: 'evil.example', access: 'deny', default: 'deny', max_connections: 5 } };
    const r = await api.fetch(base + p, opts);
    if (r.status() !== 403) refused.push(`${method} ${p} -> ${r.status()}`);
  }
  check(refused.length === 0, `viewer: all ${changes.length} change endpoints answer 403 ${refused.join(', ')}`);
  check(Buffer.compare(snap, confBytes()) === 0, 'viewer: xfed.conf unchanged');
  resp = await api.get(`${base}/audit`);
  check(resp.status() === 403, 'viewer: the audit log is for admins only');
  await page.click('header form button');
  await page.waitForURL('**/signin');

  // --- wrong password: refused and slowed down, more each time ----------------------------------------
  // failure n is answered after base * 2^(n-1): each answer must take at
  // least that long and longer than the one before
  const times = [];
  let t0;
  for (let i = 0; i < 3; i++) {
    t0 = Date.now();
    const r = await api.post(`${base}/api/session`, { data: { name: 'alice', password: 'still-wrong' } });
    times.push(Date.now() - t0);
    check(r.status() === 401, `wrong password #${i + 1} (API): 401 after ${times[i]} ms`);
  }
  t0 = Date.now();
  await page.fill('#name', 'alice');
  await page.fill('#password', 'not-the-password');
  await page.click('button[type="submit"]');
  await page.waitForSelector('#signin-msg');
  times.push(Date.now() - t0);
  check(/Wrong account name or password/.test(await page.locator('#signin-msg').innerText()),
    `wrong password #4 (browser form): refused after ${times[3]} ms`);
  let grows = true;
  for (let i = 0; i < times.length; i++) {
    grows = grows && times[i] >= DELAY_BASE_MS * 2 ** i * 0.95 && (i === 0 || times[i] > times[i - 1]);
  }
  check(grows, `the delay grows after each failure: ${times.map((t) => (t / 1000).toFixed(2) + ' s').join(', ')}`);
  // a second attempt while the first one's delay runs, even with the right
  // password, is turned away at once with 429 and Retry-After
  const [r1, r2] = await Promise.all([
    api.post(`${base}/api/session`, { data: { name: 'alice', password: 'wrong-again' } }),
    new Promise((r) => setTimeout(r, 1000)).then(() => api.post(`${base}/api/session`, { data: { name: 'alice', password: ADMIN_PW } })),
  ]);
  check(r1.status() === 401 && r2.status() === 429 && Number(r2.headers()['retry-after']) >= 1,
    `an attempt during the delay is refused with 429 and Retry-After: ${r2.headers()['retry-after']}`);
  // r1 was answered when its delay ended: the right password works again
  resp = await api.post(`${base}/api/session`, { data: { name: 'alice', password: ADMIN_PW } });
  check(resp.status() === 201, `after the delay the right password signs in (${resp.status()})`);
  check(!panelLog.includes(ADMIN_PW) && !panelLog.includes('still-wrong') && !panelLog.includes('not-the-password'), 'no password appears in the panel log');
}

let code = 0;
try {
  await main();
} catch (e) {
  console.log(`FAIL ${e.message}`);
  failed++;
} finally {
  for (const h of helpers) await stopHelper(h).catch(() => {});
  if (context) await context.close().catch(() => {});
  if (panel && panel.exitCode === null) {
    const exited = new Promise((r) => panel.once('exit', r));
    process.kill(panel.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
    if (panel.exitCode === null) process.kill(panel.pid, 'SIGKILL');
    else check(panel.exitCode === 0, `xfed-panel stops cleanly on SIGTERM (exit ${panel.exitCode})`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
if (failed > 0) {
  console.log('--- xfed-panel log ---\n' + panelLog);
  code = 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(code);
