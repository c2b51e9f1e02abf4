import { PNG } from 'pngjs';

/** A real PNG of the given size, as a data URL (for logo tests). */
export function pngDataUrl(width: number, height: number): string {
  const png = new PNG({ width, height });
  png.data.fill(200);
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;
}
