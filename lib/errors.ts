import type { ErrorRequestHandler, Response } from 'express';
import { StoreUnavailableError } from './stores/store';

/** Every stable error code the library answers with, and its HTTP status. */
export const ERROR_STATUS = {
  'auth.unauthorized': 401,
  'auth.unavailable': 503,
  'request.invalid_json': 400,
  'request.invalid_input': 400,
  'request.too_large': 413,
  'request.unsupported_media_type': 415,
  'request.rate_limited': 429,
  'request.not_found': 404,
  'request.method_not_allowed': 405,
  'verification.invalid_credentials': 422,
  'verification.too_many_attempts': 429,
  'verification.required': 403,
  'verification.invalid': 403,
  'verification.insufficient': 403,
  'verification.no_available_method': 403,
  'verification.unavailable': 503,
  'verification.new_identifier_unverified': 403,
  'verification_record.not_found': 404,
  'verification_code.rate_limited': 429,
  'verification_code.delivery_failed': 502,
  'verification_code.identifier_not_allowed': 422,
  'verification_code.identifier_mismatch': 422,
  'verification_code.code_mismatch': 422,
  'verification_code.exceed_max_try': 429,
  'server.internal_error': 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

const DEFAULT_MESSAGES: Record<ErrorCode, string> = {
  'auth.unauthorized': 'A valid access token is required.',
  'auth.unavailable': 'The access token cannot be checked right now. Try again shortly.',
  'request.invalid_json': 'The request body is not valid JSON.',
  'request.invalid_input': 'The request body is not valid.',
  'request.too_large': 'The request body is too large.',
  'request.unsupported_media_type': 'The request body must be application/json.',
  'request.rate_limited': 'Too many requests. Try again later.',
  'request.not_found': 'No such endpoint.',
  'request.method_not_allowed': 'This endpoint does not answer this method.',
  'verification.invalid_credentials': 'The password is not correct.',
  'verification.too_many_attempts': 'Too many failed attempts. Try again later.',
  'verification.required': 'This action needs a fresh security verification.',
  'verification.invalid': 'The security verification is not valid. Verify again.',
  'verification.insufficient': 'This action needs a different or more recent security verification.',
  'verification.no_available_method':
    'This action needs a security verification by a method this account does not have. Sign in again or add one.',
  'verification.unavailable': 'Security verification is temporarily unavailable. Try again shortly.',
  'verification.new_identifier_unverified':
    'The new identifier has not been verified by this user. Send a code to it and verify it first.',
  'verification_record.not_found': 'The verification was not found or has expired.',
  'verification_code.rate_limited': 'Too many codes requested. Wait before requesting another.',
  'verification_code.delivery_failed': 'The code could not be sent. Try again later.',
  'verification_code.identifier_not_allowed': 'Codes cannot be sent to this destination.',
  'verification_code.identifier_mismatch': 'The code was not sent to this identifier.',
  'verification_code.code_mismatch': 'The code is not correct.',
  'verification_code.exceed_max_try': 'Too many wrong codes. Request a new code.',
  'server.internal_error': 'Something went wrong.',
};

/** Extra JSON fields of an error answer. Never put a secret here: they are sent to the client. */
export type ErrorDetails = Record<string, unknown>;

export interface VerificationErrorOptions {
  /** Human text safe to show; default: the code's standard message. */
  readonly message?: string;
  /** Extra JSON fields of the answer. */
  readonly details?: ErrorDetails;
  /** Extra response headers, e.g. `WWW-Authenticate`. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Another HTTP status than the code's own: only the guard's refusals as RFC 9470 challenges
   * (401 instead of 403) use it; the code, and so the JSON body, stays the same.
   */
  readonly status?: 401;
}

/** The one error type of the library: a stable code, its HTTP status, a message safe to show. */
export class VerificationError extends Error {
  override readonly name = 'VerificationError';
  readonly status: number;
  readonly details: ErrorDetails;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly code: ErrorCode,
    options: VerificationErrorOptions = {},
  ) {
    super(options.message ?? DEFAULT_MESSAGES[code]);
    this.status = options.status ?? ERROR_STATUS[code];
    this.details = options.details ?? {};
    this.headers = options.headers ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { ...this.details, code: this.code, message: this.message };
  }
}

/** Writes an error answer as the contract's JSON. */
export function sendError(res: Response, error: VerificationError): void {
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.status(error.status).type('application/json').send(JSON.stringify(error.toJSON()));
}

/** Maps anything thrown to a VerificationError, without ever exposing the original message or stack. */
export function toVerificationError(error: unknown): VerificationError {
  if (error instanceof VerificationError) return error;
  if (error instanceof StoreUnavailableError) return new VerificationError('verification.unavailable');
  return new VerificationError('server.internal_error');
}

/**
 * Answers anything thrown as the contract's JSON. Unexpected errors go to
 * `onUnexpected` (the app's logs) and are answered as a bare 500.
 */
export function respondWithError(res: Response, caught: unknown, onUnexpected?: (error: unknown) => void): void {
  const error = toVerificationError(caught);
  if (error.code === 'server.internal_error') onUnexpected?.(caught);
  sendError(res, error);
}

/** The JSON error handler of the router (usable by the app too). */
export function jsonErrorHandler(onUnexpected?: (error: unknown) => void): ErrorRequestHandler {
  return (error, _req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    respondWithError(res, error, onUnexpected);
  };
}
