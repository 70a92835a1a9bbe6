/**
 * The "Confirm it's you" dialog: runs one step-up verification through the
 * router's endpoints and hands back the verified record, or null when the user
 * cancels (Cancel button or Escape).
 *
 * A native modal <dialog> makes the page inert and gives Escape; this module
 * adds what the platform does not: focus kept inside the dialog (Tab wraps
 * around instead of leaving for the browser's toolbar), focus on the right
 * field when it opens, focus back on the button that started the action when
 * it closes, messages in a live region inside the dialog (the page's own
 * regions are inert while it is open, so they would not be announced), what is
 * being approved when the action is bound (PSD2 dynamic linking), and the
 * waits the server announces (resend cooldown, password lockout) as countdowns
 * on the buttons they block.
 *
 * It offers only the methods it is given (the guard's `requirement.methods`,
 * which lists only what this user can use now): a user without a passkey is
 * never shown the passkey option, one without an authenticator app never the
 * app's code field.
 */
import { apiFetch, describeError, isRecordAnswer, readBody, retryAfterText, type Account, type Body, type Channel, type DemoInfo } from './api';
import { approvalText, type Action } from './approval';
import { CODE_PATTERN, typedCode } from './code-input';
import { ButtonCountdown } from './countdown';
import { byId, clearInvalid, flagInvalid, say } from './dom';
import { cancelPasskeyCeremony, passkeysSupported, usePasskey } from './passkey-ceremony';
import { waitAfter, Waits } from './waits';

/** The methods this dialog knows how to run, in the order it shows them (the strongest first). */
export const DIALOG_METHODS = ['passkey', 'totp', 'password', 'email', 'phone'] as const;
export type DialogMethod = (typeof DIALOG_METHODS)[number];

function isDialogMethod(value: unknown): value is DialogMethod {
  return (DIALOG_METHODS as readonly unknown[]).includes(value);
}

/**
 * The methods of a refusal the dialog can offer to this account in this browser: the server
 * already left out what the user has not set up; the page also leaves out a code to an address
 * the account does not have, and passkeys where the browser has no WebAuthn.
 */
export function offerableMethods(methods: readonly unknown[], account: Account): DialogMethod[] {
  return DIALOG_METHODS.filter((method) => {
    if (!methods.includes(method)) return false;
    if (method === 'email' || method === 'phone') return Boolean(account[method]);
    if (method === 'passkey') return passkeysSupported();
    return true;
  });
}

export interface VerifyRequest {
  /** The methods to offer: the route's `requirement.methods` that this account can use, in that order. */
  readonly methods: readonly DialogMethod[];
  readonly account: Account;
  /** One sentence saying why the check is needed, e.g. "To make a payout, confirm it's you." */
  readonly reason: string;
  /**
   * What this verification approves (`requirement.action`): shown before the user verifies, and
   * sent as it is with the password or the code request, which binds the record to it.
   */
  readonly action: Action | null;
  /** Where focus goes back to when the dialog closes. */
  readonly trigger: HTMLElement | null;
  readonly delivery: DemoInfo['delivery'];
}

export interface VerifiedRecord {
  readonly id: string;
  /** Epoch ms after which the record no longer works. */
  readonly expiresAt: number;
}

/** A code sent in this dialog session, waiting for the user to type it. */
interface PendingCode {
  readonly method: Channel;
  readonly identifier: { readonly type: Channel; readonly value: string };
  readonly verificationId: string;
}

const BASE = '/api/verifications';
const FOCUSABLE = 'button, input, select, textarea, [href], [tabindex]:not([tabindex="-1"])';

function timeOf(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? '' : at.toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit' });
}

/** The wait keys: sending a code to a channel, checking a code of a channel, checking the password. */
const sendKey = (channel: Channel) => `send-${channel}`;
const verifyKey = (channel: Channel) => `verify-${channel}`;
const PASSWORD_KEY = 'password';
/** Authenticator-app codes: they share the password's failure budget, so a lockout blocks both. */
const TOTP_KEY = 'totp';

export class VerificationDialog {
  readonly #dialog = byId('verify-dialog', HTMLDialogElement);
  readonly #form = byId('verify-form', HTMLFormElement);
  readonly #reason = byId('verify-reason', HTMLParagraphElement);
  readonly #approval = byId('verify-approval', HTMLDivElement);
  readonly #approvalText = byId('verify-approval-text', HTMLParagraphElement);
  readonly #options: Readonly<Record<DialogMethod, HTMLLabelElement>> = {
    passkey: byId('verify-option-passkey', HTMLLabelElement),
    totp: byId('verify-option-totp', HTMLLabelElement),
    password: byId('verify-option-password', HTMLLabelElement),
    email: byId('verify-option-email', HTMLLabelElement),
    phone: byId('verify-option-phone', HTMLLabelElement),
  };
  readonly #methods = byId('verify-methods', HTMLFieldSetElement);
  readonly #emailDetail = byId('verify-email-detail', HTMLSpanElement);
  readonly #phoneDetail = byId('verify-phone-detail', HTMLSpanElement);
  readonly #passwordPanel = byId('verify-password-panel', HTMLDivElement);
  readonly #password = byId('verify-password', HTMLInputElement);
  readonly #passkeyPanel = byId('verify-passkey-panel', HTMLDivElement);
  readonly #totpPanel = byId('verify-totp-panel', HTMLDivElement);
  readonly #totp = byId('verify-totp', HTMLInputElement);
  readonly #codePanel = byId('verify-code-panel', HTMLDivElement);
  readonly #codeHint = byId('verify-code-hint', HTMLParagraphElement);
  readonly #codeEntry = byId('verify-code-entry', HTMLDivElement);
  readonly #code = byId('verify-code', HTMLInputElement);
  readonly #resend = byId('verify-resend', HTMLButtonElement);
  readonly #devNote = byId('verify-dev-note', HTMLParagraphElement);
  readonly #message = byId('verify-message', HTMLParagraphElement);
  readonly #submit = byId('verify-submit', HTMLButtonElement);
  readonly #actions = byId('verify-actions', HTMLDivElement);

  /**
   * Waits the server announced, by what they block. They outlive one opening of the dialog (the
   * server's cooldown does too) and are forgotten at sign-out.
   */
  readonly #waits = new Waits();
  readonly #submitWait: ButtonCountdown;
  readonly #resendWait: ButtonCountdown;

  /** The open session: how to settle it, and a signal that aborts its requests when it ends. */
  #session: { request: VerifyRequest; settle: (record: VerifiedRecord | null) => void; abort: AbortController } | null = null;
  #pending: PendingCode | null = null;
  #busy = false;

  constructor() {
    const announce = (text: string) => say(this.#message, text, 'info');
    this.#submitWait = new ButtonCountdown({
      waits: this.#waits,
      button: this.#submit,
      place: (timer) => this.#actions.before(timer),
      text: (key, left) =>
        key === PASSWORD_KEY
          ? `Password checks are locked. Try again in ${left}${this.#offersCodes() ? ', or verify with a code' : ''}.`
          : key === TOTP_KEY
            ? `Authenticator codes are locked. Try again in ${left}.`
            : key.startsWith('send-')
              ? `You can request a code in ${left}.`
              : `Code checks are paused. Try again in ${left}.`,
      ended: (key) =>
        key === PASSWORD_KEY
          ? 'You can try your password again.'
          : key === TOTP_KEY
            ? 'You can enter a code from your app again.'
            : key.startsWith('send-')
              ? 'You can request a code now.'
              : 'You can enter a code again.',
      announce,
      focusInstead: () => this.#form.querySelector<HTMLInputElement>('input[name="method"]:checked:not(:disabled)'),
    });
    this.#resendWait = new ButtonCountdown({
      waits: this.#waits,
      button: this.#resend,
      place: (timer) => this.#codeEntry.append(timer),
      text: (_key, left) => `You can send a new code in ${left}.`,
      ended: () => 'You can send a new code now.',
      announce,
      focusInstead: () => this.#code,
    });

    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#guarded(() => this.#submitStep());
    });
    this.#form.addEventListener('change', (event) => {
      if (event.target instanceof HTMLInputElement && event.target.name === 'method') this.#showMethod();
    });
    this.#resend.addEventListener('click', () => void this.#guarded(() => this.#sendCode()));
    byId('verify-cancel', HTMLButtonElement).addEventListener('click', () => this.#dialog.close('cancel'));
    this.#dialog.addEventListener('keydown', (event) => this.#keepFocusInside(event));
    // Escape (the dialog's own 'cancel'), the Cancel button and a successful check all end here.
    this.#dialog.addEventListener('close', () => this.#end());
  }

  /** Opens the dialog; resolves to the verified record, or null when the user cancels. */
  verify(request: VerifyRequest): Promise<VerifiedRecord | null> {
    if (this.#session !== null || request.methods.length === 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#session = { request, settle: resolve, abort: new AbortController() };
      this.#reset(request);
      this.#dialog.showModal();
      this.#focusFirstStep();
    });
  }

  /** Sign-out: closes the dialog if open (as cancelled) and forgets the waits of this user. */
  forget(): void {
    if (this.#dialog.open) this.#dialog.close('cancel');
    this.#waits.clear();
  }

  #reset(request: VerifyRequest): void {
    this.#reason.textContent = request.reason;
    this.#approval.hidden = request.action === null;
    this.#approvalText.textContent = request.action === null ? '' : approvalText(request.action);
    this.#emailDetail.textContent = request.account.email;
    this.#phoneDetail.textContent = request.account.phone ?? '';
    let first = true;
    for (const method of DIALOG_METHODS) {
      const offered = request.methods.includes(method);
      const option = this.#options[method];
      option.hidden = !offered;
      const radio = option.querySelector('input');
      if (radio) {
        radio.disabled = !offered;
        radio.checked = offered && first;
      }
      if (offered) first = false;
    }
    // One method: nothing to choose, so no radio to stop at on the way to the field.
    this.#methods.hidden = request.methods.length === 1;
    this.#password.value = '';
    this.#code.value = '';
    this.#totp.value = '';
    this.#pending = null;
    this.#busy = false;
    this.#showMethod();
  }

  /** The chosen method; the first offered one when none is checked. */
  #method(): DialogMethod {
    const value = this.#form.querySelector<HTMLInputElement>('input[name="method"]:checked:not(:disabled)')?.value;
    if (isDialogMethod(value)) return value;
    return this.#session?.request.methods[0] ?? 'password';
  }

  #offersCodes(): boolean {
    const methods = this.#session?.request.methods ?? [];
    return methods.includes('email') || methods.includes('phone');
  }

  /** Shows the panel of the chosen method, in the state that method is in. */
  #showMethod(): void {
    const method = this.#method();
    say(this.#message, '');
    clearInvalid(this.#password, this.#code, this.#totp);
    this.#passwordPanel.hidden = method !== 'password';
    this.#passkeyPanel.hidden = method !== 'passkey';
    this.#totpPanel.hidden = method !== 'totp';
    this.#codePanel.hidden = method !== 'email' && method !== 'phone';
    if (method === 'password' || method === 'passkey' || method === 'totp') {
      this.#devNote.hidden = true;
      this.#submit.textContent = method === 'passkey' ? 'Use passkey' : 'Verify';
      this.#submitWait.key = method === 'password' ? PASSWORD_KEY : method === 'totp' ? TOTP_KEY : null;
      this.#resendWait.key = null;
      return;
    }
    const pending = this.#pending?.method === method ? this.#pending : null;
    const to = this.#session?.request.account[method] ?? '';
    const bound = this.#session?.request.action != null;
    this.#codeEntry.hidden = pending === null;
    this.#devNote.hidden = pending === null || this.#session?.request.delivery[method] !== 'console';
    if (pending === null) {
      this.#codeHint.textContent = `We will send a 6-digit code to ${to}.${bound ? ' The message says what it approves.' : ''}`;
      this.#submit.textContent = 'Send code';
      this.#submitWait.key = sendKey(method);
      this.#resendWait.key = null;
    } else {
      this.#submit.textContent = 'Verify';
      this.#submitWait.key = verifyKey(method);
      this.#resendWait.key = sendKey(method);
    }
  }

  #focusFirstStep(): void {
    const method = this.#method();
    if (method === 'password' && !this.#submit.disabled) this.#password.focus();
    else if (method === 'totp' && !this.#submit.disabled) this.#totp.focus();
    else if (!this.#submit.disabled) this.#submit.focus();
    else this.#form.querySelector<HTMLInputElement>('input[name="method"]:checked')?.focus();
  }

  /**
   * Tab from the last control goes to the first and Shift+Tab from the first to the last. The
   * modal dialog already makes the page inert, but Chromium and Firefox let Tab leave it for the
   * browser's own toolbar; a dialog that asks for a password should not lose focus that way.
   */
  #keepFocusInside(event: KeyboardEvent): void {
    if (event.key !== 'Tab' || event.altKey || event.ctrlKey || event.metaKey) return;
    const focusable = Array.from(this.#dialog.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
      (element) => !(element as HTMLButtonElement).disabled && element.getClientRects().length > 0 && !this.#isUncheckedRadio(element),
    );
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (first === undefined || last === undefined) return;
    const active = document.activeElement;
    if (event.shiftKey && (active === first || !this.#dialog.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !this.#dialog.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  }

  /** A radio group is one Tab stop: its checked radio. */
  #isUncheckedRadio(element: HTMLElement): boolean {
    return element instanceof HTMLInputElement && element.type === 'radio' && !element.checked;
  }

  /** One step at a time: a second Enter while a request runs is ignored (the button stays focusable). */
  async #guarded(step: () => Promise<void>): Promise<void> {
    if (this.#busy || this.#session === null) return;
    this.#busy = true;
    this.#form.setAttribute('aria-busy', 'true');
    this.#submit.setAttribute('aria-disabled', 'true');
    try {
      await step();
    } catch (error) {
      // An aborted request means the dialog closed meanwhile: nothing to say.
      if (this.#session !== null && !(error instanceof DOMException && error.name === 'AbortError')) {
        say(this.#message, 'Could not reach the server. Check your connection and try again.', 'error');
      }
    } finally {
      this.#busy = false;
      this.#form.removeAttribute('aria-busy');
      this.#submit.removeAttribute('aria-disabled');
    }
  }

  async #submitStep(): Promise<void> {
    // A button disabled by a countdown cannot be clicked, but Enter in a field could still submit.
    if (this.#submitWait.waiting) return;
    const method = this.#method();
    if (method === 'password') return this.#verifyPassword();
    if (method === 'passkey') return this.#verifyPasskey();
    if (method === 'totp') return this.#verifyTotp();
    if (this.#pending?.method === method) return this.#verifyCode(this.#pending);
    return this.#sendCode();
  }

  async #post(path: string, body: unknown): Promise<Response> {
    return apiFetch(`${BASE}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      ...(this.#session ? { signal: this.#session.abort.signal } : {}),
    });
  }

  /** `{ action }` when the verification is bound to one: exactly the guard's `requirement.action`. */
  #binding(): { action?: Action } {
    const action = this.#session?.request.action ?? null;
    return action === null ? {} : { action };
  }

  /** Starts the wait an answer announces for `key` (Retry-After on a 429, or a used-up quota). */
  #noteWait(key: string, response: Response): void {
    const seconds = waitAfter(response);
    if (seconds !== null) this.#waits.start(key, seconds);
  }

  async #verifyPassword(): Promise<void> {
    clearInvalid(this.#password);
    if (this.#password.value === '') {
      say(this.#message, 'Enter your password.', 'error');
      flagInvalid(this.#password);
      return;
    }
    say(this.#message, 'Checking your password…');
    const response = await this.#post('/password/verify', { password: this.#password.value, ...this.#binding() });
    const body = await readBody(response);
    if (response.ok && isRecordAnswer(body)) {
      this.#finish({ id: body.verificationRecordId, expiresAt: Date.parse(body.expiresAt) });
      return;
    }
    this.#password.value = '';
    const lastAttempt = body.code === 'verification.invalid_credentials' && body.remainingAttempts === 1;
    let text = describeError(response, body);
    if (lastAttempt && this.#offersCodes()) text += ' You can verify with a code instead.';
    say(this.#message, text, lastAttempt ? 'warning' : 'error');
    // One failure budget for passwords and app codes: a lockout blocks both.
    this.#noteWait(PASSWORD_KEY, response);
    this.#noteWait(TOTP_KEY, response);
    if (!this.#submit.disabled) flagInvalid(this.#password);
  }

  /**
   * A passkey: the server makes a challenge (bound to the action, when there is one), the browser
   * asks the user for their passkey and signs it, the server checks the signature.
   */
  async #verifyPasskey(): Promise<void> {
    say(this.#message, 'Follow your browser\'s prompt to use your passkey…');
    const started = await this.#post('/web-authn/authentication', { ...this.#binding() });
    const challenge = await readBody(started);
    if (started.status !== 201 || typeof challenge.verificationRecordId !== 'string') {
      say(this.#message, this.#passkeyRefusal(started, challenge), 'error');
      return;
    }
    const signed = await usePasskey(challenge.authenticationOptions);
    if (this.#session === null) return; // closed while the browser was asking
    if (!signed.ok) {
      say(this.#message, signed.message, 'error');
      this.#submit.focus();
      return;
    }
    say(this.#message, 'Checking your passkey…');
    const response = await this.#post('/web-authn/authentication/verify', {
      verificationRecordId: challenge.verificationRecordId,
      response: signed.response,
    });
    const body = await readBody(response);
    if (response.ok && isRecordAnswer(body)) {
      this.#finish({ id: body.verificationRecordId, expiresAt: Date.parse(body.expiresAt) });
      return;
    }
    say(this.#message, this.#passkeyRefusal(response, body), 'error');
    this.#submit.focus();
  }

  #passkeyRefusal(response: Response, body: Body): string {
    switch (body.code) {
      case 'verification.no_available_method':
        return 'Your account has no passkey any more. Choose another way to confirm it\'s you.';
      case 'verification.invalid_credentials':
        return 'That passkey was not accepted. Try again, or choose another way.';
      case 'verification_record.not_found':
        return 'The passkey check took too long. Try again.';
      default:
        return describeError(response, body);
    }
  }

  /** A code from the authenticator app: checked at once, no code is sent. */
  async #verifyTotp(): Promise<void> {
    clearInvalid(this.#totp);
    const code = typedCode(this.#totp.value);
    if (!CODE_PATTERN.test(code)) {
      say(this.#message, 'Enter the 6-digit code your authenticator app shows.', 'error');
      flagInvalid(this.#totp);
      return;
    }
    say(this.#message, 'Checking the code…');
    const response = await this.#post('/totp/verify', { code, ...this.#binding() });
    const body = await readBody(response);
    if (response.ok && isRecordAnswer(body)) {
      this.#finish({ id: body.verificationRecordId, expiresAt: Date.parse(body.expiresAt) });
      return;
    }
    this.#totp.value = '';
    let text: string;
    if (body.code === 'verification.invalid_credentials') {
      const left = typeof body.remainingAttempts === 'number' ? body.remainingAttempts : null;
      text = 'That code is not correct, or it was already used. Enter the next code your app shows.';
      if (left === 1) text += ' Last attempt before checks lock for a while.';
      else if (left !== null && left > 1) text += ` ${left} attempts left.`;
    } else if (body.code === 'verification.too_many_attempts') {
      text = `Too many wrong codes or passwords.${retryAfterText(response)}`;
    } else {
      text = describeError(response, body);
    }
    say(this.#message, text, 'error');
    // One failure budget for passwords and app codes: a lockout blocks both.
    this.#noteWait(TOTP_KEY, response);
    this.#noteWait(PASSWORD_KEY, response);
    if (!this.#submit.disabled) flagInvalid(this.#totp);
  }

  async #sendCode(): Promise<void> {
    const method = this.#method();
    const session = this.#session;
    if ((method !== 'email' && method !== 'phone') || session === null || this.#waits.secondsLeft(sendKey(method)) > 0) return;
    const value = session.request.account[method];
    if (!value) return;
    const identifier = { type: method, value };
    say(this.#message, method === 'email' ? 'Sending the code by email…' : 'Sending the code by text message…');
    const response = await this.#post('/verification-code', { identifier, ...this.#binding() });
    const body = await readBody(response);
    // The 201 tells when the next send is allowed (the resend cooldown), a 429 how long to wait.
    this.#noteWait(sendKey(method), response);
    if (!(response.status === 201 && isRecordAnswer(body))) {
      say(this.#message, describeError(response, body), 'error');
      return;
    }
    this.#pending = { method, identifier, verificationId: body.verificationRecordId };
    this.#code.value = '';
    this.#showMethod();
    const until = timeOf(body.expiresAt);
    const action = session.request.action;
    const check = action === null ? '' : ` Check that the message names this ${action.type}.`;
    this.#codeHint.textContent = `We sent a 6-digit code to ${value}${until ? ` (valid until ${until})` : ''}.${check}`;
    say(this.#message, 'Code sent. Enter it below.', 'success');
    this.#code.focus();
    // On a small screen, the field and the resend countdown under it in view together.
    this.#codeEntry.scrollIntoView({ block: 'nearest' });
  }

  async #verifyCode(pending: PendingCode): Promise<void> {
    clearInvalid(this.#code);
    const code = typedCode(this.#code.value);
    if (!CODE_PATTERN.test(code)) {
      say(this.#message, 'Enter the 6-digit code (digits only; spaces and dashes are fine).', 'error');
      flagInvalid(this.#code);
      return;
    }
    say(this.#message, 'Checking the code…');
    // No action here: the code was bound to it when it was sent.
    const response = await this.#post('/verification-code/verify', {
      identifier: pending.identifier,
      verificationId: pending.verificationId,
      code,
    });
    const body = await readBody(response);
    if (response.ok && isRecordAnswer(body)) {
      this.#finish({ id: body.verificationRecordId, expiresAt: Date.parse(body.expiresAt) });
      return;
    }
    const deadCode = body.code === 'verification_code.exceed_max_try' || body.code === 'verification_record.not_found';
    if (deadCode) {
      // That code can never work now: back to "Send code", keeping the explanation on screen.
      this.#pending = null;
      this.#showMethod();
      say(this.#message, describeError(response, body), 'error');
      if (!this.#submit.disabled) this.#submit.focus();
      return;
    }
    this.#noteWait(verifyKey(pending.method), response);
    say(this.#message, describeError(response, body), 'error');
    flagInvalid(this.#code);
    this.#code.select();
  }

  #finish(record: VerifiedRecord): void {
    const session = this.#session;
    if (session === null) return;
    session.settle(record);
    this.#dialog.close('verified');
  }

  /** The dialog closed, however: settle (null if not verified yet), stop requests, give focus back. */
  #end(): void {
    const session = this.#session;
    if (session === null) return;
    this.#session = null;
    this.#pending = null;
    this.#password.value = '';
    this.#code.value = '';
    this.#totp.value = '';
    session.abort.abort();
    cancelPasskeyCeremony();
    session.settle(null); // no-op when #finish settled it already
    const trigger = session.request.trigger;
    if (trigger?.isConnected) trigger.focus();
  }
}
