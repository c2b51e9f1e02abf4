import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { CompactEncrypt, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { concatKdf, openEcdhEsJwe } from './jwe-ecdh-es.ts';

// RFC 7518 appendix C: Alice's ephemeral key and Bob's key.
const alice = {
  kty: 'EC',
  crv: 'P-256',
  x: 'gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0',
  y: 'SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps',
  d: '0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo',
};
const bob = {
  kty: 'EC',
  crv: 'P-256',
  x: 'weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ',
  y: 'e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck',
  d: 'VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw',
};
const text = new TextEncoder().encode('{"email":"ada@example.test"}');

async function recipient() {
  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
  return { publicKey, privateKey: createPrivateKey({ key: (await exportJWK(privateKey)) as never, format: 'jwk' }) };
}

function alter(jwe: string, part: number): string {
  const parts = jwe.split('.');
  const value = parts[part] as string;
  parts[part] = (value[0] === 'A' ? 'B' : 'A') + value.slice(1);
  return parts.join('.');
}

describe('ECDH-ES + A256GCM JWE', () => {
  it('derives the key of RFC 7518 appendix C', () => {
    const z = diffieHellman({
      privateKey: createPrivateKey({ key: bob, format: 'jwk' }),
      publicKey: createPublicKey({ key: { kty: alice.kty, crv: alice.crv, x: alice.x, y: alice.y }, format: 'jwk' }),
    });
    const key = concatKdf(z, 'A128GCM', 128, Buffer.from('Alice'), Buffer.from('Bob'));
    expect(key.toString('base64url')).toBe('VqqN6vgjbSBcIijNcacQGg');
  });

  it('opens what jose encrypts, with and without party info', async () => {
    const { publicKey, privateKey } = await recipient();
    const plain = await new CompactEncrypt(text).setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM' }).encrypt(publicKey);
    expect(new TextDecoder().decode(openEcdhEsJwe(plain, privateKey))).toBe('{"email":"ada@example.test"}');
    const withParties = await new CompactEncrypt(text)
      .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM' })
      .setKeyManagementParameters({ apu: new TextEncoder().encode('Alice'), apv: new TextEncoder().encode('Bob') })
      .encrypt(publicKey);
    expect(JSON.parse(Buffer.from(withParties.split('.')[0] as string, 'base64url').toString())).toMatchObject({ apu: 'QWxpY2U', apv: 'Qm9i' });
    expect(openEcdhEsJwe(withParties, privateKey)).toEqual(Buffer.from(text));
  });

  it('refuses another key, an altered header, IV, ciphertext or tag, and other algorithms', async () => {
    const { publicKey, privateKey } = await recipient();
    const jwe = await new CompactEncrypt(text).setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM' }).encrypt(publicKey);
    const someoneElse = (await recipient()).privateKey;
    expect(() => openEcdhEsJwe(jwe, someoneElse)).toThrow();
    for (const part of [0, 2, 3, 4]) expect(() => openEcdhEsJwe(alter(jwe, part), privateKey)).toThrow();
    expect(() => openEcdhEsJwe(`${jwe}.`, privateKey)).toThrow('not a compact JWE');
    expect(() => openEcdhEsJwe(jwe.replace('.', '.a'), privateKey)).toThrow('not a compact JWE');
    expect(() => openEcdhEsJwe(jwe.replace('.', '.AAAA'), privateKey)).toThrow('wrong part lengths');
    const cbc = await new CompactEncrypt(text).setProtectedHeader({ alg: 'ECDH-ES', enc: 'A128CBC-HS256' }).encrypt(publicKey);
    expect(() => openEcdhEsJwe(cbc, privateKey)).toThrow('alg must be ECDH-ES and enc A256GCM');
    const wrapped = await new CompactEncrypt(text).setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM' }).encrypt(publicKey);
    expect(() => openEcdhEsJwe(wrapped, privateKey)).toThrow('alg must be ECDH-ES and enc A256GCM');
  });

  it('refuses an ephemeral key that is not a P-256 point', async () => {
    const { publicKey, privateKey } = await recipient();
    const jwe = await new CompactEncrypt(text).setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM' }).encrypt(publicKey);
    const [encodedHeader, ...rest] = jwe.split('.');
    const header = JSON.parse(Buffer.from(encodedHeader as string, 'base64url').toString());
    const withEpk = (epk: unknown) => [Buffer.from(JSON.stringify({ ...header, epk })).toString('base64url'), ...rest].join('.');
    expect(() => openEcdhEsJwe(withEpk({ ...header.epk, y: header.epk.x }), privateKey)).toThrow();
    expect(() => openEcdhEsJwe(withEpk({ ...header.epk, crv: 'P-384' }), privateKey)).toThrow('epk must be a P-256 key');
    expect(() => openEcdhEsJwe(withEpk(undefined), privateKey)).toThrow('epk must be a P-256 key');
  });
});
