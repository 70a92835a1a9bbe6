/**
 * The demo page in a real headless Chromium, against the example app on a
 * random local port: the verification dialog, its keyboard behaviour, and the
 * flows of the contract's example-app routes, end to end.
 *
 * Needs the system Chromium at /usr/bin/chromium (Debian/Ubuntu package
 * `chromium`). Without it the suite fails rather than skips: CI installs it,
 * and a silently skipped browser suite would hide a broken page.
 */
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as OTPAuth from 'otpauth';
import QRCode from 'qrcode';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Locator, type Page } from 'playwright-core';
import { describeAction, type RateLimits } from '../../lib/index';
import { ALICE, BOB, startExample } from '../helpers/example';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const DOCS = path.join(__dirname, '..', '..', 'docs');
const SCREENSHOT = path.join(DOCS, 'verification-dialog.png');
const PHONE_SCREENSHOT = path.join(DOCS, 'transfer-dialog-375.png');
const SMALL_PHONE_SCREENSHOT = path.join(DOCS, 'transfer-dialog-320.png');
const DESTINATION = 'DE89 3704 0044 0532 0130 00';
/** An iPhone SE / 8 and the narrowest phones still in use. */
const PHONE = { width: 375, height: 667 };
const SMALL_PHONE = { width: 320, height: 568 };
const DESKTOP = { width: 1000, height: 700 };
const TRANSFER = { type: 'transfer', amount: '250.00', currency: 'EUR', payee: 'NL91ABNA0417164300' };
const APPROVAL = 'Approve transfer of 250.00 EUR to NL91ABNA0417164300';

jest.setTimeout(60_000);

/** The page of one test, with everything the browser reported that a clean page never produces. */
interface Tab {
  page: Page;
  dialog: Locator;
  /** Every console line, to check that no secret or code is ever logged. */
  consoleLines: string[];
  /** Uncaught exceptions and Content-Security-Policy violations. */
  problems: string[];
}

type Example = Awaited<ReturnType<typeof startExample>>;

/** One example app on a random local port. */
interface Served {
  ex: Example;
  baseUrl: string;
  close: () => Promise<void>;
}

async function serve(limits: RateLimits): Promise<Served> {
  const ex = await startExample('memory', {}, { limits });
  const server: Server = ex.app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    ex,
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ex.close();
    },
  };
}

/**
 * An example app that passkeys work with: the page is opened at http://localhost:<port>, the
 * origin the app expects by default (WebAuthn refuses an IP address as relying party id, so the
 * 127.0.0.1 address the other tests use cannot have passkeys). The port is known before the app is
 * built, so the app's default WEBAUTHN_ORIGIN (from PORT) is the page's origin.
 */
async function serveOnLocalhost(limits: RateLimits): Promise<Served> {
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const ex = await startExample('memory', { PORT: String(port) }, { limits });
  server.on('request', ex.app);
  return {
    ex,
    baseUrl: `http://localhost:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ex.close();
    },
  };
}

/** A CDP virtual authenticator in the page's browser: a platform authenticator that verifies the user at once. */
async function addVirtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  return { cdp, authenticatorId };
}

const TOTP_PERIOD_MS = 30_000;

/** The 6-digit code of a TOTP secret (base32, as the page shows it) for one time step. */
function totpCode(secret: string, step: number): string {
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
  return totp.generate({ timestamp: step * TOTP_PERIOD_MS });
}

/**
 * The next time step to type a code of: the earliest the server accepts now (the current one or a
 * neighbour, ±1) that is later than the last one used. The server takes each step once per user,
 * and only steps later than the last it took (a code cannot be replayed, even out of order); when
 * the window has none left, this waits for the next step.
 */
async function nextStep(used: number[]): Promise<number> {
  const last = used.at(-1) ?? -Infinity;
  for (;;) {
    const now = Math.floor(Date.now() / TOTP_PERIOD_MS);
    // The step before leaves the window when this one ends: not in the last 2 s, it may be gone by the time the code arrives.
    const late = Date.now() % TOTP_PERIOD_MS > TOTP_PERIOD_MS - 2_000;
    const step = (late ? [now, now + 1] : [now - 1, now, now + 1]).find((candidate) => candidate > last);
    if (step !== undefined) {
      used.push(step);
      return step;
    }
    await new Promise((resolve) => setTimeout(resolve, (now + 1) * TOTP_PERIOD_MS - Date.now() + 50));
  }
}

/** A verification request the page sent, with its JSON body. */
interface SentRequest {
  path: string;
  body: Record<string, unknown>;
}

describe('demo page in a browser', () => {
  let ex: Example | undefined;
  let main: Served | undefined;
  /** Apps started by one test (their own limits or a fresh store), closed after it. */
  const extra: Served[] = [];
  let baseUrl = '';
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `No Chromium at ${CHROMIUM}: install the "chromium" package (e.g. apt-get install -y chromium) to run the browser tests.`,
      );
    }
    // The library's default rate limits, as `npm start` runs the demo (the helper relaxes them otherwise).
    main = await serve({});
    ex = main.ex;
    baseUrl = main.baseUrl;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 60_000);

  afterEach(async () => {
    await context?.close();
    context = undefined;
    for (const served of extra.splice(0)) await served.close();
  });

  afterAll(async () => {
    await browser?.close();
    await main?.close();
  });

  async function serveForThisTest(limits: RateLimits, where: 'ip' | 'localhost' = 'ip'): Promise<Served> {
    const served = where === 'localhost' ? await serveOnLocalhost(limits) : await serve(limits);
    extra.push(served);
    return served;
  }

  async function openTab(viewport = DESKTOP, url = baseUrl): Promise<Tab> {
    if (!browser) throw new Error('browser not started');
    context = await browser.newContext({ viewport, deviceScaleFactor: 1, reducedMotion: 'reduce' });
    const page = await context.newPage();
    const consoleLines: string[] = [];
    const problems: string[] = [];
    page.on('console', (message) => {
      consoleLines.push(message.text());
      if (/Content Security Policy|Refused to (load|execute|apply)/i.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(url);
    return { page, dialog: page.getByRole('dialog', { name: "Confirm it's you" }), consoleLines, problems };
  }

  async function signIn(tab: Tab, user: { email: string; password: string }): Promise<void> {
    const { page } = tab;
    const form = page.getByRole('region', { name: 'Sign in' });
    await form.getByLabel('Email', { exact: true }).fill(user.email);
    await form.getByLabel('Password', { exact: true }).fill(user.password);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await page.locator('#account-email', { hasText: user.email }).waitFor();
  }

  async function waitForFocus(page: Page, id: string): Promise<void> {
    await page.waitForFunction((wanted) => document.activeElement?.id === wanted, id, { timeout: 5_000 });
  }

  async function focusIsInDialog(page: Page): Promise<boolean> {
    return page.evaluate(() => document.querySelector('dialog')?.contains(document.activeElement) === true);
  }

  /** What the page showed in a live region, once it says what we wait for. */
  async function regionText(page: Page, selector: string, hasText: RegExp): Promise<string> {
    const region = page.locator(selector, { hasText });
    await region.waitFor();
    return (await region.textContent()) ?? '';
  }

  /** The verification requests the page sends from now on, with their bodies. */
  function recordVerificationRequests(page: Page): SentRequest[] {
    const sent: SentRequest[] = [];
    page.on('request', (request) => {
      const { pathname } = new URL(request.url());
      if (request.method() === 'POST' && pathname.startsWith('/api/verifications/')) {
        sent.push({ path: pathname.slice('/api/verifications'.length), body: request.postDataJSON() as Record<string, unknown> });
      }
    });
    return sent;
  }

  /** No horizontal scroll: nothing is wider than the screen. */
  async function expectNoHorizontalScroll(page: Page): Promise<void> {
    const [scrollWidth, innerWidth] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
  }

  /** The element is entirely on screen (not cut off at any edge). */
  async function expectOnScreen(page: Page, locator: Locator): Promise<void> {
    const box = await locator.boundingBox();
    const viewport = page.viewportSize();
    expect(box).not.toBeNull();
    expect(viewport).not.toBeNull();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(viewport!.width);
    expect(box!.y + box!.height).toBeLessThanOrEqual(viewport!.height);
  }

  function transferForm(page: Page): Locator {
    return page.getByRole('region', { name: 'Transfer money' });
  }

  function expectCleanRun(tab: Tab, secrets: string[]): void {
    expect(tab.problems).toEqual([]);
    for (const secret of secrets) {
      expect(tab.consoleLines.filter((line) => line.includes(secret))).toEqual([]);
    }
  }

  test('payout: verify by password, asked again for the next one, then verify by email code', async () => {
    const tab = await openTab();
    const { page, dialog } = tab;
    await signIn(tab, ALICE);
    // The access token is in sessionStorage only: not in localStorage, no cookie.
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie])).toEqual([0, 1, '']);

    await page.getByRole('button', { name: 'Send payout' }).click();
    await dialog.waitFor();
    expect(await focusIsInDialog(page)).toBe(true);
    await waitForFocus(page, 'verify-password');
    // the route allows all three methods, and the account has an email and a phone
    expect(await dialog.getByRole('radio').count()).toBe(3);
    await dialog.getByText(ALICE.email).waitFor();
    await dialog.getByText(ALICE.phone).waitFor();
    await page.screenshot({ path: SCREENSHOT, animations: 'disabled' });

    await dialog.getByLabel('Password', { exact: true }).fill(ALICE.password);
    await dialog.getByRole('button', { name: 'Verify' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const first = await regionText(page, '#payout-result', /accepted/);
    expect(first).toContain(`Payout of $125.50 to ${DESTINATION} accepted.`);
    await waitForFocus(page, 'payout-submit');

    // Single use: the same record does not pay twice, so the dialog comes back.
    await page.getByRole('button', { name: 'Send payout' }).click();
    await dialog.waitFor();
    await dialog.getByRole('radio', { name: /Code by email/ }).check();
    await dialog.getByRole('button', { name: 'Send code' }).click();
    await dialog.getByText("Development mode: the code was printed in the server's console").waitFor();
    await waitForFocus(page, 'verify-code');
    const code = ex!.lastCodeTo(ALICE.email);
    await dialog.getByLabel('6-digit code').fill(code);
    await dialog.getByRole('button', { name: 'Verify' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const second = await regionText(page, '#payout-result', /accepted/);
    expect(second).toContain('accepted');
    expect(second).not.toEqual(first); // a new payout, with its own reference

    expectCleanRun(tab, [ALICE.password, code]);
  });

  test('a wrong code says how many attempts are left, resend waits out the cooldown, the right code pasted with a space works', async () => {
    const tab = await openTab();
    const { page, dialog } = tab;
    await signIn(tab, ALICE);
    const payout = page.getByRole('region', { name: 'Make a payout' });
    await payout.getByLabel('Amount').fill('42');
    await payout.getByLabel('Currency').selectOption('EUR');
    await page.getByRole('button', { name: 'Send payout' }).click();
    await dialog.waitFor();

    await dialog.getByRole('radio', { name: /Code by text message/ }).check();
    await dialog.getByRole('button', { name: 'Send code' }).click();
    await waitForFocus(page, 'verify-code');
    const code = ex!.lastCodeTo(ALICE.phone);
    // The send's RateLimit header says the per-number cooldown started: no resend until it ends.
    expect(await dialog.getByRole('button', { name: 'Send a new code' }).isDisabled()).toBe(true);
    expect(await dialog.getByRole('timer').textContent()).toMatch(/^You can send a new code in (1:00|0:5\d)\.$/);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    await dialog.getByLabel('6-digit code').fill(wrong);
    await dialog.getByRole('button', { name: 'Verify' }).click();
    const error = await regionText(page, '#verify-message', /not correct/);
    expect(error).toBe('That code is not correct. 4 attempts left.');
    expect(await dialog.isVisible()).toBe(true);

    // Pasted with a space (as messages show it): the field keeps it all and the page sends the digits.
    await dialog.getByLabel('6-digit code').fill(`${code.slice(0, 3)} ${code.slice(3)}`);
    await dialog.getByRole('button', { name: 'Verify' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await regionText(page, '#payout-result', /accepted/)).toContain(`Payout of €42.00 to ${DESTINATION} accepted.`);

    expectCleanRun(tab, [code, wrong]);
  });

  test('Escape closes the dialog, the action says cancelled, focus returns to its button', async () => {
    const tab = await openTab();
    const { page, dialog } = tab;
    await signIn(tab, ALICE);

    await page.getByRole('button', { name: 'View payslips' }).click();
    await dialog.waitFor();
    expect(await focusIsInDialog(page)).toBe(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await regionText(page, '#payslips-result', /cancelled/)).toContain('cancelled');
    await waitForFocus(page, 'payslips-view');

    // The Cancel button does the same, from the keyboard alone.
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    await waitForFocus(page, 'payslips-view');
    expect(await page.locator('#payslips-table').isVisible()).toBe(false);

    // Signing out forgets the session: the sign-in form is back, with a message.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await regionText(page, '#sign-in-message', /Signed out/);
    await waitForFocus(page, 'sign-in-email');
    expect(await page.locator('#app-view').isVisible()).toBe(false);

    expectCleanRun(tab, []);
  });

  test('payslips: one verification, viewed twice', async () => {
    const tab = await openTab();
    const { page, dialog } = tab;
    await signIn(tab, ALICE);
    const statuses: number[] = [];
    page.on('response', (response) => {
      if (new URL(response.url()).pathname === '/api/payslips') statuses.push(response.status());
    });

    await page.getByRole('button', { name: 'View payslips' }).click();
    await dialog.waitFor();
    await dialog.getByLabel('Password', { exact: true }).fill(ALICE.password);
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('table').getByText('October 2026').waitFor();
    expect(statuses).toEqual([403, 200]);

    const again = page.waitForResponse((response) => new URL(response.url()).pathname === '/api/payslips');
    await page.getByRole('button', { name: 'View payslips' }).click();
    expect((await again).status()).toBe(200);
    await regionText(page, '#payslips-result', /payslips loaded/);
    expect(await dialog.isVisible()).toBe(false);
    expect(statuses).toEqual([403, 200, 200]);
    expect(await page.getByRole('row').count()).toBe(3); // header + two payslips

    // Moving money always asks, even right after a verification the server would still accept.
    await page.getByRole('button', { name: 'Send payout' }).click();
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await regionText(page, '#payout-result', /cancelled/)).toBe('Payout cancelled: the security check was not completed.');

    expectCleanRun(tab, [ALICE.password]);
  });

  test('a new email: code to the new address, an identity check, and the account shows it', async () => {
    const tab = await openTab();
    const { page, dialog } = tab;
    await signIn(tab, BOB);
    const newEmail = 'bob.new@example.com';

    await page.getByLabel('New email address').fill(newEmail);
    await page.getByRole('button', { name: 'Send code' }).click();
    await page.locator('#email-dev-note').waitFor();
    const code = ex!.lastCodeTo(newEmail);
    await page.getByLabel('Code sent to the new address').fill(code);
    await page.getByRole('button', { name: 'Change email' }).click();

    // The code only proves the new address; changing it needs the account holder too.
    await dialog.waitFor();
    await dialog.getByLabel('Password', { exact: true }).fill(BOB.password);
    await dialog.getByRole('button', { name: 'Verify' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await regionText(page, '#email-result', /now/)).toBe(`Your email is now ${newEmail}.`);
    await page.locator('#account-email', { hasText: newEmail }).waitFor();
    await page.locator('#session-email', { hasText: newEmail }).waitFor();
    await waitForFocus(page, 'email-submit');

    // and the server agrees: Bob signs in with the new address
    await expect(ex!.signIn({ email: newEmail, password: BOB.password })).resolves.toMatch(/^Bearer /);
    expectCleanRun(tab, [BOB.password, code]);
  });

  test('the page is served with a strict CSP and runs without violating it', async () => {
    const tab = await openTab();
    const response = await tab.page.request.get(`${baseUrl}/app.js`);
    expect(response.headers()['content-type']).toMatch(/^text\/javascript/);
    for (const url of ['/', '/app.js', '/styles.css']) {
      const headers = (await tab.page.request.get(`${baseUrl}${url}`)).headers();
      expect(headers['content-security-policy']).toBe(
        "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      );
    }
    const info = await tab.page.request.get(`${baseUrl}/api/demo-info`);
    expect(await info.json()).toEqual({ delivery: { email: 'console', phone: 'console' } });
    // demo hints fill the form
    await tab.page.getByRole('button', { name: "Fill in Bob's account" }).click();
    const form = tab.page.getByRole('region', { name: 'Sign in' });
    expect(await form.getByLabel('Email', { exact: true }).inputValue()).toBe(BOB.email);
    expect(await form.getByLabel('Password', { exact: true }).inputValue()).toBe(BOB.password);
    expectCleanRun(tab, []);
  });

  /** The names of the methods the dialog offers (its visible options), in order. */
  async function offeredMethods(dialog: Locator): Promise<string[]> {
    const names = await dialog.locator('label.method:not([hidden]) .method-name').allTextContents();
    // One method only: the choice is hidden, and the dialog shows that method's panel directly.
    return (await dialog.locator('#verify-methods').isHidden()) ? names.slice(0, 1) : names;
  }

  /** Security → "Set up authenticator app", the identity check by password, then the key the page shows. */
  async function startTotpSetup(tab: Tab, user: { password: string }): Promise<{ secret: string; otpauthUri: string }> {
    const { page, dialog } = tab;
    const enrollment = page.waitForResponse((response) => new URL(response.url()).pathname === '/api/verifications/totp/enrollment' && response.status() === 200);
    await page.getByRole('button', { name: 'Set up authenticator app' }).click();
    await dialog.waitFor();
    await dialog.getByLabel('Password', { exact: true }).fill(user.password);
    await dialog.getByRole('button', { name: 'Verify' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const answer = (await (await enrollment).json()) as { secret: string; otpauthUri: string };
    await page.getByRole('img', { name: 'QR code to scan with your authenticator app' }).waitFor();
    await waitForFocus(page, 'totp-code');
    // The key as the page shows it, in groups of four for typing: the same key the server made.
    const shown = (await page.locator('#totp-secret').textContent()) ?? '';
    expect(shown).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
    expect(shown.replace(/ /g, '')).toBe(answer.secret);
    return { secret: shown.replace(/ /g, ''), otpauthUri: answer.otpauthUri };
  }

  describe('passkeys and an authenticator app', () => {
    test('a passkey: added from the Security area after an identity check, then used for a payout and a bound transfer', async () => {
      const served = await serveForThisTest({}, 'localhost');
      const tab = await openTab(DESKTOP, served.baseUrl);
      const { page, dialog } = tab;
      const { cdp, authenticatorId } = await addVirtualAuthenticator(page);
      await signIn(tab, ALICE);
      const requests = recordVerificationRequests(page);
      const security = page.getByRole('region', { name: 'Security' });
      await security.getByText('No passkey yet.').waitFor();

      // Adding a passkey needs a recent identity check: the dialog, with the methods Alice has.
      await security.getByRole('button', { name: 'Add a passkey' }).click();
      await dialog.waitFor();
      expect(await dialog.locator('#verify-reason').textContent()).toBe("To add a passkey, confirm it's you.");
      expect(await offeredMethods(dialog)).toEqual(['Password', 'Code by email', 'Code by text message']);
      await dialog.getByLabel('Password', { exact: true }).fill(ALICE.password);
      await dialog.getByRole('button', { name: 'Verify' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expect(await regionText(page, '#passkey-result', /Passkey added/)).toBe("Passkey added. Next time, confirm it's you with it.");
      await security.getByText('1 passkey registered.').waitFor();

      // The authenticator holds one credential for this relying party; the app saved its public key.
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials).toHaveLength(1);
      expect(credentials[0]!.rpId).toBe('localhost');
      const saved = await served.ex.users.listPasskeys(ALICE.id);
      expect(saved.map((passkey) => passkey.id)).toEqual([Buffer.from(credentials[0]!.credentialId, 'base64').toString('base64url')]);

      // A payout: the dialog now offers the passkey first, and it is enough.
      await page.getByRole('button', { name: 'Send payout' }).click();
      await dialog.waitFor();
      expect(await offeredMethods(dialog)).toEqual(['Passkey', 'Password', 'Code by email', 'Code by text message']);
      expect(await dialog.getByRole('radio', { name: /Passkey/ }).isChecked()).toBe(true);
      await waitForFocus(page, 'verify-submit');
      await dialog.getByRole('button', { name: 'Use passkey' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expect(await regionText(page, '#payout-result', /accepted/)).toContain(`Payout of $125.50 to ${DESTINATION} accepted.`);
      const signedOnce = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0]!.signCount;
      expect(signedOnce).toBeGreaterThan(0);

      // A transfer: the passkey's challenge is bound to exactly this transfer.
      await transferForm(page).getByRole('button', { name: 'Transfer' }).click();
      await dialog.waitFor();
      expect(await dialog.locator('#verify-approval-text').textContent()).toBe(APPROVAL);
      await dialog.getByRole('button', { name: 'Use passkey' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expect(await regionText(page, '#transfer-result', /done/)).toMatch(/^Transfer of 250\.00 EUR to NL91ABNA0417164300 done\./);
      const challenges = requests.filter((request) => request.path === '/web-authn/authentication');
      expect(challenges.map((request) => request.body)).toEqual([{}, { action: TRANSFER }]);
      expect(requests.filter((request) => request.path === '/web-authn/authentication/verify')).toHaveLength(2);
      expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0]!.signCount).toBeGreaterThan(signedOnce);

      // The passkey fails (the browser cannot verify the user this time): the dialog says so and stays, the password still works.
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
      await page.getByRole('button', { name: 'Send payout' }).click();
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'Use passkey' }).click();
      // Waits past the prompt shown while the browser asks ("Follow your browser's prompt…"), which names the passkey too.
      expect(await regionText(page, '#verify-message', /cancelled or timed out/)).toMatch(/^The passkey check was cancelled or timed out\. Try again, or choose another way\.$/);
      expect(await dialog.isVisible()).toBe(true);
      await dialog.getByRole('radio', { name: /Password/ }).check();
      await dialog.getByLabel('Password', { exact: true }).fill(ALICE.password);
      await dialog.getByRole('button', { name: 'Verify' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await regionText(page, '#payout-result', /accepted/);
      expectCleanRun(tab, [ALICE.password]);
    });

    test('an authenticator app: set up from the key the page shows, then its codes verify a payout and a bound transfer, each code once', async () => {
      // On a phone: the QR code and the key fit the screen.
      const served = await serveForThisTest({});
      const tab = await openTab(PHONE, served.baseUrl);
      const { page, dialog } = tab;
      await signIn(tab, BOB);
      const requests = recordVerificationRequests(page);
      const security = page.getByRole('region', { name: 'Security' });
      await security.getByText('Not set up.').waitFor();
      const { secret, otpauthUri } = await startTotpSetup(tab, BOB);
      expect(otpauthUri).toMatch(/^otpauth:\/\/totp\//);
      expect(new URL(otpauthUri).searchParams.get('secret')).toBe(secret);
      await expectNoHorizontalScroll(page);
      const qr = page.getByRole('img', { name: 'QR code to scan with your authenticator app' });
      await qr.scrollIntoViewIfNeeded();
      await expectOnScreen(page, qr);
      // The QR code holds exactly the otpauth URI the server sent: its dark modules are that URI's.
      const drawn = ((await page.locator('.qr-dark').getAttribute('d')) ?? '').match(/M\d+ \d+/g) ?? [];
      const { modules } = QRCode.create(otpauthUri, { errorCorrectionLevel: 'M' });
      const expected: string[] = [];
      for (let row = 0; row < modules.size; row += 1) {
        for (let col = 0; col < modules.size; col += 1) if (modules.get(row, col)) expected.push(`M${col + 4} ${row + 4}`);
      }
      expect(drawn).toEqual(expected);
      await page.locator('#totp-secret').scrollIntoViewIfNeeded();
      await expectOnScreen(page, page.locator('#totp-secret'));
      const used: number[] = [];

      // A wrong code is refused and the setup stays open; the code the app shows turns it on.
      const enrollStep = await nextStep(used);
      const wrong = String((Number(totpCode(secret, enrollStep)) + 1) % 1_000_000).padStart(6, '0');
      await page.getByLabel('6-digit code from the app').fill(wrong);
      await page.getByRole('button', { name: 'Turn on' }).click();
      expect(await regionText(page, '#totp-result', /not correct/)).toMatch(/^That code is not correct\./);
      await page.getByLabel('6-digit code from the app').fill(totpCode(secret, enrollStep));
      await page.getByRole('button', { name: 'Turn on' }).click();
      expect(await regionText(page, '#totp-result', /set up\./)).toBe("Authenticator app set up. You can now confirm it's you with a code from it.");
      await security.getByText("On: you can confirm it's you with a code from your app.").waitFor();
      // The key is gone from the page, and the app's user table holds it sealed, not in clear.
      expect(await page.locator('#totp-secret').textContent()).toBe('');
      expect(await page.locator('#totp-form').isHidden()).toBe(true);
      const sealed = (await served.ex.users.findById(BOB.id))?.totpSecret;
      expect(typeof sealed).toBe('string');
      expect(sealed).not.toContain(secret);

      // A payout: the dialog offers the app first, with its code field focused.
      await page.getByRole('button', { name: 'Send payout' }).click();
      await dialog.waitFor();
      expect(await offeredMethods(dialog)).toEqual(['Authenticator app', 'Password', 'Code by email', 'Code by text message']);
      await waitForFocus(page, 'verify-totp');
      const payoutStep = await nextStep(used);
      await page.keyboard.type(totpCode(secret, payoutStep));
      await page.keyboard.press('Enter');
      await dialog.waitFor({ state: 'hidden' });
      expect(await regionText(page, '#payout-result', /accepted/)).toContain('accepted');

      // A transfer: the same code again is refused (each step works once), the next one passes, bound to the transfer.
      await transferForm(page).getByRole('button', { name: 'Transfer' }).click();
      await dialog.waitFor();
      await waitForFocus(page, 'verify-totp');
      await page.keyboard.type(totpCode(secret, payoutStep));
      await page.keyboard.press('Enter');
      expect(await regionText(page, '#verify-message', /not correct/)).toMatch(/^That code is not correct, or it was already used\./);
      const transferStep = await nextStep(used);
      await dialog.getByLabel('Code from your authenticator app').fill(totpCode(secret, transferStep));
      await page.keyboard.press('Enter');
      await dialog.waitFor({ state: 'hidden' });
      expect(await regionText(page, '#transfer-result', /done/)).toMatch(/^Transfer of 250\.00 EUR to NL91ABNA0417164300 done\./);
      const verifies = requests.filter((request) => request.path === '/totp/verify');
      expect(verifies.map((request) => request.body)).toEqual([
        { code: totpCode(secret, payoutStep) },
        { code: totpCode(secret, payoutStep), action: TRANSFER },
        { code: totpCode(secret, transferStep), action: TRANSFER },
      ]);
      expectCleanRun(tab, [BOB.password, secret, ...[enrollStep, payoutStep, transferStep].map((step) => totpCode(secret, step))]);
    });

    test('the dialog offers only the methods the user has: no passkey or app before, each once it is set up', async () => {
      const served = await serveForThisTest({}, 'localhost');
      const tab = await openTab(DESKTOP, served.baseUrl);
      const { page, dialog } = tab;
      await addVirtualAuthenticator(page);
      await signIn(tab, ALICE);
      const payoutOffers = async (): Promise<string[]> => {
        await page.getByRole('button', { name: 'Send payout' }).click();
        await dialog.waitFor();
        const offered = await offeredMethods(dialog);
        // What is not offered cannot be chosen either (hidden and disabled, so not reachable by keyboard).
        for (const [value, name] of [['passkey', 'Passkey'], ['totp', 'Authenticator app']] as const) {
          const radio = dialog.locator(`input[name="method"][value="${value}"]`);
          expect(await radio.isDisabled()).toBe(!offered.includes(name));
          expect(await radio.isVisible()).toBe(offered.includes(name));
        }
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'hidden' });
        return offered;
      };

      // The route accepts every method, but Alice has neither a passkey nor an app yet.
      expect(await payoutOffers()).toEqual(['Password', 'Code by email', 'Code by text message']);

      const { secret } = await startTotpSetup(tab, ALICE);
      await page.getByLabel('6-digit code from the app').fill(totpCode(secret, Math.floor(Date.now() / TOTP_PERIOD_MS)));
      await page.getByRole('button', { name: 'Turn on' }).click();
      await regionText(page, '#totp-result', /set up\./);
      expect(await payoutOffers()).toEqual(['Authenticator app', 'Password', 'Code by email', 'Code by text message']);

      // Adding a passkey asks again (the setup used up its identity check), and the app is offered for it.
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await dialog.waitFor();
      expect(await offeredMethods(dialog)).toEqual(['Authenticator app', 'Password', 'Code by email', 'Code by text message']);
      await dialog.getByRole('radio', { name: /Password/ }).check();
      await dialog.getByLabel('Password', { exact: true }).fill(ALICE.password);
      await dialog.getByRole('button', { name: 'Verify' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await regionText(page, '#passkey-result', /Passkey added/);
      expect(await payoutOffers()).toEqual(['Passkey', 'Authenticator app', 'Password', 'Code by email', 'Code by text message']);

      // Another user of the same app still has only his own methods.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await regionText(page, '#sign-in-message', /Signed out/);
      await signIn(tab, BOB);
      await page.getByRole('region', { name: 'Security' }).getByText('No passkey yet.').waitFor();
      expect(await payoutOffers()).toEqual(['Password', 'Code by email', 'Code by text message']);
      expectCleanRun(tab, [ALICE.password, secret]);
    });
  });

  describe('on a phone', () => {
    test('a transfer by keyboard at 375 px: the dialog shows what is approved, the code message names it, a second transfer asks again', async () => {
      // Its own app (default limits): no cooldown left over from the other tests' codes.
      const served = await serveForThisTest({});
      const tab = await openTab(PHONE, served.baseUrl);
      const { page, dialog } = tab;
      await signIn(tab, ALICE);
      const requests = recordVerificationRequests(page);
      const form = transferForm(page);

      // The form, by keyboard: "250" becomes "250.00", the IBAN as people type it loses its spaces.
      await form.getByLabel('Amount').focus();
      await page.keyboard.press('Control+A');
      await page.keyboard.type('250');
      await page.keyboard.press('Tab'); // currency: EUR already
      await page.keyboard.press('Tab');
      await waitForFocus(page, 'transfer-payee');
      await page.keyboard.press('Control+A');
      await page.keyboard.type('nl91 abna 0417 1643 00');
      await page.keyboard.press('Enter');

      // Before anything is verified, the dialog says exactly what is being approved.
      await dialog.waitFor();
      expect(await dialog.locator('#verify-approval-text').textContent()).toBe(APPROVAL);
      await expectOnScreen(page, dialog.locator('#verify-approval-text'));
      await waitForFocus(page, 'verify-password');

      // Focus stays in the dialog: Tab from the last control wraps to the first, Shift+Tab back.
      await dialog.getByRole('button', { name: 'Verify' }).focus();
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.value)).toBe('password');
      expect(await focusIsInDialog(page)).toBe(true);
      await page.keyboard.press('Shift+Tab');
      await waitForFocus(page, 'verify-submit');

      // A code by text message: arrows choose the radio, Tab reaches the button.
      await page.keyboard.press('Tab'); // back on the checked radio (password)
      await page.keyboard.press('ArrowDown'); // email
      await page.keyboard.press('ArrowDown'); // text message
      expect(await dialog.getByRole('radio', { name: /Code by text message/ }).isChecked()).toBe(true);
      await page.keyboard.press('Tab'); // Cancel
      await page.keyboard.press('Tab'); // Send code
      await waitForFocus(page, 'verify-submit');
      expect(await dialog.getByRole('button', { name: 'Send code' }).isVisible()).toBe(true);
      await page.keyboard.press('Enter');
      await waitForFocus(page, 'verify-code');

      // The message was bound to the transfer and names it (every default text is built with describeAction).
      const message = served.ex.sent.at(-1)!;
      expect(message.to).toBe(ALICE.phone);
      expect(message.action).toEqual(TRANSFER);
      const approves = describeAction(message.action!);
      for (const part of ['transfer', '250.00', 'EUR', 'NL91ABNA0417164300']) expect(approves).toContain(part);
      // The buttons are on screen with the code entry open (they were cut off before), and the resend waits.
      await expectOnScreen(page, dialog.getByRole('button', { name: 'Verify' }));
      await expectOnScreen(page, dialog.getByRole('button', { name: 'Cancel' }));
      expect(await dialog.getByRole('button', { name: 'Send a new code' }).isDisabled()).toBe(true);
      await expectNoHorizontalScroll(page);
      await page.screenshot({ path: PHONE_SCREENSHOT, animations: 'disabled' });

      // Typed as the message shows it, with a space.
      await page.keyboard.type(`${message.code.slice(0, 3)} ${message.code.slice(3)}`);
      await page.keyboard.press('Enter');
      await dialog.waitFor({ state: 'hidden' });
      const first = await regionText(page, '#transfer-result', /done/);
      expect(first).toMatch(/^Transfer of 250\.00 EUR to NL91ABNA0417164300 done\. Reference tr_[0-9a-f]+\.$/);
      await waitForFocus(page, 'transfer-submit');

      // What the page sent: requirement.action exactly, with the code request, and nothing with the code itself.
      const sendCode = requests.find((request) => request.path === '/verification-code');
      expect(sendCode?.body).toEqual({ identifier: { type: 'phone', value: ALICE.phone }, action: TRANSFER });
      const verifyCode = requests.find((request) => request.path === '/verification-code/verify');
      expect(verifyCode?.body).not.toHaveProperty('action');
      expect(verifyCode?.body.code).toBe(message.code);

      // Single use: the same transfer again needs a new verification; by password this time, bound too.
      await page.keyboard.press('Enter');
      await dialog.waitFor();
      expect(await dialog.locator('#verify-approval-text').textContent()).toBe(APPROVAL);
      await waitForFocus(page, 'verify-password');
      await page.keyboard.type(ALICE.password);
      await page.keyboard.press('Enter');
      await dialog.waitFor({ state: 'hidden' });
      const second = await regionText(page, '#transfer-result', /done/);
      expect(second).toMatch(/^Transfer of 250\.00 EUR to NL91ABNA0417164300 done\./);
      expect(second).not.toBe(first);
      const byPassword = requests.find((request) => request.path === '/password/verify');
      expect(byPassword?.body).toEqual({ password: ALICE.password, action: TRANSFER });

      expectCleanRun(tab, [ALICE.password, message.code]);
    });

    test('resend at 375 px: a live countdown with the button disabled, then a resend starts it again', async () => {
      // A 3 s cooldown instead of the default 60 s, so the test can wait it out.
      const served = await serveForThisTest({ codeResendCooldownSeconds: 3 });
      const tab = await openTab(PHONE, served.baseUrl);
      const { page, dialog } = tab;
      await signIn(tab, ALICE);
      await transferForm(page).getByRole('button', { name: 'Transfer' }).click();
      await dialog.waitFor();
      await dialog.getByRole('radio', { name: /Code by email/ }).check();
      await dialog.getByRole('button', { name: 'Send code' }).click();
      await waitForFocus(page, 'verify-code');
      const resend = dialog.getByRole('button', { name: 'Send a new code' });
      const timer = dialog.getByRole('timer');
      expect(await resend.isDisabled()).toBe(true);
      expect(await timer.textContent()).toMatch(/^You can send a new code in 0:0[1-3]\.$/);
      await expectOnScreen(page, timer);

      // It counts down, then the button comes back and the end is announced.
      await page.waitForFunction(() => /in 0:0[12]\./.test(document.querySelector('[role="timer"]:not([hidden])')?.textContent ?? ''));
      await regionText(page, '#verify-message', /You can send a new code now/);
      expect(await resend.isDisabled()).toBe(false);
      expect(await timer.isVisible()).toBe(false);

      // A resend: a new code, and the countdown again.
      const before = served.ex.sent.length;
      await resend.focus();
      await page.keyboard.press('Enter');
      await regionText(page, '#verify-message', /Code sent/);
      expect(served.ex.sent.length).toBe(before + 1);
      expect(await resend.isDisabled()).toBe(true);
      expect(await timer.textContent()).toMatch(/^You can send a new code in 0:0[1-3]\.$/);
      // Focus was on the button it disabled: it moves to the code field instead of getting lost.
      await waitForFocus(page, 'verify-code');

      await page.keyboard.type(served.ex.lastCodeTo(ALICE.email));
      await page.keyboard.press('Enter');
      await dialog.waitFor({ state: 'hidden' });
      await regionText(page, '#transfer-result', /done/);
      expectCleanRun(tab, [ALICE.password, served.ex.lastCodeTo(ALICE.email)]);
    });

    test('a reload keeps the session; a 429 after it counts down from Retry-After; sign-out and a refused token end it', async () => {
      // Its own app (default limits, so the 60 s cooldown), where Bob still has his own email.
      const served = await serveForThisTest({});
      const tab = await openTab(PHONE, served.baseUrl);
      const { page, dialog } = tab;
      await signIn(tab, BOB);
      expect(await page.evaluate(() => [localStorage.length, sessionStorage.length])).toEqual([0, 1]);

      // A code to Bob's phone, then the dialog is cancelled.
      await transferForm(page).getByRole('button', { name: 'Transfer' }).click();
      await dialog.waitFor();
      await dialog.getByRole('radio', { name: /Code by text message/ }).check();
      await dialog.getByRole('button', { name: 'Send code' }).click();
      await waitForFocus(page, 'verify-code');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });

      // Reloaded: still signed in, no sign-in form.
      await page.reload();
      await page.locator('#account-email', { hasText: BOB.email }).waitFor();
      await waitForFocus(page, 'account-title');
      expect(await page.getByRole('region', { name: 'Sign in' }).isVisible()).toBe(false);

      // The page forgot the cooldown, the server did not: its 429 starts the countdown on the button.
      await transferForm(page).getByRole('button', { name: 'Transfer' }).click();
      await dialog.waitFor();
      await dialog.getByRole('radio', { name: /Code by text message/ }).check();
      await dialog.getByRole('button', { name: 'Send code' }).click();
      expect(await regionText(page, '#verify-message', /Too many codes/)).toMatch(/^Too many codes requested\. Try again in (\d+ seconds|1 minute)\.$/);
      expect(await dialog.getByRole('button', { name: 'Send code' }).isDisabled()).toBe(true);
      expect(await dialog.getByRole('timer').textContent()).toMatch(/^You can request a code in (1:00|0:[0-5]\d)\.$/);
      expect(await focusIsInDialog(page)).toBe(true);
      await expectOnScreen(page, dialog.getByRole('timer'));
      // Another method is not blocked by it.
      await dialog.getByRole('radio', { name: /Password/ }).check();
      expect(await dialog.getByRole('button', { name: 'Verify' }).isDisabled()).toBe(false);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });

      // Sign-out forgets the token; a reload shows the sign-in form.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await regionText(page, '#sign-in-message', /Signed out/);
      expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
      await page.reload();
      await page.getByRole('region', { name: 'Sign in' }).waitFor();
      await waitForFocus(page, 'sign-in-email');

      // A token the server refuses (expired, revoked, forged): 401, back to the sign-in form, token gone.
      await page.evaluate(() => sessionStorage.setItem('harbor.accessToken', 'not-a-valid-token'));
      await page.reload();
      expect(await regionText(page, '#sign-in-message', /session has ended/)).toBe('Your session has ended. Sign in again.');
      expect(await page.locator('#app-view').isVisible()).toBe(false);
      expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

      expectCleanRun(tab, [BOB.password]);
    });

    test('no horizontal scroll at 375 and 320 px: sign-in, account, and the dialog with a code sent', async () => {
      const served = await serveForThisTest({});
      for (const viewport of [PHONE, SMALL_PHONE]) {
        const tab = await openTab(viewport, served.baseUrl);
        const { page, dialog } = tab;
        await expectNoHorizontalScroll(page);
        await expectOnScreen(page, page.getByRole('region', { name: 'Sign in' }).getByRole('button', { name: 'Sign in' }));
        await signIn(tab, viewport === PHONE ? ALICE : BOB);
        await expectNoHorizontalScroll(page);
        await expectOnScreen(page, page.getByRole('button', { name: 'Sign out' }));
        await expectOnScreen(page, page.locator('#session-email'));

        await transferForm(page).getByRole('button', { name: 'Transfer' }).click();
        await dialog.waitFor();
        await expectNoHorizontalScroll(page);
        await dialog.getByRole('radio', { name: /Code by email/ }).check();
        await dialog.getByRole('button', { name: 'Send code' }).click();
        await waitForFocus(page, 'verify-code');
        await expectNoHorizontalScroll(page);
        for (const name of ['Verify', 'Cancel']) await expectOnScreen(page, dialog.getByRole('button', { name }));
        await expectOnScreen(page, dialog.getByLabel('6-digit code'));
        if (viewport === SMALL_PHONE) await page.screenshot({ path: SMALL_PHONE_SCREENSHOT, animations: 'disabled' });
        // The approval is one scroll up, never cut off sideways.
        const approval = dialog.locator('#verify-approval-text');
        await approval.scrollIntoViewIfNeeded();
        await expectOnScreen(page, approval);
        expectCleanRun(tab, []);
        await context?.close();
        context = undefined;
      }
    });

    test('wrong passwords say how many tries are left, warn before the last one, then lock with a countdown', async () => {
      // A fresh app: the lockout must not spill into the other tests.
      const served = await serveForThisTest({});
      const tab = await openTab(PHONE, served.baseUrl);
      const { page, dialog } = tab;
      await signIn(tab, ALICE);
      await transferForm(page).getByRole('button', { name: 'Transfer' }).click();
      await dialog.waitFor();
      const password = dialog.getByLabel('Password', { exact: true });
      const message = dialog.locator('#verify-message');
      const wrong = async (attempt: number) => {
        await password.fill(`wrong-password-${attempt}`);
        await page.keyboard.press('Enter');
        await page.waitForFunction(
          (n) => document.querySelector('#verify-message')?.getAttribute('data-attempt') !== String(n) && /not correct/.test(document.querySelector('#verify-message')?.textContent ?? ''),
          attempt,
        );
        const text = (await message.textContent()) ?? '';
        await message.evaluate((region, n) => {
          region.setAttribute('data-attempt', String(n));
          region.textContent = '';
        }, attempt);
        return text;
      };
      expect(await wrong(1)).toBe('That password is not correct. 4 attempts left.');
      expect(await wrong(2)).toBe('That password is not correct. 3 attempts left.');
      expect(await wrong(3)).toBe('That password is not correct. 2 attempts left.');
      const warning = await wrong(4);
      expect(warning).toBe(
        'That password is not correct. Last attempt: one more wrong password locks password checks for a while. You can verify with a code instead.',
      );
      expect(await message.getAttribute('class')).toContain('is-warning');
      expect(await dialog.getByRole('button', { name: 'Verify' }).isDisabled()).toBe(false);

      // The fifth: locked, and the button says until when instead of letting a sixth try fail.
      expect(await wrong(5)).toBe('That password is not correct, and no attempts are left: password checks are locked for now.');
      expect(await dialog.getByRole('button', { name: 'Verify' }).isDisabled()).toBe(true);
      expect(await dialog.getByRole('timer').textContent()).toMatch(/^Password checks are locked\. Try again in 1[45]:\d\d, or verify with a code\.$/);
      expect(await focusIsInDialog(page)).toBe(true);
      expectCleanRun(tab, [ALICE.password]);
    });
  });
});
