import { createHmac } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { slowDown } from 'express-slow-down';
import type { Counters } from '../lib/index';
import { sendAppError } from './errors';

const WINDOW_MS = 15 * 60 * 1000;

/**
 * Failed sign-ins, limited so that nobody can lock a stranger out of their own account:
 * - the lockout (429) counts failures per email *and* client IP: 10 wrong passwords from one
 *   address lock that address out of that account, not the owner at home;
 * - per email from everywhere, failures only slow answers down (from the 10th, +500 ms each, up
 *   to 5 s), which makes a distributed guesser slow without locking anyone out;
 * - per IP, 100 failures across all emails (a guesser trying many accounts).
 * Counters live in the library's store (shared by instances sharing a Redis). Keys hold only
 * keyed hashes of emails (a plain hash of an email is reversed with a dictionary). Counts shared
 * by everyone (per email) send no RateLimit headers.
 */
export function signInLimits(counters: Counters, secret: string): RequestHandler[] {
  const emailKey = (req: Request) => {
    const email = (req.body as { email?: unknown } | undefined)?.email;
    const normalised = typeof email === 'string' ? email.trim().toLowerCase() : '';
    return createHmac('sha256', secret).update('sign-in\0').update(normalised).digest('base64url').slice(0, 22);
  };
  const ip = (req: Request) => ipKeyGenerator(req.ip ?? 'unknown');
  const refuse: RequestHandler = (_req, res) => sendAppError(res, 'auth.too_many_attempts');
  return [
    rateLimit({
      windowMs: WINDOW_MS,
      limit: 100,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      skipSuccessfulRequests: true,
      store: counters('sign_in_ip'),
      keyGenerator: ip,
      handler: refuse,
    }),
    rateLimit({
      windowMs: WINDOW_MS,
      limit: 10,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      skipSuccessfulRequests: true,
      store: counters('sign_in_email_ip'),
      keyGenerator: (req) => `${emailKey(req)}:${ip(req)}`,
      handler: refuse,
    }),
    slowDown({
      windowMs: WINDOW_MS,
      delayAfter: 10,
      delayMs: (used) => (used - 10) * 500,
      maxDelayMs: 5000,
      skipSuccessfulRequests: true,
      store: counters('sign_in_email'),
      keyGenerator: emailKey,
      // No headers (express-slow-down's default, kept): this count is everyone's failures on this
      // email, not the caller's own.
      standardHeaders: false,
      legacyHeaders: false,
    }),
  ];
}
