import { PNG } from 'pngjs';

const prefix = 'data:image/png;base64,';
const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
export const maxLogoWidth = 180;
export const maxLogoHeight = 100;

/** Why a logo is refused, or null when it is a PNG data URL that decodes within 180×100 pixels. */
export function logoProblem(dataUrl: string): string | null {
  if (!dataUrl.startsWith(prefix)) return `must be a ${prefix}… URL`;
  const encoded = dataUrl.slice(prefix.length);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return 'is not valid base64';
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(pngSignature)) return 'is not a PNG image';
  // The IHDR chunk gives the size: refuse a large image before decompressing it.
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  if (width > maxLogoWidth || height > maxLogoHeight) {
    return `must be at most ${maxLogoWidth}×${maxLogoHeight} pixels (it is ${width}×${height})`;
  }
  // IHDR's interlace byte: pngjs inflates interlaced images without a size bound, so they are refused.
  if (bytes.length < 29 || bytes[28] !== 0) return 'must not be interlaced';
  try {
    PNG.sync.read(bytes);
  } catch {
    return 'does not decode as a PNG image';
  }
  return null;
}
