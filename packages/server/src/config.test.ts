import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('configuration', () => {
  it('has safe defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      publicUrl: null,
      dataDir: path.resolve('data'),
      databaseUrl: null,
      redisUrl: null,
      adminToken: null,
      masterKey: null,
      logLevel: 'info',
      trustProxy: false,
      webhookRetentionDays: 30,
      qrSocketsPerAddress: 50,
    });
  });

  it('reads every variable', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    const config = loadConfig({
      PORT: '9000',
      TESSERA_PUBLIC_URL: 'https://auth.example.com/',
      DATABASE_URL: 'postgres://u@db/tessera',
      REDIS_URL: 'redis://cache:6379',
      TESSERA_ADMIN_TOKEN: 'a'.repeat(40),
      TESSERA_MASTER_KEY: key,
      TESSERA_PREVIOUS_MASTER_KEYS: `${Buffer.alloc(32, 2).toString('base64')}`,
      LOG_LEVEL: 'warn',
      TESSERA_TRUST_PROXY: 'true',
      TESSERA_WEBHOOK_RETENTION_DAYS: '90',
      TESSERA_QR_SOCKETS_PER_ADDRESS: '500',
    });
    expect(config.webhookRetentionDays).toBe(90);
    expect(config.qrSocketsPerAddress).toBe(500);
    expect(config.port).toBe(9000);
    expect(config.publicUrl).toBe('https://auth.example.com');
    expect(config.masterKey?.equals(Buffer.alloc(32, 1))).toBe(true);
    expect(config.previousMasterKeys).toHaveLength(1);
    expect(config.trustProxy).toBe(true);
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT must be an integer/],
    [{ PORT: '70000' }, /PORT/],
    [{ TESSERA_PUBLIC_URL: 'auth.example.com' }, /TESSERA_PUBLIC_URL must be a URL/],
    [{ TESSERA_PUBLIC_URL: 'ftp://auth.example.com' }, /TESSERA_PUBLIC_URL must start with http/],
    [{ DATABASE_URL: 'mysql://db/x' }, /DATABASE_URL must start with postgres/],
    [{ REDIS_URL: 'http://cache' }, /REDIS_URL must start with redis/],
    [{ TESSERA_ADMIN_TOKEN: 'short' }, /TESSERA_ADMIN_TOKEN must be at least 32/],
    [{ TESSERA_METRICS_TOKEN: 'short' }, /TESSERA_METRICS_TOKEN must be at least 32/],
    [{ TESSERA_MASTER_KEY: Buffer.alloc(16).toString('base64') }, /TESSERA_MASTER_KEY must be the base64 encoding of exactly 32 bytes/],
    [{ TESSERA_MASTER_KEY: 'not base64 at all!' }, /TESSERA_MASTER_KEY/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ TESSERA_TRUST_PROXY: 'maybe' }, /TESSERA_TRUST_PROXY must be true or false/],
    [{ TESSERA_WEBHOOK_RETENTION_DAYS: '0' }, /TESSERA_WEBHOOK_RETENTION_DAYS must be a positive integer/],
    [{ TESSERA_QR_SOCKETS_PER_ADDRESS: 'many' }, /TESSERA_QR_SOCKETS_PER_ADDRESS must be a positive integer/],
    [{ TESSERA_WEBHOOK_RETENTION_DAYS: '100000' }, /TESSERA_WEBHOOK_RETENTION_DAYS must be a positive integer up to 36500/],
  ])('refuses %o with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
