import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { maskIdentifier } from './identifiers';
import type { Identifier, VerificationMethod } from './records';

/** Every security-relevant step the library reports. */
export type AuditEventType =
  /**
   * A password verification succeeded (record created), a code was sent (pending record created),
   * or the app recorded a check of its own (`createVerification`).
   */
  | 'verification.created'
  /** A code was verified. */
  | 'verification.succeeded'
  /** A wrong password or code, an unknown record, an identifier mismatch, or a failed delivery. */
  | 'verification.failed'
  /** A record died after too many wrong codes, or a user's failure budget is spent. */
  | 'verification.locked'
  /** A request was refused by a rate limit. */
  | 'verification.rate_limited'
  /** A guarded route let a request through. */
  | 'guard.passed'
  /** A single-use guarded route consumed a record. */
  | 'record.consumed'
  /** A guarded route refused a request. */
  | 'guard.refused'
  /** A new-identifier record was redeemed (the app may now bind the identifier). */
  | 'new_identifier.redeemed'
  /** A new-identifier redemption was refused. */
  | 'new_identifier.refused'
  /** A factor was added to the user's account (`method`: `passkey` or `totp`), after a fresh identity verification. */
  | 'factor.enrolled';

/**
 * One audit event. It never carries a code, a password, a token or a full
 * record id: identifiers are masked and records are named by a short hash.
 */
export interface AuditEvent {
  readonly type: AuditEventType;
  /** ISO 8601 UTC. */
  readonly at: string;
  readonly userId?: string;
  /** The method, or `sign_in` for a guard that accepted the identity provider's fresh sign-in. */
  readonly method?: VerificationMethod | 'sign_in';
  /** Masked, e.g. `a***e@example.com`, `+1415***0100`. */
  readonly identifier?: string;
  /** First 12 hex digits of SHA-256 of the record id: correlates events without revealing the id. */
  readonly recordRef?: string;
  /** The stable error code behind a failure or refusal. */
  readonly reason?: string;
  /** Which limit refused the request. */
  readonly limit?: string;
  readonly requestId?: string;
  readonly ip?: string;
}

export type AuditEventFields = Omit<AuditEvent, 'at' | 'requestId' | 'ip' | 'identifier' | 'recordRef'> & {
  readonly identifier?: Identifier;
  readonly recordId?: string;
};

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id from `X-Request-Id` when it is well formed (it is echoed into logs). */
export function defaultRequestId(req: Request): string | undefined {
  const value = req.headers['x-request-id'];
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined;
}

export function recordRef(recordId: string): string {
  return createHash('sha256').update(recordId).digest('hex').slice(0, 12);
}

/**
 * Builds and delivers audit events; a failing listener never affects the request.
 *
 * Nothing is built without a listener (call sites check `enabled` before making the fields).
 * With one, `emit` only queues the fields and the clock reading; the event objects (timestamp
 * text, masked identifier, record hash, request id, IP) are built and delivered together on the
 * next turn of the event loop, after the current request's answer has been written, so a listener
 * (a logger) never sits on the request's own path. Order is kept.
 */
export class Audit {
  readonly #queue: Array<{ readonly req: Request; readonly fields: AuditEventFields; readonly at: number }> = [];
  #scheduled = false;

  constructor(
    private readonly onEvent: ((event: AuditEvent) => void) | undefined,
    private readonly requestIdOf: (req: Request) => string | undefined = defaultRequestId,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether anyone listens (when not, call sites skip building the event's fields). */
  get enabled(): boolean {
    return this.onEvent !== undefined;
  }

  emit(req: Request, fields: AuditEventFields): void {
    if (this.onEvent === undefined) return;
    this.#queue.push({ req, fields, at: this.now() });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#queue.splice(0);
    for (const { req, fields, at } of batch) {
      try {
        this.onEvent?.(this.#build(req, fields, at));
      } catch {
        // An audit listener's failure must not change anything else.
      }
    }
  }

  #build(req: Request, fields: AuditEventFields, at: number): AuditEvent {
    const { identifier, recordId, ...rest } = fields;
    const requestId = this.requestIdOf(req);
    return {
      ...rest,
      at: new Date(at).toISOString(),
      ...(identifier ? { identifier: maskIdentifier(identifier) } : {}),
      ...(recordId ? { recordRef: recordRef(recordId) } : {}),
      ...(requestId ? { requestId } : {}),
      ...(req.ip ? { ip: req.ip } : {}),
    };
  }
}
