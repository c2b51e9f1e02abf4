import type { ActionOutcome, ActionRules } from '@tessera/contracts';
import type { RealtimeBus } from '../../platform/bus/bus.ts';
import type { Database } from '../../platform/database/database.ts';
import type { AppService } from '../apps/service.ts';
import { ActionConfigStore, type ActionConfigRow } from './config-store.ts';
import { compileRules, type CompiledRules } from './rules-engine.ts';
import { checkRuleSet } from './rules-validation.ts';

export const rulesChangedTopic = 'actions.rules.changed';

interface CachedPolicy {
  policy: CompiledRules;
  loadedAt: number;
}

const cacheTtlMs = 30_000;
const cacheMaxEntries = 10_000;

/**
 * The rules of each app's actions. A track reads them from memory: each rule set is compiled once when
 * it is loaded, kept for 30 s, and dropped at once here and on other instances (through the bus) when it
 * is written.
 */
export class RulesService {
  readonly #store: ActionConfigStore;
  readonly #cache = new Map<string, CachedPolicy>();
  #invalidations = 0;

  constructor(
    private readonly db: Database,
    private readonly bus: RealtimeBus,
    private readonly apps: AppService,
  ) {
    this.#store = new ActionConfigStore(db);
    bus.subscribe(rulesChangedTopic, (message) => this.#forget(String(message.key)));
  }

  async get(appId: string, action: string): Promise<ActionRules> {
    await this.apps.get(appId);
    const row = await this.#store.find(appId, action);
    return row ? view(row) : { action, default_outcome: 'ALLOW', rules: [], updated_at: null };
  }

  async list(appId: string): Promise<ActionRules[]> {
    await this.apps.get(appId);
    return (await this.#store.list(appId)).map(view);
  }

  /** Replaces an action's rules after checking them as a whole: a bad rule set changes nothing. */
  async put(appId: string, action: string, defaultOutcome: ActionOutcome, rules: unknown[]): Promise<ActionRules> {
    const checked = checkRuleSet(defaultOutcome, rules);
    await this.apps.get(appId);
    const row = await this.#store.put(appId, action, checked.default_outcome, checked.rules);
    const key = keyOf(appId, action);
    this.#forget(key);
    void this.bus.publish(rulesChangedTopic, { key }).catch(() => {});
    return view(row);
  }

  /** The compiled rules of an action, from memory; an action tracked for the first time is recorded with the default ALLOW. */
  async policy(appId: string, action: string): Promise<CompiledRules> {
    const key = keyOf(appId, action);
    const cached = this.#cache.get(key);
    if (cached && Date.now() - cached.loadedAt < cacheTtlMs) return cached.policy;
    const invalidationsBefore = this.#invalidations;
    const row = (await this.#store.find(appId, action)) ?? (await this.#store.findOrCreate(appId, action));
    const policy = policyOf(row);
    if (invalidationsBefore === this.#invalidations) {
      if (this.#cache.size >= cacheMaxEntries) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(key, { policy, loadedAt: Date.now() });
    }
    return policy;
  }

  #forget(key: string): void {
    this.#invalidations++;
    this.#cache.delete(key);
  }
}

function policyOf(row: ActionConfigRow): CompiledRules {
  return compileRules({ default_outcome: row.default_outcome, rules: row.rules });
}

function keyOf(appId: string, action: string): string {
  return `${appId}\n${action}`;
}

function view(row: ActionConfigRow): ActionRules {
  return { action: row.action, default_outcome: row.default_outcome, rules: row.rules, updated_at: row.updated_at.toISOString() };
}
