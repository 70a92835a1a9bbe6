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
  throw new VerificationError('request.invalid_input', `Invalid field "${field}": ${describe(issue)}`, { field });
}

function describe(issue: z.core.$ZodIssue | undefined): string {
  switch (issue?.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'required' : `expected ${issue.expected}`;
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
