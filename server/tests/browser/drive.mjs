// Drives a real Chromium through Gatehouse's sign-in and consent pages, as a person would:
// clicks on labelled fields, keyboard typing, buttons found by their names. Run by
// server/tests/e2e/browser.rs, which builds the authorization URLs with the `oauth2` crate,
// checks what this reports and exchanges the codes.
//
// Input (standard input, JSON):
//   { "scenario": "deny",                       // artifact name prefix
//     "artifacts": "/dir",                      // screenshots go there (default ./artifacts)
//     "redirect_uri": "http://127.0.0.1:1/cb",  // where the flow ends (the test listens there)
//     "flows": [                                // authorizations, in order, in one browser context
//       { "url": "http://…/authorize?…",
//         "steps": [                            // the pages expected, and what the person does
//           { "expect": "sign-in", "username": "alice", "password": "…", "submit": "click" },
//           { "expect": "consent", "decision": "approve" } ] } ],
//     "frame": "http://…/authorize?…" }         // optional: a page framing this URL (setContent)
// Output (standard output, JSON): per flow the pages seen (kind, status, headers, heading,
// error text, focused field, console errors, CSP violations, screenshot) and the URL under the
// redirect URI the browser was finally sent to (`page.route` cannot stand in for a listener
// there: it never sees the hops of a redirect); for "frame", what became of the framed page.
// Any surprise (a page other than the one expected, no callback, a blocked form) fails the run:
// a message on standard error and exit status 1, with a screenshot of the page it stopped on.
// Nothing is ever skipped: without Chromium or node_modules the run fails and says what to install.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const chromiumPath = process.env.GATEHOUSE_CHROMIUM || '/usr/bin/chromium';
// One navigation (a page, a form's answer) may take this long; a blocked form shows as a timeout.
const NAVIGATION_MS = 15_000;

function fail(message) {
  process.stderr.write(`browser driver: ${message}\n`);
  process.exit(1);
}

if (!existsSync(chromiumPath)) {
  fail(
    `no Chromium at ${chromiumPath}. Install it: \`apt-get install chromium\` (Debian; ` +
      './scripts/test does it), or point GATEHOUSE_CHROMIUM at a Chromium binary.',
  );
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  fail(
    `playwright-core is not installed in ${join(here, 'node_modules')} (${e.message}). ` +
      `Install it: \`npm ci --prefix ${here}\` (./scripts/test does it).`,
  );
}

const input = JSON.parse(readFileSync(0, 'utf8'));
input.artifacts ??= join(here, 'artifacts'); // run by hand
mkdirSync(input.artifacts, { recursive: true });
for (const old of readdirSync(input.artifacts)) {
  if (old.startsWith(`${input.scenario}-`) && old.endsWith('.png')) {
    rmSync(join(input.artifacts, old));
  }
}

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  timeout: 30_000,
  // As root Chromium refuses to start with its sandbox; /dev/shm is small in containers; and
  // nothing but loopback may ever be resolved.
  args: [
    '--no-sandbox',
    '--disable-dev-shm-usage',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  ],
});

let shots = 0;
async function screenshot(page, name) {
  shots += 1;
  const path = join(input.artifacts, `${input.scenario}-${shots}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

// Runs `body` with a fresh browser context (its own cookies), closed afterwards.
async function withContext(body) {
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  context.setDefaultTimeout(NAVIGATION_MS);
  try {
    return await body(context);
  } finally {
    await context.close();
  }
}

// A console message with the URL it is about (a failed load names no URL in its text).
function describe(message) {
  const where = message.location()?.url;
  return where ? `${message.text().trim()} [${where}]` : message.text().trim();
}

// The kind of page shown: the callback (the client's redirect URI), the sign-in or consent
// page, or anything else (an error page) by its heading.
async function classify(page) {
  if (page.url().startsWith(input.redirect_uri)) return 'callback';
  if ((await page.locator('#sign-in').count()) > 0) return 'sign-in';
  if ((await page.locator('#approve').count()) > 0) return 'consent';
  return 'other';
}

// What the person does on a page, then the navigation it causes (its main response).
async function act(page, step) {
  const navigated = page.waitForNavigation({ timeout: NAVIGATION_MS, waitUntil: 'load' });
  navigated.catch(() => {}); // awaited by the caller, after the typing below
  if (step.expect === 'sign-in') {
    const username = page.getByLabel('Username', { exact: true });
    const password = page.getByLabel('Password', { exact: true });
    if (
      (await username.getAttribute('id')) !== 'username' ||
      (await password.getAttribute('id')) !== 'password'
    ) {
      throw new Error('the Username and Password labels are not those of #username and #password');
    }
    // After a wrong password the page keeps the username: a person leaves it as it is.
    if ((await username.inputValue()) !== step.username) {
      await username.click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.type(step.username, { delay: 10 });
    }
    await password.click();
    await page.keyboard.type(step.password, { delay: 10 });
    if (step.submit === 'enter') {
      await page.keyboard.press('Enter');
    } else {
      await page.getByRole('button', { name: 'Sign in' }).click();
    }
  } else if (step.expect === 'consent') {
    const name = { approve: 'Allow', deny: 'Deny' }[step.decision];
    if (!name) throw new Error(`unknown consent decision ${step.decision}`);
    await page.getByRole('button', { name, exact: true }).click();
  } else {
    throw new Error(`nothing to do on a page of kind ${step.expect}`);
  }
  return navigated;
}

async function runFlow(context, flow, flowIndex) {
  const page = await context.newPage();
  const pages = [];
  let current = null;
  // A record per document: console errors and CSP violations belong to the page shown when they
  // happen (a form blocked by CSP reports on the page that holds the form).
  const record = (response) => {
    const headers = response ? response.headers() : {};
    current = {
      url: page.url(),
      status: response ? response.status() : null,
      content_security_policy: headers['content-security-policy'] ?? null,
      x_frame_options: headers['x-frame-options'] ?? null,
      cache_control: headers['cache-control'] ?? null,
      console_errors: [],
      csp_violations: [],
    };
    return current;
  };
  page.on('console', (m) => {
    if (m.type() === 'error' && current) current.console_errors.push(describe(m));
  });
  page.on('pageerror', (e) => current?.console_errors.push(`uncaught: ${e.message}`));
  await page.exposeBinding('__gatehouseCspViolation', (_source, v) =>
    current?.csp_violations.push(v),
  );
  // Injected by the browser's DevTools, so the page's own CSP (no inline script) does not apply.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__gatehouseCspViolation({
        directive: e.effectiveDirective,
        blocked: e.blockedURI,
        policy: e.originalPolicy,
      });
    });
  });
  let callback = null;

  const step = async (description, navigation) => {
    try {
      return await navigation;
    } catch (e) {
      const shot = await screenshot(page, `stuck`).catch(() => 'none');
      fail(
        `${input.scenario}, flow ${flowIndex + 1}: ${description} failed (${e.message.split('\n')[0]}). ` +
          `Page ${page.url()}; console errors ${JSON.stringify(current?.console_errors)}; ` +
          `CSP violations ${JSON.stringify(current?.csp_violations)} (a form-action violation names ` +
          `the form's target even when what was blocked is the redirect it answered with); ` +
          `pages before: ${JSON.stringify(pages.map((p) => [p.kind, p.url]))}; screenshot ${shot}`,
      );
    }
  };

  let response = await step(
    'opening the authorization URL',
    page.goto(flow.url, { timeout: NAVIGATION_MS }),
  );
  for (let i = 0; ; i += 1) {
    const shown = record(response);
    const kind = await classify(page);
    if (kind === 'callback') {
      callback = page.url();
      if (i < flow.steps.length) {
        fail(
          `${input.scenario}, flow ${flowIndex + 1}: sent to the client after ${i} page(s), ` +
            `expected ${flow.steps.map((s) => s.expect).join(', ')}`,
        );
      }
      break;
    }
    shown.kind = kind;
    shown.title = await page.title();
    shown.heading = (await page.locator('h1').first().textContent())?.trim() ?? null;
    shown.error =
      (await page.locator('#error').count()) > 0
        ? (await page.locator('#error').textContent()).trim()
        : null;
    shown.focused = await page.evaluate(() => document.activeElement?.id || null);
    shown.text = await page.locator('main').innerText();
    shown.screenshot = await screenshot(page, kind);
    pages.push(shown);
    const expected = flow.steps[i];
    if (!expected || expected.expect !== kind) {
      fail(
        `${input.scenario}, flow ${flowIndex + 1}, page ${i + 1}: expected ` +
          `${expected ? `the ${expected.expect} page` : 'the redirect to the client'}, got ${kind} ` +
          `(${page.url()}, "${shown.heading}": ${shown.text.slice(0, 300)}); screenshot ${shown.screenshot}`,
      );
    }
    response = await step(`the ${kind} page's form`, act(page, expected));
  }
  await page.close();
  return { pages, callback };
}

// A page (about:blank, content set here) with an <iframe> of `url`: whether the framed page
// rendered, and what the browser said about it.
async function frame(context, url) {
  const page = await context.newPage();
  const console_errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') console_errors.push(describe(m));
  });
  const framed = [];
  page.on('response', (r) => {
    if (r.url() === url)
      framed.push({
        status: r.status(),
        content_security_policy: r.headers()['content-security-policy'] ?? null,
      });
  });
  await page.setContent(
    `<h1>Not Gatehouse</h1><iframe id="framed" src="${url.replaceAll('"', '&quot;')}" width="700" height="500"></iframe>`,
    {
      waitUntil: 'load',
      timeout: NAVIGATION_MS,
    },
  );
  const child = page.frames().find((f) => f !== page.mainFrame());
  let rendered = null;
  let child_url = null;
  if (child) {
    child_url = child.url();
    // An error document (chrome-error://) may refuse evaluation: then nothing of ours is in it.
    rendered = await child
      .evaluate(() => ({
        sign_in: !!document.querySelector('#sign-in'),
        text: document.body?.innerText ?? '',
      }))
      .catch((e) => ({ sign_in: false, text: `(not readable: ${e.message.split('\n')[0]})` }));
  }
  const screenshotPath = await screenshot(page, 'framed');
  await page.close();
  return {
    responses: framed,
    frame_url: child_url,
    rendered,
    console_errors,
    screenshot: screenshotPath,
  };
}

try {
  const report = await withContext(async (context) => {
    const flows = [];
    for (const [i, flow] of input.flows.entries()) flows.push(await runFlow(context, flow, i));
    return { flows };
  });
  if (input.frame) report.frame = await withContext((context) => frame(context, input.frame));
  process.stdout.write(`${JSON.stringify(report)}\n`);
} catch (e) {
  fail(`${input.scenario}: ${e.stack ?? e}`);
} finally {
  await browser.close();
}
