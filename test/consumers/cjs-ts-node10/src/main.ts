// Consumer (c): TypeScript compiled to CommonJS with moduleResolution node10, which ignores
// package.json `exports`: `express-step-up/client` resolves through the package's client/package.json.
// It serves the README's quick start (src/readme/quick-start.ts, compiled as written), has the
// client helper from `express-step-up/client` make a payout against it (403 → verify → retry once),
// then prints the port for ../run.ts, which drives the HTTP flow.
import type { AddressInfo } from 'node:net';
import { withVerification, type VerificationRequirement } from 'express-step-up/client';
import { createApp } from './readme/quick-start';

async function main(): Promise<void> {
  const jwtSecret = required('JWT_SECRET');
  const token = required('CONSUMER_TOKEN');
  const app = createApp(jwtSecret);
  const port = await new Promise<number>((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)).once('error', reject);
  });
  const base = `http://127.0.0.1:${port}`;
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` };

  // The client helper, as a browser app would use it: the "dialog" verifies the password.
  const asked: VerificationRequirement[] = [];
  const api = withVerification((input, init) => fetch(input, init), {
    onVerificationRequired: async (requirement) => {
      asked.push(requirement);
      const answer = await fetch(`${base}/api/verifications/password/verify`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ password: 'a long passphrase' }),
      });
      const body = (await answer.json()) as { verificationRecordId?: string };
      return body.verificationRecordId ?? null;
    },
  });
  const paid = await api(`${base}/api/payouts`, { method: 'POST', headers, body: JSON.stringify({ amount: 10 }) });
  if (paid.status !== 201 || asked.length !== 1 || !asked[0]?.methods?.includes('password')) {
    throw new Error(`withVerification: expected one verification then 201, got ${paid.status} after ${asked.length} verification(s)`);
  }
  const cancelled = withVerification((input, init) => fetch(input, init), { onVerificationRequired: () => null });
  const refused = await cancelled(`${base}/api/payouts`, { method: 'POST', headers, body: '{}' });
  if (refused.status !== 403) throw new Error(`withVerification: a cancelled verification must hand back the 403, got ${refused.status}`);

  console.log(`CONSUMER_READY ${JSON.stringify({ 'quick start (README, memory store), after the client helper': port })}`);
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set (../run.ts sets it)`);
  return value;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
