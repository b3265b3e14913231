// End-to-end tests of Arbiter's web UI in a real headless Chromium.
//
// Run by crates/arbiter-cli/tests/it/web_ui.rs, which starts the real
// `arbiter serve`, fills it with stacks, agents, people and change requests,
// and passes what it made in the environment:
//   ARBITER_URL, ARBITER_ADMIN_TOKEN, ARBITER_PASSWORD (of every person),
//   ARBITER_REVIEWER, ARBITER_VIEWER (user names),
//   ARBITER_APPROVE (a pending change request the reviewer approves),
//   ARBITER_PENDING (one that stays pending: the viewer and CSRF tests),
//   CHROMIUM (the browser), SCREENSHOT_DIR (optional: PNGs of every page).
// By hand: `cd tests/e2e && npm ci && ARBITER_URL=... node --test ui.test.mjs`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (see the comment at the top of ui.test.mjs)`);
  return v;
};
const URL_ = env('ARBITER_URL');
const PASSWORD = env('ARBITER_PASSWORD');
const REVIEWER = env('ARBITER_REVIEWER');
const VIEWER = env('ARBITER_VIEWER');
const ADMIN_TOKEN = env('ARBITER_ADMIN_TOKEN');
const APPROVE = env('ARBITER_APPROVE');
const PENDING = env('ARBITER_PENDING');

let context;
let profile;
before(async () => {
  // A fresh profile every run (Playwright takes it as the persistent
  // context's directory and passes it as --user-data-dir).
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'arbiter-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});
after(async () => {
  await context?.close();
  fs.rmSync(profile, { recursive: true, force: true });
});

/// A new page with no cookies, whose console errors (a CSP violation, a
/// failed load) make the test fail.
async function fresh(t, { expectStatus } = {}) {
  await context.clearCookies();
  const page = await context.newPage();
  const problems = [];
  // The browser logs every 4xx answer as a console error; the statuses a
  // test provokes on purpose are not problems.
  const expected = expectStatus ? `status of ${expectStatus} ` : null;
  page.on('console', (m) => {
    if (m.type() === 'error' && !(expected && m.text().includes(expected))) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  t.after(async () => {
    await page.close();
    assert.deepEqual(problems, [], 'the browser reported errors');
  });
  return page;
}

async function signIn(page, user) {
  await page.goto(`${URL_}/`);
  // Anonymous visitors are sent to the sign-in page.
  assert.match(page.url(), /\/login/);
  await page.fill('#username', user);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${URL_}/`), page.click('#password-form button[type=submit]')]);
}

async function api(pathname) {
  const r = await fetch(`${URL_}${pathname}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(r.status, 200, `${pathname}: ${r.status}`);
  return r.json();
}

test('a reviewer signs in, opens the queue and a change request, approves it, and sees the audit entry', async (t) => {
  const page = await fresh(t);
  await signIn(page, REVIEWER);
  assert.equal(await page.textContent('h1'), 'Review queue');
  const row = page.locator('#queue tbody tr', { has: page.locator(`a[href="/changes/${APPROVE}"]`) });
  assert.equal(await row.count(), 1, `change request ${APPROVE} is in the queue`);
  assert.match(await row.innerText(), /review/);

  await Promise.all([page.waitForURL(`${URL_}/changes/${APPROVE}`), row.locator('a[href^="/changes/"]').first().click()]);
  assert.match(await page.textContent('h1'), new RegExp(`Change request #${APPROVE}`));
  // The verdict: decision, breakdown, findings with remediation, cost, diff.
  assert.match(await page.textContent('.decision-word'), /Review/);
  for (const id of ['#breakdown', '#findings', '#cost', '#diff', '#trail']) {
    assert.equal(await page.locator(id).count(), 1, `${id} is on the page`);
  }
  assert.ok(await page.locator('#findings .finding').count() > 0, 'findings are listed');

  await page.fill('#comment', 'Checked with the bucket owners: the public access is intended.');
  await Promise.all([
    page.waitForURL(`${URL_}/changes/${APPROVE}?done=approve`),
    page.click('button[value=approve]'),
  ]);
  assert.match(await page.textContent('.notice-ok'), /Your approval is recorded/);
  assert.match(await page.textContent('h1'), /approved/);
  assert.match(await page.textContent('#review'), /Checked with the bucket owners/);
  assert.match(await page.textContent('#trail'), /change_request\.review\.approve/);

  // The audit log shows the entry, and the chain verifies.
  await page.click('nav a[href="/audit"]');
  await page.waitForURL(`${URL_}/audit`);
  assert.match(await page.textContent('#verification h2'), /The chain holds/);
  const entry = page.locator('#entries tbody tr', { hasText: 'change_request.review.approve' });
  assert.equal(await entry.count(), 1);
  assert.match(await entry.innerText(), new RegExp(REVIEWER));
  assert.match(await entry.innerText(), new RegExp(`change_request:${APPROVE}`));

  const cr = await api(`/api/v1/change-requests/${APPROVE}`);
  assert.equal(cr.status, 'approved');
  assert.equal(cr.reviews[0].reviewer, `user:${REVIEWER}`);

  // Signing out ends the session.
  await Promise.all([page.waitForURL(/\/login$/), page.click('.me button')]);
  await page.goto(`${URL_}/changes/${APPROVE}`);
  assert.match(page.url(), /\/login\?next=%2Fchanges%2F/);
});

test('a viewer sees no approve form, and an approval forged in the page is refused', async (t) => {
  const page = await fresh(t, { expectStatus: 403 });
  await signIn(page, VIEWER);
  await page.goto(`${URL_}/changes/${PENDING}`);
  assert.equal(await page.locator('button[value=approve]').count(), 0);
  assert.match(await page.textContent('#no-review'), /reviewing needs the reviewer role/);
  // The viewer builds the form the reviewer would get, with the viewer's
  // own (valid) CSRF token, and sends it from the real page.
  const csrf = await page.getAttribute('.me input[name=csrf]', 'value');
  await page.evaluate(({ id, csrf }) => {
    const f = document.createElement('form');
    f.method = 'post';
    f.action = `/changes/${id}/review`;
    for (const [k, v] of [['csrf', csrf], ['decision', 'approve']]) {
      const i = document.createElement('input');
      i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
    }
    const b = document.createElement('button');
    b.id = 'forged'; b.type = 'submit'; f.appendChild(b);
    document.body.appendChild(f);
  }, { id: PENDING, csrf });
  const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/review')), page.click('#forged')]);
  assert.equal(resp.status(), 403);
  assert.match(await page.textContent('main'), /this needs the reviewer role/);
  const cr = await api(`/api/v1/change-requests/${PENDING}`);
  assert.equal(cr.status, 'pending_review');
  assert.equal(cr.reviews.length, 0);
});

test('a form posted from another site is refused, even with a leaked CSRF token', async (t) => {
  const page = await fresh(t, { expectStatus: 403 });
  await signIn(page, REVIEWER);
  await page.goto(`${URL_}/changes/${PENDING}`);
  const leaked = await page.getAttribute('#review input[name=csrf]', 'value');
  assert.ok(leaked, 'the reviewer has the form');
  // Another origin (another port on this machine) serving forms that post
  // to Arbiter: one guessing the token, one with the real token.
  const evil = http.createServer((req, res) => {
    const token = req.url.includes('leaked') ? leaked : 'guessed';
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><form method="post" action="${URL_}/changes/${PENDING}/review">
      <input type="hidden" name="csrf" value="${token}"><input type="hidden" name="decision" value="approve">
      <button id="go" type="submit">win a prize</button></form>`);
  });
  await new Promise((ok) => evil.listen(0, '127.0.0.1', ok));
  t.after(() => { evil.closeAllConnections(); evil.close(); });
  const base = `http://127.0.0.1:${evil.address().port}`;
  for (const which of ['guessed', 'leaked']) {
    await page.goto(`${base}/${which}`);
    const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/review')), page.click('#go')]);
    assert.equal(resp.status(), 403, which);
    assert.match(await page.textContent('main'), /Refused/);
  }
  const cr = await api(`/api/v1/change-requests/${PENDING}`);
  assert.equal(cr.reviews.length, 0, 'nothing was recorded');
});

test('screenshots of every page', { skip: !process.env.SCREENSHOT_DIR && 'SCREENSHOT_DIR is not set' }, async (t) => {
  const dir = process.env.SCREENSHOT_DIR;
  fs.mkdirSync(dir, { recursive: true });
  const page = await fresh(t);
  await page.goto(`${URL_}/login`);
  await page.screenshot({ path: path.join(dir, 'login.png') });
  await signIn(page, REVIEWER);
  const shots = [
    ['queue.png', '/'],
    ['change-request.png', `/changes/${PENDING}`],
    ['changes.png', '/changes'],
    ['stacks.png', '/stacks'],
    ['stack.png', '/stacks/payments-prod'],
    ['agents.png', '/agents'],
    ['agent.png', '/agents/ci-bot'],
    ['audit.png', '/audit'],
    ['states.png', '/stacks/payments-prod/states'],
    ['state-diff.png', '/stacks/payments-prod/states/diff'],
    ['webhooks.png', '/webhooks'],
    ['webhook.png', '/webhooks/1'],
  ];
  // More change requests, as NAME=ID pairs: change-request-NAME.png.
  for (const pair of (process.env.ARBITER_SHOT_CHANGES || '').split(',').filter(Boolean)) {
    const [name, id] = pair.split('=');
    shots.push([`change-request-${name}.png`, `/changes/${id}`]);
  }
  for (const [file, p] of shots) {
    const r = await page.goto(`${URL_}${p}`);
    assert.equal(r.status(), 200, p);
    await page.screenshot({ path: path.join(dir, file), fullPage: true });
  }
});
