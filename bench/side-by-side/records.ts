import { randomBytes } from 'node:crypto';
import type { VerifiedRecord } from '../../lib/index';
import { BENCH_USER } from './keys';

/**
 * How long the bench's records live and count as fresh (the guard rows' `maxAge`, the peer's sudo
 * window, the floor's key): an hour, longer than a whole `npm run bench`, which measures the same
 * servers for over ten minutes. What a check costs does not depend on it.
 */
export const BENCH_RECORD_SECONDS = 3600;

/**
 * A verified password record of the bench user, valid for an hour, as the library writes one after
 * a password check. Built here (not with lib's helpers) so that a server child loads no lib source:
 * the guard children run the compiled build only. The id is what newRecordId() makes: 24 random
 * bytes, base64url.
 */
export function benchRecord(): VerifiedRecord {
  const now = Date.now();
  return {
    id: randomBytes(24).toString('base64url'),
    userId: BENCH_USER,
    method: 'password',
    purpose: 'identity',
    status: 'verified',
    createdAt: now,
    verifiedAt: now,
    expiresAt: now + BENCH_RECORD_SECONDS * 1000,
  };
}
