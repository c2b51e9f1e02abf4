import type { FactorType } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';
import type { TotpKey } from '../factors/store.ts';
import type { OutboxEvent } from '../webhooks/outbox.ts';
import type { ChallengeRecord, NewChallenge } from './store.ts';

// The two statements of the usual 2FA round, each for a batch of requests (platform/batcher.ts): under load the
// creates in flight share one statement and one commit, and so do the verifies. Every lookup is a LATERAL subquery by
// primary key and every UPDATE is bounded by `= ANY` of the keys, so that a plan cached while the tables were small
// cannot turn into a scan of a table when they grow (a generic plan counts 10 rows per unnest(), whatever the batch).
// A lookup whose checks are filtered on outside it ends with OFFSET 0, which keeps them from being pushed into it:
// pushed in, they made the planner read the pending challenges through challenges_pending_expiry (thousands of rows)
// instead of one by its primary key.

/** A challenge to create for the user's newest active factor of `type` (none, with `unlessPush`, if they have push). */
export interface CreateForFactor {
  challenge: Omit<NewChallenge, 'factorId' | 'factorType'>;
  type: FactorType;
  unlessPush: boolean;
}

export type CreatedForFactor = Pick<ChallengeRecord, 'factor_id' | 'factor_type' | 'details' | 'hidden_details' | 'expires_at' | 'created_at'> &
  Omit<TotpKey, 'id'>;

const createSql = `
WITH r AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[],
    $9::text[], $10::bool[]) WITH ORDINALITY
    AS r(id, app_id, user_id, reference_id, message, details, hidden_details, expires_in, type, unless_push, i)
), f AS (
  SELECT r.*, k.id AS factor_id, k.type AS factor_type, k.secret_enc, k.algorithm, k.digits, k.period
  FROM r CROSS JOIN LATERAL (
    SELECT id, type, secret_enc, algorithm, digits, period FROM factors
    WHERE app_id = r.app_id AND user_id = r.user_id AND type = r.type AND status = 'active'
      AND NOT (r.unless_push AND EXISTS (SELECT 1 FROM factors p
                                         WHERE p.app_id = r.app_id AND p.user_id = r.user_id AND p.type = 'push' AND p.status = 'active'))
    ORDER BY id DESC LIMIT 1) k
), c AS (
  INSERT INTO challenges (id, app_id, user_id, factor_id, factor_type, status, reference_id, message, details,
    hidden_details, expires_at)
  SELECT id, app_id, user_id, factor_id, factor_type, 'pending', reference_id, message, details::jsonb, hidden_details::jsonb,
    now() + make_interval(secs => expires_in)
  FROM f
  RETURNING id, details, hidden_details, expires_at, created_at
)
SELECT f.i::int AS i, f.factor_id, f.factor_type, f.secret_enc, f.algorithm, f.digits, f.period,
  c.details, c.hidden_details, c.expires_at, c.created_at
FROM c JOIN f ON f.id = c.id`;

/** Creates the batch's challenges; for each, in order, what the insert answered, or null when it found no factor. */
export async function createForFactors(db: Database, items: readonly CreateForFactor[]): Promise<Array<CreatedForFactor | null>> {
  const column = <T>(pick: (challenge: CreateForFactor['challenge']) => T) => items.map((item) => pick(item.challenge));
  const json = (value: Record<string, unknown> | null) => (value === null ? null : JSON.stringify(value));
  const rows = await db.query<CreatedForFactor & { i: number }>(createSql, [
    column((c) => c.id),
    column((c) => c.appId),
    column((c) => c.userId),
    column((c) => c.referenceId),
    column((c) => c.message),
    column((c) => json(c.details)),
    column((c) => json(c.hiddenDetails)),
    column((c) => c.expiresInSeconds),
    items.map((item) => item.type),
    items.map((item) => item.unlessPush),
  ]);
  const created: Array<CreatedForFactor | null> = items.map(() => null);
  for (const { i, ...row } of rows) created[i - 1] = row;
  return created;
}

/** A right TOTP code of time step `step` for `challenge` (as read), checked at `now`; `event` written if it verifies. */
export interface VerifyAtStep {
  challenge: ChallengeRecord;
  factorId: string;
  step: number;
  now: Date;
  event: OutboxEvent | null;
}

// Per request: lock the user, then the challenge, then its factor (the order of the verify transaction, UserService.lock),
// checking each on its latest version: the user is not locked out at `at`, the challenge is as read (pending, same
// attempts, not expired at `at`), and the factor's step moves only if the new one is newer. Then the challenge is verified, the user's
// count of wrong codes reset if it has one, and the event written if the app still has a callback URL. Two requests of
// one batch for one factor: one moves its step, the other is not verified here.
const verifySql = `
WITH r AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::text[], $6::bigint[], $7::text[],
    $8::text[], $9::text[], $10::text[]) WITH ORDINALITY
    AS r(id, app_id, attempts, at, factor_id, step, user_id, event_id, event_type, event_payload, i)
), u AS (
  SELECT r.i, us.reset FROM r CROSS JOIN LATERAL (
    SELECT locked_until IS NULL OR locked_until <= r.at AS ok, failed_codes > 0 OR locked_until IS NOT NULL AS reset
    FROM users WHERE app_id = r.app_id AND user_id = r.user_id OFFSET 0 FOR NO KEY UPDATE) us
  WHERE us.ok
), c AS (
  SELECT r.i FROM r JOIN u ON u.i = r.i CROSS JOIN LATERAL (
    SELECT app_id = r.app_id AND factor_id = r.factor_id AND status = 'pending' AND attempts = r.attempts AND expires_at > r.at AS ok
    FROM challenges WHERE id = r.id OFFSET 0 FOR NO KEY UPDATE) ch
  WHERE ch.ok
), step AS (
  UPDATE factors k SET last_step = s.step
  FROM (SELECT r.i, r.factor_id, r.step FROM r JOIN c ON c.i = r.i) s
  WHERE k.id = ANY ($5::text[]) AND k.id = s.factor_id AND k.status = 'active' AND (k.last_step IS NULL OR k.last_step < s.step)
  RETURNING s.i
), verified AS (
  UPDATE challenges ch SET status = 'verified', resolved_at = r.at
  FROM r JOIN step ON step.i = r.i
  WHERE ch.id = ANY ($1::text[]) AND ch.id = r.id
  RETURNING r.i
), cleared AS (
  UPDATE users us SET failed_codes = 0, locked_until = NULL
  FROM r JOIN u ON u.i = r.i AND u.reset JOIN verified v ON v.i = r.i
  WHERE us.app_id = ANY ($2::text[]) AND us.user_id = ANY ($7::text[]) AND us.app_id = r.app_id AND us.user_id = r.user_id
), event AS (
  INSERT INTO webhook_deliveries (id, app_id, event_type, payload, next_attempt_at)
  SELECT r.event_id, a.id, r.event_type, r.event_payload, now()
  FROM r JOIN verified v ON v.i = r.i CROSS JOIN LATERAL (SELECT id FROM apps WHERE id = r.app_id AND callback_url IS NOT NULL) a
  WHERE r.event_id IS NOT NULL
)
SELECT i::int AS i FROM verified`;

/** Verifies the batch's challenges where every check holds; for each, in order, whether it was verified. */
export async function verifyAtSteps(db: Database, items: readonly VerifyAtStep[]): Promise<boolean[]> {
  const column = <T>(pick: (item: VerifyAtStep) => T) => items.map(pick);
  const rows = await db.query<{ i: number }>(verifySql, [
    column((item) => item.challenge.id),
    column((item) => item.challenge.app_id),
    column((item) => item.challenge.attempts),
    column((item) => item.now),
    column((item) => item.factorId),
    column((item) => item.step),
    column((item) => item.challenge.user_id),
    column((item) => item.event?.id ?? null),
    column((item) => item.event?.type ?? null),
    column((item) => item.event?.payload ?? null),
  ]);
  const verified = items.map(() => false);
  for (const { i } of rows) verified[i - 1] = true;
  return verified;
}
