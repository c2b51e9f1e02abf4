export { qrLogin } from './qr-login.ts';
export type { QrLoginHandle, QrLoginOptions, QrLoginStatus, QrLoginToken } from './qr-login.ts';
