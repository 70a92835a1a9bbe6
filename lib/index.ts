/**
 * `express-step-up`: the server side (Node and Express) of step-up verification —
 * `createStepUp()` with its router and guards, stores, senders and helpers.
 *
 * It loads Node modules (node:crypto, bcrypt, the provider SDKs when a sender is
 * made): browser code must import `express-step-up/client` instead, which has
 * `withVerification` and its types and nothing else. `withVerification` is also
 * exported here for server-side callers (tests, server-to-server fetches).
 */
export { createStepUp, type StepUp } from './step-up';
export type { StepUpOptions, TotpOptions } from './options';
export type { AuditEvent, AuditEventType } from './events';
export { DEFAULT_LIMITS, type RateLimits, type LimitWindow } from './rate-limit/limits';
export type { RequireVerification, RequireVerificationOptions, VerificationContext } from './guard';
export type { CreateVerificationOptions, CreatedVerification } from './create-verification';
export type { RequireNewIdentifierOptions } from './new-identifier';
export type { VerifyPassword } from './password';
export { jwtAuthenticator, type JwtAuthenticatorOptions, type JwtAlgorithm } from './auth/jwt';
export { oidcAuthenticator, type OidcAuthenticatorOptions, type OidcAlgorithm } from './auth/oidc';
export type { Authenticator, AuthenticatorResult, Principal } from './auth/authenticator';
export { asyncHandler } from './http/async-handler';
export type { StepUpUser, StoredPasskey, UserLookup } from './users';
export type { PasskeyOptions } from './passkeys/passkey-options';
export { memoryCounters, redisCounters, type Counters, type RedisCountersOptions } from './rate-limit/counters';
export { StepUpConfigError, CONFIG_ERROR_CODES, type ConfigErrorCode } from './config-error';
export { WARNING_CODES, type StepUpWarning, type WarningCode } from './warnings';
export { canonicalAction, describeAction, type Action } from './action';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory-store';
export { RedisStore, type RedisStoreOptions } from './stores/redis-store';
export type { RedisClient } from './redis/client';
export { StoreUnavailableError, type VerificationStore } from './stores/store';
export type { Sender, CodeMessage } from './senders/sender';
export { VerificationError, ERROR_STATUS, jsonErrorHandler, sendError, type ErrorCode, type VerificationErrorOptions } from './errors';
export { jsonBody } from './http/json-body';
export { parseBody as validateBody } from './http/validate';
export { authenticateRequest, unauthorized } from './auth/authenticator';
export { openApiDocument, type OpenApiDocument, type OpenApiInfo, type OpenApiObject, type OpenApiOptions } from './openapi';
export type {
  VerificationMethod,
  VerificationRecord,
  PendingCodeRecord,
  VerifiedRecord,
  Requester,
  RecordPurpose,
  Identifier,
  IdentifierType,
  GuardCriteria,
  CodeCheck,
  CodeCheckResult,
  RedeemCriteria,
} from './records';
export { senderByChannel } from './senders/by-channel';
export { consoleSender } from './senders/console';
export { sendgridSender, type SendgridSenderOptions } from './senders/sendgrid';
export { twilioSender, type TwilioSenderOptions } from './senders/twilio';
export { withVerification, type FetchLike, type VerificationRequirement, type VerificationRequiredContext, type VerificationRecordId, type WithVerificationOptions } from './client/index';
export { parseStepUpChallenge, type StepUpChallenge } from './client/index';
