import type { IncomingHttpHeaders } from 'node:http';
import bodyParser from 'body-parser';
import type { RequestHandler } from 'express';
import { VerificationError } from '../errors';

const JSON_TYPES = ['application/json', 'application/*+json'];

function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/**
 * What went wrong reading the body, as the contract's error. Only body-parser's own errors come
 * here (not the app's), so its generic `status`/`expose` can be trusted to mean "a bad body".
 */
function bodyError(error: unknown): VerificationError {
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  if (type === 'entity.too.large' || status === 413) return new VerificationError('request.too_large');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported' || status === 415) {
    return new VerificationError('request.unsupported_media_type', {
      message: 'The request body must be UTF-8 JSON, uncompressed or gzip/deflate/br.',
    });
  }
  if (type === 'request.aborted' || type === 'request.size.invalid') {
    return new VerificationError('request.invalid_input', { message: 'The request body was incomplete.', details: { field: 'body' } });
  }
  // entity.parse.failed, and a compressed body that does not decompress.
  return new VerificationError('request.invalid_json', { message: 'The request body could not be read as JSON.' });
}

/**
 * Parses JSON bodies up to `limit` and refuses any other body with 415, so that a
 * form post or text body never reaches a handler half-parsed. A bad body is passed on as
 * 400 `request.invalid_json`, 413 `request.too_large` or 415 (answered by the error handler).
 * Use it for the app's own routes too, so they answer like the router.
 */
export function jsonBody(limit: string | number): RequestHandler[] {
  // body-parser 2 itself, not `express.json()`: Express 4 ships body-parser 1, which refuses br bodies
  // (415) and differs in details, so the app's Express major would change the answers.
  const parseJson = bodyParser.json({ limit, strict: true, type: JSON_TYPES });
  const parse: RequestHandler = (req, res, next) => {
    parseJson(req, res, (error?: unknown) => next(error === undefined ? undefined : bodyError(error)));
  };
  const requireJson: RequestHandler = (req, _res, next) => {
    if (hasBody(req.headers) && !req.is(JSON_TYPES)) {
      next(new VerificationError('request.unsupported_media_type'));
      return;
    }
    next();
  };
  return [requireJson, parse];
}
