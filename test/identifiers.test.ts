import { createHmac } from 'node:crypto';
import { actionRef, canonicalAction, sessionRef } from '../lib/action';
import { codeHash } from '../lib/codes';
import { identifierRef, maskIdentifier } from '../lib/identifiers';

describe('maskIdentifier (audit events and logs)', () => {
  test.each([
    ['+14155550100', '+1***00'],
    ['+442071838750', '+44***50'],
    ['+3726123456', '+372***56'],
  ])('a phone number keeps at most its country code and last 2 digits: %s → %s', (value, masked) => {
    expect(maskIdentifier({ type: 'phone', value })).toBe(masked);
    // At most 2 of the subscriber digits are left: 1 in 100 of a country's numbers match, not 1 in 1,000.
    expect(masked.replace(/\D/g, '').length).toBeLessThanOrEqual(3 + 2);
  });

  test('an email keeps its first and last letters and the domain', () => {
    expect(maskIdentifier({ type: 'email', value: 'alice@example.com' })).toBe('a***e@example.com');
    expect(maskIdentifier({ type: 'email', value: 'al@example.com' })).toBe('a***@example.com');
  });
});

describe('keyed refs (what records keep instead of a session, an action, an identifier or a code)', () => {
  const secret = Buffer.alloc(32, 7);
  const hmac128 = (text: string) => createHmac('sha256', secret).update(text).digest().subarray(0, 16).toString('base64url');

  test('each is the HMAC-SHA-256 of its label and value, 128 bits in canonical base64url', () => {
    const identifier = { type: 'email', value: 'alice@example.com' } as const;
    const cases: Array<[string, string]> = [
      [identifierRef(secret, identifier), 'identifier\0email\0alice@example.com'],
      [sessionRef(secret, 'sid-1'), 'session\0sid-1'],
      [actionRef(secret, { type: 'payout', amount: '10' }), `action\0${canonicalAction({ type: 'payout', amount: '10' })}`],
      [codeHash(secret, 'rec', '123456'), 'rec123456'],
    ];
    for (const [ref, input] of cases) {
      expect(ref).toBe(hmac128(input));
      // Canonical: the Redis store keeps the 16 bytes and refuses any other form.
      expect(Buffer.from(ref, 'base64url').toString('base64url')).toBe(ref);
      expect(ref).toHaveLength(22);
    }
    // The type is part of the identifier's ref.
    expect(identifierRef(secret, { type: 'phone', value: 'alice@example.com' })).not.toBe(cases[0]?.[0]);
  });
});
