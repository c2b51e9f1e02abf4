import type { App, WebhookEvent } from '@tessera/contracts';
import { Actions } from './actions.ts';
import { appPath } from './path-segment.ts';
import { Challenges } from './challenges.ts';
import { Devices } from './devices.ts';
import { Factors, RecoveryCodesApi } from './factors.ts';
import { HttpClient } from './http-client.ts';
import { QrLogins } from './qr-logins.ts';
import { Users } from './users.ts';
import { verifyWebhook, type VerifyWebhookOptions } from './verify-webhook.ts';
import { WebhookDeliveries, type WebhookDeliveriesApi, type WebhookDeliveryQuery } from './webhook-deliveries.ts';
import type { WebhookHeaders } from './webhook-headers.ts';

export interface TesseraOptions {
  /** Where the Tessera server is, such as `https://tessera.example.com`. */
  baseUrl: string;
  appId: string;
  appSecret: string;
  /** The app's `whsec_…` secret, needed by `webhooks.verify`. */
  webhookSecret?: string;
  /** Per attempt; 30 000 unless given. */
  timeoutMs?: number;
}

/** The client for an app's backend: it calls Tessera with the app's credentials (HTTP Basic). */
export class Tessera {
  readonly apps: {
    /** The app these credentials belong to. */
    retrieve(): Promise<App>;
  };
  /** Users as the app knows them (its own user ids). */
  readonly users: Users;
  /** Users' TOTP factors: enroll (with a QR code), import, activate, list, delete. */
  readonly factors: Factors;
  /** Users' single-use recovery codes. */
  readonly recoveryCodes: RecoveryCodesApi;
  /** Ask a user (or several) for their second factor, verify a code, wait for the outcome. */
  readonly challenges: Challenges;
  /** Users' push devices: registration QR codes, list, retrieve, delete. */
  readonly devices: Devices;
  /** QR login: verify the browser's login token, link an identity to a user. */
  readonly qrLogins: QrLogins;
  /** Adaptive MFA: track actions against the app's rules, validate the browser's token, manage the rules. */
  readonly actions: Actions;
  readonly webhookDeliveries: WebhookDeliveriesApi<WebhookDeliveryQuery>;
  readonly webhooks: {
    /**
     * Checks a webhook's Standard Webhooks signature and timestamp against the raw body as received,
     * and answers with the event; throws a TesseraWebhookError when it must not be trusted.
     */
    verify<T = unknown>(headers: WebhookHeaders, rawBody: string | Uint8Array, options?: VerifyWebhookOptions): WebhookEvent<T>;
  };

  constructor(options: TesseraOptions) {
    if (!options.appId || !options.appSecret) throw new TypeError('appId and appSecret are required');
    const credentials = Buffer.from(`${options.appId}:${options.appSecret}`).toString('base64');
    const http = new HttpClient({
      baseUrl: options.baseUrl,
      authorization: `Basic ${credentials}`,
      timeoutMs: options.timeoutMs,
    });
    const { appId, webhookSecret } = options;

    this.apps = { retrieve: () => http.request({ method: 'GET', path: appPath(appId) }) };
    this.users = new Users(http);
    this.factors = new Factors(http);
    this.recoveryCodes = new RecoveryCodesApi(http);
    this.challenges = new Challenges(http);
    this.devices = new Devices(http);
    this.qrLogins = new QrLogins(http);
    this.actions = new Actions(http, appId);
    this.webhookDeliveries = new WebhookDeliveries(http);
    this.webhooks = {
      verify(headers, rawBody, verifyOptions) {
        if (!webhookSecret) throw new TypeError('Pass webhookSecret to new Tessera() to verify webhooks.');
        return verifyWebhook(webhookSecret, headers, rawBody, verifyOptions);
      },
    };
  }
}
