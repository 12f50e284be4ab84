// Drives a real Chromium through Gatehouse's device verification pages (RFC 8628 §3.3), as a
// person would: labelled fields, keyboard typing, buttons found by their names. Run by
// server/tests/e2e/device.rs, whose device (the `oauth2` crate) waits for the answer.
//
// Input (standard input, JSON):
//   { "scenario": "approve", "artifacts": "/dir",
//     "steps": [                                      // in order, in one browser context
//       { "goto": "http://…/device?user_code=…" },    // open a page
//       { "sign_in": { "username": "alice", "password": "…" } },
//       { "code": "bdwp hqpk" },                      // type a code (replacing what is there)
//       { "continue": true },                         // press Continue (confirm the code shown)
//       { "decide": "approve" },                      // Allow or Deny
//       { "post": { "url": "…", "form": {…} } },      // a form from another site (no cookie sent)
//       { "post_here": { "url": "…", "form": {…} } } ] } // a form on the current page (cookie sent)
// Output (standard output, JSON): one record per step: the page it led to (status, heading,
// the text of <main>, the code field's value, the security headers, console errors, CSP
// violations, a screenshot). Any surprise (a missing field or button, a timeout) fails the
// run: a message on standard error and exit status 1. Nothing is skipped: without Chromium or
// node_modules the run fails and says what to install.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const chromiumPath = process.env.GATEHOUSE_CHROMIUM || '/usr/bin/chromium';
const NAVIGATION_MS = 15_000;

function fail(message) {
  process.stderr.write(`device browser driver: ${message}\n`);
  process.exit(1);
}

if (!existsSync(chromiumPath)) {
  fail(`no Chromium at ${chromiumPath}. Install it: \`apt-get install chromium\` (./scripts/test does it).`);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  fail(`playwright-core is not installed (${e.message}). Install it: \`npm ci --prefix ${here}\`.`);
}

const input = JSON.parse(readFileSync(0, 'utf8'));
input.artifacts ??= join(here, 'artifacts');
mkdirSync(input.artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  timeout: 30_000,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
});

const report = [];
try {
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  context.setDefaultTimeout(NAVIGATION_MS);
  const page = await context.newPage();
  let consoleErrors = [];
  let violations = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text().trim());
  });
  await page.exposeFunction('__cspViolation', (v) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__cspViolation(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });

  const click = async (name) => {
    const navigated = page.waitForNavigation({ timeout: NAVIGATION_MS, waitUntil: 'load' });
    navigated.catch(() => {});
    await page.getByRole('button', { name, exact: true }).click();
    return navigated;
  };

  for (const [i, step] of input.steps.entries()) {
    consoleErrors = [];
    violations = [];
    let response;
    if (step.goto) {
      response = await page.goto(step.goto, { waitUntil: 'load' });
    } else if (step.sign_in) {
      const username = page.getByLabel('Username', { exact: true });
      await username.click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.type(step.sign_in.username, { delay: 5 });
      await page.getByLabel('Password', { exact: true }).click();
      await page.keyboard.type(step.sign_in.password, { delay: 5 });
      response = await click('Sign in');
    } else if (step.code !== undefined) {
      const field = page.getByLabel('Code', { exact: true });
      await field.click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.press('Backspace');
      await page.keyboard.type(step.code, { delay: 5 });
      response = await click('Continue');
    } else if (step.continue) {
      response = await click('Continue');
    } else if (step.decide) {
      const name = { approve: 'Allow', deny: 'Deny' }[step.decide];
      if (!name) throw new Error(`unknown decision ${step.decide}`);
      response = await click(name);
    } else if (step.post) {
      // A cross-site form: a page of its own posting to the verification page.
      const fields = Object.entries(step.post.form)
        .map(([n, v]) => `<input type="hidden" name="${n}" value="${v}">`)
        .join('');
      await page.setContent(`<form method="post" action="${step.post.url}">${fields}<button>Go</button></form>`);
      const navigated = page.waitForNavigation({ timeout: NAVIGATION_MS, waitUntil: 'load' });
      await page.getByRole('button', { name: 'Go' }).click();
      response = await navigated;
    } else if (step.post_here) {
      // A form added to the page shown (same origin, so the cookie goes with it), as a
      // script injected into the page could; the page's own CSRF token is not in it.
      const navigated = page.waitForNavigation({ timeout: NAVIGATION_MS, waitUntil: 'load' });
      await page.evaluate(({ url, form }) => {
        const f = document.createElement('form');
        f.method = 'post';
        f.action = url;
        for (const [n, v] of Object.entries(form)) {
          const i = document.createElement('input');
          i.type = 'hidden';
          i.name = n;
          i.value = v;
          f.appendChild(i);
        }
        document.body.appendChild(f);
        f.submit();
      }, step.post_here);
      response = await navigated;
    } else {
      throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
    const headers = response ? response.headers() : {};
    const heading = (await page.locator('h1').count()) > 0 ? await page.locator('h1').first().innerText() : null;
    const code = page.locator('#user_code');
    const shot = join(input.artifacts, `device-${input.scenario}-${i + 1}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    report.push({
      step: Object.keys(step)[0],
      url: page.url(),
      status: response ? response.status() : null,
      heading,
      text: (await page.locator('main').count()) > 0 ? await page.locator('main').innerText() : await page.content(),
      code_field: (await code.count()) > 0 ? await code.inputValue() : null,
      content_security_policy: headers['content-security-policy'] ?? null,
      x_frame_options: headers['x-frame-options'] ?? null,
      cache_control: headers['cache-control'] ?? null,
      console_errors: consoleErrors,
      csp_violations: violations,
      screenshot: shot,
    });
  }
  await context.close();
} catch (e) {
  await browser.close();
  fail(`${e.message}\nso far: ${JSON.stringify(report, null, 1)}`);
}
await browser.close();
process.stdout.write(JSON.stringify(report));
