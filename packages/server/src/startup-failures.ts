import type { Config } from './config.ts';
import { DatabaseUnavailableError } from './platform/database/database.ts';
import { KeyringError } from './platform/keyring.ts';
import { StartupError, withoutPassword } from './platform/startup-error.ts';

// PostgreSQL's answers that a setting explains: no such database, bad credentials, no rights.
const settingStates = new Set(['3D000', '28000', '28P01', '42501']);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Startup failures that a setting explains, said as such (StartupError: one line naming the setting); the others go
 * on unchanged, with their stack, as bugs.
 */
export const startupFailures = {
  database(config: Config) {
    return (error: unknown): never => {
      const state = (error as { code?: unknown }).code;
      const explained = error instanceof DatabaseUnavailableError || (typeof state === 'string' && settingStates.has(state));
      if (!config.databaseUrl || !explained) throw error;
      const url = withoutPassword(config.databaseUrl);
      throw new StartupError(`cannot use the database of DATABASE_URL (${url}): ${messageOf(error)}`, { cause: error });
    };
  },

  redis(url: string) {
    return (error: unknown): never => {
      throw new StartupError(`cannot reach Redis at REDIS_URL (${withoutPassword(url)}): ${messageOf(error)}`, { cause: error });
    };
  },

  keyring(error: unknown): never {
    if (!(error instanceof KeyringError)) throw error;
    throw new StartupError(
      `${error.message}: the secrets in the database were sealed with a master key this server was not given; set ` +
        `TESSERA_MASTER_KEY to that key (the data directory's master.key holds it when none was set), or list it in ` +
        `TESSERA_PREVIOUS_MASTER_KEYS beside a new one to re-encrypt under the new one`,
      { cause: error },
    );
  },

  listen(host: string, port: number) {
    return (error: unknown): never => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new StartupError(`PORT ${port} is already in use on HOST ${host}`, { cause: error });
      if (code === 'EACCES') throw new StartupError(`no permission to listen on HOST ${host}, PORT ${port}`, { cause: error });
      if (code === 'EADDRNOTAVAIL') throw new StartupError(`HOST ${host} is not an address of this machine`, { cause: error });
      throw error;
    };
  },
};
