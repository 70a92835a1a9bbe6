import type autocannon from 'autocannon';
import type { Target } from './protocol';

/** The one request a connection sends over and over, built once: with the target's one id, or none. */
export function staticRequests(target: Target & { readonly ids: string }): autocannon.Request[] {
  const headers = target.idHeader === null ? { ...target.headers } : { ...target.headers, [target.idHeader]: target.ids };
  return [{ method: target.method, path: target.path, headers }];
}

/**
 * One request that autocannon builds again before every send: with the next of `ids` (in order,
 * each once; the connection must stop after `ids.length` requests, autocannon's
 * `maxConnectionRequests`), or with the target's one id (or none) every time. The connection starts
 * at once and spreads the building over its requests.
 *
 * Single-use requests are sent this way. Built up front instead (autocannon builds a whole list as
 * the connection is set up, about 4 µs a request on an idle core, one connection after another), 50
 * connections × 400 ids took the paired phase's load generator 0.6–0.8 s, past its 0.5 s lead:
 * each connection's first answer came inside the window, that late, and those 50 were the window's
 * p99 (in the rounds one after another, 50 × 100 ids delayed the first 50 of 5,000 answers: 1%).
 */
export function requestsWithIds(target: Target, ids: string | readonly string[]): autocannon.Request[] {
  const header = target.idHeader;
  let next = 0;
  const nextId = (): string => {
    if (typeof ids === 'string') return ids;
    const id = ids[next];
    if (id === undefined) throw new Error(`requestsWithIds: more than ${ids.length} requests on one connection`);
    next += 1;
    return id;
  };
  return [
    {
      method: target.method,
      path: target.path,
      headers: { ...target.headers },
      // autocannon passes a fresh copy of the request (and of its headers) each time.
      setupRequest: (request) => ({ ...request, headers: header === null ? { ...request.headers } : { ...request.headers, [header]: nextId() } }),
    },
  ];
}
