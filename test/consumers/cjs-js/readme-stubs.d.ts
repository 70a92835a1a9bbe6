// What the README's snippets take from the reader's own app (the readme/ folder beside this file holds
// the snippets, written there from README.md by ../run.ts), declared here so that they compile as written.
import type { Express } from 'express';
import type { StepUp, StepUpUser } from 'express-step-up';

declare global {
  /** "With Redis, real senders and several instances": the app's database and logger. */
  const db: { users: { find(id: string): Promise<StepUpUser | null> } };
  const logger: { info(value: unknown): void; warn(value: unknown): void };
  /** "In the browser": the app's dialog; resolves to a verification record id, or null when the user cancels. */
  function openVerificationDialog(methods: readonly string[]): Promise<string | null>;
  /** "requireNewIdentifier": the app, its step-up and its user store. */
  const app: Express;
  const stepUp: StepUp;
  const users: { setEmail(userId: string, email: string): void };
}
