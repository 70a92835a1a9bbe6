import { randomBytes } from 'node:crypto';

/** The example app's settings, read from the environment (all optional; see the README). */
export interface ExampleConfig {
  port: number;
  redisUrl: string | undefined;
  jwtSecret: string;
  verificationSecret: string;
  recordTtlSeconds: number;
  codeTtlSeconds: number;
  sendgrid: { apiKey: string; from: string; apiUrl: string | undefined } | undefined;
  twilio: { accountSid: string; authToken: string; from: string; apiUrl: string | undefined } | undefined;
  /** An identity provider whose access tokens the app accepts besides its own (`sub` is the user id). */
  oidc: { issuer: string; audience: string; jwksUri: string | undefined } | undefined;
  /**
   * The relying party of passkeys: its id (the page's host name or a parent domain of it; never an
   * IP address) and the exact origin the page is served from.
   */
  webauthn: { rpId: string; origin: string };
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

function secretOrRandom(env: NodeJS.ProcessEnv, name: string, warn: (line: string) => void): string {
  const value = env[name];
  if (value) return value;
  warn(`${name} is not set: using a random secret for this process only (set it when several instances share a Redis).`);
  return randomBytes(48).toString('base64');
}

export function readConfig(env: NodeJS.ProcessEnv, warn: (line: string) => void = console.warn): ExampleConfig {
  const mailFrom = env.MAIL_FROM;
  const twilioFrom = env.TWILIO_FROM;
  const port = positiveInt(env, 'PORT', 3000);
  return {
    port,
    redisUrl: env.REDIS_URL || undefined,
    jwtSecret: secretOrRandom(env, 'JWT_SECRET', warn),
    verificationSecret: secretOrRandom(env, 'VERIFICATION_SECRET', warn),
    recordTtlSeconds: positiveInt(env, 'VERIFICATION_TTL_SECONDS', 600),
    codeTtlSeconds: positiveInt(env, 'CODE_TTL_SECONDS', 600),
    sendgrid:
      env.SENDGRID_API_KEY && mailFrom
        ? { apiKey: env.SENDGRID_API_KEY, from: mailFrom, apiUrl: env.SENDGRID_API_URL || undefined }
        : undefined,
    oidc: env.OIDC_ISSUER
      ? { issuer: env.OIDC_ISSUER, audience: env.OIDC_AUDIENCE || 'express-step-up-example', jwksUri: env.OIDC_JWKS_URI || undefined }
      : undefined,
    twilio:
      env.TWILIO_ACCOUNT_SID && env.TWILIO_AUTH_TOKEN && twilioFrom
        ? {
            accountSid: env.TWILIO_ACCOUNT_SID,
            authToken: env.TWILIO_AUTH_TOKEN,
            from: twilioFrom,
            apiUrl: env.TWILIO_API_URL || undefined,
          }
        : undefined,
    webauthn: {
      rpId: env.WEBAUTHN_RP_ID || 'localhost',
      origin: env.WEBAUTHN_ORIGIN || `http://localhost:${port}`,
    },
  };
}
