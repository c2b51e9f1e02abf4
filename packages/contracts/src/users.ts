export const factorTypes = ['totp', 'push', 'recovery'] as const;
export type FactorType = (typeof factorTypes)[number];
export type FactorStatus = 'unverified' | 'active';
export const totpAlgorithms = ['SHA1', 'SHA256', 'SHA512'] as const;
export type TotpAlgorithm = (typeof totpAlgorithms)[number];

export interface Factor {
  factor_id: string;
  user_id: string;
  type: FactorType;
  status: FactorStatus;
  name: string | null;
  created_at: string;
  activated_at: string | null;
  /** TOTP only. */
  algorithm?: TotpAlgorithm;
  digits?: 6 | 8;
  period?: 30 | 60;
  /** Recovery only: codes not used yet. */
  codes_left?: number;
}

/** The answer to a TOTP enrollment: the only time the secret is shown. */
export interface EnrolledTotpFactor extends Factor {
  secret: string;
  uri: string;
  qr_data_url: string;
}

export interface User {
  user_id: string;
  email: string | null;
  phone: string | null;
  display_name: string | null;
  two_factor_enabled: boolean;
  factors: Factor[];
  created_at: string;
  updated_at: string;
}

export interface RecoveryCodes {
  factor_id: string;
  codes: string[];
}

export const challengeStatuses = ['pending', 'verified', 'approved', 'denied', 'expired', 'failed'] as const;
export type ChallengeStatus = (typeof challengeStatuses)[number];

/** Why a push challenge was denied, when the device said more than no. */
export const denyReasons = ['fraud', 'wrong_number'] as const;
export type DenyReason = (typeof denyReasons)[number];

export interface Challenge {
  challenge_id: string;
  /** Null for a challenge of several approvers (see `user_ids`). */
  user_id: string | null;
  status: ChallengeStatus;
  factor_id: string | null;
  factor_type: FactorType;
  reference_id: string | null;
  message: string | null;
  details: Record<string, unknown> | null;
  hidden_details: Record<string, unknown> | null;
  /** TOTP and recovery challenges: wrong codes this challenge still accepts (absent for push). */
  attempts_left?: number;
  expires_at: string;
  created_at: string;
  resolved_at: string | null;
  /** Number matching (push): the number the app shows, which the person picks on the device. */
  number?: number;
  /** A push denial: "fraud" when the person said they did not start this, "wrong_number" for a wrong pick. */
  deny_reason?: DenyReason | null;
  /** Several approvers: who may approve, how many must, and who did. */
  user_ids?: string[];
  quorum?: number;
  approved_by?: string[];
  denied_by?: string[];
}
