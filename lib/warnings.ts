/**
 * Warnings about a setup that works but is probably not what was meant (a proxy without
 * `trust proxy`, a console sender, a random secret). Each has a stable code and goes to one
 * `onWarning` option; by default each code is printed once with console.warn.
 */
export const WARNING_CODES = {
  /** `X-Forwarded-For` arrived while `trust proxy` is off: every client shares the proxy's per-IP limit. */
  WARN_STEP_UP_XFF_WITHOUT_TRUST_PROXY: 'X-Forwarded-For without trust proxy',
  /** `trust proxy` is `true`: any client can choose its IP for the per-IP limit. */
  WARN_STEP_UP_PERMISSIVE_TRUST_PROXY: 'trust proxy is true',
  /** The console sender prints codes instead of delivering them. */
  WARN_STEP_UP_CONSOLE_SENDER: 'console sender',
  /** No `secret`: a random one is used, so codes and records die with the process. */
  WARN_STEP_UP_RANDOM_SECRET: 'random secret',
} as const;

export type WarningCode = keyof typeof WARNING_CODES;

export interface StepUpWarning {
  readonly code: WarningCode;
  readonly message: string;
}

/** The default listener: console.warn, once per code. */
export function defaultWarningListener(): (warning: StepUpWarning) => void {
  const seen = new Set<WarningCode>();
  return (warning) => {
    if (seen.has(warning.code)) return;
    seen.add(warning.code);
    console.warn(`[express-step-up] ${warning.code}: ${warning.message}`);
  };
}

/** Delivers warnings to the app's listener; a listener that throws does not break the app. */
export class Warnings {
  readonly #listener: (warning: StepUpWarning) => void;
  readonly #sent = new Set<WarningCode>();

  constructor(listener: ((warning: StepUpWarning) => void) | undefined) {
    this.#listener = listener ?? defaultWarningListener();
  }

  /** Whether this code was already reported by this instance (per-request checks stop once it was). */
  has(code: WarningCode): boolean {
    return this.#sent.has(code);
  }

  /** Reports a warning once per code and instance. */
  warn(code: WarningCode, message: string): void {
    if (this.#sent.has(code)) return;
    this.#sent.add(code);
    try {
      this.#listener({ code, message });
    } catch {
      // A failing warning listener must not change how requests are answered.
    }
  }
}
