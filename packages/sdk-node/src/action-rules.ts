import type { ActionRules, ActionRulesInput } from '@tessera/contracts';
import type { HttpClient } from './http-client.ts';
import { appPath, pathSegment } from './path-segment.ts';

/** One app's rules, per action: the app's own (its credentials) or any app's (the operator's token). */
export class ActionRulesApi {
  constructor(
    private readonly http: HttpClient,
    private readonly appId: string,
  ) {}

  /** The rules of an action (an action never configured: ALLOW and no rules). */
  get(action: string): Promise<ActionRules> {
    return this.http.request({ method: 'GET', path: this.#path(action) });
  }

  /** Replaces the rules of an action; a malformed set is `400 validation_failed` with `details.field` naming the bad path. */
  set(action: string, rules: ActionRulesInput): Promise<ActionRules> {
    return this.http.request({ method: 'PUT', path: this.#path(action), body: rules });
  }

  /** Every action the app has rules for, with its rules (not paged: as factors.list and devices.list, the array). */
  async list(): Promise<ActionRules[]> {
    const { data } = await this.http.request<{ data: ActionRules[] }>({ method: 'GET', path: `${appPath(this.appId)}/actions` });
    return data;
  }

  #path(action: string): string {
    return `${appPath(this.appId)}/actions/${pathSegment('action', action)}/rules`;
  }
}
