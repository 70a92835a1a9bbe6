import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export type StandInAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

export interface StandInKey {
  readonly kid: string;
  readonly alg: StandInAlgorithm;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export interface SignOptions {
  /** Claims to set or override; a claim set to undefined is left out (e.g. `{ exp: undefined }`). */
  readonly claims?: Record<string, unknown>;
  /** Header fields to set or override. */
  readonly header?: Record<string, unknown>;
}

/**
 * A local OpenID provider stand-in over HTTP on 127.0.0.1: a discovery document and a JWKS,
 * keys made with jose, tokens signed with SignJWT. It counts every request it answers, and
 * can be told to answer 500 or a discovery document of its choosing.
 */
export class OidcStandIn {
  readonly requests = { discovery: 0, jwks: 0 };
  /** Keys the JWKS publishes, in order. Keys made with `publish: false` are not in it. */
  readonly published: StandInKey[] = [];
  /** When set, the discovery document served instead of the real one. */
  discoveryOverride: Record<string, unknown> | undefined;
  /** When set, the status both endpoints answer with (and an empty body). */
  failWith: number | undefined;

  private constructor(private readonly server: http.Server, readonly port: number) {}

  get issuer(): string {
    return `http://127.0.0.1:${this.port}/oidc`;
  }

  get jwksUri(): string {
    return `${this.issuer}/jwks`;
  }

  static async start(): Promise<OidcStandIn> {
    let standIn: OidcStandIn | undefined;
    const server = http.createServer((req, res) => standIn?.answer(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    standIn = new OidcStandIn(server, (server.address() as AddressInfo).port);
    return standIn;
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    const json = (body: unknown) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/oidc/.well-known/openid-configuration') {
      this.requests.discovery += 1;
      if (this.failWith !== undefined) return void res.writeHead(this.failWith).end();
      return json(this.discoveryOverride ?? { issuer: this.issuer, jwks_uri: this.jwksUri, id_token_signing_alg_values_supported: ['RS256'] });
    }
    if (req.url === '/oidc/jwks') {
      this.requests.jwks += 1;
      if (this.failWith !== undefined) return void res.writeHead(this.failWith).end();
      return json({ keys: this.published.map((key) => key.publicJwk) });
    }
    res.writeHead(404).end();
  }

  /** A new key pair; published in the JWKS unless `publish` is false. */
  async createKey(alg: StandInAlgorithm, { publish = true }: { publish?: boolean } = {}): Promise<StandInKey> {
    const key = await makeKey(alg);
    if (publish) this.published.push(key);
    return key;
  }

  publish(key: StandInKey): void {
    this.published.push(key);
  }

  unpublish(key: StandInKey): void {
    const index = this.published.indexOf(key);
    if (index >= 0) this.published.splice(index, 1);
  }

  /** An access token as a provider issues it: iss, aud, sub, iat, exp (+5 min), signed with `key`. */
  async sign(key: StandInKey, audience: string, { claims = {}, header = {} }: SignOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = { iss: this.issuer, aud: audience, sub: 'usr_alice', iat: now, exp: now + 300, ...claims };
    for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
    return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header }).sign(key.privateKey);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A signing key pair with a random `kid`; its public half as the JWK a provider publishes. */
export async function makeKey(alg: StandInAlgorithm): Promise<StandInKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomBytes(8).toString('hex');
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A server that accepts connections and never answers: a provider that hangs. Counts connections. */
export class SilentServer {
  connections = 0;
  private constructor(private readonly server: http.Server, readonly port: number) {}

  static async start(): Promise<SilentServer> {
    let silent: SilentServer | undefined;
    const server = http.createServer(() => undefined);
    server.on('connection', () => {
      if (silent) silent.connections += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    silent = new SilentServer(server, (server.address() as AddressInfo).port);
    return silent;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
