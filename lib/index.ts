export { createStepUp, type StepUp } from './step-up';
export type { StepUpOptions } from './options';
export type { AuditEvent, AuditEventType } from './events';
export { DEFAULT_LIMITS, type RateLimits, type LimitWindow } from './rate-limit/limits';
export type { RequireVerificationOptions, VerificationContext } from './guard';
export type { RequireNewIdentifierOptions } from './new-identifier';
export { jwtAuthenticator, type JwtAuthenticatorOptions, type JwtAlgorithm } from './auth/jwt';
export { oidcAuthenticator, type OidcAuthenticatorOptions, type OidcAlgorithm } from './auth/oidc';
export type { Authenticator, AuthenticatorResult, Principal } from './auth/authenticator';
export { asyncHandler } from './http/async-handler';
export type { StepUpUser, UserLookup } from './users';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory-store';
export { RedisStore, type RedisStoreOptions } from './stores/redis-store';
export { StoreUnavailableError, type VerificationStore } from './stores/store';
export type { Sender, CodeMessage } from './senders/sender';
export { VerificationError, ERROR_STATUS, jsonErrorHandler, type ErrorCode } from './errors';
export { jsonBody } from './http/json-body';
export type {
  VerificationMethod,
  VerificationRecord,
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
export { withVerification, type FetchLike, type VerificationRequirement, type VerificationRequiredContext, type VerificationRecordId, type WithVerificationOptions } from './client/with-verification';
