import { randomBytes } from 'node:crypto';
import { SecretSealer } from '../lib/totp/sealed-secret';

describe('SecretSealer (AES-256-GCM under an HKDF key of the server secret, the user id as AAD)', () => {
  const serverSecret = randomBytes(32);
  const sealer = new SecretSealer(serverSecret);
  const secret = randomBytes(20);

  test('opens what it sealed, for the same user', () => {
    const sealed = sealer.seal('usr_alice', secret);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(sealer.open('usr_alice', sealed)).toEqual(secret);
    // Another instance with the same server secret (another process of the app) opens it too.
    expect(new SecretSealer(Buffer.from(serverSecret)).open('usr_alice', sealed)).toEqual(secret);
  });

  test('the sealed form holds no trace of the secret, and differs each time (random IV)', () => {
    const a = sealer.seal('usr_alice', secret);
    const b = sealer.seal('usr_alice', secret);
    expect(a).not.toBe(b);
    for (const encoding of ['hex', 'base64', 'base64url'] as const) expect(a).not.toContain(secret.toString(encoding));
    expect(Buffer.from(a.slice(3), 'base64url').includes(secret)).toBe(false);
  });

  test('another user, another server secret, or any changed byte: null', () => {
    const sealed = sealer.seal('usr_alice', secret);
    expect(sealer.open('usr_bob', sealed)).toBeNull();
    expect(sealer.open('usr_alicE', sealed)).toBeNull();
    expect(new SecretSealer(randomBytes(32)).open('usr_alice', sealed)).toBeNull();
    const bytes = Buffer.from(sealed.slice(3), 'base64url');
    for (let i = 0; i < bytes.length; i += 1) {
      const tampered = Buffer.from(bytes);
      tampered[i] = (tampered[i] as number) ^ 0x01;
      expect(sealer.open('usr_alice', `v1.${tampered.toString('base64url')}`)).toBeNull();
    }
    // Cut short (IV and tag only, or less), or extended.
    expect(sealer.open('usr_alice', `v1.${bytes.subarray(0, 28).toString('base64url')}`)).toBeNull();
    expect(sealer.open('usr_alice', `v1.${Buffer.concat([bytes, Buffer.from([0])]).toString('base64url')}`)).toBeNull();
  });

  test('anything that is not a sealed secret: null, never a throw', () => {
    const sealed = sealer.seal('usr_alice', secret);
    for (const value of [undefined, null, 42, {}, '', 'v1.', 'v2.' + sealed.slice(3), sealed.slice(3), `${sealed}=`, `${sealed} `, `v1.${'A'.repeat(300)}`, 'v1.!!!!']) {
      expect(sealer.open('usr_alice', value)).toBeNull();
    }
  });
});
