export { qrLogin } from './qr-login.ts';
export type { QrLoginHandle, QrLoginOptions, QrLoginStatus, QrLoginToken } from './qr-login.ts';
export { ActionClient } from './actions.ts';
export type { ActionCallError, ActionClientOptions, ActionResult } from './actions.ts';
