-- Device registrations: the one-time token an app hands to an authenticator (as a QR code).
-- The token has 256 random bits, so its SHA-256 is enough to store it; used_at makes it single use.
CREATE TABLE device_registrations (
  token_hash  bytea PRIMARY KEY,
  app_id      text NOT NULL,
  user_id     text NOT NULL,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  device_id   text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, user_id) ON DELETE CASCADE
);
CREATE INDEX device_registrations_expiry ON device_registrations (expires_at);

-- Devices: the public key behind a push factor. No secret of the device is stored: it signs each
-- request and each answer with its private key. Deleting the push factor deletes the device.
-- key_thumbprint (RFC 7638) is unique: each registration uses its own key.
CREATE TABLE devices (
  id              text PRIMARY KEY,
  app_id          text NOT NULL,
  user_id         text NOT NULL,
  factor_id       text NOT NULL UNIQUE REFERENCES factors (id) ON DELETE CASCADE,
  public_key      jsonb NOT NULL,
  key_thumbprint  text NOT NULL UNIQUE,
  alg             text NOT NULL CHECK (alg IN ('ES256', 'EdDSA')),
  name            text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_seen_at    timestamptz,
  FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, user_id) ON DELETE CASCADE
);
CREATE INDEX devices_by_user ON devices (app_id, user_id);
