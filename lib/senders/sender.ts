import type { Action } from '../action';

/** One message carrying a one-time code. */
export interface CodeMessage {
  readonly channel: 'email' | 'phone';
  /** Normalised destination: an email address or an E.164 phone number. */
  readonly to: string;
  readonly code: string;
  readonly expiresAt: Date;
  readonly locale?: string;
  /** What the code approves, when the client bound it to an action; the message should say so (see describeAction). */
  readonly action?: Action;
}

/**
 * Delivers one message. Resolves once the provider accepted it; rejects (with
 * any error) when it refused, failed or timed out. Must never log the code.
 */
export interface Sender {
  send(message: CodeMessage): Promise<void>;
}
