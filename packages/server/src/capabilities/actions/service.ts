import type { ActionRecord, ActionState, App, TrackActionInput, TrackedAction, ValidateActionInput, ValidatedAction } from '@tessera/contracts';
import { Batcher } from '../../platform/batcher.ts';
import type { Database } from '../../platform/database/database.ts';
import { ApiError } from '../../platform/http/api-error.ts';
import { newId } from '../../platform/ids.ts';
import { isHttpUrl } from '../apps/config-checks.ts';
import type { AppService } from '../apps/service.ts';
import type { Outbox } from '../webhooks/outbox.ts';
import { ActionStore, toActionRecord, type ActionRow, type NewAction } from './action-store.ts';
import type { ActionTokens } from './action-token.ts';
import type { UserHistory } from './rules-engine.ts';
import type { RulesService } from './rules-service.ts';
import { runTrackStatement, type HistoryQuery } from './track-store.ts';

export const trackTokenSeconds = 600;
export const successTokenSeconds = 180;
const maxContextBytes = 8 * 1024;

interface Insert {
  row: NewAction;
  /** The action.tracked event, when the app has a callback URL to send it to. */
  event: ActionRecord | null;
}

/** A track's two steps: the read of the user's history, then (decided) the write of the action. */
type Step = { read: HistoryQuery } | { write: Insert };
type Read = { history: UserHistory; nowMs: number };

/**
 * Tracking actions and validating their tokens. A track costs no I/O but one read of the user's history
 * and one write. Both go through one batcher, whose every statement writes the tracks already decided and
 * reads the histories of the next ones (track-store.ts): under load, N tracks share a few statements and
 * commits (group commit), and a lone track runs at once.
 */
export class ActionService {
  readonly #store: ActionStore;
  readonly #steps: Batcher<Step, Read | null>;

  constructor(
    private readonly db: Database,
    private readonly apps: AppService,
    private readonly rules: RulesService,
    private readonly outbox: Outbox,
    private readonly tokens: ActionTokens,
    private readonly publicUrl: string,
  ) {
    this.#store = new ActionStore(db);
    // Inside a transaction (an Idempotency-Key record), a track's steps join it instead of a batch.
    this.#steps = new Batcher((steps) => this.#run(steps), () => db.inTransaction);
  }

  async track(appId: string, userId: string, action: string, input: TrackActionInput): Promise<TrackedAction> {
    const app = await this.apps.get(appId);
    const redirectUrl = input.redirect_url === undefined ? null : checkRedirectUrl(app, input.redirect_url);
    const context = input.context ?? {};
    const contextJson = JSON.stringify(context);
    if (Buffer.byteLength(contextJson) > maxContextBytes) throw ApiError.invalid('context', `must be at most ${maxContextBytes} bytes of JSON`);
    // jsonb stores no NUL and no lone surrogate: the JSON body parser refuses both (json-body.ts), so that no bad
    // row fails the whole batch it would share a statement with.
    const deviceId = typeof context.device_id === 'string' ? context.device_id : null;

    const policy = await this.rules.policy(appId, action);
    const query: HistoryQuery = { appId, userId, action, deviceId, needs: policy.needs };
    const { history, nowMs } = (await this.#steps.submit({ read: query })) as Read;
    const decision = policy.decide({ context, history, nowMs });

    const id = newId('act');
    const row: NewAction = { id, appId, userId, action, outcome: decision.outcome, rule: decision.rule, contextJson, deviceId, redirectUrl, createdAt: new Date(nowMs) };
    const insert: Insert = { row, event: app.callback_url ? recordOf(row, context) : null };
    await this.#steps.submit({ write: insert });

    const token = this.tokens.sign({ scope: 'track', appId, userId, action, actionId: id }, trackTokenSeconds);
    return {
      state: decision.outcome,
      idempotency_key: id,
      token,
      url: `${this.publicUrl.replace(/\/+$/, '')}/hosted/actions?token=${token}`,
      enrolled_factors: [...history.factorTypes].sort(),
    };
  }

  async get(appId: string, userId: string, action: string, id: string): Promise<ActionRecord> {
    return toActionRecord(await this.#find(appId, userId, action, id));
  }

  async list(appId: string, userId: string, query: { action?: string; limit: number; starting_after?: string }) {
    const rows = await this.#store.list(appId, userId, query.action ?? null, query.limit + 1, query.starting_after ?? null);
    return { data: rows.slice(0, query.limit).map(toActionRecord), has_more: rows.length > query.limit };
  }

  /** An action in REVIEW set to ALLOW or BLOCK by the app, with an action.reviewed event. */
  async review(appId: string, userId: string, action: string, id: string, state: 'ALLOW' | 'BLOCK'): Promise<ActionRecord> {
    await this.#find(appId, userId, action, id);
    return this.db.transaction(async () => {
      const reviewed = await this.#store.transition(id, ['REVIEW'], state);
      if (!reviewed) throw new ApiError('action_not_in_review');
      const record = toActionRecord(reviewed);
      await this.outbox.enqueue(appId, 'action.reviewed', record);
      return record;
    });
  }

  /**
   * A success token validates once for its action (and user); a track token validates once too, when the
   * rules (or a review) allowed the action. Another action or user: `is_valid: false`, nothing changes.
   */
  async validate(appId: string, input: ValidateActionInput): Promise<ValidatedAction> {
    const check = this.tokens.verify(input.token);
    if (!check.ok && check.reason === 'expired') throw new ApiError('action_token_expired');
    if (!check.ok || check.claims.appId !== appId) {
      const reason = check.ok ? 'for another app' : check.reason;
      throw new ApiError('action_token_invalid', undefined, { details: { field: 'token', reason } });
    }
    const { claims } = check;
    const row = await this.#store.find(appId, claims.actionId);
    if (!row) throw new ApiError('action_token_invalid', 'The action of this token no longer exists.', { details: { field: 'token', reason: 'unknown action' } });
    const validState: ActionState = claims.scope === 'success' ? 'CHALLENGE_SUCCEEDED' : 'ALLOW';
    const matches = claims.action === input.action && (input.user_id === undefined || input.user_id === claims.userId);
    if (!matches || row.state !== validState) return notValid(row);
    if (row.validated_at) throw new ApiError('action_token_used');
    const consumed = await this.#store.consume(row.id, validState);
    if (!consumed) throw new ApiError('action_token_used');
    return validated(consumed, true);
  }

  async #find(appId: string, userId: string, action: string, id: string): Promise<ActionRow> {
    const row = await this.#store.find(appId, id);
    if (!row || row.user_id !== userId || row.action !== action) throw ApiError.notFound('Action');
    return row;
  }

  async #run(steps: Step[]): Promise<Array<Read | null>> {
    const reads: HistoryQuery[] = [];
    const writes: Insert[] = [];
    for (const step of steps) {
      if ('read' in step) reads.push(step.read);
      else writes.push(step.write);
    }
    const now = new Date();
    const statement = () => runTrackStatement(this.db, reads, writes.map((write) => write.row), now);
    const events = writes.filter((write) => write.event !== null);
    const histories =
      events.length === 0
        ? await statement()
        : await this.db.transaction(async () => {
            const read = await statement();
            for (const write of events) await this.outbox.enqueue(write.row.appId, 'action.tracked', write.event);
            return read;
          });
    let next = 0;
    return steps.map((step) => ('read' in step ? { history: histories[next++] as UserHistory, nowMs: now.getTime() } : null));
  }
}

/** http(s) only, and on one of the app's allowed origins when it lists any. */
function checkRedirectUrl(app: App, value: string): string {
  if (!isHttpUrl(value)) throw ApiError.invalid('redirect_url', 'must be an http or https URL');
  const origin = new URL(value).origin;
  if (app.allowed_origins.length > 0 && !app.allowed_origins.includes(origin)) {
    throw ApiError.invalid('redirect_url', `must be on one of the app's allowed_origins (${origin} is not)`);
  }
  return value;
}

function recordOf(row: NewAction, context: Record<string, unknown>): ActionRecord {
  const at = row.createdAt.toISOString();
  return {
    idempotency_key: row.id,
    user_id: row.userId,
    action: row.action,
    state: row.outcome,
    outcome: row.outcome,
    rule: row.rule,
    context,
    redirect_url: row.redirectUrl,
    created_at: at,
    updated_at: at,
    validated_at: null,
  };
}

function validated(row: ActionRow, isValid: boolean): ValidatedAction {
  return { state: row.state, is_valid: isValid, user_id: row.user_id, action: row.action, idempotency_key: row.id };
}

/**
 * A token that does not prove the asked action: never a state that lets it through (ALLOW, CHALLENGE_SUCCEEDED), so
 * that an app checking `state` alone, as many do, refuses a token of another action or user, or a track token (not
 * used up) after its challenge was passed. It says CHALLENGE_REQUIRED: what the asked action still needs.
 */
function notValid(row: ActionRow): ValidatedAction {
  const passing = row.state === 'ALLOW' || row.state === 'CHALLENGE_SUCCEEDED';
  return validated(passing ? { ...row, state: 'CHALLENGE_REQUIRED' } : row, false);
}
