/**
 * What a verification approves (PSD2 dynamic linking): the action a guard puts
 * in `requirement.action`, read defensively and put in words for the dialog.
 */
import type { Action } from '../../lib/action';

export type { Action };

/**
 * The action of a refusal, or null when there is none. Anything that is not an
 * action as the contract defines it (a type, then string or finite number
 * fields) is not shown or sent: the dialog would not know what it approves.
 */
export function actionOf(value: unknown): Action | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const fields = value as Record<string, unknown>;
  if (typeof fields.type !== 'string' || fields.type === '') return null;
  for (const field of Object.values(fields)) {
    if (typeof field !== 'string' && !(typeof field === 'number' && Number.isFinite(field))) return null;
  }
  return fields as Action;
}

/** Two actions are the same approval when they have the same fields with the same values. */
export function sameAction(a: Action, b: Action): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

/**
 * "Approve transfer of 250.00 EUR to NL91ABNA0417164300", or for an action the
 * page has no sentence for, its type and fields: "Approve export: format csv, rows 120".
 */
export function approvalText(action: Action): string {
  const { type, amount, currency, payee } = action;
  if (type === 'transfer' && amount !== undefined && currency !== undefined && payee !== undefined) {
    return `Approve transfer of ${String(amount)} ${String(currency)} to ${String(payee)}`;
  }
  const fields = Object.keys(action)
    .filter((key) => key !== 'type')
    .sort()
    .map((key) => `${key} ${String(action[key])}`);
  return fields.length > 0 ? `Approve ${type}: ${fields.join(', ')}` : `Approve ${type}`;
}
