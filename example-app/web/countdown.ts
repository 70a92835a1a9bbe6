/**
 * A button that is disabled while a wait runs, with a visible countdown beside
 * it. What the button stands for can change (the dialog's submit button sends
 * a code or checks a password), so it shows the wait of its current key.
 *
 * Screen readers: the ticking text is a `role="timer"` (not announced on every
 * tick, which would drown everything else); the start of a wait is announced
 * by the caller's error message in a live region, and its end here, through
 * `announce` (a polite live region), e.g. "You can send a new code now."
 */
import { clock, type Waits } from './waits';

export interface ButtonCountdownOptions {
  readonly waits: Waits;
  readonly button: HTMLButtonElement;
  /** Where the countdown text goes: the caller places this element (it is created here). */
  readonly place: (timer: HTMLElement) => void;
  /** The countdown sentence for a key, e.g. "You can send a new code in 0:58." */
  readonly text: (key: string, clockText: string) => string;
  /** Said once when the wait of the shown key ends. */
  readonly ended: (key: string) => string;
  readonly announce: (text: string) => void;
  /** Where focus goes when the button is disabled while focused (default: the countdown itself). */
  readonly focusInstead?: () => HTMLElement | null;
}

export class ButtonCountdown {
  readonly #options: ButtonCountdownOptions;
  readonly #timer: HTMLParagraphElement;
  #key: string | null = null;
  /** The key whose wait is on screen, if any. */
  #showing: string | null = null;

  constructor(options: ButtonCountdownOptions) {
    this.#options = options;
    this.#timer = document.createElement('p');
    this.#timer.className = 'countdown';
    this.#timer.setAttribute('role', 'timer');
    this.#timer.tabIndex = -1; // focus lands here when the focused button is disabled
    this.#timer.hidden = true;
    options.place(this.#timer);
    options.waits.subscribe(() => this.render());
  }

  /** What the button stands for now (null: nothing to wait for). */
  set key(key: string | null) {
    this.#key = key;
    this.#showing = null; // another key: its end is not news
    this.render();
  }

  get waiting(): boolean {
    return this.#options.waits.secondsLeft(this.#key) > 0;
  }

  render(): void {
    const { waits, button } = this.#options;
    const left = waits.secondsLeft(this.#key);
    if (left > 0 && this.#key !== null) {
      this.#timer.textContent = this.#options.text(this.#key, clock(left));
      this.#timer.hidden = false;
      if (!button.disabled) {
        const hadFocus = document.activeElement === button;
        button.disabled = true;
        if (hadFocus) {
          this.#options.focusInstead?.()?.focus();
          if (document.activeElement === button || document.activeElement === document.body) this.#timer.focus();
        }
      }
      this.#showing = this.#key;
      return;
    }
    this.#timer.hidden = true;
    this.#timer.textContent = '';
    button.disabled = false;
    if (this.#showing !== null && this.#showing === this.#key) this.#options.announce(this.#options.ended(this.#showing));
    this.#showing = null;
  }
}
