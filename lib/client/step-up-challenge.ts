/**
 * Reading an RFC 9470 step-up challenge from a `WWW-Authenticate` header, in the browser:
 * `Bearer error="insufficient_user_authentication", error_description="…", max_age="300", acr_values="…"`.
 *
 * Written here because the client must stay free of dependencies (it is bundled into pages);
 * it follows the auth-param grammar of RFC 9110 §11.2 (tokens or quoted-strings with `\` escapes,
 * parameter names case-insensitive) for the one challenge it looks for.
 */

/** The parameters of an RFC 9470 challenge, for a client that goes back to its identity provider. */
export interface StepUpChallenge {
  /** Always `insufficient_user_authentication`. */
  readonly error: string;
  readonly errorDescription?: string;
  /** Seconds: ask the provider for an authentication at most this old (the authorization request's `max_age`). */
  readonly maxAge?: number;
  /** Space-separated authentication context classes to ask for (the authorization request's `acr_values`). */
  readonly acrValues?: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

/** The auth-params of each challenge in the header, by scheme (lower case). */
function challenges(header: string): Array<{ scheme: string; params: Map<string, string> }> {
  const found: Array<{ scheme: string; params: Map<string, string> }> = [];
  let rest = header;
  let current: { scheme: string; params: Map<string, string> } | undefined;
  for (;;) {
    rest = rest.replace(/^[\s,]+/, '');
    if (rest === '') return found;
    const name = TOKEN.exec(rest)?.[0];
    if (name === undefined) return found; // not a header we can read: stop at what we have
    rest = rest.slice(name.length).replace(/^\s+/, '');
    if (rest.startsWith('=') && current !== undefined) {
      rest = rest.slice(1).replace(/^\s+/, '');
      let value: string;
      if (rest.startsWith('"')) {
        let i = 1;
        value = '';
        while (i < rest.length && rest[i] !== '"') {
          if (rest[i] === '\\' && i + 1 < rest.length) i += 1;
          value += rest[i];
          i += 1;
        }
        rest = rest.slice(i + 1);
      } else {
        value = TOKEN.exec(rest)?.[0] ?? '';
        rest = rest.slice(value.length);
      }
      current.params.set(name.toLowerCase(), value);
    } else {
      current = { scheme: name.toLowerCase(), params: new Map() };
      found.push(current);
    }
  }
}

/** The RFC 9470 challenge in a `WWW-Authenticate` header, or null when it has none. */
export function parseStepUpChallenge(header: string | null): StepUpChallenge | null {
  if (header === null) return null;
  const bearer = challenges(header).find(
    (challenge) => challenge.scheme === 'bearer' && challenge.params.get('error') === 'insufficient_user_authentication',
  );
  if (bearer === undefined) return null;
  const description = bearer.params.get('error_description');
  const maxAge = bearer.params.get('max_age');
  const acrValues = bearer.params.get('acr_values');
  return {
    error: 'insufficient_user_authentication',
    ...(description !== undefined ? { errorDescription: description } : {}),
    ...(maxAge !== undefined && /^\d{1,10}$/.test(maxAge) ? { maxAge: Number(maxAge) } : {}),
    ...(acrValues !== undefined ? { acrValues } : {}),
  };
}
