import { generateKeyPair, type CryptoKey } from 'jose';
import { WebSocket } from 'ws';
import { expect } from 'vitest';
import {
  encryptProfile,
  publicJwkOf,
  signQrLoginProof,
  type DeviceAlgorithm,
  type DevicePublicJwk,
  type Profile,
  type ProfileField,
  type QrLoginClaim,
  type QrLoginProof,
  type QrLoginServerMessage,
} from '@tessera/contracts';
import { client, type Reply } from './http.ts';

/** An authenticator identity (the key `tessera-authenticator init` makes), for tests. */
export interface TestIdentity {
  privateKey: CryptoKey;
  publicJwk: DevicePublicJwk;
}

export async function newIdentity(alg: DeviceAlgorithm = 'ES256'): Promise<TestIdentity> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: await publicJwkOf(publicKey) };
}

/** A browser socket on the QR login endpoint, with every message it received, in order. */
export class BrowserSocket {
  readonly messages: QrLoginServerMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as QrLoginServerMessage);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static open(baseUrl: string, appId: string, headers: Record<string, string> = {}): Promise<BrowserSocket> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/qr-logins/connect?app_id=${appId}`, { headers });
    const socket = new BrowserSocket(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(socket));
      ws.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** The next message of this type (waits for it; earlier ones of the type count). */
  async next<T extends QrLoginServerMessage['type']>(type: T, timeoutMs = 10_000): Promise<Extract<QrLoginServerMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = [...this.messages].reverse().find((message) => message.type === type);
      if (found) return found as Extract<QrLoginServerMessage, { type: T }>;
      if (Date.now() > deadline) throw new Error(`no "${type}" message; got ${JSON.stringify(this.messages.map((m) => m.type))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The QR payload the page shows now. */
  async qrPayload(): Promise<string> {
    return (await this.next('qr')).qr_payload;
  }
}

const fieldsOf = (payload: string) => {
  const params = new URL(payload.replace('tessera://login?', 'http://x/?')).searchParams;
  return { login_id: params.get('login_id') as string, nonce: params.get('nonce') as string };
};

/** The authenticator's calls: claim a scanned payload, then approve or deny. */
export function qrAuthenticator(baseUrl: string, identity: TestIdentity) {
  const anonymous = client(baseUrl, null);
  const sign = (proof: Omit<QrLoginProof, 'signed_at' | 'jti'> & Partial<QrLoginProof>, as = identity) => signQrLoginProof(as, proof);
  return {
    sign,
    async claim(payload: string, options: { proof?: string } = {}): Promise<Reply<QrLoginClaim>> {
      const proof = options.proof ?? (await sign({ ...fieldsOf(payload), action: 'claim' }));
      return anonymous.post('/v1/qr-logins/claim', { qr_payload: payload, proof });
    },
    async approve(claim: QrLoginClaim, payload: string, profile: Profile, as = identity): Promise<Reply> {
      const fields = Object.keys(profile) as ProfileField[];
      const jwe = fields.length > 0 ? await encryptProfile(claim.encryption_key, profile) : undefined;
      const proof = await sign({ ...fieldsOf(payload), action: 'approve', fields, ...(jwe ? { profile: jwe } : {}) }, as);
      return anonymous.post(`/v1/qr-logins/${claim.login_id}/answer`, { proof });
    },
    async deny(payload: string, as = identity): Promise<Reply> {
      const { login_id } = fieldsOf(payload);
      return anonymous.post(`/v1/qr-logins/${login_id}/answer`, { proof: await sign({ ...fieldsOf(payload), action: 'deny' }, as) });
    },
    answerWith(loginId: string, proof: string): Promise<Reply> {
      return anonymous.post(`/v1/qr-logins/${loginId}/answer`, { proof });
    },
  };
}

export function expectError(reply: Reply, status: number, code: string): void {
  expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status, code });
}
