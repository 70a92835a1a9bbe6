/**
 * Where the page keeps the access token: sessionStorage, so a reload (or a
 * crash restore) keeps the user signed in, while the token still ends with the
 * tab. Not localStorage, which every tab and every later visit of this browser
 * profile would share, and not a cookie the page would have to protect from
 * CSRF. Any script running in the page could read it, which is why the page
 * runs under a CSP that allows only its own script.
 *
 * The token is short-lived (15 minutes) and bound server-side to its sign-in
 * session; sign-out removes it.
 */
const KEY = 'harbor.accessToken';

/** Storage may be unavailable (disabled, or a sandboxed frame): the page then keeps the token in memory only. */
let memory: string | null = null;

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export function readToken(): string | null {
  try {
    return storage()?.getItem(KEY) ?? memory;
  } catch {
    return memory;
  }
}

export function writeToken(token: string | null): void {
  memory = token;
  try {
    const store = storage();
    if (token === null) store?.removeItem(KEY);
    else store?.setItem(KEY, token);
  } catch {
    // quota or privacy mode: memory alone, so a reload signs out
  }
}
