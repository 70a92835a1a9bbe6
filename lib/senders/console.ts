import type { CodeMessage, Sender } from './sender';

/** Options of {@link consoleSender}. */
export interface ConsoleSenderOptions {
  /** Where lines go. Default `console.log`. */
  readonly write?: (line: string) => void;
}

/**
 * A development {@link Sender} that delivers nothing and prints each message
 * instead, code included — the one place in the library where a code is
 * printed, which is why it warns once, when constructed, that it is not for
 * production.
 */
export function consoleSender(options: ConsoleSenderOptions = {}): Sender {
  const write = options.write ?? ((line: string) => console.log(line));
  write(
    '[express-step-up] WARNING: consoleSender prints one-time codes instead of delivering them. ' +
      'It is for development only; never use it in production.',
  );
  return {
    async send(message: CodeMessage): Promise<void> {
      const kind = message.channel === 'email' ? 'email' : 'SMS';
      write(
        `[express-step-up] ${kind} to ${message.to}: verification code ${message.code} ` +
          `(expires ${message.expiresAt.toISOString()})`,
      );
    },
  };
}
