import type { App, EnrolledTotpFactor, Factor, FactorType, RecoveryCodes } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';
import { ApiError } from '../../platform/http/api-error.ts';
import { newId } from '../../platform/ids.ts';
import type { Keyring } from '../../platform/keyring.ts';
import type { AppService } from '../apps/service.ts';
import { lockedError, type UserService } from '../users/service.ts';
import type { Outbox } from '../webhooks/outbox.ts';
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from './recovery-codes.ts';
import { FactorStore, toFactor, type FactorRecord, type TotpKey } from './store.ts';
import { base32Of, decodeBase32Secret, matchTotpStep, minimumSecretBytes, newTotpSecret, totpUri, type TotpParams } from './totp.ts';
import { qrDataUrl } from '../../platform/qr-code.ts';

const maxFactorsPerUser = 20;

/** The keyring context of a TOTP secret: it opens only for its own factor. */
export const totpSecretContext = (factorId: string) => `factors.secret:${factorId}`;

export interface EnrollTotp {
  algorithm?: TotpParams['algorithm'];
  digits?: TotpParams['digits'];
  period?: TotpParams['period'];
  name?: string;
  /** Import: an existing Base32 secret, with a current `code` to prove it. */
  secret?: string;
  code?: string;
}

export interface CodeCheck {
  ok: boolean;
}

/**
 * Factors: TOTP (enroll, import, activate) and recovery codes. Code checks run under the user's lock
 * (UserService.guardCodeAttempt), so a code is accepted once even when sent many times at once.
 */
export class FactorService {
  readonly #store: FactorStore;
  readonly #removalHooks: Array<(factor: FactorRecord) => Promise<void>> = [];

  constructor(
    private readonly db: Database,
    private readonly keyring: Keyring,
    private readonly apps: AppService,
    private readonly users: UserService,
    private readonly outbox: Outbox,
  ) {
    this.#store = new FactorStore(db);
  }

  async enrollTotp(appId: string, userId: string, body: EnrollTotp): Promise<EnrolledTotpFactor> {
    const params: TotpParams = { algorithm: body.algorithm ?? 'SHA1', digits: body.digits ?? 6, period: body.period ?? 30 };
    const secret = body.secret === undefined ? newTotpSecret(params.algorithm) : importedSecret(body.secret);
    if (body.secret !== undefined && body.code === undefined) {
      throw ApiError.invalid('code', 'is required with secret: a current code proves the secret is right');
    }
    if (body.secret === undefined && body.code !== undefined) {
      throw ApiError.invalid('code', 'is only accepted with secret (to import one); activate a new factor instead');
    }
    // An imported secret is active at once, if the code proves it; nothing is stored otherwise.
    const activeAtStep = body.code === undefined ? null : matchTotpStep(secret, params, checkTotpFormat(body.code, params), Date.now());
    if (body.code !== undefined && activeAtStep === null) {
      throw new ApiError('invalid_code', 'The code does not match the secret now (check the clock and the parameters).');
    }
    const app = await this.apps.get(appId);
    const id = newId('fac');
    const record = await this.db.transaction(async () => {
      const user = await this.users.upsert(appId, userId, {});
      await this.makeRoom(appId, userId);
      const inserted = await this.#store.insertTotp({
        id,
        appId,
        userId,
        name: body.name ?? null,
        secretEnc: this.keyring.encrypt(secret, totpSecretContext(id)),
        params,
        activeAtStep,
      });
      if (activeAtStep !== null) await this.outbox.enqueue(appId, 'factor.activated', toFactor(inserted));
      return { inserted, label: user.email ?? userId };
    });
    return enrollmentOf(app, record.inserted, record.label, secret);
  }

  /** The enrollment of an unverified TOTP factor shown again (the same secret), or null when it is not one any more. */
  async pendingTotpEnrollment(appId: string, factorId: string): Promise<EnrolledTotpFactor | null> {
    const factor = await this.#store.find(appId, factorId);
    if (factor?.type !== 'totp' || factor.status !== 'unverified') return null;
    const user = await this.users.get(appId, factor.user_id);
    return enrollmentOf(await this.apps.get(appId), factor, user.email ?? factor.user_id, this.#secret(factor));
  }

  /** Activates an unverified TOTP factor with its first code; a wrong code counts toward the user's lockout. */
  async activate(appId: string, factorId: string, code: string): Promise<Factor> {
    const outcome = await this.db.transaction(async () => {
      const factor = await this.#find(appId, factorId);
      if (factor.type !== 'totp') throw new ApiError('factor_already_active', 'Only a TOTP factor is activated with a code.');
      const guard = await this.users.guardCodeAttempt(appId, factor.user_id);
      const current = await this.#store.find(appId, factorId, { forUpdate: true });
      if (!current) throw ApiError.notFound('Factor');
      if (current.status === 'active') throw new ApiError('factor_already_active');
      if (guard.locked) throw lockedError(guard.retryAfterSeconds);
      const step = matchTotpStep(this.#secret(current), paramsOf(current), checkTotpFormat(code, paramsOf(current)), Date.now());
      const after = await this.users.recordCodeResult(appId, current.user_id, step !== null, guard);
      if (step === null) return { ok: false as const, after };
      const activated = toFactor(await this.#store.activate(factorId, step));
      await this.outbox.enqueue(appId, 'factor.activated', activated);
      return { ok: true as const, factor: activated };
    });
    if (outcome.ok) return outcome.factor;
    // The wrong code is counted (committed) before the error is answered; as for a challenge, the code that
    // reaches the limit is still a 422, and the next attempt is refused with 429.
    const attemptsLeft = outcome.after.locked ? 0 : outcome.after.wrongCodesLeft;
    throw new ApiError('invalid_code', undefined, {
      details: { attempts_left: attemptsLeft, user_locked: outcome.after.locked },
    });
  }

  async get(appId: string, factorId: string): Promise<Factor> {
    return toFactor(await this.#find(appId, factorId));
  }

  async list(appId: string, userId: string): Promise<Factor[]> {
    return (await this.#store.listForUser(appId, userId)).map(toFactor);
  }

  /** Runs `hook` inside the transaction that deletes a factor, before the row goes (challenges end theirs). */
  onRemove(hook: (factor: FactorRecord) => Promise<void>): void {
    this.#removalHooks.push(hook);
  }

  async remove(appId: string, factorId: string): Promise<void> {
    await this.db.transaction(async () => {
      // The user's lock first (UserService.lock): a push challenge being made for them, or a code being checked,
      // finishes before the factor goes, or sees it gone.
      const read = await this.#store.find(appId, factorId);
      if (!read) throw ApiError.notFound('Factor');
      await this.users.lock(appId, read.user_id);
      const factor = await this.#store.find(appId, factorId, { forUpdate: true });
      if (!factor) throw ApiError.notFound('Factor');
      for (const hook of this.#removalHooks) await hook(factor);
      await this.#store.delete(appId, factorId);
      await this.outbox.enqueue(appId, 'factor.deleted', toFactor(factor));
    });
  }

  /**
   * Keeps a user within maxFactorsPerUser before a factor is added, in the caller's transaction: at the limit, the
   * oldest unverified TOTP factor goes (an enrollment nobody finished protects nothing; else a setup page opened 20
   * times would block the user for good), and with none the new factor is refused.
   */
  async makeRoom(appId: string, userId: string): Promise<void> {
    const factors = await this.#store.listForUser(appId, userId);
    if (factors.length < maxFactorsPerUser) return;
    const abandoned = factors.find((factor) => factor.type === 'totp' && factor.status === 'unverified'); // ids sort by creation time
    if (!abandoned) throw ApiError.invalid('user_id', `holds ${maxFactorsPerUser} factors, the most a user may hold: delete one first`);
    for (const hook of this.#removalHooks) await hook(abandoned);
    await this.#store.delete(appId, abandoned.id);
    await this.outbox.enqueue(appId, 'factor.deleted', toFactor(abandoned));
  }

  /** Ten new recovery codes, shown once; the user's previous codes stop working. */
  async generateRecoveryCodes(appId: string, userId: string): Promise<RecoveryCodes> {
    const codes = newRecoveryCodes();
    const factorId = newId('fac');
    await this.db.transaction(async () => {
      await this.users.upsert(appId, userId, {});
      // The old codes' factor goes: its pending challenges end as for any deleted factor. Locked first, so that a
      // recovery challenge being made for it meanwhile either ends here or finds it gone.
      const found = await this.#store.findActive(appId, userId, ['recovery']);
      const previous = found ? await this.#store.find(appId, found.id, { forUpdate: true }) : null;
      if (previous) for (const hook of this.#removalHooks) await hook(previous);
      const hashes = codes.map((code) => hashRecoveryCode(normalizeRecoveryCode(code)!));
      await this.#store.replaceRecoveryCodes(appId, userId, factorId, hashes);
    });
    return { factor_id: factorId, codes };
  }

  /** The active factor a challenge uses when none is named: the newest of the first type the user has. */
  async findActive(appId: string, userId: string, types: readonly FactorType[]): Promise<FactorRecord | null> {
    return this.#store.findActive(appId, userId, types);
  }

  async findRecord(appId: string, factorId: string): Promise<FactorRecord | null> {
    return this.#store.find(appId, factorId);
  }

  async findForChallenge(appId: string, userId: string, factorId: string): Promise<FactorRecord> {
    const factor = await this.#store.find(appId, factorId);
    if (!factor || factor.user_id !== userId) throw ApiError.notFound('Factor');
    if (factor.status !== 'active') throw new ApiError('no_active_factor', 'This factor is not active yet: activate it first.');
    return factor;
  }

  /**
   * Checks a code against a factor, inside the caller's transaction and under the user's lock. A right
   * TOTP code moves the factor's last step forward (so it, and any older code, is never accepted again);
   * a right recovery code is used up. Throws 400 for a code that cannot be right by its form.
   */
  async checkCode(factor: FactorRecord, code: string): Promise<CodeCheck> {
    if (factor.type === 'recovery') {
      const normalized = normalizeRecoveryCode(code);
      if (normalized === null) throw ApiError.invalid('code', 'must be a recovery code such as abcd-efgh-jkmn-pqrs');
      return { ok: await this.#store.useRecoveryCode(factor.id, hashRecoveryCode(normalized)) };
    }
    if (factor.type !== 'totp') throw new ApiError('validation_failed', 'This factor is not answered with a code.');
    const params = paramsOf(factor);
    const step = matchTotpStep(this.#secret(factor), params, checkTotpFormat(code, params), Date.now());
    return { ok: step !== null && (await this.#store.advanceStep(factor.id, step)) };
  }

  /**
   * The time step of a right TOTP code at `timestampMs`, or null (also for a code of the wrong form). Records
   * nothing: the caller moves the factor's step under the user's lock.
   */
  matchTotp(factor: TotpKey, code: string, timestampMs: number): number | null {
    const params = paramsOf(factor);
    if (!codeFormats[params.digits].test(code)) return null;
    return matchTotpStep(this.#secret(factor), params, code, timestampMs);
  }

  async #find(appId: string, factorId: string): Promise<FactorRecord> {
    const factor = await this.#store.find(appId, factorId);
    if (!factor) throw ApiError.notFound('Factor');
    return factor;
  }

  #secret(factor: Pick<FactorRecord, 'id' | 'secret_enc'>): string {
    return this.keyring.decryptString(factor.secret_enc as string, totpSecretContext(factor.id));
  }
}

function enrollmentOf(app: App, factor: FactorRecord, label: string, secret: string): EnrolledTotpFactor {
  const issuer = app.issuer_name ?? app.branding.display_name ?? app.name;
  const uri = totpUri({ issuer, label, secret, ...paramsOf(factor) });
  return { ...toFactor(factor), secret, uri, qr_data_url: qrDataUrl(uri) };
}

function paramsOf(factor: Pick<FactorRecord, 'algorithm' | 'digits' | 'period'>): TotpParams {
  return { algorithm: factor.algorithm!, digits: factor.digits!, period: factor.period! };
}

function importedSecret(secret: string): string {
  const bytes = decodeBase32Secret(secret);
  if (bytes === null) throw ApiError.invalid('secret', 'must be Base32 (RFC 4648: A–Z and 2–7)');
  if (bytes.length < minimumSecretBytes) {
    throw ApiError.invalid('secret', `must hold at least ${minimumSecretBytes * 8} bits (${bytes.length * 8} given)`);
  }
  return base32Of(bytes);
}

const codeFormats: Record<TotpParams['digits'], RegExp> = { 6: /^[0-9]{6}$/, 8: /^[0-9]{8}$/ };

/** A TOTP code is exactly `digits` digits; anything else is refused before it counts as a guess. */
function checkTotpFormat(code: string, params: TotpParams): string {
  if (!codeFormats[params.digits].test(code)) {
    throw ApiError.invalid('code', `must be ${params.digits} digits`);
  }
  return code;
}
