import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Seals TOTP secrets for storage: AES-256-GCM (node:crypto) under a key derived with HKDF-SHA256
 * from the server `secret`, so that neither the app's database nor the store ever holds a secret
 * in clear, and a database leak without the server secret gives no codes.
 *
 * The user id is the additional authenticated data: a sealed secret copied to another user's row
 * does not open. Format: `v1.` + base64url(IV 12 bytes | ciphertext | tag 16 bytes); the version
 * leaves room for another scheme or key later.
 *
 * Changing the server secret makes every sealed secret unreadable (its users must enroll again).
 */
const INFO = 'express-step-up totp-secret v1';
const VERSION = 'v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Strict base64url without padding (Buffer.from(…, 'base64url') would skip stray characters silently). */
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Far above any TOTP secret (20 bytes here, 64 at most anywhere): anything longer is not ours. */
const MAX_SEALED_LENGTH = 256;

export class SecretSealer {
  readonly #key: Buffer;

  /** `serverSecret`: the createStepUp `secret` (at least 32 bytes). */
  constructor(serverSecret: Buffer) {
    // No salt: the input is already a uniformly strong secret of ≥ 32 bytes (RFC 5869 §3.1); the info label separates this key from every other use of it.
    this.#key = Buffer.from(hkdfSync('sha256', serverSecret, Buffer.alloc(0), INFO, 32));
  }

  /** The secret bytes sealed for this user, with a fresh random IV. */
  seal(userId: string, secret: Uint8Array): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(userId, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
    return VERSION + Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url');
  }

  /**
   * The secret bytes, or null when `sealed` is not a sealed secret of this user under this key
   * (tampered, another user's, sealed under another server secret, malformed). Never throws.
   */
  open(userId: string, sealed: unknown): Buffer | null {
    if (typeof sealed !== 'string' || sealed.length > MAX_SEALED_LENGTH || !sealed.startsWith(VERSION)) return null;
    const encoded = sealed.slice(VERSION.length);
    if (!BASE64URL.test(encoded)) return null;
    const bytes = Buffer.from(encoded, 'base64url');
    if (bytes.length <= IV_BYTES + TAG_BYTES) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(userId, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
    } catch {
      return null;
    }
  }
}
