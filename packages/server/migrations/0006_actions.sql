-- Adaptive MFA. An app's rules per action: an ordered list of {name, conditions, outcome} (checked on
-- write) and a default outcome. A row appears on the first track of an action never configured.
CREATE TABLE action_configs (
  app_id           text NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  action           text NOT NULL,
  default_outcome  text NOT NULL CHECK (default_outcome IN ('ALLOW', 'CHALLENGE_REQUIRED', 'BLOCK', 'REVIEW')),
  rules            jsonb NOT NULL DEFAULT '[]',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, action)
);

-- Tracked actions. validated_at makes a token validate once (a conditional UPDATE, so also under
-- concurrency); challenge_ids maps a factor type to the challenge this action runs on it.
CREATE TABLE actions (
  id                text PRIMARY KEY,
  app_id            text NOT NULL,
  user_id           text NOT NULL,
  action            text NOT NULL,
  state             text NOT NULL CHECK (state IN ('ALLOW', 'CHALLENGE_REQUIRED', 'BLOCK', 'REVIEW', 'CHALLENGE_SUCCEEDED')),
  outcome           text NOT NULL,
  rule              text,
  context           jsonb NOT NULL DEFAULT '{}',
  device_id         text,
  redirect_url      text,
  challenge_ids     jsonb NOT NULL DEFAULT '{}',
  enroll_factor_id  text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  validated_at      timestamptz,
  FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, user_id) ON DELETE CASCADE
);
-- The history read of a track: the user's recent actions of one kind (velocity) and the devices
-- their allowed or passed actions came from (new_device).
CREATE INDEX actions_by_user ON actions (app_id, user_id, action, created_at);
CREATE INDEX actions_by_device ON actions (app_id, user_id, device_id) WHERE device_id IS NOT NULL;
