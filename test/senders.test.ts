import { createStepUp, senderByChannel } from '../lib/index';
import { consoleSender } from '../lib/senders/console';
import type { CodeMessage } from '../lib/senders/sender';
import { sendgridSender } from '../lib/senders/sendgrid';
import { twilioSender } from '../lib/senders/twilio';
import { extractCode, lastCodeSentTo, startProviderStandIn, type ProviderStandIn } from './helpers/provider-stand-in';

const API_KEY = 'SG.stand-in-key.0123456789abcdef';
const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
const AUTH_TOKEN = 'stand-in-auth-token-0123456789';
const SERVICE_SID = 'MG0123456789abcdef0123456789abcdef';
const CODE = '482915';
const TIMEOUT_MS = 300;

function email(overrides: Partial<CodeMessage> = {}): CodeMessage {
  return { channel: 'email', to: 'alice@example.com', code: CODE, expiresAt: new Date(Date.now() + 10 * 60_000), ...overrides };
}

function sms(overrides: Partial<CodeMessage> = {}): CodeMessage {
  return { channel: 'phone', to: '+14155550100', code: CODE, expiresAt: new Date(Date.now() + 10 * 60_000), ...overrides };
}

/** The rejection of `promise`, which must reject. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as Error;
  }
  throw new Error('expected a rejection');
}

/** Nothing secret anywhere in the error: message, stack, own properties, cause. */
function expectNoSecrets(error: Error, ...secrets: string[]): void {
  const seen = [error.message, error.stack ?? '', JSON.stringify(error), String(error.cause ?? '')].join('\n');
  for (const secret of secrets) expect(seen).not.toContain(secret);
  expect(error.cause).toBeUndefined();
}

let standIn: ProviderStandIn;

beforeAll(async () => {
  standIn = await startProviderStandIn();
});

afterEach(() => standIn.reset());

afterAll(async () => {
  await standIn.close();
});

describe('sendgridSender', () => {
  const base = () => ({ apiKey: API_KEY, from: 'noreply@example.com', apiBaseUrl: standIn.url });

  it('posts the mail the SDK builds, with the bearer key, addresses, subject and the code', async () => {
    await sendgridSender({ ...base(), from: { email: 'noreply@example.com', name: 'Example Bank' } }).send(email());

    const [request, ...others] = standIn.requestsFor('sendgrid');
    expect(others).toHaveLength(0);
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/v3/mail/send');
    expect(request?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request?.headers['content-type']).toMatch(/^application\/json/);
    expect(request?.body.from).toEqual({ email: 'noreply@example.com', name: 'Example Bank' });
    expect(request?.body.personalizations?.[0]?.to).toEqual([{ email: 'alice@example.com' }]);
    expect(request?.body.subject).toBe('Your verification code');
    const text = request?.body.content?.find((c) => c.type === 'text/plain')?.value;
    const html = request?.body.content?.find((c) => c.type === 'text/html')?.value;
    expect(text).toContain(CODE);
    expect(text).toContain('10 minutes');
    expect(html).toContain(`<strong>${CODE}</strong>`);
    expect(extractCode(request!)).toBe(CODE);
    expect(lastCodeSentTo(standIn, 'Alice@Example.com')).toBe(CODE);
  });

  it('uses custom subject and text templates', async () => {
    await sendgridSender({
      ...base(),
      subject: ({ locale }) => (locale === 'fr' ? 'Votre code' : 'Your code'),
      text: ({ code, minutes }) => `Code ${code}, valable ${minutes} min`,
    }).send(email({ locale: 'fr', expiresAt: new Date(Date.now() + 90_000) }));

    const [request] = standIn.requestsFor('sendgrid');
    expect(request?.body.subject).toBe('Votre code');
    expect(request?.body.content?.find((c) => c.type === 'text/plain')?.value).toBe(`Code ${CODE}, valable 2 min`);
  });

  it('sends a dynamic template with the code as template data instead of subject and content', async () => {
    await sendgridSender({ ...base(), templateId: 'd-0123456789abcdef' }).send(email());

    const [request] = standIn.requestsFor('sendgrid');
    expect(request?.body.template_id).toBe('d-0123456789abcdef');
    expect(request?.body.personalizations?.[0]?.dynamic_template_data).toEqual({ code: CODE, expiresInMinutes: 10 });
    expect(request?.body.subject).toBeUndefined();
    expect(request?.body.content).toBeUndefined();
    expect(extractCode(request!)).toBe(CODE);
  });

  it('rejects with a clean error when SendGrid answers 500', async () => {
    standIn.failNext('sendgrid', 500);
    const error = await rejectionOf(sendgridSender(base()).send(email()));
    expect(error.message).toBe('SendGrid refused the message (status 500)');
    expectNoSecrets(error, CODE, API_KEY, 'alice@example.com');
  });

  it('rejects within about timeoutMs when SendGrid never answers', async () => {
    standIn.setMode('sendgrid', 'hang');
    const started = Date.now();
    const error = await rejectionOf(sendgridSender({ ...base(), timeoutMs: TIMEOUT_MS }).send(email()));
    const elapsed = Date.now() - started;
    expect(error.message).toBe(`SendGrid did not answer within ${TIMEOUT_MS} ms`);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 700);
    expectNoSecrets(error, CODE, API_KEY);
    expect(standIn.requestsFor('sendgrid')).toHaveLength(1);
  });

  it('keeps a path prefix of the base URL in front of the SDK path', async () => {
    const error = await rejectionOf(sendgridSender({ ...base(), apiBaseUrl: `${standIn.url}/proxy/sendgrid/` }).send(email()));
    expect(error.message).toBe('SendGrid refused the message (status 404)');
    const [request] = standIn.requests;
    expect(request?.provider).toBe('unknown');
    expect(request?.path).toBe('/proxy/sendgrid/v3/mail/send');
  });

  it('rejects phone messages without calling the API', async () => {
    const error = await rejectionOf(sendgridSender(base()).send(sms()));
    expect(error.message).toMatch(/email only/);
    expectNoSecrets(error, CODE);
    expect(standIn.requests).toHaveLength(0);
  });

  it('refuses to be built without apiKey or from, or with a bad option', () => {
    expect(() => sendgridSender({ from: 'a@example.com' } as never)).toThrow(TypeError);
    expect(() => sendgridSender({ apiKey: '', from: 'a@example.com' })).toThrow(TypeError);
    expect(() => sendgridSender({ apiKey: API_KEY } as never)).toThrow(TypeError);
    expect(() => sendgridSender({ apiKey: API_KEY, from: { email: '' } })).toThrow(TypeError);
    expect(() => sendgridSender({ apiKey: API_KEY, from: 'a@example.com', templateId: 'legacy-id' })).toThrow(TypeError);
    expect(() => sendgridSender({ apiKey: API_KEY, from: 'a@example.com', timeoutMs: 0 })).toThrow(TypeError);
    expect(() => sendgridSender({ apiKey: API_KEY, from: 'a@example.com', apiBaseUrl: 'not a url' })).toThrow(TypeError);
  });
});

describe('twilioSender', () => {
  const base = () => ({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiBaseUrl: standIn.url });
  const basicAuth = `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`;

  it('posts the message form with basic auth, To, From and the code in Body', async () => {
    await twilioSender({ ...base(), from: '+14155550199' }).send(sms());

    const [request, ...others] = standIn.requestsFor('twilio');
    expect(others).toHaveLength(0);
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
    expect(request?.accountSid).toBe(ACCOUNT_SID);
    expect(request?.headers.authorization).toBe(basicAuth);
    expect(request?.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(request?.body.To).toBe('+14155550100');
    expect(request?.body.From).toBe('+14155550199');
    expect(request?.body.MessagingServiceSid).toBeUndefined();
    expect(request?.body.Body).toBe(`Your verification code is ${CODE}. It expires in 10 minutes. Don't share it.`);
    expect(extractCode(request!)).toBe(CODE);
    expect(lastCodeSentTo(standIn, '+14155550100')).toBe(CODE);
  });

  it('keeps a path prefix of the base URL in front of the SDK path', async () => {
    // The stand-in plays only the unprefixed path, so it answers the prefixed one 404.
    const error = await rejectionOf(
      twilioSender({ ...base(), apiBaseUrl: `${standIn.url}/proxy/twilio/`, from: '+14155550199' }).send(sms()),
    );
    expect(error.message).toBe('Twilio refused the message (status 404)');
    const [request] = standIn.requests;
    expect(request?.provider).toBe('unknown');
    expect(request?.path).toBe(`/proxy/twilio/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
  });

  it('sends MessagingServiceSid instead of From', async () => {
    await twilioSender({
      ...base(),
      messagingServiceSid: SERVICE_SID,
      body: ({ code, minutes }) => `Code: ${code} (${minutes} min)`,
    }).send(sms({ expiresAt: new Date(Date.now() + 30_000) }));

    const [request] = standIn.requestsFor('twilio');
    expect(request?.body.MessagingServiceSid).toBe(SERVICE_SID);
    expect(request?.body.From).toBeUndefined();
    expect(request?.body.Body).toBe(`Code: ${CODE} (1 min)`);
  });

  it('rejects with a clean error when Twilio answers 500', async () => {
    standIn.failNext('twilio', 500);
    const error = await rejectionOf(twilioSender({ ...base(), from: '+14155550199' }).send(sms()));
    expect(error.message).toBe('Twilio refused the message (status 500, Twilio error 20500)');
    expectNoSecrets(error, CODE, AUTH_TOKEN, '+14155550100');
  });

  it('rejects within about timeoutMs when Twilio never answers', async () => {
    standIn.setMode('twilio', 'hang');
    const started = Date.now();
    const error = await rejectionOf(twilioSender({ ...base(), from: '+14155550199', timeoutMs: TIMEOUT_MS }).send(sms()));
    const elapsed = Date.now() - started;
    expect(error.message).toBe(`Twilio did not answer within ${TIMEOUT_MS} ms`);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 700);
    expectNoSecrets(error, CODE, AUTH_TOKEN);
    expect(standIn.requestsFor('twilio')).toHaveLength(1);
  });

  it('rejects email messages without calling the API', async () => {
    const error = await rejectionOf(twilioSender({ ...base(), from: '+14155550199' }).send(email()));
    expect(error.message).toMatch(/SMS only/);
    expectNoSecrets(error, CODE);
    expect(standIn.requests).toHaveLength(0);
  });

  it('refuses to be built without credentials, or without exactly one of from and messagingServiceSid', () => {
    const from = '+14155550199';
    expect(() => twilioSender({ authToken: AUTH_TOKEN, from } as never)).toThrow(TypeError);
    expect(() => twilioSender({ accountSid: 'SK123', authToken: AUTH_TOKEN, from })).toThrow(TypeError);
    expect(() => twilioSender({ accountSid: ACCOUNT_SID, authToken: '', from })).toThrow(TypeError);
    expect(() => twilioSender({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN } as never)).toThrow(TypeError);
    expect(() =>
      twilioSender({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from, messagingServiceSid: SERVICE_SID } as never),
    ).toThrow(TypeError);
    expect(() => twilioSender({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: '4155550199' })).toThrow(TypeError);
    expect(() => twilioSender({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from, timeoutMs: -1 })).toThrow(TypeError);
    expect(() => twilioSender({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from, apiBaseUrl: 'ftp://x' })).toThrow(
      TypeError,
    );
  });
});

describe('consoleSender', () => {
  it('prints one line per message with destination, code and the action it approves', async () => {
    const lines: string[] = [];
    const sender = consoleSender({ write: (line) => lines.push(line) });
    expect(lines).toHaveLength(0);
    await sender.send(email());
    await sender.send(sms({ code: '135790', action: { type: 'transfer', amount: '250.00', currency: 'EUR', payee: 'NL91ABNA0417164300' } }));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('alice@example.com');
    expect(lines[0]).toContain(CODE);
    expect(lines[1]).toContain('+14155550100');
    expect(lines[1]).toContain('135790');
    expect(lines[1]).toContain('to approve transfer: amount 250.00, currency EUR, payee NL91ABNA0417164300');
  });

  it('writes to console.log by default', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await consoleSender().send(email());
      expect(log).toHaveBeenCalledTimes(1);
      expect(String(log.mock.calls[0]?.[0])).toContain(CODE);
    } finally {
      log.mockRestore();
    }
  });

  it('createStepUp warns through onWarning (once, coded) that a console sender is not for production, also behind senderByChannel', () => {
    for (const sender of [consoleSender({ write: () => undefined }), senderByChannel({ email: consoleSender({ write: () => undefined }) })]) {
      const warnings: Array<{ code: string; message: string }> = [];
      createStepUp({ authenticate: () => null, users: { findById: () => null }, sender, secret: 'k'.repeat(32), onWarning: (w) => void warnings.push(w) });
      expect(warnings).toEqual([{ code: 'WARN_STEP_UP_CONSOLE_SENDER', message: expect.stringMatching(/never in production/) }]);
    }
  });
});
