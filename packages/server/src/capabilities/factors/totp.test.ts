import { HOTP, Secret } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { decodeBase32Secret, matchTotpStep, newTotpSecret, totpCode, totpUri, base32Of } from './totp.ts';

const ascii = (text: string) => base32Of(new TextEncoder().encode(text));

describe('HOTP (RFC 4226 appendix D)', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  it.each(expected.map((code, counter) => [counter, code]))('counter %i gives %s', (counter, code) => {
    const hotp = new HOTP({ secret: Secret.fromBase32(ascii('12345678901234567890')), digits: 6 });
    expect(hotp.generate({ counter })).toBe(code);
  });
});

describe('TOTP (RFC 6238 appendix B, 8 digits, 30 s)', () => {
  const seeds = {
    SHA1: ascii('12345678901234567890'),
    SHA256: ascii('12345678901234567890123456789012'),
    SHA512: ascii('1234567890123456789012345678901234567890123456789012345678901234'),
  };
  const vectors: Array<[number, 'SHA1' | 'SHA256' | 'SHA512', string]> = [
    [59, 'SHA1', '94287082'], [59, 'SHA256', '46119246'], [59, 'SHA512', '90693936'],
    [1111111109, 'SHA1', '07081804'], [1111111109, 'SHA256', '68084774'], [1111111109, 'SHA512', '25091201'],
    [1111111111, 'SHA1', '14050471'], [1111111111, 'SHA256', '67062674'], [1111111111, 'SHA512', '99943326'],
    [1234567890, 'SHA1', '89005924'], [1234567890, 'SHA256', '91819424'], [1234567890, 'SHA512', '93441116'],
    [2000000000, 'SHA1', '69279037'], [2000000000, 'SHA256', '90698825'], [2000000000, 'SHA512', '38618901'],
    [20000000000, 'SHA1', '65353130'], [20000000000, 'SHA256', '77737706'], [20000000000, 'SHA512', '47863826'],
  ];
  it.each(vectors)('at %i s with %s gives %s, and matches its own step', (seconds, algorithm, code) => {
    const params = { algorithm, digits: 8 as const, period: 30 as const };
    expect(totpCode(seeds[algorithm], params, seconds * 1000)).toBe(code);
    expect(matchTotpStep(seeds[algorithm], params, code, seconds * 1000)).toBe(Math.floor(seconds / 30));
  });
});

describe('matching a code', () => {
  const secret = newTotpSecret('SHA1');
  const params = { algorithm: 'SHA1' as const, digits: 6 as const, period: 30 as const };
  const now = 1_700_000_000_000;
  const step = Math.floor(now / 30_000);

  it('accepts one step of drift either way, and no more', () => {
    expect(matchTotpStep(secret, params, totpCode(secret, params, now - 30_000), now)).toBe(step - 1);
    expect(matchTotpStep(secret, params, totpCode(secret, params, now + 30_000), now)).toBe(step + 1);
    expect(matchTotpStep(secret, params, totpCode(secret, params, now - 60_000), now)).toBeNull();
    expect(matchTotpStep(secret, params, totpCode(secret, params, now + 60_000), now)).toBeNull();
  });

  it('refuses another secret’s code', () => {
    expect(matchTotpStep(newTotpSecret('SHA1'), params, totpCode(secret, params, now), now)).toBeNull();
  });
});

describe('secrets and URIs', () => {
  it('makes secrets as long as the hash output', () => {
    expect(decodeBase32Secret(newTotpSecret('SHA1'))).toHaveLength(20);
    expect(decodeBase32Secret(newTotpSecret('SHA256'))).toHaveLength(32);
    expect(decodeBase32Secret(newTotpSecret('SHA512'))).toHaveLength(64);
  });

  it('decodes Base32 leniently about case, spaces and padding, and refuses the rest', () => {
    expect(decodeBase32Secret('jbsw y3dp ehpk 3pxp')).toEqual(decodeBase32Secret('JBSWY3DPEHPK3PXP'));
    expect(decodeBase32Secret('JBSWY3DPEHPK3PXP====')).toHaveLength(10);
    expect(decodeBase32Secret('JBSWY3DP1HPK3PXP')).toBeNull();
    expect(decodeBase32Secret('not base32!')).toBeNull();
  });

  it('writes the Key URI format with every parameter', () => {
    const uri = totpUri({ issuer: 'Shop Inc', label: 'ann@example.com', secret: 'JBSWY3DPEHPK3PXP', algorithm: 'SHA256', digits: 8, period: 60 });
    expect(uri).toBe(
      'otpauth://totp/Shop%20Inc:ann%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Shop%20Inc&algorithm=SHA256&digits=8&period=60',
    );
  });

  it('leaves colons out of the issuer (an app name may hold one), so the label splits at the right place', () => {
    const uri = totpUri({ issuer: 'Foo: Bar & Co?', label: 'u:1', secret: 'JBSWY3DPEHPK3PXP', algorithm: 'SHA1', digits: 6, period: 30 });
    expect(uri).toBe('otpauth://totp/Foo%20Bar%20%26%20Co%3F:u%3A1?secret=JBSWY3DPEHPK3PXP&issuer=Foo%20Bar%20%26%20Co%3F&algorithm=SHA1&digits=6&period=30');
  });
});
