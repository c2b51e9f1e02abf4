import { timingSafeEqual } from 'node:crypto';
import type { App, AppConfig, CreatedApp } from '@tessera/contracts';
import type { RealtimeBus } from '../../platform/bus/bus.ts';
import type { Database } from '../../platform/database/database.ts';
import { ApiError } from '../../platform/http/api-error.ts';
import { isId, newId } from '../../platform/ids.ts';
import type { Keyring } from '../../platform/keyring.ts';
import { randomToken, sha256 } from '../../platform/secrets.ts';
import type { Outbox } from '../webhooks/outbox.ts';
import { checkAppConfig } from './config-checks.ts';
import { ipAllowlist } from './ip-allowlist.ts';
import type { CreateAppBody } from './schemas.ts';
import { AppStore, type AppRecord } from './store.ts';
import { newWebhookSecret, webhookSecretContext } from './webhook-secret.ts';

export const appsChangedTopic = 'apps.changed';

interface CachedApp {
  record: AppRecord;
  allows: (ip: string) => boolean;
  loadedAt: number;
}

const cacheTtlMs = 30_000;
const cacheMaxEntries = 10_000;

function newAppSecret(): string {
  return randomToken('sk_', 32);
}

export function defaultConfig(body: CreateAppBody): AppConfig {
  return {
    name: body.name,
    active: body.active ?? true,
    issuer_name: body.issuer_name ?? null,
    callback_url: body.callback_url ?? null,
    challenge_default_message: body.challenge_default_message ?? null,
    branding: { display_name: body.branding?.display_name ?? null, logo: body.branding?.logo ?? null },
    profile_scopes: body.profile_scopes ?? [],
    allowed_origins: body.allowed_origins ?? [],
    allowed_ips: body.allowed_ips ?? [],
  };
}

/**
 * Apps and their credentials. Authenticating an app is on every app call, so app records are cached
 * in memory; a change drops the entry here at once and, through the bus, on every other instance.
 */
export class AppService {
  readonly #store: AppStore;
  readonly #cache = new Map<string, CachedApp>();
  /** Ids looked up and not found, and when: guessed ids cost no query each (the cache's TTL and size hold here too). */
  readonly #missing = new Map<string, number>();
  // Counts invalidations, so that a load that raced with a change does not cache what it read before it.
  #invalidations = 0;

  constructor(
    private readonly db: Database,
    private readonly keyring: Keyring,
    private readonly bus: RealtimeBus,
    private readonly outbox: Outbox,
  ) {
    this.#store = new AppStore(db);
    bus.subscribe(appsChangedTopic, (message) => this.#forget(String(message.app_id)));
  }

  async create(body: CreateAppBody): Promise<CreatedApp> {
    const config = defaultConfig(body);
    checkAppConfig(config);
    const id = newId('app');
    const appSecret = newAppSecret();
    const webhookSecret = newWebhookSecret();
    // With its app.created event (for an app with a callback URL: the first delivery its endpoint can check).
    const record = await this.db.transaction(async () => {
      const inserted = await this.#store.insert(id, config, sha256(appSecret), this.keyring.encrypt(webhookSecret, webhookSecretContext(id)));
      await this.outbox.enqueue(id, 'app.created', inserted.app);
      return inserted;
    });
    return { ...record.app, app_secret: appSecret, webhook_secret: webhookSecret };
  }

  async get(appId: string): Promise<App> {
    return (await this.#load(appId)).record.app;
  }

  async list(limit: number, startingAfter: string | null): Promise<{ data: App[]; has_more: boolean }> {
    const records = await this.#store.list(limit + 1, startingAfter);
    return { data: records.slice(0, limit).map((record) => record.app), has_more: records.length > limit };
  }

  /**
   * Applies `change` to the app's configuration (a merge patch or a JSON patch), checks the result
   * as a whole and stores it with an `app.updated` event, all in one transaction.
   */
  async update(appId: string, change: (current: AppConfig) => AppConfig): Promise<App> {
    return this.db.transaction(async () => {
      const current = await this.#store.find(appId, { forUpdate: true });
      if (!current) throw ApiError.notFound('App');
      const config = change(configOf(current.app));
      checkAppConfig(config);
      const updated = await this.#store.updateConfig(appId, config);
      if (!updated) throw ApiError.notFound('App');
      await this.outbox.enqueue(appId, 'app.updated', updated.app);
      this.#changed(appId);
      return updated.app;
    });
  }

  async rotateSecret(appId: string): Promise<{ app_secret: string }> {
    const appSecret = newAppSecret();
    if (!(await this.#store.updateSecretHash(appId, sha256(appSecret)))) throw ApiError.notFound('App');
    this.#changed(appId);
    return { app_secret: appSecret };
  }

  async remove(appId: string): Promise<void> {
    if (!(await this.#store.delete(appId))) throw ApiError.notFound('App');
    this.#changed(appId);
  }

  /** Checks Basic credentials: 401 for an unknown app or a wrong secret, then 403 for state and address. */
  async authenticate(appId: string, secret: string, ip: string): Promise<void> {
    const cached = await this.#load(appId).catch((error: unknown) => {
      if (error instanceof ApiError && error.code === 'not_found') return null;
      throw error;
    });
    // Hash the presented secret even for an unknown app, so timing does not tell which ids exist.
    const presented = sha256(secret);
    if (!cached || !timingSafeEqual(presented, cached.record.secretHash)) {
      throw new ApiError('unauthorized', 'The app credentials are not valid.', {
        headers: { 'www-authenticate': 'Basic realm="tessera"' },
      });
    }
    if (!cached.record.app.active) throw new ApiError('app_inactive');
    if (!cached.allows(ip)) throw new ApiError('ip_not_allowed', `Calls from ${ip} are not allowed for this app.`);
  }

  async #load(appId: string): Promise<CachedApp> {
    const cached = this.#cache.get(appId);
    if (cached && Date.now() - cached.loadedAt < cacheTtlMs) return cached;
    const missingAt = this.#missing.get(appId);
    if (!isId('app', appId) || (missingAt !== undefined && Date.now() - missingAt < cacheTtlMs)) throw ApiError.notFound('App');
    const invalidationsBefore = this.#invalidations;
    const record = await this.#store.find(appId);
    if (!record) {
      if (invalidationsBefore === this.#invalidations) {
        if (this.#missing.size >= cacheMaxEntries) this.#missing.delete(this.#missing.keys().next().value as string);
        this.#missing.set(appId, Date.now());
      }
      throw ApiError.notFound('App');
    }
    const entry = { record, allows: ipAllowlist(record.app.allowed_ips), loadedAt: Date.now() };
    if (invalidationsBefore === this.#invalidations) {
      if (this.#cache.size >= cacheMaxEntries) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(appId, entry);
    }
    return entry;
  }

  #forget(appId: string): void {
    this.#invalidations++;
    this.#cache.delete(appId);
    this.#missing.delete(appId);
  }

  /** After the change commits: forget the cached copy here, and tell the other instances. */
  #changed(appId: string): void {
    this.db.afterCommit(() => {
      this.#forget(appId);
      void this.bus.publish(appsChangedTopic, { app_id: appId }).catch(() => {});
    });
  }
}

function configOf(app: App): AppConfig {
  const { app_id: _id, created_at: _created, updated_at: _updated, ...config } = app;
  return config;
}
