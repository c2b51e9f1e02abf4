import QRCode from 'qrcode';

/** A QR code of `text` as a `data:image/png;base64,…` URL, sized for a phone camera at arm's length. */
export function qrDataUrl(text: string): Promise<string> {
  return QRCode.toDataURL(text, { errorCorrectionLevel: 'M', margin: 2, width: 264 });
}
