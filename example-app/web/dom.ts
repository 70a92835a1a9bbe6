/**
 * Small DOM helpers for the demo page. Everything the server says is written
 * with textContent (never innerHTML), so a message can never become markup.
 */

/** The element with this id, checked against the expected type (a missing element is a page bug). */
export function byId<T extends HTMLElement>(id: string, type: { new (): T; prototype: T }): T {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`page element #${id} is missing or of the wrong kind`);
  return node;
}

export type MessageKind = 'info' | 'success' | 'warning' | 'error';

/** Writes a message into a live region; the class only styles it, the region's role announces it. */
export function say(region: HTMLElement, text: string, kind: MessageKind = 'info'): void {
  region.textContent = text;
  region.classList.remove('is-info', 'is-success', 'is-warning', 'is-error');
  if (text !== '') region.classList.add(`is-${kind}`);
}

/** An element with text content and optional classes. */
export function node<K extends keyof HTMLElementTagNameMap>(tag: K, text = '', ...classes: string[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (text !== '') element.textContent = text;
  if (classes.length > 0) element.classList.add(...classes);
  return element;
}

/** Marks a field invalid (for assistive technology and styling) and moves focus to it. */
export function flagInvalid(field: HTMLInputElement | HTMLSelectElement): void {
  field.setAttribute('aria-invalid', 'true');
  field.focus();
}

export function clearInvalid(...fields: Array<HTMLInputElement | HTMLSelectElement>): void {
  for (const field of fields) field.removeAttribute('aria-invalid');
}

/** "$125.50", "€4,210.55": amounts as people read them. */
export function money(amount: number, currency: string): string {
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency}`;
  }
}
