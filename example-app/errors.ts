import type { Response } from 'express';

/**
 * The example app's own error codes (its sign-in and account routes are the app's, not the
 * library's), with their statuses, in one table like the library's ERROR_STATUS. Every other
 * error the app answers is one of the library's codes. Listed in the README ("Example app").
 */
export const APP_ERROR_STATUS = {
  'auth.invalid_credentials': 401,
  'auth.too_many_attempts': 429,
  'account.not_found': 404,
  'account.email_taken': 409,
} as const;

export type AppErrorCode = keyof typeof APP_ERROR_STATUS;

const MESSAGES: Record<AppErrorCode, string> = {
  'auth.invalid_credentials': 'Wrong email or password.',
  'auth.too_many_attempts': 'Too many failed sign-ins. Try again later.',
  'account.not_found': 'No such account.',
  'account.email_taken': 'That email belongs to another account.',
};

/** Answers one of the app's own errors as the contract's JSON. */
export function sendAppError(res: Response, code: AppErrorCode): void {
  res.status(APP_ERROR_STATUS[code]).json({ code, message: MESSAGES[code] });
}
