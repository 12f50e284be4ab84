// A person signing in to Gatehouse in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), for an MCP client that opened an authorization URL: the sign-in page
// (typed username and password), the consent page (Allow), then the redirect to the client's
// loopback redirect URI, where this module listens as the client would and takes the query.
//
// Used in-process by ts-client.mjs (the TypeScript SDK's `redirectToAuthorization`) and as a
// program by python/client.py (the Python SDK's `redirect_handler`):
//   stdin  {"url": "http://…/authorize?…", "redirect_uri": "http://127.0.0.1:P/callback",
//           "username": "…", "password": "…", "artifacts": "/dir", "scenario": "name"}
//   stdout {"callback": "http://127.0.0.1:P/callback?code=…", "pages": ["sign-in", "consent"]}
// With "listen": false the redirect URI belongs to someone else who listens there (the
// conformance suite's callback server): the browser's arrival there is what is reported.
// Any surprise (another page than expected, no redirect) fails with a message on standard error
// and a screenshot in `artifacts`. Nothing is skipped: without Chromium or playwright-core it
// fails and says what to install.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const chromiumPath = process.env.GATEHOUSE_CHROMIUM || '/usr/bin/chromium';
const NAVIGATION_MS = 15_000;

export class SignInError extends Error {}

async function playwright() {
  if (!existsSync(chromiumPath)) {
    throw new SignInError(
      `no Chromium at ${chromiumPath}. Install it: \`apt-get install chromium\` (Debian; ` +
        './scripts/test does it), or point GATEHOUSE_CHROMIUM at a Chromium binary.',
    );
  }
  try {
    return (await import('playwright-core')).chromium;
  } catch (e) {
    throw new SignInError(
      `playwright-core is not installed in ${join(here, 'node_modules')} (${e.message}). ` +
        `Install it: \`npm ci --prefix ${here}\` (./scripts/test does it).`,
    );
  }
}

// Listens on the redirect URI's loopback port and path until one request arrives: its URL.
function listen(redirectUri) {
  const target = new URL(redirectUri);
  if (target.hostname !== '127.0.0.1') {
    throw new SignInError(`the redirect URI ${redirectUri} is not on 127.0.0.1`);
  }
  let arrived;
  const callback = new Promise((resolve) => {
    arrived = resolve;
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url, redirectUri);
    if (url.pathname !== target.pathname) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Signed in</h1>');
    arrived(url.href);
  });
  const ready = new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(target.port), '127.0.0.1', resolve);
  });
  return { ready, callback, close: () => server.close() };
}

// What kind of Gatehouse page is shown.
async function classify(page) {
  if ((await page.locator('#sign-in').count()) > 0) return 'sign-in';
  if ((await page.locator('#approve').count()) > 0) return 'consent';
  return 'other';
}

/** Signs in and consents at `url`; the URL the browser was finally sent to and the pages seen. */
export async function signIn({
  url,
  redirect_uri,
  username,
  password,
  artifacts,
  scenario,
  listen: ours = true,
}) {
  const chromium = await playwright();
  const listener = ours ? listen(redirect_uri) : null;
  await listener?.ready;
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    timeout: 30_000,
    // As root Chromium refuses its sandbox; /dev/shm is small in containers; only loopback.
    args: [
      '--no-sandbox',
      '--disable-dev-shm-usage',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  const pages = [];
  let page;
  try {
    const context = await browser.newContext();
    context.setDefaultTimeout(NAVIGATION_MS);
    page = await context.newPage();
    await page.goto(url, { timeout: NAVIGATION_MS });
    for (const expected of ['sign-in', 'consent']) {
      const kind = await classify(page);
      if (kind !== expected) {
        const text = (await page.locator('body').innerText()).slice(0, 400);
        throw new SignInError(`expected the ${expected} page, got ${kind} at ${page.url()}: ${text}`);
      }
      pages.push(kind);
      const navigated = page.waitForNavigation({ timeout: NAVIGATION_MS, waitUntil: 'load' });
      if (kind === 'sign-in') {
        await page.getByLabel('Username', { exact: true }).fill(username);
        await page.getByLabel('Password', { exact: true }).click();
        await page.keyboard.type(password, { delay: 5 });
        await page.getByRole('button', { name: 'Sign in' }).click();
      } else {
        await page.getByRole('button', { name: 'Allow', exact: true }).click();
      }
      await navigated;
    }
    const arrival = listener
      ? listener.callback
      : page.waitForURL((u) => u.href.startsWith(redirect_uri)).then(() => page.url());
    const callback = await Promise.race([
      arrival,
      new Promise((_, reject) =>
        setTimeout(
          () => reject(new SignInError(`no redirect to ${redirect_uri}; page ${page.url()}`)),
          NAVIGATION_MS,
        ),
      ),
    ]);
    return { callback, pages };
  } catch (e) {
    if (page && artifacts) {
      mkdirSync(artifacts, { recursive: true });
      const shot = join(artifacts, `${scenario ?? 'mcp'}-stuck.png`);
      await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
      e.message += ` (screenshot ${shot})`;
    }
    throw e;
  } finally {
    await browser.close();
    listener?.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const report = await signIn(JSON.parse(readFileSync(0, 'utf8')));
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } catch (e) {
    process.stderr.write(`sign-in: ${e instanceof SignInError ? e.message : (e.stack ?? e)}\n`);
    process.exit(1);
  }
}
