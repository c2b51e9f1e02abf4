import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger } from './platform/logging.ts';
import { StartupError } from './platform/startup-error.ts';
import { startServer } from './server.ts';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`Tessera cannot start: ${error.message}\n`);
  process.exit(1);
}

const logger = createLogger(config.logLevel);
const server = await startServer(config, { logger }).catch((error: unknown) => {
  if (error instanceof StartupError) process.stderr.write(`Tessera cannot start: ${error.message}\n`);
  else logger.fatal({ err: error }, 'Tessera could not start');
  process.exit(1);
});

const storage = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PostgreSQL in ${config.dataDir}/pglite`;
const lines = [
  '',
  `Tessera is running at ${server.publicUrl}`,
  `  API docs:  ${server.publicUrl}/docs  (OpenAPI: ${server.publicUrl}/v1/openapi.json)`,
  `  listening: ${config.host}:${server.port}, storage: ${storage}${config.redisUrl ? ', Redis bus' : ''}`,
];
if (server.adminTokenCreated) {
  lines.push(
    `  Admin token (shown once; kept in ${config.dataDir}/admin-token):`,
    `    ${server.adminToken}`,
  );
}
process.stdout.write(`${lines.join('\n')}\n\n`);

let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    server
      .close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  });
}
