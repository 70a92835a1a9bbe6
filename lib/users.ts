/** What the library needs to know about a user; supplied by the app. */
export interface StepUpUser {
  readonly id: string;
  /** bcrypt hash of the user's password; null or absent when the user has none. */
  readonly passwordHash?: string | null | undefined;
  /** The user's current email (codes sent there prove identity). */
  readonly email?: string | null | undefined;
  /** The user's current phone number (codes sent there prove identity). */
  readonly phone?: string | null | undefined;
}

/** The app's user lookup. */
export interface UserLookup {
  findById(userId: string): Promise<StepUpUser | null | undefined> | StepUpUser | null | undefined;
}
