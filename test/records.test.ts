import { codeCheckPrecondition, guardVerdict, isRedeemable, type GuardCriteria } from '../lib/records';
import { identifierRef } from '../lib/identifiers';
import { pendingCodeRecord, SECRET, verifiedRecord } from './helpers/records';

/** The pure rules, without Express or a store. */
describe('record rules', () => {
  const now = 1_800_000_000_000;
  const criteria: GuardCriteria = { userId: 'usr_alice', methods: ['password', 'email'], maxAgeMs: 300_000, now };
  const fresh = verifiedRecord({ createdAt: now - 1000, verifiedAt: now - 1000, expiresAt: now + 60_000 });

  test('guardVerdict: ok, invalid, insufficient at their boundaries', () => {
    expect(guardVerdict(fresh, criteria)).toBe('ok');
    expect(guardVerdict(null, criteria)).toBe('invalid');
    expect(guardVerdict({ ...fresh, expiresAt: now }, criteria)).toBe('invalid'); // expires at `now`: gone
    expect(guardVerdict({ ...fresh, expiresAt: now + 1 }, criteria)).toBe('ok');
    expect(guardVerdict({ ...fresh, verifiedAt: now - 300_000 }, criteria)).toBe('ok'); // exactly maxAge old
    expect(guardVerdict({ ...fresh, verifiedAt: now - 300_001 }, criteria)).toBe('insufficient');
    expect(guardVerdict({ ...fresh, userId: 'usr_bob' }, criteria)).toBe('invalid');
    expect(guardVerdict({ ...fresh, method: 'phone' }, criteria)).toBe('insufficient');
    expect(guardVerdict({ ...fresh, purpose: 'new_identifier' }, criteria)).toBe('insufficient');
    expect(guardVerdict(pendingCodeRecord('123456', { expiresAt: now + 60_000 }), criteria)).toBe('invalid');
  });

  test('guardVerdict: a session-bound record is invalid in another session (or none); an unbound one works in any', () => {
    const bound = { ...fresh, sessionRef: 's1' };
    expect(guardVerdict(bound, { ...criteria, sessionRef: 's1' })).toBe('ok');
    expect(guardVerdict(bound, { ...criteria, sessionRef: 's2' })).toBe('invalid');
    expect(guardVerdict(bound, criteria)).toBe('invalid');
    expect(guardVerdict(fresh, { ...criteria, sessionRef: 's2' })).toBe('ok');
  });

  test('guardVerdict: an action-bound record satisfies only a guard asking for that same action', () => {
    const bound = { ...fresh, actionRef: 'a1' };
    expect(guardVerdict(bound, { ...criteria, actionRef: 'a1' })).toBe('ok');
    expect(guardVerdict(bound, { ...criteria, actionRef: 'a2' })).toBe('insufficient');
    expect(guardVerdict(bound, criteria)).toBe('insufficient');
    expect(guardVerdict(fresh, { ...criteria, actionRef: 'a1' })).toBe('insufficient');
  });

  test('a broken clock or a corrupt record fails closed (NaN never passes)', () => {
    expect(guardVerdict(fresh, { ...criteria, now: Number.NaN })).not.toBe('ok');
    expect(guardVerdict({ ...fresh, expiresAt: Number.NaN }, criteria)).toBe('invalid');
    expect(guardVerdict({ ...fresh, verifiedAt: Number.NaN }, criteria)).not.toBe('ok');
    expect(guardVerdict(fresh, { ...criteria, maxAgeMs: Number.NaN })).not.toBe('ok');
    const identifier = { type: 'email' as const, value: 'new@example.com' };
    const bound = verifiedRecord({ method: 'email', purpose: 'new_identifier', identifierRef: identifierRef(SECRET, identifier), expiresAt: now + 1000 });
    expect(isRedeemable(bound, { userId: 'usr_alice', identifierRef: identifierRef(SECRET, identifier), now })).toBe(true);
    expect(isRedeemable(bound, { userId: 'usr_alice', identifierRef: identifierRef(SECRET, identifier), now: Number.NaN })).toBe(false);
    expect(isRedeemable(bound, { userId: 'usr_alice', identifierRef: identifierRef(SECRET, { type: 'phone', value: 'new@example.com' }), now })).toBe(false);
    const pending = pendingCodeRecord('123456', { expiresAt: now + 1000 });
    const check = {
      userId: 'usr_alice',
      identifier: { type: 'email' as const, value: 'alice@example.com' },
      identifierRef: identifierRef(SECRET, { type: 'email', value: 'alice@example.com' }),
      candidateHash: 'x',
      maxAttempts: 5,
      recordTtlMs: 1,
      purpose: 'identity' as const,
      now,
    };
    expect(codeCheckPrecondition(pending, check)).toBe('compare');
    expect(codeCheckPrecondition(pending, { ...check, now: Number.NaN })).toBe('not_found');
    expect(codeCheckPrecondition({ ...pending, attempts: Number.NaN }, check)).toBe('exceed_max_try');
  });
});
