-- Apps: the relying parties. Secrets are never stored in plaintext: the app secret as its
-- SHA-256 (it has 256 random bits, so a slow hash adds nothing), the webhook secret encrypted
-- with the keyring because we need it back to sign.
CREATE TABLE apps (
  id                        text PRIMARY KEY,
  name                      text NOT NULL,
  active                    boolean NOT NULL DEFAULT true,
  issuer_name               text,
  callback_url              text,
  challenge_default_message text,
  branding                  jsonb NOT NULL DEFAULT '{"display_name":null,"logo":null}',
  profile_scopes            text[] NOT NULL DEFAULT '{}',
  allowed_origins           text[] NOT NULL DEFAULT '{}',
  allowed_ips               text[] NOT NULL DEFAULT '{}',
  secret_hash               bytea NOT NULL,
  webhook_secret_enc        text NOT NULL,
  created_at                timestamptz NOT NULL DEFAULT now(),
  updated_at                timestamptz NOT NULL DEFAULT now()
);

-- The outbox and the delivery log in one: a row is written in the transaction of the change
-- that caused the event, and the dispatcher sends it until it is delivered or a day has passed.
CREATE TABLE webhook_deliveries (
  id               text PRIMARY KEY,
  app_id           text NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  event_type       text NOT NULL,
  payload          text NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz,
  last_attempt_at  timestamptz,
  last_status_code integer,
  last_error       text,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_app ON webhook_deliveries (app_id, id DESC);

-- Idempotency-Key records: the response of a creating call, encrypted (it may hold a secret
-- shown once), replayed to a retry of the same request for a day.
CREATE TABLE idempotency_keys (
  scope         text NOT NULL,
  key           text NOT NULL,
  request_hash  bytea NOT NULL,
  status_code   integer,
  response_enc  text,
  expires_at    timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
