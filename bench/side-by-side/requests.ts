import type autocannon from 'autocannon';
import type { Target } from './protocol';

/** The requests one connection sends: its own slice of the ids when each id serves one request. */
export function requestsOf(target: Target, from: number, count: number): autocannon.Request[] {
  const base = { method: target.method, path: target.path };
  if (target.idHeader === null) return [{ ...base, headers: { ...target.headers } }];
  if (typeof target.ids === 'string') return [{ ...base, headers: { ...target.headers, [target.idHeader]: target.ids } }];
  const header = target.idHeader;
  return target.ids.slice(from, from + count).map((id) => ({ ...base, headers: { ...target.headers, [header]: id } }));
}
