import { readFile } from 'node:fs/promises';
import jsqr from 'jsqr';
import { PNG } from 'pngjs';
import { AuthenticatorError } from './errors.ts';

/** Reads the text of the QR code in a PNG image file. */
export async function readQrImageFile(path: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new AuthenticatorError('unreadable_image', `Cannot read the image ${path}: ${describeFsError(error)}.`, { cause: error });
  }
  return decodeQrPng(bytes, path);
}

/** Decodes the QR code in a PNG image held in memory. `name` only appears in error messages. */
export function decodeQrPng(bytes: Uint8Array, name = 'the image'): string {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new AuthenticatorError('unreadable_image', `${name} is not a PNG image that can be read.`, { cause: error });
  }
  const pixels = flattenOnWhite(png.data);
  // jsqr is CommonJS whose declared default export is its `default` property.
  const qr = jsqr.default(pixels, png.width, png.height, { inversionAttempts: 'attemptBoth' });
  if (qr === null) {
    throw new AuthenticatorError('no_qr_code', `No QR code was found in ${name}.`);
  }
  return qr.data;
}

/**
 * RGBA with transparency, composited over white: a QR code drawn on a transparent background
 * (as many web pages do) then reads as it looks on screen instead of black on black.
 */
function flattenOnWhite(rgba: Uint8Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(rgba.length);
  for (let i = 0; i < rgba.length; i += 4) {
    const alpha = (rgba[i + 3] ?? 255) / 255;
    for (let channel = 0; channel < 3; channel += 1) {
      out[i + channel] = (rgba[i + channel] ?? 0) * alpha + 255 * (1 - alpha);
    }
    out[i + 3] = 255;
  }
  return out;
}

function describeFsError(error: unknown): string {
  if (error instanceof Error && 'code' in error) {
    if (error.code === 'ENOENT') return 'no such file';
    if (error.code === 'EACCES') return 'permission denied';
    if (error.code === 'EISDIR') return 'it is a directory';
  }
  return error instanceof Error ? error.message : String(error);
}
