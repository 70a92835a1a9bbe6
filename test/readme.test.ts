import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../example-app/quick-start';
import { tokenFor, JWT_SECRET } from './helpers/harness';

const root = path.join(__dirname, '..');

describe('README', () => {
  test('the quick start in the README is example-app/quick-start.ts, word for word (but the import path)', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const source = readFileSync(path.join(root, 'example-app/quick-start.ts'), 'utf8').replace("'../lib/index'", "'express-step-up'");
    expect(readme).toContain(source);
  });

  test('the quick start works: 403, verify the password, one payout, then 403 again', async () => {
    const app = createApp(JWT_SECRET);
    const auth = `Bearer ${tokenFor('usr_1')}`;
    const refused = await request(app).post('/api/payouts').set('Authorization', auth).send({});
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('verification.required');
    // as the README shows it: no sender, so no email or phone codes offered
    expect(refused.body.requirement).toEqual({ methods: ['password'], maxAge: 300 });
    const verified = await request(app).post('/api/verifications/password/verify').set('Authorization', auth).send({ password: 'a long passphrase' });
    expect(verified.status).toBe(201);
    const id = verified.body.verificationRecordId as string;
    const paid = await request(app).post('/api/payouts').set('Authorization', auth).set('Verification-Id', id).send({});
    expect(paid.status).toBe(201);
    expect(paid.body).toEqual({ paidBy: 'usr_1', method: 'password' });
    await request(app).post('/api/payouts').set('Authorization', auth).set('Verification-Id', id).send({}).expect(403);
  });

  test('every error code the library can answer is in the README table', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const { ERROR_STATUS } = require('../lib/errors') as typeof import('../lib/errors');
    for (const [code, status] of Object.entries(ERROR_STATUS)) expect(readme).toContain(`| \`${code}\` | ${status} |`);
  });
});
