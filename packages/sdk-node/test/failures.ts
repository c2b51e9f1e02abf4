import { expect } from 'vitest';
import { TesseraError, TesseraWebhookError, type WebhookErrorCode } from '../src/errors.ts';

/** The TesseraError a call fails with; the test fails if the call succeeds or fails otherwise. */
export async function failure(promise: Promise<unknown>): Promise<TesseraError> {
  const error = await promise.then(
    () => expect.fail('the call should have failed'),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(TesseraError);
  return error as TesseraError;
}

/** The code of the TesseraWebhookError that `verify` throws; the test fails if it accepts the webhook. */
export function webhookRejection(verify: () => unknown): WebhookErrorCode {
  try {
    verify();
  } catch (error) {
    expect(error).toBeInstanceOf(TesseraWebhookError);
    return (error as TesseraWebhookError).code;
  }
  return expect.fail('the webhook should have been refused');
}
