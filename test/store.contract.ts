import { guardVerdict, type CodeCheck, type GuardCriteria, type Identifier, type VerificationRecord } from '../lib/records';
import { actionRef, sessionRef } from '../lib/action';
import { codeHash } from '../lib/codes';
import { identifierRef } from '../lib/identifiers';
import type { VerificationStore } from '../lib/stores/store';
import { pendingCodeRecord, SECRET, sleep, verifiedRecord } from './helpers/records';

/** Session and action refs as the service makes them (128-bit HMACs, 22 base64url characters): a store may rely on that form. */
const S1 = sessionRef(SECRET, 'session one');
const S2 = sessionRef(SECRET, 'session two');
const A1 = actionRef(SECRET, { type: 'payout', amount: '1' });
const A2 = actionRef(SECRET, { type: 'payout', amount: '2' });
/** An identifier's ref, as the service makes it. */
const ref = (identifier: Identifier) => identifierRef(SECRET, identifier);
const ALICE: Identifier = { type: 'email', value: 'alice@example.com' };

/**
 * The definition of a store: every store runs this suite and must pass it whole.
 * `makeStore` gives a fresh, empty store for each test.
 */
export function storeContract(name: string, makeStore: () => VerificationStore | Promise<VerificationStore>): void {
  describe(`${name} (store contract)`, () => {
    let store: VerificationStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    const criteria = (overrides: Partial<GuardCriteria> = {}): GuardCriteria => ({
      userId: 'usr_alice',
      methods: ['password', 'email', 'phone'],
      maxAgeMs: 60_000,
      now: Date.now(),
      ...overrides,
    });

    const codeCheck = (record: VerificationRecord, code: string, overrides: Partial<CodeCheck> = {}): CodeCheck => ({
      userId: 'usr_alice',
      identifier: overrides.identifier ?? ALICE,
      identifierRef: ref(overrides.identifier ?? ALICE),
      candidateHash: codeHash(SECRET, record.id, code),
      maxAttempts: 5,
      now: Date.now(),
      recordTtlMs: 60_000,
      purpose: 'identity',
      ...overrides,
    });

    test('create then get returns the same record; unknown ids are null', async () => {
      const record = pendingCodeRecord('123456');
      await store.create(record);
      expect(await store.get(record.userId, record.id)).toEqual(record);
      expect(await store.get('usr_alice', 'x'.repeat(32))).toBeNull();
      expect(await store.get('usr_bob', record.id)).toBeNull();
    });

    test('a record is gone once it expires', async () => {
      // 600 ms to live: on a loaded 2-core machine, creating and reading back (a Cluster's redirects
      // included) once took longer than the 150 ms this test used to allow, and the live read failed.
      const record = verifiedRecord({ expiresAt: Date.now() + 600 });
      await store.create(record);
      expect(await store.get(record.userId, record.id)).not.toBeNull();
      await sleep(700);
      expect(await store.get(record.userId, record.id)).toBeNull();
      expect((await store.checkForGuard(record.id, criteria(), true)).record).toBeNull();
    });

    test('checkForGuard without consume leaves the record in place', async () => {
      const record = verifiedRecord();
      await store.create(record);
      for (let i = 0; i < 3; i += 1) {
        expect(await store.checkForGuard(record.id, criteria(), false)).toEqual({ record, consumed: false });
      }
    });

    const cases: Array<[string, () => VerificationRecord, Partial<GuardCriteria>]> = [
      ['eligible', () => verifiedRecord(), {}],
      ['method not allowed', () => verifiedRecord(), { methods: ['email'] }],
      ['verified too long ago', () => verifiedRecord({ verifiedAt: Date.now() - 120_000 }), {}],
      ['new identifier', () => verifiedRecord({ purpose: 'new_identifier', method: 'email' }), {}],
      ['not verified', () => pendingCodeRecord('123456'), {}],
      ['same session', () => verifiedRecord({ sessionRef: S1 }), { sessionRef: S1 }],
      ['another session', () => verifiedRecord({ sessionRef: S1 }), { sessionRef: S2 }],
      ['bound to a session, asked without one', () => verifiedRecord({ sessionRef: S1 }), {}],
      ['unbound, asked in a session', () => verifiedRecord(), { sessionRef: S2 }],
      ['same action', () => verifiedRecord({ actionRef: A1 }), { actionRef: A1 }],
      ['another action', () => verifiedRecord({ actionRef: A1 }), { actionRef: A2 }],
      ['bound to an action, asked without one', () => verifiedRecord({ actionRef: A1 }), {}],
      ['unbound, asked with an action', () => verifiedRecord(), { actionRef: A1 }],
    ];
    test.each(cases)('consume only when the guard would pass: %s', async (_label, makeRecord, criteriaOverrides) => {
      const record = makeRecord();
      await store.create(record);
      const wanted = criteria(criteriaOverrides);
      const eligible = guardVerdict(record, wanted) === 'ok';
      const result = await store.checkForGuard(record.id, wanted, true);
      expect(result.record).toEqual(record);
      expect(result.consumed).toBe(eligible);
      expect(await store.get(record.userId, record.id)).toEqual(eligible ? null : record);
    });

    test("another user's record is not found, by any method, and is left as it is", async () => {
      const record = verifiedRecord();
      await store.create(record);
      expect(await store.checkForGuard(record.id, criteria({ userId: 'usr_bob' }), true)).toEqual({ record: null, consumed: false });
      expect(await store.get(record.userId, record.id)).toEqual(record);
    });

    test('of 50 concurrent consumers of one record, exactly one consumes it', async () => {
      const record = verifiedRecord();
      await store.create(record);
      const results = await Promise.all(
        Array.from({ length: 50 }, () => store.checkForGuard(record.id, criteria(), true)),
      );
      expect(results.filter((r) => r.consumed)).toHaveLength(1);
      expect(await store.get(record.userId, record.id)).toBeNull();
    });

    test('checkCode: the right code verifies once, drops the code hash and restarts the expiry', async () => {
      const record = pendingCodeRecord('123456');
      await store.create(record);
      const now = Date.now();
      const result = await store.checkCode(record.id, codeCheck(record, '123456', { now, recordTtlMs: 30_000 }));
      expect(result.outcome).toBe('verified');
      if (result.outcome !== 'verified') return;
      expect(result.record).toMatchObject({ status: 'verified', purpose: 'identity', verifiedAt: now, expiresAt: now + 30_000 });
      expect(result.record).not.toHaveProperty('codeHash');
      expect(result.record).not.toHaveProperty('attempts');
      expect(await store.get(record.userId, record.id)).toEqual(result.record);
      // A second verify changes nothing and fails.
      expect(await store.checkCode(record.id, codeCheck(record, '123456'))).toEqual({ outcome: 'not_found' });
      expect(await store.get(record.userId, record.id)).toEqual(result.record);
    });

    test('checkCode: wrong codes are counted; after the 5th the right code no longer works', async () => {
      const record = pendingCodeRecord('123456');
      await store.create(record);
      for (let remaining = 4; remaining >= 1; remaining -= 1) {
        expect(await store.checkCode(record.id, codeCheck(record, '000000'))).toEqual({
          outcome: 'code_mismatch',
          remainingAttempts: remaining,
        });
      }
      expect(await store.checkCode(record.id, codeCheck(record, '000000'))).toEqual({ outcome: 'exceed_max_try' });
      expect(await store.checkCode(record.id, codeCheck(record, '123456'))).toEqual({ outcome: 'exceed_max_try' });
      expect(await store.get(record.userId, record.id)).toMatchObject({ status: 'pending' });
    });

    test("checkCode: another user's record is not found and nothing is counted", async () => {
      const record = pendingCodeRecord('123456');
      await store.create(record);
      expect(await store.checkCode(record.id, codeCheck(record, '000000', { userId: 'usr_bob' }))).toEqual({
        outcome: 'not_found',
      });
      expect(await store.checkCode(record.id, codeCheck(record, '123456', { userId: 'usr_bob' }))).toEqual({
        outcome: 'not_found',
      });
      expect(await store.get(record.userId, record.id)).toEqual(record);
    });

    test('checkCode: the purpose decided at verify time is the one the record keeps', async () => {
      const record = pendingCodeRecord('123456');
      await store.create(record);
      const result = await store.checkCode(record.id, codeCheck(record, '123456', { purpose: 'new_identifier' }));
      expect(result).toMatchObject({ outcome: 'verified', record: { purpose: 'new_identifier' } });
      expect((await store.get(record.userId, record.id)) as unknown).toMatchObject({ purpose: 'new_identifier' });
    });

    test('checkCode: a session-bound code is not found from another session; bindings carry over to the verified record', async () => {
      const record = pendingCodeRecord('123456', { sessionRef: S1, actionRef: A1 });
      await store.create(record);
      expect(await store.checkCode(record.id, codeCheck(record, '123456', { sessionRef: S2 }))).toEqual({ outcome: 'not_found' });
      expect(await store.checkCode(record.id, codeCheck(record, '123456'))).toEqual({ outcome: 'not_found' });
      const result = await store.checkCode(record.id, codeCheck(record, '123456', { sessionRef: S1 }));
      expect(result).toMatchObject({ outcome: 'verified', record: { sessionRef: S1, actionRef: A1 } });
    });

    test('checkCode: identifier mismatch is told apart and not counted', async () => {
      const record = pendingCodeRecord('123456');
      await store.create(record);
      const other = { type: 'email' as const, value: 'mallory@example.com' };
      expect(await store.checkCode(record.id, codeCheck(record, '123456', { identifier: other }))).toEqual({
        outcome: 'identifier_mismatch',
      });
      expect(await store.get(record.userId, record.id)).toEqual(record);
    });

    test('checkCode: a pending record keeps only the identifier hash; an identity record gets the identifier named at verify time, a new-identifier record its hash', async () => {
      const identity = pendingCodeRecord('123456');
      expect(identity).not.toHaveProperty('identifier');
      await store.create(identity);
      expect(await store.get(identity.userId, identity.id)).toEqual(identity);
      const verified = await store.checkCode(identity.id, codeCheck(identity, '123456'));
      expect(verified).toMatchObject({ outcome: 'verified', record: { purpose: 'identity', identifier: ALICE } });
      expect(verified).not.toHaveProperty('record.identifierRef');
      expect(await store.get(identity.userId, identity.id)).toMatchObject({ identifier: ALICE });
      const fresh = { type: 'email' as const, value: 'new@example.com' };
      const binding = pendingCodeRecord('123456', { identifierRef: ref(fresh), sessionRef: S1, actionRef: A1 });
      await store.create(binding);
      const proven = await store.checkCode(binding.id, codeCheck(binding, '123456', { identifier: fresh, purpose: 'new_identifier', sessionRef: S1 }));
      expect(proven).toMatchObject({ outcome: 'verified', record: { purpose: 'new_identifier', identifierRef: ref(fresh), sessionRef: S1 } });
      expect(proven).not.toHaveProperty('record.identifier');
      // Redeemed, never passed by a guard: a new-identifier record keeps no action ref.
      expect(proven).not.toHaveProperty('record.actionRef');
      expect(await store.redeem(binding.id, { userId: 'usr_alice', sessionRef: S1, identifierRef: ref(fresh), now: Date.now() })).toMatchObject({ identifierRef: ref(fresh) });
    });

    test('checkCode: an expired or verified-by-password record is not found', async () => {
      const record = pendingCodeRecord('123456');
      await store.create(record);
      expect(
        await store.checkCode(record.id, codeCheck(record, '123456', { now: record.expiresAt + 1 })),
      ).toEqual({ outcome: 'not_found' });
      const password = verifiedRecord();
      await store.create(password);
      expect(await store.checkCode(password.id, codeCheck(password, '123456'))).toEqual({ outcome: 'not_found' });
    });

    test('checkCode: 20 concurrent wrong guesses count exactly up to the maximum', async () => {
      const record = pendingCodeRecord('123456');
      await store.create(record);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.checkCode(record.id, codeCheck(record, String(100000 + i)))),
      );
      expect(results.filter((r) => r.outcome === 'code_mismatch')).toHaveLength(4);
      expect(results.filter((r) => r.outcome === 'exceed_max_try')).toHaveLength(16);
      expect(await store.get(record.userId, record.id)).toMatchObject({ status: 'pending', attempts: 5 });
    });

    test('checkCode: of 20 concurrent right codes exactly one verifies', async () => {
      const record = pendingCodeRecord('123456');
      await store.create(record);
      const results = await Promise.all(
        Array.from({ length: 20 }, () => store.checkCode(record.id, codeCheck(record, '123456'))),
      );
      expect(results.filter((r) => r.outcome === 'verified')).toHaveLength(1);
    });

    test('redeem: a verified new-identifier record is redeemed once, only by its user for its identifier', async () => {
      const identifier = { type: 'email' as const, value: 'new@example.com' };
      const record = verifiedRecord({ method: 'email', purpose: 'new_identifier', identifierRef: ref(identifier) });
      await store.create(record);
      const now = Date.now();
      expect(await store.redeem(record.id, { userId: 'usr_bob', identifierRef: ref(identifier), now })).toBeNull();
      expect(
        await store.redeem(record.id, { userId: 'usr_alice', identifierRef: ref({ type: 'email', value: 'x@example.com' }), now }),
      ).toBeNull();
      expect(await store.redeem(record.id, { userId: 'usr_alice', identifierRef: ref(identifier), now })).toEqual(record);
      expect(await store.redeem(record.id, { userId: 'usr_alice', identifierRef: ref(identifier), now })).toBeNull();
    });

    test('redeem: a session-bound record is redeemed only in its session', async () => {
      const identifier = { type: 'email' as const, value: 'new@example.com' };
      const record = verifiedRecord({ method: 'email', purpose: 'new_identifier', identifierRef: ref(identifier), sessionRef: S1 });
      await store.create(record);
      const now = Date.now();
      expect(await store.redeem(record.id, { userId: 'usr_alice', sessionRef: S2, identifierRef: ref(identifier), now })).toBeNull();
      expect(await store.redeem(record.id, { userId: 'usr_alice', identifierRef: ref(identifier), now })).toBeNull();
      expect(await store.redeem(record.id, { userId: 'usr_alice', sessionRef: S1, identifierRef: ref(identifier), now })).toEqual(record);
    });

    test('revokeAll: every record of the user made before it is gone for every method; later ones and other users are untouched', async () => {
      const identifier = { type: 'email' as const, value: 'new@example.com' };
      const verified = verifiedRecord();
      const single = verifiedRecord();
      const pending = pendingCodeRecord('123456');
      const newIdentifier = verifiedRecord({ method: 'email', purpose: 'new_identifier', identifierRef: ref(identifier) });
      const bobs = verifiedRecord({ userId: 'usr_bob' });
      for (const record of [verified, single, pending, newIdentifier, bobs]) await store.create(record);
      await store.revokeAll('usr_alice', 120_000);
      const after = verifiedRecord();
      await store.create(after);
      const now = Date.now();
      expect(await store.get('usr_alice', verified.id)).toBeNull();
      expect(await store.checkForGuard(verified.id, criteria(), false)).toEqual({ record: null, consumed: false });
      expect(await store.checkForGuard(single.id, criteria(), true)).toEqual({ record: null, consumed: false });
      expect(await store.checkCode(pending.id, codeCheck(pending, '123456'))).toEqual({ outcome: 'not_found' });
      expect(await store.redeem(newIdentifier.id, { userId: 'usr_alice', identifierRef: ref(identifier), now })).toBeNull();
      expect(await store.checkForGuard(after.id, criteria(), true)).toEqual({ record: after, consumed: true });
      expect(await store.get('usr_bob', bobs.id)).toEqual(bobs);
      // A second revocation covers what came between; it never moves back.
      const between = verifiedRecord();
      await store.create(between);
      await store.revokeAll('usr_alice', 1);
      expect(await store.get('usr_alice', between.id)).toBeNull();
    });

    test('redeem: identity and pending records are never redeemed', async () => {
      const identifier = { type: 'email' as const, value: 'alice@example.com' };
      const identity = verifiedRecord({ method: 'email', identifier });
      const pending = pendingCodeRecord('123456');
      await store.create(identity);
      await store.create(pending);
      for (const record of [identity, pending]) {
        expect(await store.redeem(record.id, { userId: 'usr_alice', identifierRef: ref(identifier), now: Date.now() })).toBeNull();
        expect(await store.get(record.userId, record.id)).toEqual(record);
      }
    });

    test('passkey, TOTP and app-defined method records read back as written and pass only routes that list them', async () => {
      const records = [
        verifiedRecord({ method: 'passkey' }),
        verifiedRecord({ method: 'totp', sessionRef: S2 }),
        verifiedRecord({ method: 'sso' }),
        verifiedRecord({ method: 'hardware-token_2' }),
      ];
      for (const record of records) await store.create(record);
      for (const record of records) {
        expect(await store.get(record.userId, record.id)).toEqual(record);
        const requester = record.sessionRef === undefined ? {} : { sessionRef: record.sessionRef };
        const others = criteria({ ...requester, methods: ['password', 'email', 'phone', 'soso', 'sso2'].filter((m) => m !== record.method) });
        expect(await store.checkForGuard(record.id, others, true)).toEqual({ record, consumed: false });
        expect(guardVerdict(record, others)).toBe('insufficient');
        const own = criteria({ ...requester, methods: ['password', record.method] });
        expect(await store.checkForGuard(record.id, own, true)).toEqual({ record, consumed: true });
        expect(await store.get(record.userId, record.id)).toBeNull();
      }
    });

    test('challenges: kept per user until they expire; consumed exactly once under concurrency', async () => {
      const at = Date.now() + 60_000;
      await store.putChallenge('usr_alice', 'ch1', '{"c":"abc"}', at);
      expect(await store.readChallenge('usr_bob', 'ch1', true)).toBeNull();
      expect(await store.readChallenge('usr_alice', 'ch2', false)).toBeNull();
      expect(await store.readChallenge('usr_alice', 'ch1', false)).toBe('{"c":"abc"}');
      expect(await store.readChallenge('usr_alice', 'ch1', false)).toBe('{"c":"abc"}');
      // A challenge id is not a record id: the record operations never see it.
      expect(await store.get('usr_alice', 'ch1')).toBeNull();
      const reads = await Promise.all(Array.from({ length: 20 }, () => store.readChallenge('usr_alice', 'ch1', true)));
      expect(reads.filter((value) => value !== null)).toEqual(['{"c":"abc"}']);
      expect(await store.readChallenge('usr_alice', 'ch1', false)).toBeNull();

      await store.putChallenge('usr_alice', 'ch3', 'one', at);
      await store.putChallenge('usr_alice', 'ch3', 'two: a value may hold colons', at);
      expect(await store.readChallenge('usr_alice', 'ch3', false)).toBe('two: a value may hold colons');
      await store.deleteChallenge('usr_alice', 'ch3');
      await store.deleteChallenge('usr_alice', 'never-there');
      expect(await store.readChallenge('usr_alice', 'ch3', false)).toBeNull();

      await store.putChallenge('usr_alice', 'short', 'x', Date.now() + 150);
      await sleep(250);
      expect(await store.readChallenge('usr_alice', 'short', true)).toBeNull();
    });

    test('challenges: revokeAll removes those made before it, not those made after', async () => {
      const at = Date.now() + 60_000;
      await store.putChallenge('usr_alice', 'before', 'b', at);
      await store.putChallenge('usr_bob', 'bobs', 'c', at);
      await store.revokeAll('usr_alice', 60_000);
      await store.putChallenge('usr_alice', 'after', 'a', at);
      expect(await store.readChallenge('usr_alice', 'before', false)).toBeNull();
      expect(await store.readChallenge('usr_alice', 'after', false)).toBe('a');
      expect(await store.readChallenge('usr_bob', 'bobs', false)).toBe('c');
    });

    test('TOTP steps: each user uses a step once, and never one earlier than the last used', async () => {
      const until = Date.now() + 120_000;
      expect(await store.useTotpStep('usr_alice', 1000, until)).toBe(true);
      expect(await store.useTotpStep('usr_alice', 1000, until)).toBe(false);
      expect(await store.useTotpStep('usr_alice', 999, until)).toBe(false);
      expect(await store.useTotpStep('usr_bob', 1000, until)).toBe(true);
      expect(await store.useTotpStep('usr_alice', 1001, until)).toBe(true);
      const racing = await Promise.all(Array.from({ length: 20 }, () => store.useTotpStep('usr_alice', 1002, until)));
      expect(racing.filter(Boolean)).toHaveLength(1);
      // Once the mark has lapsed (no step it covers can be accepted any more), it is forgotten.
      await store.useTotpStep('usr_carol', 5, Date.now() + 150);
      await sleep(250);
      expect(await store.useTotpStep('usr_carol', 5, until)).toBe(true);
    });

    test('ping resolves while the store is up', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
