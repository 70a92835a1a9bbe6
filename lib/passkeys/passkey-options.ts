import { rejectUnknownOptions, StepUpConfigError } from '../config-error';
import { loadOptionalPeer } from '../optional-peer';
import type { UserLookup } from '../users';

/** The `passkeys` option of createStepUp: who the relying party is, and where its pages are. */
export interface PasskeyOptions {
  /** The relying party id: your site's domain, e.g. `bank.example` (no scheme, port or path). */
  readonly rpId: string;
  /** The name the browser shows in its passkey dialog, e.g. `Example Bank`. */
  readonly rpName: string;
  /**
   * The origin(s) of the pages that call WebAuthn, e.g. `https://bank.example` (https, or http on
   * localhost); each must be the rpId or one of its subdomains.
   */
  readonly origin: string | readonly string[];
}

/** The WebAuthn library, loaded when (and only when) the `passkeys` option is set. */
export type WebAuthnLibrary = typeof import('@simplewebauthn/server');

export interface ResolvedPasskeys {
  readonly rpId: string;
  readonly rpName: string;
  readonly origins: readonly string[];
  readonly webauthn: WebAuthnLibrary;
}

const OPTION_KEYS: readonly (keyof PasskeyOptions)[] = ['rpId', 'rpName', 'origin'];
/** A lower-case DNS name (`localhost` included): labels of letters, digits and inner hyphens. */
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const USER_PORT_MEMBERS = ['listPasskeys', 'savePasskey', 'updatePasskeyCounter'] as const;

const invalid = (message: string) => new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `\`passkeys\`: ${message}`);

/** An origin exactly as a browser writes it in clientDataJSON, on the rpId or a subdomain of it. */
function checkedOrigin(origin: unknown, rpId: string): string {
  let url: URL | undefined;
  try {
    url = typeof origin === 'string' ? new URL(origin) : undefined;
  } catch {
    url = undefined;
  }
  const secure = url !== undefined && (url.protocol === 'https:' || (url.protocol === 'http:' && url.hostname === 'localhost'));
  if (url === undefined || !secure || url.origin !== origin) {
    throw invalid(`origin ${JSON.stringify(origin)} must be an origin like 'https://${rpId}' (https, or http on localhost; no path or trailing slash)`);
  }
  if (url.hostname !== rpId && !url.hostname.endsWith(`.${rpId}`)) {
    throw invalid(`origin ${origin} is not on the rpId ${rpId} or a subdomain of it, so browsers would refuse its passkeys`);
  }
  return origin;
}

/**
 * Checks the `passkeys` option and the user port members it needs, and loads
 * `@simplewebauthn/server` (an optional peer dependency: apps without passkeys never load it).
 * Undefined when the option is absent.
 */
export function resolvePasskeys(options: PasskeyOptions | undefined, users: UserLookup): ResolvedPasskeys | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalid("it is an object { rpId, rpName, origin }");
  rejectUnknownOptions('createStepUp() `passkeys`', options, OPTION_KEYS);
  const { rpId, rpName, origin } = options;
  if (typeof rpId !== 'string' || !DOMAIN.test(rpId)) throw invalid("rpId is your site's lower-case domain, e.g. 'bank.example' (no scheme, port or path)");
  if (typeof rpName !== 'string' || rpName.trim().length === 0 || rpName.length > 64) throw invalid('rpName is the name shown to users, 1 to 64 characters');
  const list: readonly unknown[] = Array.isArray(origin) ? origin : [origin];
  if (list.length === 0) throw invalid('origin is an origin or a non-empty list of origins');
  const origins = [...new Set(list.map((each) => checkedOrigin(each, rpId)))];
  for (const member of USER_PORT_MEMBERS) {
    if (typeof users[member] !== 'function') {
      throw new StepUpConfigError(
        'ERR_STEP_UP_MISSING_OPTION',
        `with \`passkeys\`, \`users\` needs listPasskeys(userId), savePasskey(userId, passkey) and updatePasskeyCounter(userId, credentialId, counter) (missing: ${member})`,
      );
    }
  }
  const webauthn = loadOptionalPeer(
    'createStepUp',
    '@simplewebauthn/server',
    () => require('@simplewebauthn/server') as WebAuthnLibrary,
    'the `passkeys` option',
  );
  return { rpId, rpName, origins, webauthn };
}
