import type { Logger } from 'pino';
import { request } from 'undici';
import type { DeviceChallenge } from '@tessera/contracts';
import { newId } from '../../platform/ids.ts';
import { signWebhook } from '../webhooks/signature.ts';

export interface PushRelayOptions {
  url: string;
  /** `whsec_` + base64 key: the relay checks the Standard Webhooks signature with it. */
  secret: string;
  timeoutMs?: number;
}

/**
 * The push adapter: for each new push challenge, one POST to the operator's relay, which wakes the
 * devices through FCM or APNs. It carries what a lock screen may show (app name, message) and the
 * device ids, never the number to match; the authenticator then fetches the challenge with its key.
 * Best effort: a device also hears of challenges on its stream and can list them.
 */
export class PushRelay {
  constructor(
    private readonly options: PushRelayOptions,
    private readonly logger: Logger,
  ) {}

  send(devices: Array<{ device_id: string; user_id: string }>, challenge: DeviceChallenge): void {
    if (devices.length === 0) return;
    const id = newId('msg');
    const timestamp = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({
      type: 'push.challenge',
      timestamp: new Date(timestamp * 1000).toISOString(),
      data: {
        devices,
        challenge_id: challenge.challenge_id,
        app: challenge.app,
        message: challenge.message,
        expires_at: challenge.expires_at,
      },
    });
    request(this.options.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Tessera-Push/1',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(this.options.secret, id, timestamp, body),
      },
      body,
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
    })
      .then((response) => {
        response.body.on('error', () => {}).destroy();
        if (response.statusCode >= 300) this.logger.warn({ status: response.statusCode, challenge_id: challenge.challenge_id }, 'push relay refused');
      })
      .catch((error: unknown) => this.logger.warn({ err: error, challenge_id: challenge.challenge_id }, 'push relay unreachable'));
  }
}
