import { z } from 'zod';
import { actionSchema } from '../action';
import type { ErrorCode } from '../errors';

/**
 * Every schema of the HTTP contract: the request bodies the router validates, and the answers it
 * sends. The OpenAPI document (`lib/openapi.ts`) is generated from these, so a change here
 * changes both the validation and the documentation.
 */

/** RFC 5321 caps a path at 254 characters; E.164 at 15 digits. Longer input is refused early. */
export const MAX_EMAIL_LENGTH = 254;

/** The wire shape of an identifier; `normalizeIdentifier` then checks and normalises the value. */
export const identifierSchema = z
  .object({
    type: z.enum(['email', 'phone']),
    value: z.string().min(1).max(MAX_EMAIL_LENGTH),
  })
  .meta({ description: 'An email address, or a phone number in E.164 form (e.g. +14155550100).' });

/** bcrypt reads at most 72 bytes; anything far beyond is not a password but a payload. */
export const passwordBody = z.object({ password: z.string().min(1).max(1024), action: actionSchema.optional() });
/** The action is bound when the code is sent (the message names it); verifying the code keeps it. */
export const sendCodeBody = z.object({ identifier: identifierSchema, action: actionSchema.optional() });
export const verifyCodeBody = z.object({
  identifier: identifierSchema,
  verificationId: z.string().min(1).max(128).meta({ description: 'The `verificationRecordId` answered by POST /verification-code.' }),
  code: z.string().min(1).max(32).meta({ description: 'The one-time code the user received.' }),
});

/** A TOTP code as authenticator apps show it, without the space some put in the middle. */
const totpCode = z
  .string()
  .regex(/^[0-9]{6}$/)
  .meta({ description: 'The 6-digit code the authenticator app shows now (digits only, no space).' });
export const totpCodeBody = z.object({ code: totpCode });
export const totpVerifyBody = z.object({ code: totpCode, action: actionSchema.optional() });

/** The answer of POST /totp/enrollment. */
export const totpEnrollmentAnswer = z.object({
  secret: z
    .string()
    .regex(/^[A-Z2-7]+$/)
    .meta({ description: 'The new secret, base32 (RFC 4648, no padding), for typing it into an authenticator app.' }),
  otpauthUri: z
    .string()
    .startsWith('otpauth://totp/')
    .meta({ description: 'The key URI (`otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`), e.g. for a QR code.' }),
});

/** The answer of every verification step. */
export const recordAnswer = z.object({
  verificationRecordId: z
    .string()
    .min(1)
    .meta({ description: 'Opaque, URL-safe id of the record: send it in the guard\'s header (or to verify a code).' }),
  expiresAt: z.iso.datetime().meta({ description: 'When the record (or the code, for a sent code) expires, ISO 8601 UTC.' }),
});


/**
 * Passkeys (WebAuthn). The browser's answers are checked for their shape here (objects of
 * base64url strings, each bounded); what they say is checked by @simplewebauthn/server.
 */
const base64url = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, 'base64url');
/** A credential id is at most 1023 bytes (WebAuthn §5.8.3): 1364 base64url characters. */
const credentialId = base64url(1364);
const credentialFields = {
  id: credentialId,
  rawId: credentialId,
  type: z.literal('public-key'),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: z.record(z.string().max(64), z.unknown()).default({}),
};

export const registrationResponseSchema = z
  .object({
    ...credentialFields,
    response: z.object({
      clientDataJSON: base64url(4096),
      attestationObject: base64url(12288),
      authenticatorData: base64url(8192).optional(),
      transports: z.array(z.string().regex(/^[a-z-]{1,32}$/)).max(8).optional(),
      publicKeyAlgorithm: z.int().optional(),
      publicKey: base64url(4096).optional(),
    }),
  })
  .meta({ description: 'The browser\'s RegistrationResponseJSON (`startRegistration()` of @simplewebauthn/browser, or `credential.toJSON()`).' });

export const authenticationResponseSchema = z
  .object({
    ...credentialFields,
    response: z.object({
      clientDataJSON: base64url(4096),
      authenticatorData: base64url(8192),
      signature: base64url(2048),
      userHandle: base64url(128).optional(),
    }),
  })
  .meta({ description: 'The browser\'s AuthenticationResponseJSON (`startAuthentication()` of @simplewebauthn/browser, or `credential.toJSON()`).' });

export const passkeyRegistrationVerifyBody = z.object({ response: registrationResponseSchema });
export const passkeyAuthenticationBody = z.object({ action: actionSchema.optional() });
export const passkeyAuthenticationVerifyBody = z.object({
  verificationRecordId: z.string().min(1).max(128).meta({ description: 'The `verificationRecordId` answered by POST /web-authn/authentication.' }),
  response: authenticationResponseSchema,
});

const credentialDescriptor = z.looseObject({ id: z.string().min(1), type: z.literal('public-key'), transports: z.array(z.string()).optional() });

export const registrationOptionsAnswer = z.object({
  registrationOptions: z
    .looseObject({
      challenge: z.string().min(1),
      rp: z.looseObject({ name: z.string(), id: z.string().optional() }),
      user: z.looseObject({ id: z.string().min(1), name: z.string(), displayName: z.string() }),
      pubKeyCredParams: z.array(z.looseObject({ type: z.literal('public-key'), alg: z.int() })),
      timeout: z.int().positive().optional(),
      excludeCredentials: z.array(credentialDescriptor).optional(),
      authenticatorSelection: z.looseObject({ userVerification: z.literal('required') }),
      attestation: z.string().optional(),
    })
    .meta({
      description:
        'PublicKeyCredentialCreationOptionsJSON for `startRegistration({ optionsJSON })` of @simplewebauthn/browser: user ' +
        'verification required, the user\'s passkeys excluded. The challenge can be answered once, within 5 minutes.',
    }),
});

export const passkeyCredentialAnswer = z.object({
  credentialId: z.string().min(1).meta({ description: 'The id (base64url) of the passkey now saved for the user.' }),
});

export const authenticationOptionsAnswer = recordAnswer.extend({
  authenticationOptions: z
    .looseObject({
      challenge: z.string().min(1),
      rpId: z.string().optional(),
      timeout: z.int().positive().optional(),
      allowCredentials: z.array(credentialDescriptor),
      userVerification: z.literal('required'),
    })
    .meta({
      description:
        'PublicKeyCredentialRequestOptionsJSON for `startAuthentication({ optionsJSON })` of @simplewebauthn/browser, over ' +
        'the user\'s passkeys, user verification required. Its challenge can be answered once, until `expiresAt`.',
    }),
});

/** What a guard refusal tells a client to ask the user for. */
export const requirementSchema = z
  .object({
    methods: z
      .array(z.string().min(1))
      .meta({ description: 'The methods of the route this user can use now, e.g. `password`, `email`, `phone`, `passkey`, `totp`, or the app\'s own.' }),
    maxAge: z.number().positive().meta({ description: 'Seconds since verification after which a record no longer satisfies the route.' }),
    action: actionSchema.optional(),
  })
  .meta({ description: 'What the client should ask the user to verify.' });

/** Extra fields of an error answer, by code (codes not listed carry only `code` and `message`). */
export const ERROR_DETAILS: Partial<Record<ErrorCode, z.ZodRawShape>> = {
  'request.invalid_input': { field: z.string().meta({ description: 'The offending field, as a dotted path (`body` for the body itself).' }) },
  'verification.invalid_credentials': {
    remainingAttempts: z.int().min(0).optional().meta({ description: 'Wrong passwords and TOTP codes still allowed before the lockout.' }),
  },
  'verification_code.code_mismatch': {
    remainingAttempts: z.int().min(0).meta({ description: 'Wrong codes still allowed for this record.' }),
  },
  'verification.required': { requirement: requirementSchema },
  'verification.invalid': { requirement: requirementSchema },
  'verification.insufficient': { requirement: requirementSchema },
  'verification.no_available_method': { requirement: requirementSchema },
  'verification.new_identifier_unverified': { identifierType: z.enum(['email', 'phone']) },
};

/** Any error answer: `{ code, message, ...details }`. */
export const errorBody = z
  .looseObject({
    code: z.string().meta({ description: 'Stable machine-readable code, e.g. `verification.required`.' }),
    message: z.string().meta({ description: 'Human-readable text; may change, do not parse it.' }),
  })
  .meta({ description: 'Every error answer: a stable code, a message, and details for some codes.' });

/** The exact error answer of one code: its `code` constant, `message`, and that code's details. */
export function errorBodyOf(code: ErrorCode) {
  return z.object({ code: z.literal(code), message: z.string(), ...ERROR_DETAILS[code] });
}
