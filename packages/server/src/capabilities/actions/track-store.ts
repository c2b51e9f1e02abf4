import type { FactorType } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';
import type { NewAction } from './action-store.ts';
import type { HistoryNeeds, UserHistory } from './rules-engine.ts';

/** What the history read of one track needs to know. */
export interface HistoryQuery {
  appId: string;
  userId: string;
  action: string;
  deviceId: string | null;
  needs: HistoryNeeds;
}

interface HistoryRow {
  i: number;
  factor_types: FactorType[];
  known_device: boolean;
  failed_at: number[];
  fraud_at: number[];
  actions_at: number[];
}

/**
 * The push challenges a person denied saying they did not start them (deny_reason "fraud").
 */
export function fraudReported(c: string): string {
  return `${c}.status = 'denied' AND ${c}.deny_reason = 'fraud'`;
}

const epochMs = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;

// One statement per batch of tracks, both halves of their work: it writes the tracks already decided (the
// action, and its user on first use) and reads the history of the tracks to decide next. The read covers
// each user's active factor types, whether the device was seen on an allowed or passed action, and the
// times of what the rules look back on (no further than they need, and no more rows than the largest count
// they compare with). Challenges end at most an hour after they are made, so created_at bounds that scan.
// The read does not see this statement's own writes (one snapshot), nor the tracks read alongside it, whose
// writes come in the next statement: runTrackStatement adds both to the histories it answers.
const trackSql = `
WITH w AS (
  SELECT * FROM unnest($11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
    $18::text[], $19::text[], $20::timestamptz[]) AS w(id, app_id, user_id, action, outcome, rule, context, device_id, redirect_url, created_at)
), new_users AS (
  INSERT INTO users (app_id, user_id) SELECT DISTINCT app_id, user_id FROM w ON CONFLICT DO NOTHING
), written AS (
  INSERT INTO actions (id, app_id, user_id, action, state, outcome, rule, context, device_id, redirect_url, created_at, updated_at)
  SELECT id, app_id, user_id, action, outcome, outcome, rule, context::jsonb, device_id, redirect_url, created_at, created_at FROM w
)
SELECT q.i::int AS i,
  (SELECT coalesce(array_agg(DISTINCT f.type), '{}') FROM factors f
    WHERE f.app_id = q.app_id AND f.user_id = q.user_id AND f.status = 'active') AS factor_types,
  (q.device_id IS NOT NULL AND EXISTS (SELECT 1 FROM actions a
    WHERE a.app_id = q.app_id AND a.user_id = q.user_id AND a.device_id = q.device_id
      AND a.state IN ('ALLOW', 'CHALLENGE_SUCCEEDED'))) AS known_device,
  ARRAY(SELECT ${epochMs('c.resolved_at')} FROM challenges c
    WHERE q.failed_s > 0 AND c.app_id = q.app_id AND c.user_id = q.user_id AND c.status = 'failed'
      AND c.created_at > $1::timestamptz - make_interval(secs => q.failed_s + 3600)
      AND c.resolved_at > $1::timestamptz - make_interval(secs => q.failed_s)
    ORDER BY c.resolved_at DESC LIMIT q.failed_n) AS failed_at,
  ARRAY(SELECT ${epochMs('c.resolved_at')} FROM challenges c
    WHERE q.fraud_s > 0 AND c.app_id = q.app_id AND c.user_id = q.user_id AND ${fraudReported('c')}
      AND c.created_at > $1::timestamptz - make_interval(secs => q.fraud_s + 3600)
    ORDER BY c.resolved_at DESC LIMIT 1) AS fraud_at,
  ARRAY(SELECT ${epochMs('a.created_at')} FROM actions a
    WHERE q.actions_s > 0 AND a.app_id = q.app_id AND a.user_id = q.user_id AND a.action = q.action
      AND a.created_at > $1::timestamptz - make_interval(secs => q.actions_s)
    ORDER BY a.created_at DESC LIMIT q.actions_n) AS actions_at
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::int[], $9::int[], $10::int[])
  WITH ORDINALITY AS q(app_id, user_id, action, device_id, failed_s, failed_n, fraud_s, actions_s, actions_n, i)`;

/** Writes `writes` and reads the histories of `reads` (answered in their order), in one statement. */
export async function runTrackStatement(
  db: Database,
  reads: readonly HistoryQuery[],
  writes: readonly NewAction[],
  now: Date,
): Promise<UserHistory[]> {
  const read = <T>(pick: (query: HistoryQuery) => T) => reads.map(pick);
  const write = <T>(pick: (action: NewAction) => T) => writes.map(pick);
  const rows = await db.query<HistoryRow>(trackSql, [
    now,
    read((q) => q.appId),
    read((q) => q.userId),
    read((q) => q.action),
    read((q) => q.deviceId),
    read((q) => q.needs.failedChallengesSeconds),
    read((q) => q.needs.failedChallengesCount),
    read((q) => q.needs.fraudReportsSeconds),
    read((q) => q.needs.actionsSeconds),
    read((q) => q.needs.actionsCount),
    write((a) => a.id),
    write((a) => a.appId),
    write((a) => a.userId),
    write((a) => a.action),
    write((a) => a.outcome),
    write((a) => a.rule),
    write((a) => a.contextJson),
    write((a) => a.deviceId),
    write((a) => a.redirectUrl),
    write((a) => a.createdAt),
  ]);
  const histories: UserHistory[] = new Array(reads.length);
  for (const row of rows) {
    histories[row.i - 1] = {
      factorTypes: new Set(row.factor_types),
      knownDevice: row.known_device,
      failedChallengesAt: row.failed_at,
      fraudReportsAt: row.fraud_at,
      actionsAt: row.actions_at,
    };
  }
  addInFlight(reads, writes, histories, now.getTime());
  return histories;
}

/**
 * What the statement's snapshot cannot show a read: the tracks of the same user and action written by this very
 * statement, and those read before it in this batch (in flight: their writes come next). Both count toward the
 * velocity, so that on one instance every track counts, however many arrive at once.
 */
function addInFlight(reads: readonly HistoryQuery[], writes: readonly NewAction[], histories: UserHistory[], nowMs: number): void {
  const key = (appId: string, userId: string, action: string) => JSON.stringify([appId, userId, action]);
  const pending = new Map<string, number[]>();
  const timesOf = (pendingKey: string) => {
    let times = pending.get(pendingKey);
    if (!times) pending.set(pendingKey, (times = []));
    return times;
  };
  for (const write of writes) timesOf(key(write.appId, write.userId, write.action)).push(write.createdAt.getTime());
  reads.forEach((read, index) => {
    if (read.needs.actionsSeconds === 0) return;
    const earlier = timesOf(key(read.appId, read.userId, read.action));
    const history = histories[index] as UserHistory;
    if (earlier.length > 0) histories[index] = { ...history, actionsAt: [...history.actionsAt, ...earlier] };
    earlier.push(nowMs);
  });
}
