import type { z } from 'zod';
import { VerificationError } from '../errors';

/**
 * Validates a parsed JSON body against a zod schema. A failure is a 400
 * `request.invalid_input` naming the first offending field; the submitted value
 * is never echoed (it may be a password or a code).
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : 'body';
  const missing = issue?.code === 'invalid_type' && valueAt(body, issue.path) === undefined;
  throw new VerificationError('request.invalid_input', {
    message: `Invalid field "${field}": ${missing ? 'required' : describe(issue)}`,
    details: { field },
  });
}

/**
 * For endpoints that take no body: nothing, or an empty JSON object (what some clients always
 * send), passes; anything else is 400 `request.invalid_input` rather than silently ignored.
 */
export function parseNoBody(body: unknown): void {
  const empty = body === undefined || (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0);
  if (!empty) throw new VerificationError('request.invalid_input', { message: 'This endpoint takes no body.', details: { field: 'body' } });
}

/** The submitted value at a path (zod 4 issues do not carry it), only to tell "missing" from "wrong type". */
function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let value = body;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describe(issue: z.core.$ZodIssue | undefined): string {
  switch (issue?.code) {
    case 'invalid_type':
      return `expected ${issue.expected}`;
    case 'too_big':
      return 'too long';
    case 'too_small':
      return 'too short';
    case 'invalid_value':
      return 'not one of the allowed values';
    case 'unrecognized_keys':
      return 'unknown field';
    default:
      return issue?.message ?? 'invalid';
  }
}
