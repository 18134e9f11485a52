import { exportJWK, SignJWT, type JWK } from 'jose';
import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { createServer, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type SigningAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

export interface SigningKey {
  alg: SigningAlgorithm;
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as SPKI PEM (what JWT_PUBLIC_KEY takes). */
  pem: string;
}

let keyCounter = 0;

/** A fresh key pair for `alg`, with a kid no other key of this process has. */
export function aSigningKey(alg: SigningAlgorithm): SigningKey {
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  return {
    alg,
    kid: `${alg.toLowerCase()}-${process.pid}-${++keyCounter}`,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    pem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export interface SignOptions {
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  /** Header overrides (`kid: undefined` leaves it out). */
  header?: { kid?: string; alg?: string };
}

/** A client token signed with `key` (its alg and kid in the header); `claims` as given. */
export function signWith(
  key: SigningKey,
  claims: Record<string, unknown>,
  { expiresIn = 3600, header = {} }: SignOptions = {},
): Promise<string> {
  const kid = 'kid' in header ? header.kid : key.kid;
  return new SignJWT({ exp: Math.floor(Date.now() / 1000) + expiresIn, ...claims })
    .setProtectedHeader({ alg: header.alg ?? key.alg, ...(kid === undefined ? {} : { kid }) })
    .sign(key.privateKey);
}

async function publicJwk(key: SigningKey): Promise<JWK> {
  return { ...(await exportJWK(key.publicKey)), kid: key.kid, alg: key.alg, use: 'sig' };
}

/**
 * An identity provider's JWKS endpoint on loopback, served by the test: its keys can be rotated, it
 * can be taken down (answers 503) and brought back, and it counts the fetches.
 */
export class TestJwksServer {
  fetches = 0;
  private document = '{"keys":[]}';
  private down = false;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(keys: SigningKey[] = []): Promise<TestJwksServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const idp = new TestJwksServer(server, `http://127.0.0.1:${port}/.well-known/jwks.json`);
    server.on('request', (_request, response: ServerResponse) => idp.answer(response));
    await idp.publish(keys);
    return idp;
  }

  private answer(response: ServerResponse): void {
    this.fetches += 1;
    if (this.down) response.writeHead(503).end();
    else response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(this.document);
  }

  /** Serves exactly these keys from now on (a rotation: add the new one, later drop the old one). */
  async publish(keys: SigningKey[]): Promise<void> {
    this.document = JSON.stringify({ keys: await Promise.all(keys.map(publicJwk)) });
  }

  /** While down, every fetch answers 503. */
  setDown(down: boolean): void {
    this.down = down;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
