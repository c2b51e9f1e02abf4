import { describe, expect, it } from 'vitest';
import { AuthenticatorError } from './errors.ts';
import { looksLikeUri, parseOtpauthUri } from './otpauth-uri.ts';

const SECRET = 'JBSWY3DPEHPK3PXP';

function refusal(uri: string): { code: string; message: string } {
  try {
    parseOtpauthUri(uri);
  } catch (error) {
    if (error instanceof AuthenticatorError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error(`accepted: ${uri}`);
}

describe('parseOtpauthUri', () => {
  it('reads issuer and account from the label, with the Key URI defaults', () => {
    expect(parseOtpauthUri(`otpauth://totp/Example:alice@example.com?secret=${SECRET}&issuer=Example`)).toEqual({
      issuer: 'Example',
      label: 'alice@example.com',
      secret: SECRET,
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
    });
  });

  it('reads every parameter', () => {
    const parsed = parseOtpauthUri(`otpauth://totp/ACME:bob?secret=${SECRET}&issuer=ACME&algorithm=SHA512&digits=8&period=60`);
    expect(parsed).toMatchObject({ algorithm: 'SHA512', digits: 8, period: 60 });
  });

  it('decodes a percent-encoded label, colon and spaces included', () => {
    const parsed = parseOtpauthUri(`otpauth://totp/ACME%20Co%3A%20john.doe%40email.com?secret=${SECRET}`);
    expect(parsed).toMatchObject({ issuer: 'ACME Co', label: 'john.doe@email.com' });
  });

  it('decodes UTF-8 in the label and a + in the issuer parameter as a space', () => {
    const parsed = parseOtpauthUri(`otpauth://totp/Caf%C3%A9:z%C3%BC?secret=${SECRET}&issuer=Caf%C3%A9+Cr%C3%A8me`);
    expect(parsed).toMatchObject({ issuer: 'Café Crème', label: 'zü' });
  });

  it('keeps a + in the label (a path, not a form)', () => {
    expect(parseOtpauthUri(`otpauth://totp/Example:alice+tag@example.com?secret=${SECRET}`).label).toBe('alice+tag@example.com');
  });

  it('takes the issuer from the parameter when the label has none', () => {
    expect(parseOtpauthUri(`otpauth://totp/alice@example.com?secret=${SECRET}&issuer=Example`)).toMatchObject({
      issuer: 'Example',
      label: 'alice@example.com',
    });
  });

  it('prefers the issuer parameter when it disagrees with the label prefix', () => {
    expect(parseOtpauthUri(`otpauth://totp/example:alice?secret=${SECRET}&issuer=Example%20Inc`).issuer).toBe('Example Inc');
  });

  it('accepts an account without any issuer', () => {
    expect(parseOtpauthUri(`otpauth://totp/alice?secret=${SECRET}`)).toMatchObject({ issuer: '', label: 'alice' });
  });

  it('accepts lowercase algorithm, scheme, type and secret, and a padded secret with spaces', () => {
    const parsed = parseOtpauthUri('OTPAUTH://TOTP/Example:alice?secret=jbsw%20y3dp%20ehpk%203pxp%3D%3D%3D&algorithm=sha256');
    expect(parsed).toMatchObject({ secret: SECRET, algorithm: 'SHA256' });
  });

  it('accepts SHA-256 spelled with a hyphen', () => {
    expect(parseOtpauthUri(`otpauth://totp/a?secret=${SECRET}&algorithm=SHA-256`).algorithm).toBe('SHA256');
  });

  it('ignores parameters it does not use (image, counter) and a fragment', () => {
    const parsed = parseOtpauthUri(`otpauth://totp/a?secret=${SECRET}&image=https%3A%2F%2Fexample.com%2Flogo.png&counter=3#x`);
    expect(parsed.label).toBe('a');
  });

  it('trims the whitespace a copy and paste leaves around the URI', () => {
    expect(parseOtpauthUri(`  otpauth://totp/a?secret=${SECRET}\n`).label).toBe('a');
  });

  it.each([
    ['a missing secret', 'otpauth://totp/Example:alice?issuer=Example', 'missing_secret'],
    ['an empty secret', 'otpauth://totp/Example:alice?secret=&issuer=Example', 'missing_secret'],
    ['a secret that is not Base32', 'otpauth://totp/Example:alice?secret=JBSWY3DP18', 'invalid_secret'],
    ['a secret of impossible length', 'otpauth://totp/Example:alice?secret=JBSWY3DPE', 'invalid_secret'],
    ['a secret shorter than 80 bits', 'otpauth://totp/Example:alice?secret=JBSWY3DP', 'invalid_secret'],
    ['an HOTP account', `otpauth://hotp/Example:alice?secret=${SECRET}&counter=0`, 'not_totp'],
    ['an unknown type', `otpauth://motp/Example:alice?secret=${SECRET}`, 'not_totp'],
    ['another scheme', `https://example.com/totp?secret=${SECRET}`, 'invalid_uri'],
    ['a Google Authenticator export', 'otpauth-migration://offline?data=CjEKCkhlbGxvId', 'invalid_uri'],
    ['no label at all', `otpauth://totp?secret=${SECRET}`, 'invalid_uri'],
    ['an empty label', `otpauth://totp/?secret=${SECRET}&issuer=Example`, 'missing_label'],
    ['an issuer without account', `otpauth://totp/Example:?secret=${SECRET}`, 'missing_label'],
    ['broken percent-encoding', `otpauth://totp/Example:%E0%A4%A?secret=${SECRET}`, 'invalid_uri'],
    ['the secret twice', `otpauth://totp/a?secret=${SECRET}&secret=GEZDGNBV`, 'invalid_uri'],
    ['MD5', `otpauth://totp/a?secret=${SECRET}&algorithm=MD5`, 'unsupported_algorithm'],
    ['7 digits', `otpauth://totp/a?secret=${SECRET}&digits=7`, 'unsupported_digits'],
    ['digits that are not a number', `otpauth://totp/a?secret=${SECRET}&digits=six`, 'unsupported_digits'],
    ['a zero period', `otpauth://totp/a?secret=${SECRET}&period=0`, 'unsupported_period'],
    ['a negative period', `otpauth://totp/a?secret=${SECRET}&period=-30`, 'unsupported_period'],
    ['a fractional period', `otpauth://totp/a?secret=${SECRET}&period=30.5`, 'unsupported_period'],
    ['a period over an hour', `otpauth://totp/a?secret=${SECRET}&period=3601`, 'unsupported_period'],
  ])('refuses %s', (_what, uri, code) => {
    const refused = refusal(uri);
    expect(refused.code).toBe(code);
    expect(refused.message.length).toBeGreaterThan(10);
  });

  it('refuses terminal escape sequences in the label (a QR code must not rewrite the screen)', () => {
    expect(refusal(`otpauth://totp/Example:%1B%5B2J%1B%5BHalice?secret=${SECRET}`).code).toBe('invalid_uri');
    expect(refusal(`otpauth://totp/alice?secret=${SECRET}&issuer=Evil%07`).code).toBe('invalid_uri');
    // A right-to-left override would show "alice@evil.com" reversed, as another account's name.
    expect(refusal(`otpauth://totp/Example:%E2%80%AEalice?secret=${SECRET}`).code).toBe('invalid_uri');
  });

  it('never echoes the secret in its messages', () => {
    const secret = 'JBSWY3DPEHPK3PXQ';
    expect(refusal(`otpauth://totp/a?secret=${secret}&algorithm=MD5`).message).not.toContain(secret);
    expect(refusal(`otpauth://totp/a?secret=${secret}1`).message).not.toContain(secret);
  });
});

describe('looksLikeUri', () => {
  it('tells URIs, even mistyped otpauth ones, from file paths', () => {
    expect(looksLikeUri('otpauth://totp/a?secret=A')).toBe(true);
    expect(looksLikeUri('otpauth:/totp/a')).toBe(true);
    expect(looksLikeUri('https://example.com')).toBe(true);
    expect(looksLikeUri('qr.png')).toBe(false);
    expect(looksLikeUri('./images/otp.png')).toBe(false);
    expect(looksLikeUri('/tmp/qr code.png')).toBe(false);
  });
});
