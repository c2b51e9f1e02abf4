import { afterAll, describe, expect, it } from 'vitest';
import { zbarimg } from '../../test/otp-tools.ts';
import { qrDataUrl } from './qr-code.ts';
import { QrRenderer } from './qr-renderer.ts';

describe('QrRenderer: QR codes drawn on a worker thread', () => {
  const renderer = new QrRenderer();
  afterAll(() => renderer.close());

  it('draws each text of a batch, in order, as qrDataUrl does; zbarimg reads them back', async () => {
    const texts = ['tessera://qr-login?a=1', 'tessera://qr-login?b=22', 'tessera://qr-login?c=333'];
    const urls = await renderer.render(texts);
    expect(urls).toEqual(texts.map((text) => qrDataUrl(text)));
    expect(await Promise.all(urls.map((url) => zbarimg(url)))).toEqual(texts);
  });

  it('answers concurrent batches each with its own codes, and starts its thread again after close', async () => {
    const [first, second] = await Promise.all([renderer.render(['one']), renderer.render(['two', 'three'])]);
    expect(first).toEqual([qrDataUrl('one')]);
    expect(second).toEqual([qrDataUrl('two'), qrDataUrl('three')]);
    const refused = expect(renderer.render(['closed before it is drawn'])).rejects.toThrow(/closed/);
    await renderer.close();
    await refused;
    expect(await renderer.render(['again'])).toEqual([qrDataUrl('again')]);
  });
});
