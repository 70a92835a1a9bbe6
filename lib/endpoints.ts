import type { z } from 'zod';
import type { ErrorCode } from './errors';
import {
  authenticationOptionsAnswer,
  passkeyAuthenticationBody,
  passkeyAuthenticationVerifyBody,
  passkeyCredentialAnswer,
  passkeyRegistrationVerifyBody,
  passwordBody,
  recordAnswer,
  registrationOptionsAnswer,
  sendCodeBody,
  totpCodeBody,
  totpEnrollmentAnswer,
  totpVerifyBody,
  verifyCodeBody,
} from './http/schemas';

/**
 * The router's endpoints as data, beside lib/router.ts: what each accepts, answers and may refuse
 * with. The OpenAPI document is generated from this table (statuses from `ERROR_STATUS`), the
 * router answers 404/405 for anything outside it, and test/openapi.test.ts checks that the
 * router's routes are exactly these and that every real answer is one documented here.
 */
export interface RouterEndpoint {
  readonly method: 'post';
  /** Relative to where the router is mounted. */
  readonly path: string;
  /** Other paths served by the same handler. */
  readonly aliases: readonly string[];
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  /** The zod schema that validates the body, and its component name in the OpenAPI document; absent: no body. */
  readonly body?: { readonly schema: z.ZodType; readonly name: string };
  /** The endpoint takes the guard's header: the id of a fresh identity record (enrolling a factor). */
  readonly takesVerificationId?: boolean;
  /** The option that turns the endpoint on (`passkeys`, `totp`); absent: always served. */
  readonly feature?: Feature;
  readonly success: SuccessAnswer;
  /** The refusals of this endpoint, beside the `ROUTER_ERRORS` that every endpoint may answer. */
  readonly errors: readonly ErrorCode[];
}

/** The success answer of an endpoint: a JSON body of `schema` (its component is `name`), or 204 without a body. */
export type SuccessAnswer =
  | { readonly status: 200 | 201; readonly description: string; readonly schema: z.ZodType; readonly name: string }
  | { readonly status: 204; readonly description: string };

/** Factors an app turns on with an option of createStepUp; their endpoints are served only then. */
export type Feature = 'passkeys' | 'totp';
export type Features = Readonly<Record<Feature, boolean>>;

/** The endpoints served with these features on (the OpenAPI document and the 404/405 answers follow it). */
export function endpointsFor(features: Features): RouterEndpoint[] {
  return ROUTER_ENDPOINTS.filter((endpoint) => endpoint.feature === undefined || features[endpoint.feature]);
}

/** What every endpoint of the router may answer, whatever it does. */
export const ROUTER_ERRORS: readonly ErrorCode[] = [
  'auth.unauthorized',
  'request.invalid_json',
  'request.invalid_input',
  'request.too_large',
  'request.unsupported_media_type',
  'request.rate_limited',
  'verification.unavailable',
  'server.internal_error',
];

const record = { schema: recordAnswer, name: 'VerificationRecordAnswer' } as const;

export const ROUTER_ENDPOINTS: readonly RouterEndpoint[] = [
  {
    method: 'post',
    path: '/password/verify',
    aliases: ['/password'],
    operationId: 'verifyPassword',
    summary: 'Verify the user\'s password',
    description:
      'Checks the password of the authenticated user and answers a verified record. A wrong password, and a user ' +
      'without one, get the same answer in about the same time. Once the user\'s failure budget is spent, even ' +
      'the right password is refused until the window ends.',
    body: { schema: passwordBody, name: 'PasswordVerifyBody' },
    success: { status: 201, description: 'A verified password record.', ...record },
    errors: ['verification.invalid_credentials', 'verification.too_many_attempts'],
  },
  {
    method: 'post',
    path: '/verification-code',
    aliases: [],
    operationId: 'sendVerificationCode',
    summary: 'Send a one-time code to an email or phone',
    description:
      'Sends a one-time code and answers its pending record once the provider accepted the message; `expiresAt` ' +
      'is when the code expires. A code to one of the user\'s current identifiers proves identity; to any other, ' +
      'only ownership of that new identifier.',
    body: { schema: sendCodeBody, name: 'SendCodeBody' },
    success: { status: 201, description: 'The pending record of the code that was sent.', ...record },
    errors: ['verification_code.rate_limited', 'verification_code.identifier_not_allowed', 'verification_code.delivery_failed'],
  },
  {
    method: 'post',
    path: '/verification-code/verify',
    aliases: [],
    operationId: 'verifyVerificationCode',
    summary: 'Verify a one-time code',
    description:
      'Checks the code of a pending record of this user and identifier, and answers the verified record. After the ' +
      'last allowed wrong code the record is dead: even the right code no longer works.',
    body: { schema: verifyCodeBody, name: 'VerifyCodeBody' },
    success: { status: 200, description: 'The verified record.', ...record },
    errors: [
      'verification_record.not_found',
      'verification_code.identifier_mismatch',
      'verification_code.code_mismatch',
      'verification_code.exceed_max_try',
      'verification.too_many_attempts',
    ],
  },
  {
    method: 'post',
    path: '/web-authn/registration',
    aliases: [],
    operationId: 'startPasskeyRegistration',
    summary: 'Start registering a passkey',
    description:
      'Answers the options for the browser\'s `navigator.credentials.create()` and keeps their challenge as the pending ' +
      'registration of this user and session (a new call replaces it). Takes no body; the header carries the id of a ' +
      'verified identity record of this user, any method, at most 10 minutes old, which this call consumes. Without ' +
      'one, the answer is the guard\'s 403.',
    takesVerificationId: true,
    feature: 'passkeys',
    success: { status: 200, description: 'The registration options.', schema: registrationOptionsAnswer, name: 'PasskeyRegistrationOptionsAnswer' },
    errors: ['verification.required', 'verification.invalid', 'verification.insufficient', 'verification.no_available_method'],
  },
  {
    method: 'post',
    path: '/web-authn/registration/verify',
    aliases: [],
    operationId: 'verifyPasskeyRegistration',
    summary: 'Finish registering a passkey',
    description:
      'Checks the browser\'s answer against the pending registration (used up by this call, whatever the outcome): ' +
      'challenge, origin, RP id, user presence and verification, attestation. The app\'s user port then saves the passkey.',
    body: { schema: passkeyRegistrationVerifyBody, name: 'PasskeyRegistrationVerifyBody' },
    feature: 'passkeys',
    success: { status: 201, description: 'The passkey was saved.', schema: passkeyCredentialAnswer, name: 'PasskeyCredentialAnswer' },
    errors: ['verification.invalid_credentials'],
  },
  {
    method: 'post',
    path: '/web-authn/authentication',
    aliases: [],
    operationId: 'startPasskeyAuthentication',
    summary: 'Start a verification by passkey',
    description:
      'Answers the options for the browser\'s `navigator.credentials.get()` over the user\'s passkeys, with a fresh ' +
      'challenge kept under `verificationRecordId` until `expiresAt`. With an `action`, the challenge commits to it ' +
      '(its last 32 bytes are the SHA-256 of the action\'s canonical JSON), so the passkey signs over the action, and ' +
      'the record satisfies only a guard asking for exactly that action. A user without a passkey gets 403 ' +
      '`verification.no_available_method`.',
    body: { schema: passkeyAuthenticationBody, name: 'PasskeyAuthenticationBody' },
    feature: 'passkeys',
    success: { status: 201, description: 'The authentication options and the pending record.', schema: authenticationOptionsAnswer, name: 'PasskeyAuthenticationOptionsAnswer' },
    errors: ['verification.no_available_method'],
  },
  {
    method: 'post',
    path: '/web-authn/authentication/verify',
    aliases: [],
    operationId: 'verifyPasskeyAuthentication',
    summary: 'Verify a passkey',
    description:
      'Checks the browser\'s answer against the pending challenge (used up by this call, whatever the outcome) and one ' +
      'of the user\'s passkeys: signature, origin, RP id, user verification, signature counter. Answers the verified ' +
      'record, method `passkey`, under the same id.',
    body: { schema: passkeyAuthenticationVerifyBody, name: 'PasskeyAuthenticationVerifyBody' },
    feature: 'passkeys',
    success: { status: 200, description: 'The verified record.', ...record },
    errors: ['verification_record.not_found', 'verification.invalid_credentials'],
  },
  {
    method: 'post',
    path: '/totp/enrollment',
    aliases: [],
    operationId: 'startTotpEnrollment',
    summary: 'Start enrolling an authenticator app (TOTP)',
    description:
      'Takes no body; the header carries the id of a verified identity record of this user, any method, at most 10 ' +
      'minutes old, which this call consumes. Draws a new TOTP secret (RFC 6238: SHA1, 6 digits, 30 s) and keeps it, encrypted, ' +
      'as the user\'s pending enrollment for 10 minutes, in this session. Show the secret or the key URI (as a QR ' +
      'code) and confirm with POST /totp/enrollment/verify. Refusals are the guard\'s.',
    takesVerificationId: true,
    feature: 'totp',
    success: { status: 200, description: 'The new secret, to add to an authenticator app.', schema: totpEnrollmentAnswer, name: 'TotpEnrollmentAnswer' },
    errors: ['verification.required', 'verification.invalid', 'verification.insufficient', 'verification.no_available_method'],
  },
  {
    method: 'post',
    path: '/totp/enrollment/verify',
    aliases: [],
    operationId: 'confirmTotpEnrollment',
    summary: 'Confirm TOTP enrollment with a first code',
    description:
      'Checks a code of the pending enrollment\'s secret (±1 step); on success the app saves the encrypted secret ' +
      'and the enrollment ends. A wrong code keeps the enrollment (try again); wrong codes count against the ' +
      'user\'s failure budget shared with passwords.',
    body: { schema: totpCodeBody, name: 'TotpCodeBody' },
    feature: 'totp',
    success: { status: 204, description: 'TOTP is enrolled.' },
    errors: ['verification_record.not_found', 'verification.invalid_credentials', 'verification.too_many_attempts'],
  },
  {
    method: 'post',
    path: '/totp/verify',
    aliases: [],
    operationId: 'verifyTotp',
    summary: 'Verify a TOTP code',
    description:
      'Checks a code of the user\'s enrolled secret (±1 step) and answers a verified record of method `totp`. Each ' +
      'time step is accepted once per user: a code already used is refused. A wrong code, a used one, and a user ' +
      'without TOTP get the same answer. Wrong codes count against the user\'s failure budget shared with passwords.',
    body: { schema: totpVerifyBody, name: 'TotpVerifyBody' },
    feature: 'totp',
    success: { status: 201, description: 'A verified TOTP record.', ...record },
    errors: ['verification.invalid_credentials', 'verification.too_many_attempts'],
  },
];
