import type { FactorType } from './users.ts';

/** What the rules decide when an action is tracked. */
export const actionOutcomes = ['ALLOW', 'CHALLENGE_REQUIRED', 'BLOCK', 'REVIEW'] as const;
export type ActionOutcome = (typeof actionOutcomes)[number];

/** The state of a tracked action: its outcome, until a challenge succeeds or a review decides. */
export const actionStates = [...actionOutcomes, 'CHALLENGE_SUCCEEDED'] as const;
export type ActionState = (typeof actionStates)[number];

export const conditionOps = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'not_in', 'contains', 'cidr'] as const;
export type ConditionOp = (typeof conditionOps)[number];

export const signalNames = ['new_device', 'failed_challenges', 'velocity', 'has_factor', 'fraud_reported'] as const;
export type SignalName = (typeof signalNames)[number];

export type ScalarValue = string | number | boolean;

/** A comparison of one value the app sent, such as `{"field":"context.amount","op":"gt","value":10000}`. */
export interface FieldCondition {
  field: string;
  op: ConditionOp;
  value: ScalarValue | ScalarValue[];
}

/** A fact Tessera knows about the user. */
export type SignalCondition =
  | { signal: 'new_device' }
  | { signal: 'failed_challenges'; within_seconds: number; gte: number }
  | { signal: 'velocity'; within_seconds: number; gte: number }
  | { signal: 'has_factor'; type: FactorType }
  | { signal: 'fraud_reported'; within_seconds: number };

export type Condition = FieldCondition | SignalCondition | { all: Condition[] } | { any: Condition[] };

export interface ActionRule {
  name: string;
  conditions: Condition;
  outcome: ActionOutcome;
}

/** The body of `PUT /v1/apps/{app_id}/actions/{action}/rules`. */
export interface ActionRulesInput {
  default_outcome: ActionOutcome;
  rules: ActionRule[];
}

/** An action's rules: tried in order, the first whose conditions hold decides; else `default_outcome`. */
export interface ActionRules extends ActionRulesInput {
  action: string;
  /** Null for an action never configured nor tracked (its outcome is ALLOW). */
  updated_at: string | null;
}

/** The body of `POST /v1/users/{user_id}/actions/{action}`. */
export interface TrackActionInput {
  /** What the app knows: `ip`, `user_agent`, `device_id`, and values of its own. */
  context?: Record<string, unknown>;
  /** Where the hosted page sends the browser back, with `token` added. */
  redirect_url?: string;
}

export interface TrackedAction {
  state: ActionOutcome;
  /** The id of this action record. */
  idempotency_key: string;
  /** For the browser: the client API and the hosted page. Valid for 10 minutes. */
  token: string;
  /** The hosted page that runs the challenge (or the enrollment). */
  url: string;
  /** The types of the user's active factors. */
  enrolled_factors: FactorType[];
}

/** A tracked action as it is kept. */
export interface ActionRecord {
  idempotency_key: string;
  user_id: string;
  action: string;
  state: ActionState;
  /** What the rules decided when it was tracked. */
  outcome: ActionOutcome;
  /** The rule that decided, or null for the default outcome. */
  rule: string | null;
  context: Record<string, unknown>;
  redirect_url: string | null;
  created_at: string;
  updated_at: string;
  validated_at: string | null;
}

/** The body of `POST /v1/actions/validate`. */
export interface ValidateActionInput {
  token: string;
  action: string;
  /** When given, a token for another user is not valid. */
  user_id?: string;
}

export interface ValidatedAction {
  state: ActionState;
  /** True once for the token of a succeeded challenge (or of an allowed action); false otherwise. */
  is_valid: boolean;
  user_id: string;
  action: string;
  idempotency_key: string;
}

/** `POST /v1/client/totp/enroll`: the new secret, shown once. */
export interface ClientTotpEnrollment {
  factor_id: string;
  uri: string;
  secret: string;
  qr_data_url: string;
}

/** A challenge passed through the client API: the token that `validate` accepts. */
export interface ClientChallengeSuccess {
  state: 'CHALLENGE_SUCCEEDED';
  token: string;
}

/** `POST /v1/client/push` and `GET /v1/client/challenges/{challenge_id}`: the action's push challenge. */
export interface ClientPushChallenge {
  challenge_id: string;
  status: 'pending' | 'approved' | 'denied' | 'expired' | 'failed' | 'verified';
  /** `fraud` when the person said they did not start it: no new request can then be sent for this action. */
  deny_reason?: 'fraud';
  /** The number to show: the person picks it on their device. */
  number?: number;
  expires_at: string;
  /** Once approved: the action succeeded, and this token is for validate. */
  state?: 'CHALLENGE_SUCCEEDED';
  token?: string;
}
