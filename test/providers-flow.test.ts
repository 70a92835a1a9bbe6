import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { twilioSender, type MemoryStore } from '../lib/index';
import { ALICE, BOB, startExample } from './helpers/example';
import { bearer, harness, STORE_KINDS } from './helpers/harness';
import { extractCode, lastCodeSentTo, startProviderStandIn, type ProviderStandIn } from './helpers/provider-stand-in';
import { recordKeyPattern } from './helpers/records';

const SENDGRID_KEY = `SG.${randomBytes(12).toString('hex')}`;
const TWILIO_SID = `AC${randomBytes(16).toString('hex')}`;
const TWILIO_TOKEN = randomBytes(16).toString('hex');

/**
 * The example app configured like production (SENDGRID_* / TWILIO_* variables),
 * with the real SDKs sending to a local stand-in of both providers.
 */
describe.each(STORE_KINDS)('codes through the real SendGrid and Twilio SDKs (%s store)', (kind) => {
  let standIn: ProviderStandIn;
  let ex: Awaited<ReturnType<typeof startExample>>;
  let alice: string;

  beforeAll(async () => {
    standIn = await startProviderStandIn();
    ex = await startExample(
      kind,
      {
        SENDGRID_API_KEY: SENDGRID_KEY,
        MAIL_FROM: 'security@bank.example',
        SENDGRID_API_URL: standIn.url,
        TWILIO_ACCOUNT_SID: TWILIO_SID,
        TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
        TWILIO_FROM: '+14155550199',
        TWILIO_API_URL: standIn.url,
      },
      { realSenders: true },
    );
    alice = await ex.signIn(ALICE);
  });
  afterAll(async () => {
    await ex.close();
    await standIn.close();
  });
  const codesSeen: string[] = [];
  afterEach(() => {
    for (const r of standIn.requests) if (r.provider !== 'unknown' && typeof r.answeredWith === 'number' && r.answeredWith < 300) codesSeen.push(extractCode(r));
    standIn.reset();
  });

  /** Every record key of this app's store (the key of a record holds a hash of its id). */
  const recordKeys = () => recordKeyPattern(ex.store!.prefix);
  const sendCode = (auth: string, identifier: object) =>
    request(ex.app).post('/api/verifications/verification-code').set('Authorization', auth).send({ identifier });
  const verifyCode = (auth: string, identifier: object, verificationId: string, code: string) =>
    request(ex.app).post('/api/verifications/verification-code/verify').set('Authorization', auth).send({ identifier, verificationId, code });
  const payout = (auth: string, id: string) =>
    request(ex.app).post('/api/payouts').set('Authorization', auth).set('Verification-Id', id).send({ amount: 10, currency: 'EUR', destination: 'acct-1' });

  test('email: SendGrid receives the message; its code verifies alice and pays out once', async () => {
    const identifier = { type: 'email', value: ALICE.email };
    const sent = await sendCode(alice, identifier);
    expect(sent.status).toBe(201);
    const [mail] = standIn.requestsFor('sendgrid');
    expect(mail).toBeDefined();
    expect(mail!.headers.authorization).toBe(`Bearer ${SENDGRID_KEY}`);
    expect(mail!.body.personalizations?.[0]?.to?.[0]?.email).toBe(ALICE.email);
    expect(JSON.stringify(mail!.body.from)).toContain('security@bank.example');
    const code = lastCodeSentTo(standIn, ALICE.email);
    expect(code).toMatch(/^\d{6}$/);

    await verifyCode(alice, identifier, sent.body.verificationRecordId, code).expect(200);
    await payout(alice, sent.body.verificationRecordId).expect(201);
    await payout(alice, sent.body.verificationRecordId).expect(403);
  });

  test('phone: Twilio receives the SMS with basic auth; its code verifies alice', async () => {
    const identifier = { type: 'phone', value: ALICE.phone };
    const sent = await sendCode(alice, identifier);
    expect(sent.status).toBe(201);
    const [sms] = standIn.requestsFor('twilio');
    expect(sms).toBeDefined();
    expect(sms!.accountSid).toBe(TWILIO_SID);
    expect(sms!.headers.authorization).toBe(`Basic ${Buffer.from(`${TWILIO_SID}:${TWILIO_TOKEN}`).toString('base64')}`);
    expect(sms!.body.To).toBe(ALICE.phone);
    expect(sms!.body.From).toBe('+14155550199');
    const code = lastCodeSentTo(standIn, ALICE.phone);
    expect(sms!.body.Body).toContain(code);
    await verifyCode(alice, identifier, sent.body.verificationRecordId, code).expect(200);
    const slips = await request(ex.app).get('/api/payslips').set('Authorization', alice).set('Verification-Id', sent.body.verificationRecordId);
    expect(slips.status).toBe(200);
  });

  test.each(['sendgrid', 'twilio'] as const)('%s answers 500: 502 delivery_failed and no usable record', async (provider) => {
    const identifier = provider === 'sendgrid' ? { type: 'email', value: ALICE.email } : { type: 'phone', value: ALICE.phone };
    const keysBefore = ex.redis ? (await ex.redis.keys(recordKeys())).length : (ex.store as MemoryStore | undefined)?.size;
    standIn.setMode(provider, 500);
    const res = await sendCode(alice, identifier);
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ code: 'verification_code.delivery_failed', message: expect.any(String) });
    expect(res.body.verificationRecordId).toBeUndefined();
    expect(standIn.requestsFor(provider)).toHaveLength(1);
    const leaked = JSON.stringify(res.body);
    expect(leaked).not.toContain(SENDGRID_KEY);
    expect(leaked).not.toContain(TWILIO_TOKEN);
    if (ex.redis) expect((await ex.redis.keys(recordKeys())).length).toBe(keysBefore);
  });

  test('binding a new email: code to the new address plus an identity verification; redeemed once', async () => {
    const auth = await ex.signIn(ALICE);
    const newEmail = { type: 'email', value: `alice.${kind}@example.org` };
    const sent = await sendCode(auth, newEmail);
    const newId = sent.body.verificationRecordId as string;
    await verifyCode(auth, newEmail, newId, lastCodeSentTo(standIn, newEmail.value)).expect(200);

    const bind = (identityId: string | undefined, recordId: string, who = auth) => {
      const req = request(ex.app).post('/api/my-account/primary-email').set('Authorization', who);
      if (identityId) req.set('Verification-Id', identityId);
      return req.send({ email: newEmail.value, newIdentifierVerificationRecordId: recordId });
    };
    // the new-identifier record alone is not an identity verification
    expect((await bind(newId, newId)).status).toBe(403);
    expect((await bind(undefined, newId)).body.code).toBe('verification.required');

    const identity = await request(ex.app).post('/api/verifications/password/verify').set('Authorization', auth).send({ password: ALICE.password });
    // bob cannot take alice's proof of the new address
    const bob = await ex.signIn(BOB);
    const bobIdentity = await request(ex.app).post('/api/verifications/password/verify').set('Authorization', bob).send({ password: BOB.password });
    expect((await bind(bobIdentity.body.verificationRecordId, newId, bob)).status).toBe(403);

    await bind(identity.body.verificationRecordId, newId).expect(204);
    const account = await request(ex.app).get('/api/my-account').set('Authorization', auth);
    expect(account.body.email).toBe(newEmail.value);
    // The change revoked every earlier verification of alice, the one that authorised it included.
    const again = await bind(identity.body.verificationRecordId, newId);
    expect(again.status).toBe(403);
    expect(again.body.code).toBe('verification.invalid');
    // and the new-identifier record was redeemed once: with a fresh identity it is still used up
    const fresh = await request(ex.app).post('/api/verifications/password/verify').set('Authorization', auth).send({ password: ALICE.password });
    const redeemedTwice = await bind(fresh.body.verificationRecordId, newId);
    expect(redeemedTwice.status).toBe(403);
    expect(redeemedTwice.body.code).toBe('verification.new_identifier_unverified');

    // codes to the new address now prove identity; the old address is just another address
    const proof = await sendCode(auth, newEmail);
    await verifyCode(auth, newEmail, proof.body.verificationRecordId, lastCodeSentTo(standIn, newEmail.value)).expect(200);
    await payout(auth, proof.body.verificationRecordId).expect(201);
  });

  test('the app log (audit events as JSON lines) holds no code, password, token or full address', () => {
    expect(codesSeen.length).toBeGreaterThanOrEqual(4);
    expect(ex.lines.length).toBeGreaterThan(10);
    const log = ex.lines.join('\n');
    for (const code of codesSeen) expect(log).not.toContain(code);
    for (const secret of [ALICE.password, BOB.password, SENDGRID_KEY, TWILIO_TOKEN, alice.slice('Bearer '.length)]) {
      expect(log).not.toContain(secret);
    }
    expect(log).not.toContain(ALICE.phone);
    expect(log).toContain('"type":"verification.succeeded"');
  });
});

describe('a provider that hangs past the timeout', () => {
  test('Twilio hangs: 502 within the timeout and no record is left', async () => {
    const standIn = await startProviderStandIn();
    standIn.setMode('twilio', 'hang');
    const h = await harness('memory', {
      sender: twilioSender({ accountSid: TWILIO_SID, authToken: TWILIO_TOKEN, from: '+14155550199', apiBaseUrl: standIn.url, timeoutMs: 300 }),
    });
    const started = Date.now();
    const res = await request(h.app).post('/v/verification-code').set('Authorization', bearer('usr_alice')).send({ identifier: { type: 'phone', value: '+14155550100' } });
    expect(res.status).toBe(502);
    expect(Date.now() - started).toBeLessThan(2000);
    expect((h.store as MemoryStore).size).toBe(0);
    expect(standIn.requestsFor('twilio')).toHaveLength(1);
    await h.close();
    await standIn.close();
  });
});
