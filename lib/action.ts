import { keyedRef } from './keyed-ref';
import { z } from 'zod';
import { VerificationError } from './errors';

/**
 * What a verification approves (PSD2 RTS art. 5, "dynamic linking"): a type and up to 16 fields,
 * e.g. `{ type: 'transfer', amount: '250.00', currency: 'EUR', payee: 'NL91ABNA0417164300' }`.
 */
export interface Action {
  readonly type: string;
  readonly [field: string]: string | number;
}

export const MAX_ACTION_FIELDS = 16;
const ACTION_TYPE = /^[a-z0-9_.-]{1,64}$/;
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

const fieldValue = z.union([z.string().max(256), z.number().refine(Number.isFinite, 'must be a finite number')]);

/** The wire shape of an action, as the verification endpoints and guards accept it. */
export const actionSchema = z
  .object({ type: z.string().regex(ACTION_TYPE, 'type is 1-64 characters of a-z 0-9 _ . -') })
  .catchall(fieldValue)
  .superRefine((action, ctx) => {
    const fields = Object.keys(action).filter((key) => key !== 'type');
    if (fields.length > MAX_ACTION_FIELDS) {
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_ACTION_FIELDS} fields besides type`, path: [] });
    }
    for (const name of fields) {
      if (!FIELD_NAME.test(name)) ctx.addIssue({ code: 'custom', message: 'field names are letters, digits and _', path: [name] });
    }
  })
  .meta({
    description:
      'What the verification approves (PSD2 dynamic linking): a type and up to 16 fields, each a string or a number. ' +
      'A record bound to an action satisfies only a guard asking for exactly that action.',
  });

/**
 * The canonical text of an action: a JSON object with its keys sorted, numbers as JSON writes them
 * (`250` and `250.0` are the same number; `"250.00"` is a string and stays as written). Two
 * actions are the same exactly when their canonical texts are.
 */
export function canonicalAction(action: Action): string {
  const sorted: Record<string, string | number> = {};
  for (const key of Object.keys(action).sort()) sorted[key] = action[key] as string | number;
  return JSON.stringify(sorted);
}

/**
 * What a record keeps of an action: an HMAC of its canonical text under the server secret, never
 * the action itself (an amount and a payee are personal data), 128 bits in base64url.
 */
export function actionRef(secret: Buffer, action: Action): string {
  return keyedRef(secret, 'action\0', canonicalAction(action));
}

/** What a record keeps of a session id: an HMAC under the server secret, 128 bits in base64url. */
export function sessionRef(secret: Buffer, sessionId: string): string {
  return keyedRef(secret, 'session\0', sessionId);
}

/** Control characters are dropped from action text shown in messages, so a field cannot break lines or fake a new one. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * The action in words for a code message, e.g.
 * `transfer: amount 250.00, currency EUR, payee NL91ABNA0417164300` (fields in canonical order).
 */
export function describeAction(action: Action): string {
  const fields = Object.keys(action)
    .filter((key) => key !== 'type')
    .sort()
    .map((key) => `${key} ${String(action[key]).replace(CONTROL, '')}`);
  return fields.length > 0 ? `${action.type}: ${fields.join(', ')}` : action.type;
}

/**
 * An action the app computed from a request (a guard's `action`, createVerification's), checked as
 * the endpoints check theirs: it usually comes from the request (an amount, a payee), so an invalid
 * one is the request's fault, 400 `request.invalid_input` with `field: 'action'`.
 */
export function checkedAction(value: unknown): Action {
  const parsed = actionSchema.safeParse(value);
  if (!parsed.success) {
    throw new VerificationError('request.invalid_input', { message: 'The request does not describe a valid action.', details: { field: 'action' } });
  }
  return parsed.data as Action;
}
