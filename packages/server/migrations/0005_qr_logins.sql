-- Secrets the instances share, made once and sealed with the keyring (re-encrypted after a rotation):
-- the QR payload signing key and the pairwise identity key. Kept in the database, not derived from the
-- master key, so that rotating the master key changes neither the identity_id an app knows nor the
-- signature of a QR code already on screen.
CREATE TABLE server_secrets (
  name        text PRIMARY KEY,
  secret_enc  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- QR logins, from the moment an authenticator claims a QR code (a waiting browser has no row: its QR
-- payload is signed by the server). private_key_enc is the key made for this login only, sealed with the
-- keyring; encrypted_profile is the JWE the authenticator sent to it. Both are deleted (NULL) once the
-- login is verified, denied or expired. The login token is stored as its SHA-256 (256 random bits).
CREATE TABLE qr_logins (
  id                   text PRIMARY KEY,
  -- The nonce of the QR code that was claimed: the answer must be signed for the same code.
  nonce                text NOT NULL,
  app_id               text NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  status               text NOT NULL CHECK (status IN ('claimed', 'approved', 'denied', 'verified', 'expired')),
  identity_thumbprint  text NOT NULL,
  identity_id          text NOT NULL,
  requested_fields     text[] NOT NULL,
  consented_fields     text[],
  private_key_enc      text,
  encrypted_profile    text,
  token_hash           bytea UNIQUE,
  -- Where the sign-in started (shown on the consent screen, sent with the login notification).
  browser_ip           text NOT NULL,
  browser_user_agent   text NOT NULL,
  expires_at           timestamptz NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  answered_at          timestamptz,
  verified_at          timestamptz
);
CREATE INDEX qr_logins_open_expiry ON qr_logins (expires_at) WHERE status IN ('claimed', 'approved');
CREATE INDEX qr_logins_created ON qr_logins (created_at);

-- An app's own link from a pairwise identity to one of its users (onboarding after a first QR login).
CREATE TABLE identity_links (
  app_id       text NOT NULL,
  identity_id  text NOT NULL,
  user_id      text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, identity_id),
  FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, user_id) ON DELETE CASCADE
);
