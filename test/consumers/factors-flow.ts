import assert from 'node:assert/strict';
import { TOTP } from 'otpauth';
import { SoftAuthenticator } from '../helpers/soft-authenticator';

/** The relying party the consumer apps' `passkeys` option names (the soft authenticator reports this origin). */
export const CONSUMER_PASSKEY_ORIGIN = 'https://consumer.example';

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

async function post(url: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const response = await fetch(url, { method: 'POST', headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function expectStatus(answer: Answer, status: number, step: string): Record<string, unknown> {
  assert.equal(answer.status, status, `${step}: status ${answer.status}, expected ${status} (${JSON.stringify(answer.body)})`);
  return answer.body;
}

/**
 * TOTP and passkeys in an app that installed the packed library (and, for passkeys, the optional
 * peer @simplewebauthn/server), user usr_1 (password "a long passphrase"): enroll TOTP behind a
 * password verification and pay with a TOTP code on a strict-preset route; register a passkey
 * behind another password verification and pay with it; a replayed record is refused.
 */
export async function checkFactorsFlow(base: string, token: string): Promise<void> {
  const auth = { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` };
  const v = `${base}/api/verifications`;
  const passwordRecord = async () =>
    expectStatus(await post(`${v}/password/verify`, auth, { password: 'a long passphrase' }), 201, 'password').verificationRecordId as string;
  const pay = async (recordId: string, method: string) => {
    const paid = expectStatus(await post(`${base}/api/strict-payouts`, { ...auth, 'Verification-Id': recordId }, {}), 201, `payout by ${method}`);
    assert.deepEqual(paid, { paidBy: 'usr_1', method });
    expectStatus(await post(`${base}/api/strict-payouts`, { ...auth, 'Verification-Id': recordId }, {}), 403, `replayed ${method} record`);
  };

  // Neither factor is set up yet: the strict route offers only the password.
  const refused = expectStatus(await post(`${base}/api/strict-payouts`, auth, {}), 403, 'strict payout without a record');
  assert.deepEqual((refused.requirement as { methods: string[] }).methods, ['password']);

  // TOTP: enrollment (one step's code), then a verification (the next step's: each step counts once).
  const enrollment = expectStatus(await post(`${v}/totp/enrollment`, { Authorization: auth.Authorization, 'Verification-Id': await passwordRecord() }), 200, 'TOTP enrollment');
  const totp = new TOTP({ secret: enrollment.secret as string, algorithm: 'SHA1', digits: 6, period: 30 });
  const now = Date.now();
  expectStatus(await post(`${v}/totp/enrollment/verify`, auth, { code: totp.generate({ timestamp: now }) }), 204, 'TOTP confirmation');
  const byTotp = expectStatus(await post(`${v}/totp/verify`, auth, { code: totp.generate({ timestamp: now + 30_000 }) }), 201, 'TOTP verification');
  await pay(byTotp.verificationRecordId as string, 'totp');

  // Passkey: registration behind a fresh verification, then an authentication.
  const authenticator = new SoftAuthenticator({ origin: CONSUMER_PASSKEY_ORIGIN });
  const registration = expectStatus(
    await post(`${v}/web-authn/registration`, { Authorization: auth.Authorization, 'Verification-Id': await passwordRecord() }),
    200,
    'passkey registration options',
  );
  const created = authenticator.createCredential(registration.registrationOptions as never);
  expectStatus(await post(`${v}/web-authn/registration/verify`, auth, { response: created }), 201, 'passkey registration');
  const challenge = expectStatus(await post(`${v}/web-authn/authentication`, auth, {}), 201, 'passkey authentication options');
  const assertion = authenticator.getAssertion(challenge.authenticationOptions as never);
  const byPasskey = expectStatus(
    await post(`${v}/web-authn/authentication/verify`, auth, { verificationRecordId: challenge.verificationRecordId, response: assertion }),
    200,
    'passkey authentication',
  );
  await pay(byPasskey.verificationRecordId as string, 'passkey');
}
