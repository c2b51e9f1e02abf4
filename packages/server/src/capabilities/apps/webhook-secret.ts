import { randomBytes } from 'node:crypto';

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes (the HMAC key). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** The keyring context of an app's webhook secret: the ciphertext opens only for that app. */
export const webhookSecretContext = (appId: string) => `apps.webhook_secret:${appId}`;
