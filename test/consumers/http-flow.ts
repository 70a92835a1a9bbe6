import assert from 'node:assert/strict';

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Record<string, unknown>;
}

async function post(url: string, headers: Record<string, string>, body: string): Promise<Answer> {
  const response = await fetch(url, { method: 'POST', headers, body });
  const contentType = response.headers.get('content-type') ?? '';
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  if (contentType.startsWith('application/json')) parsed = JSON.parse(text) as Record<string, unknown>;
  return { status: response.status, contentType, body: parsed };
}

function expectJson(answer: Answer, status: number, code: string | undefined, step: string): void {
  assert.equal(answer.status, status, `${step}: status ${answer.status}, expected ${status} (${JSON.stringify(answer.body)})`);
  assert.match(answer.contentType, /^application\/json/, `${step}: answered ${answer.contentType || 'no content type'}, not JSON`);
  if (code !== undefined) assert.equal(answer.body.code, code, `${step}: code ${String(answer.body.code)}`);
}

/**
 * The README's quick-start flow against an app serving its routes at `base`, for user usr_1
 * (password "a long passphrase"): 403 verification.required → 201 from the password check →
 * 201 with the record → 403 on replay; then a malformed JSON body → JSON 400 and a request
 * without a token → JSON 401, after which the app must still answer.
 */
export async function checkQuickStartFlow(base: string, token: string): Promise<void> {
  const json = { 'Content-Type': 'application/json' };
  const auth = { ...json, Authorization: `Bearer ${token}` };

  expectJson(await post(`${base}/api/payouts`, auth, '{}'), 403, 'verification.required', 'payout without a verification');

  const verified = await post(`${base}/api/verifications/password/verify`, auth, JSON.stringify({ password: 'a long passphrase' }));
  expectJson(verified, 201, undefined, 'password verification');
  const recordId = verified.body.verificationRecordId;
  assert.ok(typeof recordId === 'string' && recordId.length > 0, 'password verification: no verificationRecordId');

  const paid = await post(`${base}/api/payouts`, { ...auth, 'Verification-Id': recordId }, '{}');
  expectJson(paid, 201, undefined, 'payout with the record');
  assert.deepEqual(paid.body, { paidBy: 'usr_1', method: 'password' });

  expectJson(await post(`${base}/api/payouts`, { ...auth, 'Verification-Id': recordId }, '{}'), 403, 'verification.invalid', 'replayed record');

  expectJson(await post(`${base}/api/verifications/password/verify`, auth, '{"password": '), 400, 'request.invalid_json', 'malformed JSON body');

  expectJson(await post(`${base}/api/payouts`, json, '{}'), 401, 'auth.unauthorized', 'payout without a token');
  expectJson(await post(`${base}/api/verifications/password/verify`, json, '{}'), 401, 'auth.unauthorized', 'verification without a token');

  // Still alive and serving after the refusals.
  expectJson(await post(`${base}/api/payouts`, auth, '{}'), 403, 'verification.required', 'payout after the refusals');
}
