import { isIPv4 } from 'node:net';
import { StepUpConfigError } from '../config-error';

/** Hosts for which plain http is accepted: the machine itself (local providers, tests). */
function isLoopback(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  return isIPv4(hostname) && hostname.startsWith('127.');
}

/**
 * Checks a URL of the identity provider (issuer, jwks_uri) and returns it parsed: https,
 * or http on a loopback host only; no user info, no fragment. `what` names it in the
 * TypeError, which never repeats the value (it may come from a discovery document).
 */
export function providerUrl(value: unknown, what: string): URL {
  if (typeof value !== 'string' || value.length === 0) throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `${what} must be a non-empty URL string`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `${what} is not a valid URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `${what} must be an https URL (http is accepted only for localhost, 127.0.0.0/8 and [::1])`);
  }
  if (url.username !== '' || url.password !== '') throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `${what} must not contain a user name or password`);
  if (url.hash !== '' || value.includes('#')) throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `${what} must not contain a fragment`);
  return url;
}
