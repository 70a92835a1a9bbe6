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
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
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
const SCREENSHOT = path.join(__dirname, '..', '..', 'docs', 'verification-dialog.png');
const DESTINATION = 'DE89 3704 0044 0532 0130 00';

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

describe('demo page in a browser', () => {
  let ex: Awaited<ReturnType<typeof startExample>> | undefined;
  let server: Server | undefined;
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
    ex = await startExample('memory', {}, { limits: {} });
    server = ex.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 60_000);

  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  afterAll(async () => {
    await browser?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server?.close(() => resolve()));
    }
    await ex?.close();
  });

  async function openTab(): Promise<Tab> {
    if (!browser) throw new Error('browser not started');
    context = await browser.newContext({ viewport: { width: 1000, height: 700 }, deviceScaleFactor: 1, reducedMotion: 'reduce' });
    const page = await context.newPage();
    const consoleLines: string[] = [];
    const problems: string[] = [];
    page.on('console', (message) => {
      consoleLines.push(message.text());
      if (/Content Security Policy|Refused to (load|execute|apply)/i.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(baseUrl);
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
    // The access token stays in memory: nothing in storage or cookies.
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie])).toEqual([0, 0, '']);

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

  test('a wrong code says how many attempts are left, a quick resend says how long to wait; the right code works', async () => {
    const tab = await openTab();
    const { page, dialog } = tab;
    await signIn(tab, ALICE);
    await page.getByLabel('Amount').fill('42');
    await page.getByLabel('Currency').selectOption('EUR');
    await page.getByRole('button', { name: 'Send payout' }).click();
    await dialog.waitFor();

    await dialog.getByRole('radio', { name: /Code by text message/ }).check();
    await dialog.getByRole('button', { name: 'Send code' }).click();
    await waitForFocus(page, 'verify-code');
    const code = ex!.lastCodeTo(ALICE.phone);
    // An immediate resend hits the per-number cooldown: the wait comes from Retry-After.
    await dialog.getByRole('button', { name: 'Send a new code' }).click();
    const limited = await regionText(page, '#verify-message', /Too many codes/);
    expect(limited).toMatch(/^Too many codes requested\. Try again in (\d+ seconds|1 minute)\.$/);
    expect(ex!.lastCodeTo(ALICE.phone)).toBe(code); // nothing new was sent
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    await dialog.getByLabel('6-digit code').fill(wrong);
    await dialog.getByRole('button', { name: 'Verify' }).click();
    const error = await regionText(page, '#verify-message', /not correct/);
    expect(error).toBe('That code is not correct. 4 attempts left.');
    expect(await dialog.isVisible()).toBe(true);

    await dialog.getByLabel('6-digit code').fill(code);
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
});
