import { describeAction } from '../action';
import { rejectUnknownOptions } from '../config-error';
import type { CodeMessage, Sender } from './sender';

/** Options of {@link consoleSender}. */
export interface ConsoleSenderOptions {
  /** Where lines go. Default `console.log`. */
  readonly write?: (line: string) => void;
}

/**
 * A development {@link Sender} that delivers nothing and prints each message
 * instead, code included — the one place in the library where a code is
 * printed, which is why createStepUp() warns (WARN_STEP_UP_CONSOLE_SENDER)
 * that it is not for production.
 */
export function consoleSender(options: ConsoleSenderOptions = {}): Sender {
  rejectUnknownOptions('consoleSender()', options, ['write']);
  const write = options.write ?? ((line: string) => console.log(line));
  return {
    ...consoleSenderMark(),
    async send(message: CodeMessage): Promise<void> {
      const kind = message.channel === 'email' ? 'email' : 'SMS';
      const approves = message.action !== undefined ? ` to approve ${describeAction(message.action)}` : '';
      write(
        `[express-step-up] ${kind} to ${message.to}: verification code ${message.code}${approves} ` +
          `(expires ${message.expiresAt.toISOString()})`,
      );
    },
  };
}

/** Marks a console sender, so createStepUp() can warn (WARN_STEP_UP_CONSOLE_SENDER) through `onWarning`. */
const CONSOLE_SENDER = Symbol.for('express-step-up.console-sender');

/** The mark of a sender that prints codes (also set on a senderByChannel with a console channel). */
export function consoleSenderMark(): { readonly [CONSOLE_SENDER]: true } {
  return { [CONSOLE_SENDER]: true };
}

/** Whether a sender prints codes rather than delivering them (directly, or as one channel of senderByChannel). */
export function isConsoleSender(sender: Sender): boolean {
  return (sender as Partial<Record<typeof CONSOLE_SENDER, boolean>>)[CONSOLE_SENDER] === true;
}
