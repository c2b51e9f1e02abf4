import type {
  ActionRecord,
  ActionRules,
  ActionRulesInput,
  Page,
  TrackedAction,
  ValidatedAction,
} from '@tessera/contracts';
import { ActionRulesApi } from './action-rules.ts';
import type { CreatingCallOptions } from './admin-apps.ts';
import type { HttpClient } from './http-client.ts';
import { pathSegment, userPath } from './path-segment.ts';

export interface TrackOptions {
  /** What the app knows: `ip`, `user_agent`, `device_id`, and values of its own (for rules such as `context.amount`). */
  context?: Record<string, unknown>;
  /** Where the hosted page sends the browser back, with `?token=` added; on the app's `allowed_origins` if it lists any. */
  redirectUrl?: string;
}

export interface ValidateOptions {
  /** The token the browser brought back (from the client API or the hosted page). */
  token: string;
  /** The action the token must be for. */
  action: string;
  /** When given, a token for another user is not valid. */
  userId?: string;
}

export interface ListActionsQuery {
  action?: string;
  limit?: number;
  /** The last `idempotency_key` of the previous page (newest first). */
  startingAfter?: string;
}

const actionPath = (userId: string, action: string) => `${userPath(userId)}/actions/${pathSegment('action', action)}`;

/**
 * Adaptive MFA: track what a user does, let the app's rules decide (ALLOW, CHALLENGE_REQUIRED, BLOCK,
 * REVIEW), and validate the token the browser brings back from a challenge.
 */
export class Actions {
  readonly #rules: ActionRulesApi;

  constructor(
    private readonly http: HttpClient,
    appId: string,
  ) {
    this.#rules = new ActionRulesApi(http, appId);
  }

  /**
   * Tracks an action: `state` is the rules' decision; on CHALLENGE_REQUIRED hand `token` to the browser SDK
   * or send the browser to `url` (the hosted page). An action never configured is ALLOW.
   */
  async track(userId: string, action: string, options: TrackOptions = {}, call: CreatingCallOptions = {}): Promise<TrackedAction> {
    return this.http.request({
      method: 'POST',
      path: actionPath(userId, action),
      body: { context: options.context, redirect_url: options.redirectUrl },
      creating: { idempotencyKey: call.idempotencyKey },
    });
  }

  /**
   * Checks a token from the browser: `is_valid` is true, once, for the token of a passed challenge
   * (`state: "CHALLENGE_SUCCEEDED"`) or of an allowed action. A token of another action or user: `is_valid: false`,
   * `state: "CHALLENGE_REQUIRED"`. TesseraError `action_token_invalid` (400), `action_token_expired` (410) or
   * `action_token_used` (409) otherwise. Never retried: a token validates once.
   */
  async validate(options: ValidateOptions): Promise<ValidatedAction> {
    return this.http.request({
      method: 'POST',
      path: '/v1/actions/validate',
      body: { token: options.token, action: options.action, user_id: options.userId },
    });
  }

  /** A tracked action, by the `idempotency_key` its track answered. */
  async retrieve(userId: string, action: string, idempotencyKey: string): Promise<ActionRecord> {
    return this.http.request({ method: 'GET', path: `${actionPath(userId, action)}/${pathSegment('idempotencyKey', idempotencyKey)}` });
  }

  /** The user's tracked actions, newest first. */
  async list(userId: string, query: ListActionsQuery = {}): Promise<Page<ActionRecord>> {
    return this.http.request({
      method: 'GET',
      path: `${userPath(userId)}/actions`,
      query: { action: query.action, limit: query.limit, starting_after: query.startingAfter },
    });
  }

  /** Decides an action in REVIEW; `409 action_not_in_review` for any other state. */
  async review(userId: string, action: string, idempotencyKey: string, state: 'ALLOW' | 'BLOCK'): Promise<ActionRecord> {
    return this.http.request({
      method: 'PATCH',
      path: `${actionPath(userId, action)}/${pathSegment('idempotencyKey', idempotencyKey)}`,
      body: { state },
    });
  }

  /** This app's rules for an action (an action never configured: ALLOW and no rules). */
  getRules(action: string): Promise<ActionRules> {
    return this.#rules.get(action);
  }

  /** Replaces the rules of an action; a malformed set is `400 validation_failed` with `details.field` naming the bad path. */
  setRules(action: string, rules: ActionRulesInput): Promise<ActionRules> {
    return this.#rules.set(action, rules);
  }

  /** Every action this app has rules for, with its rules. */
  listRules(): Promise<ActionRules[]> {
    return this.#rules.list();
  }
}
