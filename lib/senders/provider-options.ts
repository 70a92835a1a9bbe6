import { StepUpConfigError } from '../config-error';

/** Option checks and template helpers shared by the provider senders. */

export const DEFAULT_PROVIDER_TIMEOUT_MS = 10_000;

/** A positive whole number of milliseconds, or the default. */
export function checkTimeout(sender: string, timeoutMs: number | undefined): number {
  if (timeoutMs === undefined) return DEFAULT_PROVIDER_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `${sender}: \`timeoutMs\` must be a positive integer`);
  }
  return timeoutMs;
}

/** An http(s) base URL for the provider's API. */
export function checkBaseUrl(sender: string, apiBaseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(apiBaseUrl);
  } catch {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `${sender}: \`apiBaseUrl\` is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `${sender}: \`apiBaseUrl\` must be an http(s) URL`);
  }
  return url;
}

/** Whole minutes until `expiresAt`, rounded up, at least 1 (for "expires in N minutes"). */
export function minutesUntil(expiresAt: Date): number {
  return Math.max(1, Math.ceil((expiresAt.getTime() - Date.now()) / 60_000));
}
