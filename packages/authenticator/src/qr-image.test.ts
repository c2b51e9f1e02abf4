import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../test/run-cli.ts';
import { decodeQrPng, readQrImageFile } from './qr-image.ts';

const URI = 'otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example';

let temp: { dir: string; remove: () => Promise<void> };
beforeEach(async () => {
  temp = await makeTempDir();
});
afterEach(() => temp.remove());

function blankPng(width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  png.data.fill(255);
  return PNG.sync.write(png);
}

describe('QR images', () => {
  it('decodes a QR code PNG file', async () => {
    const file = path.join(temp.dir, 'qr.png');
    await QRCode.toFile(file, URI);
    expect(await readQrImageFile(file)).toBe(URI);
  });

  it('decodes a QR code drawn on a transparent background', async () => {
    const bytes = await QRCode.toBuffer(URI, { color: { dark: '#000000ff', light: '#00000000' } });
    expect(decodeQrPng(bytes)).toBe(URI);
  });

  it('decodes light modules on a dark background (inverted)', async () => {
    const bytes = await QRCode.toBuffer(URI, { color: { dark: '#ffffffff', light: '#000000ff' } });
    expect(decodeQrPng(bytes)).toBe(URI);
  });

  it('says when there is no QR code in the image', () => {
    expect(() => decodeQrPng(blankPng(200, 200), 'blank.png')).toThrow(expect.objectContaining({ code: 'no_qr_code' }));
  });

  it('says when the file is not a PNG', async () => {
    const file = path.join(temp.dir, 'fake.png');
    await writeFile(file, 'not an image');
    await expect(readQrImageFile(file)).rejects.toMatchObject({ code: 'unreadable_image' });
  });

  it('says when the file cannot be read', async () => {
    await expect(readQrImageFile(path.join(temp.dir, 'missing.png'))).rejects.toMatchObject({
      code: 'unreadable_image',
      message: expect.stringContaining('no such file'),
    });
    await expect(readQrImageFile(temp.dir)).rejects.toMatchObject({ code: 'unreadable_image' });
  });
});
