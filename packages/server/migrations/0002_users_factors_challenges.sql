-- Users as an app knows them: keyed by the app's own user id, created on first use.
-- failed_codes counts consecutive wrong codes (TOTP or recovery) for the lockout.
CREATE TABLE users (
  app_id        text NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  user_id       text NOT NULL,
  email         text,
  phone         text,
  display_name  text,
  failed_codes  integer NOT NULL DEFAULT 0,
  locked_until  timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, user_id)
);

-- Factors. TOTP secrets are encrypted with the keyring; last_step is the time step of the last
-- accepted code, so that a code (or an older one) is never accepted twice.
CREATE TABLE factors (
  id            text PRIMARY KEY,
  app_id        text NOT NULL,
  user_id       text NOT NULL,
  type          text NOT NULL CHECK (type IN ('totp', 'push', 'recovery')),
  status        text NOT NULL CHECK (status IN ('unverified', 'active')),
  name          text,
  secret_enc    text,
  algorithm     text,
  digits        integer,
  period        integer,
  last_step     bigint,
  created_at    timestamptz NOT NULL DEFAULT now(),
  activated_at  timestamptz,
  FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, user_id) ON DELETE CASCADE
);
CREATE INDEX factors_by_user ON factors (app_id, user_id);
-- One set of recovery codes per user.
CREATE UNIQUE INDEX factors_one_recovery ON factors (app_id, user_id) WHERE type = 'recovery';

-- Recovery codes have 80 random bits, so SHA-256 is enough to store them; each is used once.
CREATE TABLE recovery_codes (
  factor_id  text NOT NULL REFERENCES factors (id) ON DELETE CASCADE,
  code_hash  bytea NOT NULL,
  used_at    timestamptz,
  PRIMARY KEY (factor_id, code_hash)
);

CREATE TABLE challenges (
  id              text PRIMARY KEY,
  app_id          text NOT NULL,
  user_id         text NOT NULL,
  factor_id       text REFERENCES factors (id) ON DELETE SET NULL,
  factor_type     text NOT NULL,
  status          text NOT NULL CHECK (status IN ('pending', 'verified', 'approved', 'denied', 'expired', 'failed')),
  reference_id    text,
  message         text,
  details         jsonb,
  hidden_details  jsonb,
  attempts        integer NOT NULL DEFAULT 0,
  expires_at      timestamptz NOT NULL,
  resolved_at     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, user_id) ON DELETE CASCADE
);
CREATE INDEX challenges_pending_expiry ON challenges (expires_at) WHERE status = 'pending';
CREATE INDEX challenges_by_user ON challenges (app_id, user_id, created_at);
