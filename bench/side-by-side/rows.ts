import { BENCH_AUDIENCE } from './keys';
import type { ServerSpec, TokenAlgorithm } from './protocol';
import type { BenchToken } from './tokens';

export type RowKind = 'floor' | 'peer' | 'guard' | 'example';

/** A reference a row is measured against in the paired phase (bench/side-by-side/paired.ts). */
export type PairReference = 'floor' | 'pipelining floor' | 'peer';

/** One row of the side-by-side table: a server, and what it is compared with. */
export interface Row {
  readonly name: string;
  readonly kind: RowKind;
  /** The token algorithm (the floor it is compared with); null for the peer, which has a session cookie. */
  readonly alg: TokenAlgorithm | null;
  readonly spec: ServerSpec;
  /** Each request consumes a record (the parent hands out the child's ids, each once). */
  readonly singleUse: boolean;
  /** Compared with the peer: rows with an HMAC check per request, like the peer's signed session cookie. */
  readonly versusPeer: boolean;
  /** The library's guard on Redis: must send at most one Redis command per check (the run fails otherwise). */
  readonly atMostOneCommand: boolean;
  /**
   * Its ioredis client auto-pipelines (the README's client options for the guard and the example
   * app): besides the floor, it is compared with the floor that pipelines too.
   */
  readonly autoPipelining: boolean;
  /**
   * A second server of the HS256 floor, the same code (an A/A check): its × floor is what the
   * machine's noise alone makes of a ratio in this run. It is never a reference itself.
   */
  readonly floorCopy?: boolean;
  /**
   * The references this row is also measured against in the paired phase: both servers under load
   * at the same time, sharing one core (bench/side-by-side/paired.ts). None for most rows.
   */
  readonly pairedWith?: readonly PairReference[];
}

export interface RowOptions {
  readonly tokens: Readonly<Record<TokenAlgorithm, BenchToken>>;
  /** The provider stand-in's issuer (RS256 and ES256 tokens, the JWKS oidcAuthenticator reads). */
  readonly issuer: string;
  /** Records a single-use row's child creates: every request of the run consumes one. */
  readonly singleUseRecords: number;
  /** Records a single-use row consumes at most per paired reference (added for the rows that have any). Default 0: no paired phase. */
  readonly pairedRecordsPerReference?: number;
}

/**
 * The rows, in the order of the table: the three floors, the HS256 floor with ioredis
 * `enableAutoPipelining`, a second server of the HS256 floor (A/A), and the peer; the guard from the build with jwtAuthenticator HS256
 * (reusable and single use, RedisStore with the README's client options, then without their
 * auto-pipelining, and MemoryStore); the example app's GET /api/payslips; the guard with provider
 * tokens (RS256, ES256) through jwtAuthenticator given the public key and through oidcAuthenticator
 * reading the JWKS, each against its floor. A Redis guard's client has the README's options,
 * auto-pipelining included, unless its name says otherwise. The paired phase measures the floor's
 * second server and the pipelining floor against the floor, the HS256 Redis guards against the
 * floor, the pipelining floor and the peer (without auto-pipelining: against the floor), and the
 * example app against both floors.
 */
export function sideBySideRows({ tokens, issuer, singleUseRecords, pairedRecordsPerReference = 0 }: RowOptions): Row[] {
  const floor = (alg: TokenAlgorithm, autoPipelining = false): Row => ({
    name: `floor ${alg}: jsonwebtoken + KeyObject, Redis GET, JSON.parse${autoPipelining ? ', auto-pipelining' : ''}`,
    kind: 'floor',
    alg,
    spec: { kind: 'floor', key: tokens[alg].key, token: tokens[alg].token, autoPipelining },
    singleUse: false,
    versusPeer: alg === 'HS256',
    atMostOneCommand: false,
    autoPipelining,
  });
  const guard = (
    name: string,
    alg: TokenAlgorithm,
    authenticator: Extract<ServerSpec, { kind: 'guard' }>['authenticator'],
    store: 'redis' | 'memory',
    singleUse: boolean,
    autoPipelining = store === 'redis',
    pairedWith: readonly PairReference[] = [],
  ): Row => ({
    name,
    kind: 'guard',
    alg,
    spec: {
      kind: 'guard',
      authenticator,
      store,
      singleUse,
      autoPipelining,
      records: singleUse ? singleUseRecords + pairedWith.length * pairedRecordsPerReference : 1,
      token: tokens[alg].token,
    },
    singleUse,
    versusPeer: alg === 'HS256',
    atMostOneCommand: store === 'redis',
    autoPipelining,
    pairedWith,
  });
  const hs256 = { kind: 'jwt', key: tokens.HS256.key } as const;
  const provider = (alg: 'RS256' | 'ES256') => ({ kind: 'jwt', key: tokens[alg].key, issuer, audience: BENCH_AUDIENCE }) as const;
  const oidc = (alg: 'RS256' | 'ES256') => ({ kind: 'oidc', alg, issuer, audience: BENCH_AUDIENCE }) as const;
  return [
    floor('HS256'),
    floor('RS256'),
    floor('ES256'),
    { ...floor('HS256', true), pairedWith: ['floor'] },
    { ...floor('HS256'), name: 'floor HS256 again: a second server of the same floor (A/A check)', versusPeer: false, floorCopy: true, pairedWith: ['floor'] },
    {
      name: 'peer: express-session + connect-redis, sudo time in session',
      kind: 'peer',
      alg: null,
      spec: { kind: 'peer' },
      singleUse: false,
      versusPeer: false,
      atMostOneCommand: false,
      autoPipelining: false,
    },
    guard('guard HS256 reusable, RedisStore', 'HS256', hs256, 'redis', false, true, ['floor', 'pipelining floor', 'peer']),
    guard('guard HS256 single-use, RedisStore', 'HS256', hs256, 'redis', true, true, ['floor', 'pipelining floor', 'peer']),
    guard('guard HS256 reusable, RedisStore, without auto-pipelining', 'HS256', hs256, 'redis', false, false, ['floor']),
    guard('guard HS256 single-use, RedisStore, without auto-pipelining', 'HS256', hs256, 'redis', true, false, ['floor']),
    guard('guard HS256 reusable, MemoryStore', 'HS256', hs256, 'memory', false),
    guard('guard HS256 single-use, MemoryStore', 'HS256', hs256, 'memory', true),
    {
      name: 'example app GET /api/payslips (HS256, RedisStore)',
      kind: 'example',
      alg: 'HS256',
      spec: { kind: 'example' },
      singleUse: false,
      versusPeer: true,
      atMostOneCommand: true,
      autoPipelining: true,
      pairedWith: ['floor', 'pipelining floor'],
    },
    guard('guard RS256 reusable, RedisStore, jwtAuthenticator', 'RS256', provider('RS256'), 'redis', false),
    guard('guard RS256 reusable, RedisStore, oidcAuthenticator', 'RS256', oidc('RS256'), 'redis', false),
    guard('guard ES256 reusable, RedisStore, jwtAuthenticator', 'ES256', provider('ES256'), 'redis', false),
    guard('guard ES256 reusable, RedisStore, oidcAuthenticator', 'ES256', oidc('ES256'), 'redis', false),
  ];
}
