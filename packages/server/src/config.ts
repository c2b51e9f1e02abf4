import path from 'node:path';
import { defaultMaxSocketsPerIp } from './capabilities/qr-logins/socket-hub.ts';

/** Everything the server reads from its environment, checked once at start. */
export interface Config {
  host: string;
  port: number;
  /** Null when TESSERA_PUBLIC_URL is unset: then http://localhost:<the port listened on>. */
  publicUrl: string | null;
  dataDir: string;
  databaseUrl: string | null;
  redisUrl: string | null;
  adminToken: string | null;
  /** When set, GET /metrics wants it as a bearer token; else the metrics are open (scraped from inside the network). */
  metricsToken: string | null;
  masterKey: Buffer | null;
  previousMasterKeys: Buffer[];
  logLevel: LogLevel;
  trustProxy: boolean;
  /** Challenges one user may have created per minute. */
  challengesPerUserPerMinute: number;
  /** QR login browser sockets one client address may hold open on an instance. */
  qrSocketsPerAddress: number;
  /** Days the delivery log keeps a delivery that ended. */
  webhookRetentionDays: number;
  /** Where new push challenges are POSTed for FCM/APNs delivery (the push relay), with its signing secret. */
  pushRelay: { url: string; secret: string } | null;
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof logLevels)[number];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** Reads and validates the configuration; throws a ConfigError naming the variable at fault. */
export function loadConfig(env: Env = process.env): Config {
  const port = parsePort(env.PORT);
  return {
    host: nonEmpty(env.HOST) ?? '0.0.0.0',
    port,
    publicUrl: parsePublicUrl(env.TESSERA_PUBLIC_URL),
    dataDir: path.resolve(nonEmpty(env.TESSERA_DATA_DIR) ?? './data'),
    databaseUrl: parseUrl('DATABASE_URL', env.DATABASE_URL, ['postgres:', 'postgresql:']),
    redisUrl: parseUrl('REDIS_URL', env.REDIS_URL, ['redis:', 'rediss:']),
    adminToken: parseToken('TESSERA_ADMIN_TOKEN', env.TESSERA_ADMIN_TOKEN),
    metricsToken: parseToken('TESSERA_METRICS_TOKEN', env.TESSERA_METRICS_TOKEN),
    masterKey: parseMasterKey('TESSERA_MASTER_KEY', env.TESSERA_MASTER_KEY),
    previousMasterKeys: (nonEmpty(env.TESSERA_PREVIOUS_MASTER_KEYS) ?? '')
      .split(',')
      .filter((k) => k.trim() !== '')
      .map((k) => parseMasterKey('TESSERA_PREVIOUS_MASTER_KEYS', k.trim()) as Buffer),
    logLevel: parseLogLevel(env.LOG_LEVEL),
    trustProxy: parseBoolean('TESSERA_TRUST_PROXY', env.TESSERA_TRUST_PROXY),
    challengesPerUserPerMinute: parsePositiveInteger(
      'TESSERA_CHALLENGES_PER_USER_PER_MINUTE',
      env.TESSERA_CHALLENGES_PER_USER_PER_MINUTE,
      20,
    ),
    qrSocketsPerAddress: parsePositiveInteger('TESSERA_QR_SOCKETS_PER_ADDRESS', env.TESSERA_QR_SOCKETS_PER_ADDRESS, defaultMaxSocketsPerIp),
    webhookRetentionDays: parsePositiveInteger('TESSERA_WEBHOOK_RETENTION_DAYS', env.TESSERA_WEBHOOK_RETENTION_DAYS, 30, 36_500),
    pushRelay: parsePushRelay(env.TESSERA_PUSH_RELAY_URL, env.TESSERA_PUSH_RELAY_SECRET),
  };
}

function parsePushRelay(url: string | undefined, secret: string | undefined): Config['pushRelay'] {
  const relayUrl = parseUrl('TESSERA_PUSH_RELAY_URL', url, ['http:', 'https:']);
  if (relayUrl === null) return null;
  const raw = nonEmpty(secret);
  if (raw === undefined || !/^whsec_[A-Za-z0-9+/]{43}=?$/.test(raw)) {
    throw new ConfigError('TESSERA_PUSH_RELAY_SECRET must be set with TESSERA_PUSH_RELAY_URL: "whsec_" + base64 of 32 random bytes.');
  }
  return { url: relayUrl, secret: raw };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function parsePort(value: string | undefined): number {
  const raw = nonEmpty(value);
  if (raw === undefined) return 8080;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw new ConfigError(`PORT must be an integer from 0 (any free port) to 65535 (got "${raw}").`);
  }
  return port;
}

function parsePositiveInteger(name: string, value: string | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = nonEmpty(value);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new ConfigError(`${name} must be a positive integer${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''} (got "${raw}").`);
  }
  return Number(raw);
}

function parseUrl(name: string, value: string | undefined, protocols: string[]): string | null {
  const raw = nonEmpty(value);
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL (${protocols.join(' or ')}//…).`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.join(' or ')}// (got ${url.protocol}//).`);
  }
  return raw;
}

function parsePublicUrl(value: string | undefined): string | null {
  const raw = parseUrl('TESSERA_PUBLIC_URL', value, ['http:', 'https:']);
  if (raw === null) return null;
  const url = new URL(raw);
  if (url.search || url.hash) throw new ConfigError('TESSERA_PUBLIC_URL must not have a query or a fragment.');
  return url.href.replace(/\/+$/, '');
}

function parseToken(name: string, value: string | undefined): string | null {
  const raw = nonEmpty(value);
  if (raw === undefined) return null;
  if (raw.length < 32) {
    throw new ConfigError(`${name} must be at least 32 characters (use a random value).`);
  }
  return raw;
}

function parseMasterKey(name: string, value: string | undefined): Buffer | null {
  const raw = nonEmpty(value);
  if (raw === undefined) return null;
  const key = Buffer.from(raw, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw) || key.length !== 32) {
    throw new ConfigError(`${name} must be the base64 encoding of exactly 32 bytes (openssl rand -base64 32).`);
  }
  return key;
}

function parseLogLevel(value: string | undefined): LogLevel {
  const raw = nonEmpty(value) ?? 'info';
  if (!(logLevels as readonly string[]).includes(raw)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${logLevels.join(', ')} (got "${raw}").`);
  }
  return raw as LogLevel;
}

function parseBoolean(name: string, value: string | undefined): boolean {
  const raw = nonEmpty(value)?.toLowerCase();
  if (raw === undefined || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new ConfigError(`${name} must be true or false (got "${value}").`);
}
