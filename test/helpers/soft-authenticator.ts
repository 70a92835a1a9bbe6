import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
// The CBOR encoder @simplewebauthn/server itself depends on (so it is installed with it): attestation
// objects and COSE keys are CBOR maps, and this keeps the test free of a hand-written encoder.
import { encodeCBOR, type CBORType } from '@levischuck/tiny-cbor';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

/** Authenticator data flags (WebAuthn §6.1). */
const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;
/** COSE (RFC 9053): kty EC2, alg ES256, crv P-256. */
const COSE = { kty: 1, alg: 3, crv: -1, x: -2, y: -3, EC2: 2, ES256: -7, P256: 1 } as const;

export interface SoftAuthenticatorOptions {
  /** The origin the "browser" reports in clientDataJSON, e.g. `https://bank.example`. */
  readonly origin: string;
  /** The RP id whose hash starts the authenticator data. Default: the host name of `origin`. */
  readonly rpId?: string;
}

/** What a test may change in one ceremony, to make the answer wrong in exactly one way. */
export interface CeremonyOverrides {
  /** Report another origin in clientDataJSON. */
  readonly origin?: string;
  /** Hash another RP id into the authenticator data. */
  readonly rpId?: string;
  /** Set the UV flag (user verified). Default true. */
  readonly userVerified?: boolean;
  /** Sign this counter value instead of the next one (assertions). */
  readonly counter?: number;
  /** Answer this challenge instead of the options' one. */
  readonly challenge?: string;
}

const b64url = (data: Uint8Array | Buffer) => Buffer.from(data).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

/**
 * A software WebAuthn authenticator (and the browser part of the ceremony) for tests: one ES256
 * credential on a P-256 key pair made with node:crypto. It builds real `clientDataJSON`,
 * authenticator data (RP id hash, UP/UV/AT flags, signature counter, attested credential data
 * with the COSE key), a `none` attestation object, and assertion signatures over
 * `authenticatorData ‖ SHA-256(clientDataJSON)`, as a platform authenticator does. Its answers are
 * the JSON that `startRegistration()` / `startAuthentication()` of @simplewebauthn/browser send.
 *
 * ```ts
 * const authenticator = new SoftAuthenticator({ origin: 'https://bank.example' });
 * const response = authenticator.createCredential(registrationOptions); // POST /web-authn/registration/verify { response }
 * const assertion = authenticator.getAssertion(authenticationOptions);  // POST /web-authn/authentication/verify
 * ```
 */
export class SoftAuthenticator {
  /** The credential id, base64url (16 random bytes). */
  readonly credentialId: string;
  /** The signature counter of the last assertion (0 after registration); each assertion adds 1. */
  counter = 0;
  readonly #privateKey: KeyObject;
  readonly #coseKey: Uint8Array;
  readonly #origin: string;
  readonly #rpId: string;

  constructor(options: SoftAuthenticatorOptions) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#privateKey = privateKey;
    const jwk = publicKey.export({ format: 'jwk' });
    this.#coseKey = encodeCBOR(
      new Map<number, number | Uint8Array>([
        [COSE.kty, COSE.EC2],
        [COSE.alg, COSE.ES256],
        [COSE.crv, COSE.P256],
        [COSE.x, new Uint8Array(Buffer.from(jwk.x as string, 'base64url'))],
        [COSE.y, new Uint8Array(Buffer.from(jwk.y as string, 'base64url'))],
      ]),
    );
    this.credentialId = b64url(randomBytes(16));
    this.#origin = options.origin;
    this.#rpId = options.rpId ?? new URL(options.origin).hostname;
  }

  /** `navigator.credentials.create()`: a registration answer to these options (attestation `none`). */
  createCredential(options: PublicKeyCredentialCreationOptionsJSON, overrides: CeremonyOverrides = {}): RegistrationResponseJSON {
    const clientDataJSON = this.#clientData('webauthn.create', overrides.challenge ?? options.challenge, overrides);
    const id = Buffer.from(this.credentialId, 'base64url');
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const attested = Buffer.concat([Buffer.alloc(16) /* AAGUID: none */, idLength, id, this.#coseKey]);
    const authData = this.#authenticatorData(overrides, FLAG_AT, 0, attested);
    const attestationObject = encodeCBOR(
      new Map<string, CBORType>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, CBORType>()],
        ['authData', new Uint8Array(authData)],
      ]),
    );
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal'] },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  /** `navigator.credentials.get()`: an assertion answering these options, signed by this credential. */
  getAssertion(options: PublicKeyCredentialRequestOptionsJSON, overrides: CeremonyOverrides = {}): AuthenticationResponseJSON {
    const counter = overrides.counter ?? this.counter + 1;
    this.counter = counter;
    const clientDataJSON = this.#clientData('webauthn.get', overrides.challenge ?? options.challenge, overrides);
    const authData = this.#authenticatorData(overrides, 0, counter);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), this.#privateKey); // DER, as WebAuthn's ES256
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature) },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  #clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, overrides: CeremonyOverrides): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin: overrides.origin ?? this.#origin, crossOrigin: false }));
  }

  /** rpIdHash (32) ‖ flags (1) ‖ signCount (4, big-endian) ‖ attested credential data. */
  #authenticatorData(overrides: CeremonyOverrides, extraFlags: number, counter: number, attested: Buffer = Buffer.alloc(0)): Buffer {
    const flags = FLAG_UP | (overrides.userVerified === false ? 0 : FLAG_UV) | extraFlags;
    const signCount = Buffer.alloc(4);
    signCount.writeUInt32BE(counter);
    return Buffer.concat([sha256(overrides.rpId ?? this.#rpId), Buffer.from([flags]), signCount, attested]);
  }
}
