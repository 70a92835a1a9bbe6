/**
 * The demo page: sign-in, the account, and five sensitive actions. Every
 * guarded call goes through `withVerification`, which opens the verification
 * dialog on a verification 403 and retries once with the record id.
 *
 * Bundled by example-app/web-bundle.ts (esbuild) and served as /app.js.
 * No console output: nothing a user types or receives (password, code, token)
 * is ever logged.
 */
import { withVerification, type FetchLike, type VerificationRequirement } from '../../lib/client/with-verification';
import {
  apiFetch,
  describeError,
  hasAccessToken,
  isAccount,
  isRecordAnswer,
  readBody,
  retryAfterText,
  setAccessToken,
  whenSessionEnds,
  isSecuritySummary,
  type Account,
  type Body,
  type DemoInfo,
  type SecuritySummary,
} from './api';
import { actionOf, sameAction, type Action } from './approval';
import { CODE_PATTERN, typedCode } from './code-input';
import { ButtonCountdown } from './countdown';
import { byId, clearInvalid, flagInvalid, money, node, say } from './dom';
import { createPasskey } from './passkey-ceremony';
import { qrCodeSvg } from './qr-code';
import { transferInput } from './transfer-input';
import { offerableMethods, VerificationDialog, type VerifiedRecord } from './verification-dialog';
import { retryAfterSeconds, waitAfter, Waits } from './waits';

const VERIFICATION_HEADER = 'Verification-Id';
/** A remembered record this close to its expiry is not worth sending. */
const EXPIRY_MARGIN_MS = 5_000;

const page = {
  status: byId('status', HTMLParagraphElement),
  session: byId('session', HTMLDivElement),
  sessionEmail: byId('session-email', HTMLElement),
  signInView: byId('sign-in-view', HTMLElement),
  signInForm: byId('sign-in-form', HTMLFormElement),
  signInEmail: byId('sign-in-email', HTMLInputElement),
  signInPassword: byId('sign-in-password', HTMLInputElement),
  signInMessage: byId('sign-in-message', HTMLParagraphElement),
  signInSubmit: byId('sign-in-submit', HTMLButtonElement),
  appView: byId('app-view', HTMLDivElement),
  accountTitle: byId('account-title', HTMLHeadingElement),
  accountEmail: byId('account-email', HTMLElement),
  accountPhone: byId('account-phone', HTMLElement),
  accountId: byId('account-id', HTMLElement),
  transferForm: byId('transfer-form', HTMLFormElement),
  transferAmount: byId('transfer-amount', HTMLInputElement),
  transferCurrency: byId('transfer-currency', HTMLSelectElement),
  transferPayee: byId('transfer-payee', HTMLInputElement),
  transferResult: byId('transfer-result', HTMLParagraphElement),
  payoutForm: byId('payout-form', HTMLFormElement),
  payoutAmount: byId('payout-amount', HTMLInputElement),
  payoutCurrency: byId('payout-currency', HTMLSelectElement),
  payoutDestination: byId('payout-destination', HTMLInputElement),
  payoutResult: byId('payout-result', HTMLParagraphElement),
  payslipsButton: byId('payslips-view', HTMLButtonElement),
  payslipsResult: byId('payslips-result', HTMLParagraphElement),
  payslipsTable: byId('payslips-table', HTMLDivElement),
  passwordForm: byId('password-form', HTMLFormElement),
  newPassword: byId('new-password', HTMLInputElement),
  confirmPassword: byId('confirm-password', HTMLInputElement),
  passwordResult: byId('password-result', HTMLParagraphElement),
  emailForm: byId('email-form', HTMLFormElement),
  newEmail: byId('new-email', HTMLInputElement),
  emailCodeStep: byId('email-code-step', HTMLDivElement),
  emailCode: byId('email-code', HTMLInputElement),
  emailDevNote: byId('email-dev-note', HTMLParagraphElement),
  emailSubmit: byId('email-submit', HTMLButtonElement),
  emailRestart: byId('email-restart', HTMLButtonElement),
  emailResult: byId('email-result', HTMLParagraphElement),
  passkeyStatus: byId('passkey-status', HTMLParagraphElement),
  passkeyAdd: byId('passkey-add', HTMLButtonElement),
  passkeyResult: byId('passkey-result', HTMLParagraphElement),
  totpStatus: byId('totp-status', HTMLParagraphElement),
  totpSetup: byId('totp-setup', HTMLButtonElement),
  totpForm: byId('totp-form', HTMLFormElement),
  totpQr: byId('totp-qr', HTMLDivElement),
  totpSecret: byId('totp-secret', HTMLElement),
  totpCode: byId('totp-code', HTMLInputElement),
  totpCancel: byId('totp-cancel', HTMLButtonElement),
  totpResult: byId('totp-result', HTMLParagraphElement),
};

const dialog = new VerificationDialog();

// Session state, in memory (the token itself is in sessionStorage: see session-token.ts).
let account: Account | null = null;
let delivery: DemoInfo['delivery'] = { email: 'console', phone: 'console' };
/** The last verified record: sent again while it lasts, so a reusable route (payslips) asks only once. */
let verification: VerifiedRecord | null = null;

function rememberedVerification(): string | null {
  if (verification !== null && verification.expiresAt - Date.now() > EXPIRY_MARGIN_MS) return verification.id;
  verification = null;
  return null;
}

/** Why a guarded call came back without success, beyond the server's own answer. */
interface GuardedOutcome {
  /** The user closed the verification dialog. */
  cancelled: boolean;
  /** The server asked to approve another action than the one the user entered: nothing was verified. */
  mismatch: boolean;
  /** None of the methods the server offered works in this browser (e.g. passkeys without WebAuthn). */
  noMethod: boolean;
}

interface GuardedAction {
  /** Completes "To ..., confirm it's you." */
  readonly purpose: string;
  /**
   * The action this request performs, as the page sent it: the server's `requirement.action` must
   * be exactly this, or the page refuses to verify (it would approve something the user did not ask for).
   */
  readonly action?: Action;
  /** Where focus returns when the dialog closes. */
  readonly trigger: HTMLElement | null;
  /**
   * Whether a recent verification may be sent again without asking. Payouts say
   * no: moving money always asks, even though the server would accept any fresh
   * record, and the record they get is used up by the payout anyway.
   */
  readonly reuse: boolean;
}

/**
 * A fetch for one guarded action: sends the remembered record when the action
 * allows it, and on a verification 403 opens the dialog, then retries once
 * (withVerification).
 */
function guardedFetch({ purpose, action: expected, trigger, reuse }: GuardedAction): { fetch: FetchLike; outcome: GuardedOutcome } {
  const outcome: GuardedOutcome = { cancelled: false, mismatch: false, noMethod: false };
  const withRemembered: FetchLike = (input, init) => {
    const headers = new Headers(init?.headers);
    const remembered = reuse ? rememberedVerification() : null;
    if (remembered !== null && !headers.has(VERIFICATION_HEADER)) headers.set(VERIFICATION_HEADER, remembered);
    return apiFetch(input, { ...init, headers });
  };
  const fetchFn = withVerification(withRemembered, {
    header: VERIFICATION_HEADER,
    onVerificationRequired: async (requirement: VerificationRequirement, { code }) => {
      // A refusal without methods (e.g. "prove the new email first") is not something this dialog can fix.
      if (!Array.isArray(requirement.methods) || account === null) return null;
      if (code === 'verification.invalid') verification = null; // used up or expired: stop sending it
      const current = account;
      // Only what the route accepts and this user can use (requirement.methods), that this dialog can run here.
      const methods = offerableMethods(requirement.methods, current);
      if (methods.length === 0) {
        outcome.noMethod = true;
        return null;
      }
      const action = actionOf(requirement.action);
      if (requirement.action !== undefined && (action === null || expected === undefined || !sameAction(action, expected))) {
        outcome.mismatch = true;
        return null;
      }
      const reason =
        code === 'verification.insufficient' && action === null
          ? `To ${purpose}, you need a more recent security check.`
          : `To ${purpose}, confirm it's you.`;
      const record = await dialog.verify({ methods, account: current, reason, action, trigger, delivery });
      if (record === null) {
        outcome.cancelled = true;
        return null;
      }
      if (reuse) verification = record;
      return record.id;
    },
  });
  return { fetch: fetchFn, outcome };
}

/** Forms and buttons with a request in flight: a second submit is ignored instead of sent twice. */
const busy = new WeakSet<HTMLElement>();

/**
 * Waits the server announced for the page's own buttons (a sign-in lockout, a 429 anywhere), by
 * button id: the button is disabled with a countdown beside it until the wait ends.
 */
const pageWaits = new Waits();
const countdowns = new Map<HTMLButtonElement, ButtonCountdown>();

function countdownFor(button: HTMLButtonElement, region: HTMLElement): ButtonCountdown {
  let countdown = countdowns.get(button);
  if (countdown === undefined) {
    countdown = new ButtonCountdown({
      waits: pageWaits,
      button,
      place: (timer) => (button.closest('.button-row') ?? button).after(timer),
      text: (_key, left) => `Try again in ${left}.`,
      ended: () => 'You can try again now.',
      announce: (text) => say(region, text, 'info'),
    });
    countdown.key = button.id;
    countdowns.set(button, countdown);
  }
  return countdown;
}

/** Starts the countdown a refusal announces on the button that sent it (a 429 with Retry-After). */
function noteWait(button: HTMLElement | null, region: HTMLElement, response: Response, seconds = retryAfterSeconds(response)): void {
  if (!(button instanceof HTMLButtonElement) || button.id === '' || seconds === null) return;
  countdownFor(button, region);
  pageWaits.start(button.id, seconds);
}

/** Runs one request-backed step of a form or button; network failures become a message, not a crash. */
async function run(owner: HTMLElement, region: HTMLElement, step: () => Promise<void>): Promise<void> {
  if (busy.has(owner)) return;
  // Enter in a field still submits a form whose button a countdown disabled.
  const button = owner instanceof HTMLFormElement ? owner.querySelector<HTMLButtonElement>('button[type="submit"]') : owner;
  if (button instanceof HTMLButtonElement && countdowns.get(button)?.waiting) return;
  busy.add(owner);
  owner.setAttribute('aria-busy', 'true');
  try {
    await step();
  } catch {
    say(region, 'Could not reach the server. Check your connection and try again.', 'error');
  } finally {
    busy.delete(owner);
    owner.removeAttribute('aria-busy');
  }
}

/**
 * Handles every answer that is not a success the same way: a sign-out on 401,
 * "cancelled" when the user closed the dialog, otherwise the error in plain words.
 */
function reportFailure(
  region: HTMLElement,
  action: string,
  response: Response,
  body: Body,
  outcome?: GuardedOutcome,
  trigger: HTMLElement | null = null,
): void {
  // A 401 already signed the user out (apiFetch): this answer belongs to a page that is gone.
  if (response.status === 401 || account === null) return;
  if (outcome?.mismatch) {
    say(region, `${action} stopped: the server asked to approve something other than what you entered. Nothing was approved.`, 'error');
    return;
  }
  if (outcome?.cancelled) {
    say(region, `${action} cancelled: the security check was not completed.`, 'info');
    return;
  }
  if (outcome?.noMethod) {
    say(region, `${action} needs a way to confirm it's you that this browser cannot use. Try another browser or device.`, 'error');
    return;
  }
  say(region, describeError(response, body), 'error');
  noteWait(trigger, region, response);
}

/** A field the page itself refuses before sending anything. */
function refuse(region: HTMLElement, field: HTMLInputElement, text: string): void {
  say(region, text, 'error');
  flagInvalid(field);
}

// ---- session ---------------------------------------------------------------

async function loadAccount(): Promise<boolean> {
  const response = await apiFetch('/api/my-account');
  const body = await readBody(response);
  if (!response.ok || !isAccount(body)) return false;
  account = { id: body.id, email: body.email, phone: body.phone };
  page.accountEmail.textContent = account.email;
  page.accountPhone.textContent = account.phone ?? 'None';
  page.accountId.textContent = account.id;
  page.sessionEmail.textContent = account.email;
  for (const field of Array.from(document.querySelectorAll<HTMLInputElement>('input.account-username'))) field.value = account.email;
  return true;
}

async function loadDemoInfo(): Promise<void> {
  const response = await fetch('/api/demo-info', { headers: { Accept: 'application/json' } });
  const body = await readBody(response);
  const info = body.delivery;
  if (typeof info === 'object' && info !== null && 'email' in info && 'phone' in info) {
    delivery = { email: String(info.email), phone: String(info.phone) };
  }
}

function resetDashboard(): void {
  for (const form of [page.transferForm, page.payoutForm, page.passwordForm]) form.reset();
  resetEmailChange();
  closeTotpSetup();
  showSecurity(null);
  page.newEmail.value = '';
  const regions = [page.transferResult, page.payoutResult, page.payslipsResult, page.passwordResult, page.emailResult, page.passkeyResult, page.totpResult];
  for (const region of regions) say(region, '');
  page.payslipsTable.replaceChildren();
  page.payslipsTable.hidden = true;
}

function signOut(message: string): void {
  setAccessToken(null);
  account = null;
  verification = null;
  dialog.forget();
  resetDashboard();
  page.appView.hidden = true;
  page.session.hidden = true;
  page.signInView.hidden = false;
  page.signInPassword.value = '';
  say(page.status, '');
  say(page.signInMessage, message, 'info');
  page.signInEmail.focus();
}

page.signInForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void run(page.signInForm, page.signInMessage, async () => {
    clearInvalid(page.signInEmail, page.signInPassword);
    const email = page.signInEmail.value.trim();
    const password = page.signInPassword.value;
    if (email === '') return refuse(page.signInMessage, page.signInEmail, 'Enter your email.');
    if (password === '') return refuse(page.signInMessage, page.signInPassword, 'Enter your password.');
    say(page.signInMessage, 'Signing in…');
    const response = await apiFetch('/api/sign-in', { method: 'POST', body: JSON.stringify({ email, password }) });
    const body = await readBody(response);
    if (!response.ok || typeof body.access_token !== 'string') {
      say(page.signInMessage, describeError(response, body), 'error');
      page.signInPassword.value = '';
      // A lockout (429), or the last failure the limit allows (RateLimit r=0): a countdown on the button.
      noteWait(page.signInSubmit, page.signInMessage, response, waitAfter(response));
      flagInvalid(page.signInPassword);
      return;
    }
    setAccessToken(body.access_token);
    page.signInPassword.value = '';
    if (!(await enterApp())) {
      setAccessToken(null);
      say(page.signInMessage, 'Signed in, but the account could not be loaded. Try again.', 'error');
    }
  });
});

/** With a token: loads the account and shows it. False (and nothing shown) when that fails. */
async function enterApp(): Promise<boolean> {
  await loadDemoInfo();
  if (!(await loadAccount())) return false;
  await loadSecurity();
  say(page.signInMessage, '');
  page.signInView.hidden = true;
  page.appView.hidden = false;
  page.session.hidden = false;
  say(page.status, `Signed in as ${account?.email ?? ''}.`, 'success');
  page.accountTitle.focus();
  return true;
}

/**
 * A reload keeps the session: the token from sessionStorage, checked against the server. A 401
 * (expired, revoked, refused) signs out through apiFetch; any other failure keeps the token and
 * says so, so a server blip does not sign the user out.
 */
async function resumeSession(): Promise<void> {
  if (!hasAccessToken()) {
    page.signInEmail.focus();
    return;
  }
  say(page.signInMessage, 'Resuming your session…');
  try {
    if (await enterApp()) return;
    if (hasAccessToken()) say(page.signInMessage, 'Your account could not be loaded. Reload the page to try again.', 'error');
  } catch {
    say(page.signInMessage, 'Could not reach the server. Reload the page to try again.', 'error');
  }
}

document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target.closest<HTMLButtonElement>('button[data-demo-email]') : null;
  if (target === null) return;
  page.signInEmail.value = target.dataset.demoEmail ?? '';
  page.signInPassword.value = target.dataset.demoPassword ?? '';
  clearInvalid(page.signInEmail, page.signInPassword);
  byId('sign-in-submit', HTMLButtonElement).focus();
});

byId('sign-out', HTMLButtonElement).addEventListener('click', () => signOut('Signed out.'));
whenSessionEnds(() => signOut('Your session has ended. Sign in again.'));

// ---- transfer ------------------------------------------------------------------

page.transferForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const trigger = event.submitter instanceof HTMLElement ? event.submitter : null;
  void run(page.transferForm, page.transferResult, async () => {
    clearInvalid(page.transferAmount, page.transferPayee);
    const input = transferInput(page.transferAmount.value, page.transferCurrency.value, page.transferPayee.value);
    if (!input.ok) {
      const field = input.field === 'amount' ? page.transferAmount : page.transferPayee;
      return refuse(page.transferResult, field, input.message);
    }
    const { amount, currency, payee } = input.transfer;
    // The form shows what will be sent (e.g. "250" becomes "250.00"), which is what the dialog will approve.
    page.transferAmount.value = amount;
    page.transferPayee.value = payee;
    say(page.transferResult, 'Sending the transfer…');
    const action: Action = { type: 'transfer', amount, currency, payee };
    // Never reused: each transfer needs its own verification, bound to its amount and payee.
    const guarded = guardedFetch({ purpose: 'make this transfer', action, trigger, reuse: false });
    const response = await guarded.fetch('/api/transfers', { method: 'POST', body: JSON.stringify({ amount, currency, payee }) });
    const body = await readBody(response);
    if (response.status !== 201) return reportFailure(page.transferResult, 'Transfer', response, body, guarded.outcome, trigger);
    // The server's record of the transfer, shown as text (what it accepted, not what was typed).
    const paid = typeof body.amount === 'string' ? body.amount : amount;
    const paidCurrency = typeof body.currency === 'string' ? body.currency : currency;
    const paidTo = typeof body.payee === 'string' ? body.payee : payee;
    const reference = typeof body.id === 'string' ? ` Reference ${body.id}.` : '';
    say(page.transferResult, `Transfer of ${paid} ${paidCurrency} to ${paidTo} done.${reference}`, 'success');
  });
});

// ---- payout ------------------------------------------------------------------

page.payoutForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const trigger = event.submitter instanceof HTMLElement ? event.submitter : null;
  void run(page.payoutForm, page.payoutResult, async () => {
    clearInvalid(page.payoutAmount, page.payoutDestination);
    const amount = Math.round(page.payoutAmount.valueAsNumber * 100) / 100;
    const currency = page.payoutCurrency.value;
    const destination = page.payoutDestination.value.trim();
    if (!Number.isFinite(amount) || amount <= 0 || amount > 1_000_000) {
      return refuse(page.payoutResult, page.payoutAmount, 'Enter an amount between 0.01 and 1,000,000.');
    }
    if (destination === '') {
      return refuse(page.payoutResult, page.payoutDestination, 'Enter the destination account.');
    }
    say(page.payoutResult, 'Sending the payout…');
    const guarded = guardedFetch({ purpose: 'make this payout', trigger, reuse: false });
    const response = await guarded.fetch('/api/payouts', { method: 'POST', body: JSON.stringify({ amount, currency, destination }) });
    const body = await readBody(response);
    if (response.status !== 201) return reportFailure(page.payoutResult, 'Payout', response, body, guarded.outcome, trigger);
    // The server's record of the payout, shown as text (what it accepted, not what was typed).
    const paid = typeof body.amount === 'number' ? body.amount : amount;
    const paidCurrency = typeof body.currency === 'string' ? body.currency : currency;
    const paidTo = typeof body.destination === 'string' ? body.destination : destination;
    const reference = typeof body.id === 'string' ? ` Reference ${body.id}.` : '';
    say(page.payoutResult, `Payout of ${money(paid, paidCurrency)} to ${paidTo} accepted.${reference}`, 'success');
  });
});

// ---- payslips ------------------------------------------------------------------

interface Payslip {
  period: string;
  net: number;
  currency: string;
}

function isPayslip(value: unknown): value is Payslip {
  if (typeof value !== 'object' || value === null) return false;
  const slip = value as Record<string, unknown>;
  return typeof slip.period === 'string' && typeof slip.net === 'number' && typeof slip.currency === 'string';
}

/** "2026-10" → "October 2026". */
function periodName(period: string): string {
  const match = /^(\d{4})-(\d{2})$/.exec(period);
  if (!match) return period;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1));
  return date.toLocaleDateString('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });
}

function renderPayslips(payslips: readonly Payslip[]): void {
  const table = node('table', '', 'table');
  table.append(node('caption', 'Your payslips', 'visually-hidden'));
  const head = node('tr');
  for (const title of ['Period', 'Net pay']) {
    const th = node('th', title);
    th.scope = 'col';
    head.append(th);
  }
  table.append(node('thead'));
  table.tHead?.append(head);
  const rows = node('tbody');
  for (const slip of payslips) {
    const row = node('tr');
    const period = node('th', periodName(slip.period));
    period.scope = 'row';
    row.append(period, node('td', money(slip.net, slip.currency), 'amount'));
    rows.append(row);
  }
  table.append(rows);
  page.payslipsTable.replaceChildren(table);
  page.payslipsTable.hidden = false;
}

page.payslipsButton.addEventListener('click', () => {
  const trigger = page.payslipsButton;
  void run(trigger, page.payslipsResult, async () => {
    say(page.payslipsResult, 'Loading payslips…');
    const guarded = guardedFetch({ purpose: 'view your payslips', trigger, reuse: true });
    const response = await guarded.fetch('/api/payslips');
    const body = await readBody(response);
    if (!response.ok) return reportFailure(page.payslipsResult, 'Viewing payslips', response, body, guarded.outcome, trigger);
    const payslips = Array.isArray(body.payslips) ? body.payslips.filter(isPayslip) : [];
    renderPayslips(payslips);
    const loadedAt = new Date().toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit', second: '2-digit' });
    say(page.payslipsResult, `${payslips.length} payslips loaded at ${loadedAt}.`, 'success');
  });
});

// ---- password ------------------------------------------------------------------

page.passwordForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const trigger = event.submitter instanceof HTMLElement ? event.submitter : null;
  void run(page.passwordForm, page.passwordResult, async () => {
    clearInvalid(page.newPassword, page.confirmPassword);
    const password = page.newPassword.value;
    if (password.length < 12) {
      return refuse(page.passwordResult, page.newPassword, 'The new password needs at least 12 characters.');
    }
    if (page.confirmPassword.value !== password) {
      return refuse(page.passwordResult, page.confirmPassword, 'The two passwords are different.');
    }
    say(page.passwordResult, 'Changing your password…');
    const guarded = guardedFetch({ purpose: 'change your password', trigger, reuse: true });
    const response = await guarded.fetch('/api/my-account/password', { method: 'POST', body: JSON.stringify({ password }) });
    const body = await readBody(response);
    if (response.status !== 204) return reportFailure(page.passwordResult, 'Password change', response, body, guarded.outcome, trigger);
    page.passwordForm.reset();
    say(page.passwordResult, 'Password changed. Use the new one the next time you sign in.', 'success');
  });
});

// ---- email -----------------------------------------------------------------------

/** The email change in progress: the code sent to the new address, then the proof that it is yours. */
let emailChange: { email: string; verificationId: string; proof: string | null } | null = null;

function resetEmailChange(): void {
  emailChange = null;
  page.newEmail.readOnly = false;
  page.emailCode.value = '';
  page.emailCode.disabled = false;
  page.emailCodeStep.hidden = true;
  page.emailDevNote.hidden = true;
  page.emailRestart.hidden = true;
  page.emailSubmit.textContent = 'Send code';
  clearInvalid(page.newEmail, page.emailCode);
}

async function sendNewEmailCode(email: string): Promise<void> {
  say(page.emailResult, `Sending a code to ${email}…`);
  const response = await apiFetch('/api/verifications/verification-code', {
    method: 'POST',
    body: JSON.stringify({ identifier: { type: 'email', value: email } }),
  });
  const body = await readBody(response);
  if (response.status !== 201 || !isRecordAnswer(body)) return reportFailure(page.emailResult, 'Email change', response, body, undefined, page.emailSubmit);
  emailChange = { email, verificationId: body.verificationRecordId, proof: null };
  page.newEmail.readOnly = true;
  page.emailCodeStep.hidden = false;
  page.emailDevNote.hidden = delivery.email !== 'console';
  page.emailRestart.hidden = false;
  page.emailSubmit.textContent = 'Change email';
  say(page.emailResult, `We sent a 6-digit code to ${email}. Enter it to continue.`, 'success');
  page.emailCode.focus();
}

/** Proves the new address with its code; the proof is kept so a cancelled step-up does not waste it. */
async function proveNewEmail(change: { email: string; verificationId: string }): Promise<string | null> {
  const code = typedCode(page.emailCode.value);
  if (!CODE_PATTERN.test(code)) {
    say(page.emailResult, 'Enter the 6-digit code from the email.', 'error');
    flagInvalid(page.emailCode);
    return null;
  }
  say(page.emailResult, 'Checking the code…');
  const response = await apiFetch('/api/verifications/verification-code/verify', {
    method: 'POST',
    body: JSON.stringify({ identifier: { type: 'email', value: change.email }, verificationId: change.verificationId, code }),
  });
  const body = await readBody(response);
  if (!response.ok || !isRecordAnswer(body)) {
    reportFailure(page.emailResult, 'Email change', response, body);
    flagInvalid(page.emailCode);
    return null;
  }
  page.emailCode.disabled = true;
  return body.verificationRecordId;
}

page.emailForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const trigger = event.submitter instanceof HTMLElement ? event.submitter : page.emailSubmit;
  void run(page.emailForm, page.emailResult, async () => {
    clearInvalid(page.newEmail, page.emailCode);
    const email = page.newEmail.value.trim().toLowerCase();
    if (emailChange === null) {
      if (!page.newEmail.checkValidity() || email === '') {
        return refuse(page.emailResult, page.newEmail, 'Enter a valid email address.');
      }
      if (email === account?.email) {
        return refuse(page.emailResult, page.newEmail, 'That is already your email address.');
      }
      return sendNewEmailCode(email);
    }
    const change = emailChange;
    if (change.proof === null) {
      change.proof = await proveNewEmail(change);
      if (change.proof === null) return;
    }
    say(page.emailResult, 'Changing your email…');
    const guarded = guardedFetch({ purpose: 'change your email', trigger, reuse: true });
    const response = await guarded.fetch('/api/my-account/primary-email', {
      method: 'POST',
      body: JSON.stringify({ email: change.email, newIdentifierVerificationRecordId: change.proof }),
    });
    const body = await readBody(response);
    if (response.status !== 204) {
      reportFailure(page.emailResult, 'Email change', response, body, guarded.outcome);
      // A refusal without methods is about the new address's proof, and a 400 about the address
      // itself: either way this attempt is over. A cancelled step-up keeps the proof for a retry.
      const requirement = body.requirement;
      const proofRefused = typeof requirement === 'object' && requirement !== null && !('methods' in requirement);
      if (proofRefused || response.status === 400) {
        resetEmailChange();
        say(page.emailResult, `${describeError(response, body)} Send a new code to try again.`, 'error');
      }
      return;
    }
    resetEmailChange();
    page.newEmail.value = '';
    await loadAccount();
    say(page.emailResult, `Your email is now ${change.email}.`, 'success');
  });
});

page.emailRestart.addEventListener('click', () => {
  resetEmailChange();
  say(page.emailResult, '');
  page.newEmail.focus();
});

// ---- security: passkeys and an authenticator app ------------------------------------

const VERIFICATIONS = '/api/verifications';

/** Shows which second factors the account has; null (unknown) says nothing rather than something wrong. */
function showSecurity(summary: SecuritySummary | null): void {
  if (summary === null) {
    page.passkeyStatus.textContent = '';
    page.totpStatus.textContent = '';
    page.totpSetup.textContent = 'Set up authenticator app';
    return;
  }
  const { passkeys, totp } = summary;
  page.passkeyStatus.textContent = passkeys === 0 ? 'No passkey yet.' : `${passkeys} passkey${passkeys === 1 ? '' : 's'} registered.`;
  page.totpStatus.textContent = totp ? 'On: you can confirm it\'s you with a code from your app.' : 'Not set up.';
  page.totpSetup.textContent = totp ? 'Set up authenticator app again' : 'Set up authenticator app';
}

async function loadSecurity(): Promise<void> {
  const response = await apiFetch('/api/my-account/security');
  const body = await readBody(response);
  showSecurity(response.ok && isSecuritySummary(body) ? { passkeys: body.passkeys, totp: body.totp } : null);
}

page.passkeyAdd.addEventListener('click', () => {
  const trigger = page.passkeyAdd;
  void run(trigger, page.passkeyResult, async () => {
    say(page.passkeyResult, 'Preparing a new passkey…');
    // Registering needs a fresh identity check, used up by it: the endpoint refuses as a guard does
    // and the dialog runs one. Never a remembered check: adding a factor always asks.
    const guarded = guardedFetch({ purpose: 'add a passkey', trigger, reuse: false });
    const started = await guarded.fetch(`${VERIFICATIONS}/web-authn/registration`, { method: 'POST' });
    const options = await readBody(started);
    if (started.status !== 200 || typeof options.registrationOptions !== 'object') {
      return reportFailure(page.passkeyResult, 'Adding a passkey', started, options, guarded.outcome, trigger);
    }
    say(page.passkeyResult, 'Follow your browser\'s prompt to create the passkey…');
    const created = await createPasskey(options.registrationOptions);
    if (!created.ok) {
      say(page.passkeyResult, created.message, 'error');
      return;
    }
    say(page.passkeyResult, 'Saving your passkey…');
    const saved = await apiFetch(`${VERIFICATIONS}/web-authn/registration/verify`, {
      method: 'POST',
      body: JSON.stringify({ response: created.response }),
    });
    const body = await readBody(saved);
    if (saved.status !== 201) {
      if (body.code === 'verification.invalid_credentials') {
        say(page.passkeyResult, 'The passkey could not be registered (the request was not accepted or took too long). Try again.', 'error');
        return;
      }
      return reportFailure(page.passkeyResult, 'Adding a passkey', saved, body, undefined, trigger);
    }
    await loadSecurity();
    say(page.passkeyResult, 'Passkey added. Next time, confirm it\'s you with it.', 'success');
  });
});

/** "JBSW Y3DP EHPK 3PXP": a secret people can copy into their app by hand without losing their place. */
function groupedSecret(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

/** Hides the setup step and forgets the secret it showed (it is on screen only while the user copies it). */
function closeTotpSetup(): void {
  page.totpForm.hidden = true;
  page.totpQr.replaceChildren();
  page.totpSecret.textContent = '';
  page.totpCode.value = '';
  clearInvalid(page.totpCode);
  page.totpSetup.hidden = false;
}

page.totpSetup.addEventListener('click', () => {
  const trigger = page.totpSetup;
  void run(trigger, page.totpResult, async () => {
    say(page.totpResult, 'Preparing a new authenticator key…');
    const guarded = guardedFetch({ purpose: 'set up an authenticator app', trigger, reuse: false });
    const response = await guarded.fetch(`${VERIFICATIONS}/totp/enrollment`, { method: 'POST' });
    const body = await readBody(response);
    if (response.status !== 200 || typeof body.secret !== 'string' || typeof body.otpauthUri !== 'string') {
      return reportFailure(page.totpResult, 'Setting up an authenticator app', response, body, guarded.outcome, trigger);
    }
    page.totpQr.replaceChildren(qrCodeSvg(body.otpauthUri, 'QR code to scan with your authenticator app'));
    page.totpSecret.textContent = groupedSecret(body.secret);
    page.totpCode.value = '';
    page.totpForm.hidden = false;
    page.totpSetup.hidden = true;
    say(page.totpResult, 'Scan the QR code (or type the key), then enter the code your app shows.', 'info');
    page.totpCode.focus();
  });
});

page.totpForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void run(page.totpForm, page.totpResult, async () => {
    clearInvalid(page.totpCode);
    const code = typedCode(page.totpCode.value);
    if (!CODE_PATTERN.test(code)) return refuse(page.totpResult, page.totpCode, 'Enter the 6-digit code your authenticator app shows.');
    say(page.totpResult, 'Checking the code…');
    const response = await apiFetch(`${VERIFICATIONS}/totp/enrollment/verify`, { method: 'POST', body: JSON.stringify({ code }) });
    const body = await readBody(response);
    if (response.status === 204) {
      closeTotpSetup();
      await loadSecurity();
      say(page.totpResult, 'Authenticator app set up. You can now confirm it\'s you with a code from it.', 'success');
      page.totpSetup.focus();
      return;
    }
    if (body.code === 'verification.invalid_credentials') {
      page.totpCode.value = '';
      return refuse(page.totpResult, page.totpCode, 'That code is not correct. Check that your device\'s clock is right, then enter the code the app shows now.');
    }
    if (body.code === 'verification.too_many_attempts') {
      // Codes share the password's failure budget: the lockout covers both.
      say(page.totpResult, `Too many wrong codes or passwords.${retryAfterText(response)}`, 'error');
      return;
    }
    if (body.code === 'verification_record.not_found') {
      // The pending setup expired (10 minutes) or was replaced: only a new one can work.
      closeTotpSetup();
      say(page.totpResult, 'This setup has expired. Start again.', 'error');
      page.totpSetup.focus();
      return;
    }
    reportFailure(page.totpResult, 'Setting up an authenticator app', response, body, undefined, null);
  });
});

page.totpCancel.addEventListener('click', () => {
  closeTotpSetup();
  say(page.totpResult, 'Setup cancelled: nothing was changed.', 'info');
  page.totpSetup.focus();
});

void resumeSession();
