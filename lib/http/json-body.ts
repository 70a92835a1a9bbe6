import type { IncomingHttpHeaders } from 'node:http';
import express, { type RequestHandler } from 'express';
import { VerificationError } from '../errors';

const JSON_TYPES = ['application/json', 'application/*+json'];

function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/**
 * Parses JSON bodies up to `limit` and refuses any other body with 415, so that a
 * form post or text body never reaches a handler half-parsed. Parse errors become
 * 400 `request.invalid_json` and oversize bodies 413 `request.too_large` (in the error handler).
 */
export function jsonBody(limit: string | number): RequestHandler[] {
  const parse = express.json({ limit, strict: true, type: JSON_TYPES });
  const requireJson: RequestHandler = (req, _res, next) => {
    if (hasBody(req.headers) && !req.is(JSON_TYPES)) {
      next(new VerificationError('request.unsupported_media_type'));
      return;
    }
    next();
  };
  return [requireJson, parse];
}
