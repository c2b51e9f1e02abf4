import type {
  App,
  AppBranding,
  AppConfig,
  CreatedApp,
  JsonPatchOperation,
  Page,
  RotatedSecret,
} from '@tessera/contracts';
import { ActionRulesApi } from './action-rules.ts';
import type { HttpClient } from './http-client.ts';
import { appPath } from './path-segment.ts';

/** The body of `POST /v1/apps`: a name, and any other setting (the rest take their defaults). */
export type CreateAppInput = Pick<AppConfig, 'name'> &
  Partial<Omit<AppConfig, 'name' | 'branding'>> & { branding?: Partial<AppBranding> };

type Unsettable<T> = { [K in keyof T]?: T[K] | null };

/**
 * An RFC 7396 JSON Merge Patch of an app: members left out stay as they are; `null` unsets a setting
 * (texts become null, lists empty); `branding` merges member by member.
 */
export type AppMergePatch = Partial<Pick<AppConfig, 'name' | 'active'>> &
  Unsettable<Omit<AppConfig, 'name' | 'active' | 'branding'>> & { branding?: Unsettable<AppBranding> | null };

export interface ListAppsQuery {
  /** 1 to 100; 50 unless given. */
  limit?: number;
  /** The last `app_id` of the previous page. */
  startingAfter?: string;
}

export interface CreatingCallOptions {
  /**
   * Makes the call safe to repeat: the server answers a repeat with the first answer. The SDK makes
   * one up when it is not given; give your own to retry safely yourself, after a timeout for example.
   */
  idempotencyKey?: string;
}

/** The operator's view of apps (admin token). */
export class AdminApps {
  constructor(private readonly http: HttpClient) {}

  /** Creates an app. The answer holds `app_secret` and `webhook_secret`: the only time they are shown. */
  create(body: CreateAppInput, options: CreatingCallOptions = {}): Promise<CreatedApp> {
    return this.http.request({
      method: 'POST',
      path: '/v1/apps',
      body,
      creating: { idempotencyKey: options.idempotencyKey },
    });
  }

  list(query: ListAppsQuery = {}): Promise<Page<App>> {
    return this.http.request({
      method: 'GET',
      path: '/v1/apps',
      query: { limit: query.limit, starting_after: query.startingAfter },
    });
  }

  retrieve(appId: string): Promise<App> {
    return this.http.request({ method: 'GET', path: appPath(appId) });
  }

  /** An app's adaptive MFA rules, per action (`get`, `set`, `list`). */
  actionRules(appId: string): ActionRulesApi {
    return new ActionRulesApi(this.http, appId);
  }

  /** Updates with a JSON Merge Patch (RFC 7396); the result is checked as a whole. */
  update(appId: string, patch: AppMergePatch): Promise<App> {
    return this.http.request({
      method: 'PATCH',
      path: appPath(appId),
      body: patch,
      contentType: 'application/merge-patch+json',
    });
  }

  /** Updates with a JSON Patch (RFC 6902): all operations apply, or none (a failed `test` is a 409). */
  patch(appId: string, operations: JsonPatchOperation[]): Promise<App> {
    return this.http.request({
      method: 'PATCH',
      path: appPath(appId),
      body: operations,
      contentType: 'application/json-patch+json',
    });
  }

  /** Deletes the app with its users, factors and delivery log. To suspend it, update `active` instead. */
  async delete(appId: string): Promise<void> {
    await this.http.request<undefined>({ method: 'DELETE', path: appPath(appId) });
  }

  /** A new `app_secret`, shown only now; the old one stops working at once. */
  rotateSecret(appId: string, options: CreatingCallOptions = {}): Promise<RotatedSecret> {
    return this.http.request({
      method: 'POST',
      path: `${appPath(appId)}/rotate-secret`,
      creating: { idempotencyKey: options.idempotencyKey },
    });
  }
}
