-- Push challenges. A push challenge targets the push devices of one user, or of several users with a
-- quorum (challenges.user_id is then NULL and challenge_approvers lists them). Each approver answers
-- once, from any of their devices; the signed answer is kept as the proof of who decided what.
ALTER TABLE challenges ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE challenges
  -- Number matching: the app shows `number`, the device picks among `number_choices`.
  ADD COLUMN number          smallint,
  ADD COLUMN number_choices  smallint[],
  -- 'fraud' when the person said they did not start this; 'wrong_number' for a wrong pick.
  ADD COLUMN deny_reason     text CHECK (deny_reason IN ('fraud', 'wrong_number')),
  -- Several approvers: the users, how many must approve, and who answered so far (kept on the
  -- challenge, whose row lock orders the answers, so that a read needs no join).
  ADD COLUMN user_ids        text[],
  ADD COLUMN quorum          integer,
  ADD COLUMN approved_by     text[],
  ADD COLUMN denied_by       text[];

CREATE TABLE challenge_approvers (
  challenge_id  text NOT NULL REFERENCES challenges (id) ON DELETE CASCADE,
  app_id        text NOT NULL,
  user_id       text NOT NULL,
  decision      text CHECK (decision IN ('approve', 'deny')),
  reason        text CHECK (reason IN ('fraud')),
  device_id     text,
  signed_decision text,
  decided_at    timestamptz,
  PRIMARY KEY (challenge_id, user_id),
  FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, user_id) ON DELETE CASCADE
);
-- What a device lists: the undecided approvals of its user.
CREATE INDEX challenge_approvers_open ON challenge_approvers (app_id, user_id) WHERE decision IS NULL;

-- The authenticator's identity key (RFC 7638 thumbprint), sent at registration: it links a QR login
-- by that authenticator to the user the device is registered for.
ALTER TABLE devices ADD COLUMN identity_thumbprint text;
CREATE INDEX devices_by_identity ON devices (app_id, identity_thumbprint) WHERE identity_thumbprint IS NOT NULL;
