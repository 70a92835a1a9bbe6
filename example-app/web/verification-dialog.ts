/**
 * The "Confirm it's you" dialog: runs one step-up verification through the
 * router's endpoints and hands back the verified record, or null when the user
 * cancels (Cancel button or Escape).
 *
 * A native modal <dialog> gives the focus trap, Escape and the inert page for
 * free; this module adds what the platform does not: focus on the right field
 * when it opens, focus back on the button that started the action when it
 * closes, and messages in a live region inside the dialog (the page's own
 * regions are inert while it is open, so they would not be announced).
 */
import type { VerificationMethod } from '../../lib/records';
import { apiFetch, describeError, isRecordAnswer, readBody, type Account, type Channel, type DemoInfo } from './api';
import { byId, clearInvalid, flagInvalid, say } from './dom';

export interface VerifyRequest {
  /** The methods to offer: the route's `requirement.methods` that this account can use, in that order. */
  readonly methods: readonly VerificationMethod[];
  readonly account: Account;
  /** One sentence saying why the check is needed, e.g. "To make a payout, confirm it's you." */
  readonly reason: string;
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

const CODE_PATTERN = /^\d{6}$/;
const BASE = '/api/verifications';

function timeOf(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? '' : at.toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit' });
}

export class VerificationDialog {
  readonly #dialog = byId('verify-dialog', HTMLDialogElement);
  readonly #form = byId('verify-form', HTMLFormElement);
  readonly #reason = byId('verify-reason', HTMLParagraphElement);
  readonly #options: Readonly<Record<VerificationMethod, HTMLLabelElement>> = {
    password: byId('verify-option-password', HTMLLabelElement),
    email: byId('verify-option-email', HTMLLabelElement),
    phone: byId('verify-option-phone', HTMLLabelElement),
  };
  readonly #emailDetail = byId('verify-email-detail', HTMLSpanElement);
  readonly #phoneDetail = byId('verify-phone-detail', HTMLSpanElement);
  readonly #passwordPanel = byId('verify-password-panel', HTMLDivElement);
  readonly #password = byId('verify-password', HTMLInputElement);
  readonly #codePanel = byId('verify-code-panel', HTMLDivElement);
  readonly #codeHint = byId('verify-code-hint', HTMLParagraphElement);
  readonly #codeEntry = byId('verify-code-entry', HTMLDivElement);
  readonly #code = byId('verify-code', HTMLInputElement);
  readonly #resend = byId('verify-resend', HTMLButtonElement);
  readonly #devNote = byId('verify-dev-note', HTMLParagraphElement);
  readonly #message = byId('verify-message', HTMLParagraphElement);
  readonly #submit = byId('verify-submit', HTMLButtonElement);

  /** The open session: how to settle it, and a signal that aborts its requests when it ends. */
  #session: { request: VerifyRequest; settle: (record: VerifiedRecord | null) => void; abort: AbortController } | null = null;
  #pending: PendingCode | null = null;
  #busy = false;

  constructor() {
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#guarded(() => this.#submitStep());
    });
    this.#form.addEventListener('change', (event) => {
      if (event.target instanceof HTMLInputElement && event.target.name === 'method') this.#showMethod();
    });
    this.#resend.addEventListener('click', () => void this.#guarded(() => this.#sendCode()));
    byId('verify-cancel', HTMLButtonElement).addEventListener('click', () => this.#dialog.close('cancel'));
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

  #reset(request: VerifyRequest): void {
    this.#reason.textContent = request.reason;
    this.#emailDetail.textContent = request.account.email;
    this.#phoneDetail.textContent = request.account.phone ?? '';
    let first = true;
    for (const method of ['password', 'email', 'phone'] as const) {
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
    this.#password.value = '';
    this.#code.value = '';
    this.#pending = null;
    this.#busy = false;
    this.#showMethod();
  }

  #method(): VerificationMethod {
    const checked = this.#form.querySelector<HTMLInputElement>('input[name="method"]:checked');
    const value = checked?.value;
    return value === 'email' || value === 'phone' ? value : 'password';
  }

  /** Shows the panel of the chosen method, in the state that method is in. */
  #showMethod(): void {
    const method = this.#method();
    say(this.#message, '');
    clearInvalid(this.#password, this.#code);
    this.#passwordPanel.hidden = method !== 'password';
    this.#codePanel.hidden = method === 'password';
    if (method === 'password') {
      this.#devNote.hidden = true;
      this.#submit.textContent = 'Verify';
      return;
    }
    const pending = this.#pending?.method === method ? this.#pending : null;
    const destination = method === 'email' ? 'email' : 'phone';
    const to = this.#session?.request.account[destination] ?? '';
    this.#codeEntry.hidden = pending === null;
    this.#devNote.hidden = pending === null || this.#session?.request.delivery[method] !== 'console';
    if (pending === null) {
      this.#codeHint.textContent = `We will send a 6-digit code to ${to}.`;
      this.#submit.textContent = 'Send code';
    } else {
      this.#submit.textContent = 'Verify';
    }
  }

  #focusFirstStep(): void {
    if (this.#method() === 'password') this.#password.focus();
    else this.#submit.focus();
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
    const method = this.#method();
    if (method === 'password') return this.#verifyPassword();
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

  async #verifyPassword(): Promise<void> {
    clearInvalid(this.#password);
    if (this.#password.value === '') {
      say(this.#message, 'Enter your password.', 'error');
      flagInvalid(this.#password);
      return;
    }
    say(this.#message, 'Checking your password…');
    const response = await this.#post('/password/verify', { password: this.#password.value });
    const body = await readBody(response);
    if (response.ok && isRecordAnswer(body)) {
      this.#finish({ id: body.verificationRecordId, expiresAt: Date.parse(body.expiresAt) });
      return;
    }
    this.#password.value = '';
    say(this.#message, describeError(response, body), 'error');
    flagInvalid(this.#password);
  }

  async #sendCode(): Promise<void> {
    const method = this.#method();
    const session = this.#session;
    if (method === 'password' || session === null) return;
    const value = session.request.account[method];
    if (!value) return;
    const identifier = { type: method, value };
    say(this.#message, method === 'email' ? 'Sending the code by email…' : 'Sending the code by text message…');
    const response = await this.#post('/verification-code', { identifier });
    const body = await readBody(response);
    if (!(response.status === 201 && isRecordAnswer(body))) {
      say(this.#message, describeError(response, body), 'error');
      return;
    }
    this.#pending = { method, identifier, verificationId: body.verificationRecordId };
    this.#code.value = '';
    this.#showMethod();
    const until = timeOf(body.expiresAt);
    this.#codeHint.textContent = `We sent a 6-digit code to ${value}.${until ? ` It works until ${until}.` : ''}`;
    say(this.#message, 'Code sent. Enter it below.', 'success');
    this.#code.focus();
  }

  async #verifyCode(pending: PendingCode): Promise<void> {
    clearInvalid(this.#code);
    const code = this.#code.value.replace(/\s+/g, '');
    if (!CODE_PATTERN.test(code)) {
      say(this.#message, 'Enter the 6-digit code.', 'error');
      flagInvalid(this.#code);
      return;
    }
    say(this.#message, 'Checking the code…');
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
      this.#submit.focus();
      return;
    }
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
    session.abort.abort();
    session.settle(null); // no-op when #finish settled it already
    const trigger = session.request.trigger;
    if (trigger?.isConnected) trigger.focus();
  }
}
