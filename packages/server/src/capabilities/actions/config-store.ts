import type { ActionOutcome, ActionRule } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';

export interface ActionConfigRow {
  app_id: string;
  action: string;
  default_outcome: ActionOutcome;
  rules: ActionRule[];
  updated_at: Date;
}

const columns = 'app_id, action, default_outcome, rules, updated_at';

/** An app's rules per action. */
export class ActionConfigStore {
  constructor(private readonly db: Database) {}

  async find(appId: string, action: string): Promise<ActionConfigRow | null> {
    const [row] = await this.db.query<ActionConfigRow>(`SELECT ${columns} FROM action_configs WHERE app_id = $1 AND action = $2`, [
      appId,
      action,
    ]);
    return row ?? null;
  }

  /** The action's row, made with the default outcome ALLOW and no rules on its first track. */
  async findOrCreate(appId: string, action: string): Promise<ActionConfigRow> {
    const [row] = await this.db.query<ActionConfigRow>(
      `INSERT INTO action_configs (app_id, action, default_outcome) VALUES ($1, $2, 'ALLOW')
       ON CONFLICT (app_id, action) DO UPDATE SET app_id = EXCLUDED.app_id RETURNING ${columns}`,
      [appId, action],
    );
    return row as ActionConfigRow;
  }

  async put(appId: string, action: string, defaultOutcome: ActionOutcome, rules: ActionRule[]): Promise<ActionConfigRow> {
    const [row] = await this.db.query<ActionConfigRow>(
      `INSERT INTO action_configs (app_id, action, default_outcome, rules) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (app_id, action) DO UPDATE SET default_outcome = EXCLUDED.default_outcome, rules = EXCLUDED.rules, updated_at = now()
       RETURNING ${columns}`,
      [appId, action, defaultOutcome, JSON.stringify(rules)],
    );
    return row as ActionConfigRow;
  }

  async list(appId: string): Promise<ActionConfigRow[]> {
    return this.db.query<ActionConfigRow>(`SELECT ${columns} FROM action_configs WHERE app_id = $1 ORDER BY action`, [appId]);
  }
}
