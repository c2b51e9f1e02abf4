import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { RealtimeBus } from './platform/bus/bus.ts';
import type { Database } from './platform/database/database.ts';
import { createAuthGuards } from './platform/http/auth.ts';
import { installErrorHandling, maxPathParamLength, onClientError, onFrameworkError, onWebSocketHandshakeError } from './platform/http/error-handler.ts';
import { healthRoutes } from './platform/http/health-routes.ts';
import { installJsonBodyParser } from './platform/http/json-body.ts';
import { Idempotency } from './platform/http/idempotency.ts';
import { registerOpenApi } from './platform/http/openapi.ts';
import { validatorCompiler } from './platform/http/validation.ts';
import type { Keyring } from './platform/keyring.ts';
import { RequestLogController } from './platform/logging.ts';
import type { Metrics } from './platform/metrics.ts';
import type { NonceStore } from './platform/nonce-store.ts';
import type { RateLimiter } from './platform/rate-limiter.ts';
import { serverSecret, serverSecretContext } from './platform/server-secrets.ts';
import type { EncryptedColumn } from './platform/reencrypt.ts';
import { ActionTokens } from './capabilities/actions/action-token.ts';
import { ClientService } from './capabilities/actions/client-service.ts';
import { clientRoutes } from './capabilities/actions/client-routes.ts';
import { hostedRoutes } from './capabilities/actions/hosted-routes.ts';
import { actionRoutes } from './capabilities/actions/routes.ts';
import { RulesService } from './capabilities/actions/rules-service.ts';
import { ActionService } from './capabilities/actions/service.ts';
import { appRoutes } from './capabilities/apps/routes.ts';
import { AppService } from './capabilities/apps/service.ts';
import { webhookSecretContext } from './capabilities/apps/webhook-secret.ts';
import { challengeRoutes } from './capabilities/challenges/routes.ts';
import { ChallengeLifecycle } from './capabilities/challenges/lifecycle.ts';
import { ChallengeService, type ChallengeOptions } from './capabilities/challenges/service.ts';
import { createDeviceGuard } from './capabilities/devices/device-guard.ts';
import { deviceRoutes } from './capabilities/devices/routes.ts';
import { DeviceService, type DeviceOptions } from './capabilities/devices/service.ts';
import { browserSdkRoutes } from './capabilities/browser-sdk/routes.ts';
import { factorRoutes } from './capabilities/factors/routes.ts';
import { deviceStreamRoute } from './capabilities/push/device-stream.ts';
import { PushRelay, type PushRelayOptions } from './capabilities/push/relay.ts';
import { pushRoutes } from './capabilities/push/routes.ts';
import { PushChallenges } from './capabilities/push/service.ts';
import { FactorService, totpSecretContext } from './capabilities/factors/service.ts';
import { loginKeyContext } from './capabilities/qr-logins/profile-crypto.ts';
import { qrLoginRoutes } from './capabilities/qr-logins/routes.ts';
import { QrLoginService, type QrLoginSettings } from './capabilities/qr-logins/service.ts';
import { userRoutes } from './capabilities/users/routes.ts';
import { UserService } from './capabilities/users/service.ts';
import { WebhookDispatcher, type DispatcherOptions } from './capabilities/webhooks/dispatcher.ts';
import { Outbox } from './capabilities/webhooks/outbox.ts';
import { webhookRoutes } from './capabilities/webhooks/routes.ts';
import { WebhookService } from './capabilities/webhooks/service.ts';

export interface AppDeps {
  db: Database;
  bus: RealtimeBus;
  keyring: Keyring;
  metrics: Metrics;
  logger: Logger;
  adminToken: string;
  /** GET /metrics wants this bearer token when set (TESSERA_METRICS_TOKEN). */
  metricsToken: string | null;
  publicUrl: string;
  trustProxy: boolean;
  rateLimiter: RateLimiter;
  /** Single-use values (device request token ids), shared by the instances when Redis is configured. */
  nonces: NonceStore;
  challenges: ChallengeOptions;
  devices?: Partial<DeviceOptions>;
  /** Where new push challenges are announced for FCM/APNs (none by default). */
  pushRelay?: PushRelayOptions | null;
  qrLogins?: QrLoginSettings;
  webhooks?: Partial<DispatcherOptions>;
  /** Days the delivery log keeps a delivery that ended (delivered or failed). */
  webhookRetentionDays: number;
}

/** What one housekeeping pass forgot, in rows. */
export interface HousekeepingReport {
  idempotency_keys: number;
  webhook_deliveries: number;
  device_registrations: number;
}

export interface BuiltApp {
  http: FastifyInstance;
  dispatcher: WebhookDispatcher;
  /** Forgets what has ended and is no longer needed: the caller runs it now and then. */
  housekeeping(): Promise<HousekeepingReport>;
  challenges: ChallengeService;
  /** QR login; the caller starts and stops its socket sweep (`qrLogins.hub`) and runs `expireDue`. */
  qrLogins: QrLoginService;
  /** Where secrets sealed with the keyring live, for re-encryption after a key rotation. */
  encryptedColumns: EncryptedColumn[];
}

const bodyLimit = 1024 * 1024;
const patchContentTypes = ['application/merge-patch+json', 'application/json-patch+json'];

/** Fastify with every capability registered. The caller owns the dependencies and starts the dispatcher. */
export async function buildApp(deps: AppDeps): Promise<BuiltApp> {
  const http = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit,
    trustProxy: deps.trustProxy,
    logController: new RequestLogController(),
    routerOptions: { maxParamLength: maxPathParamLength },
    frameworkErrors: onFrameworkError,
    clientErrorHandler: onClientError,
  });
  http.setValidatorCompiler(validatorCompiler);
  http.decorateRequest('principal', null);
  // JSON only: a text/plain body is refused with 415 instead of failing validation as a string.
  http.removeContentTypeParser('text/plain');
  installJsonBodyParser(http, ['application/json', ...patchContentTypes]);
  installErrorHandling(http);

  http.addHook('onResponse', async (request, reply) => {
    deps.metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  await registerOpenApi(http, deps.publicUrl);
  // Device and browser sockets carry small JSON messages: 64 KB at most, never compressed.
  await http.register(websocket, { options: { maxPayload: 64 * 1024, perMessageDeflate: false } });
  http.websocketServer.on('wsClientError', onWebSocketHandshakeError);

  const outbox = new Outbox(deps.db, deps.bus);
  const apps = new AppService(deps.db, deps.keyring, deps.bus, outbox);
  const dispatcher = new WebhookDispatcher(deps.db, deps.keyring, deps.bus, deps.metrics, deps.logger, deps.webhooks);
  const webhooks = new WebhookService(deps.db, dispatcher);
  const users = new UserService(deps.db);
  const factors = new FactorService(deps.db, deps.keyring, apps, users, outbox);
  const lifecycle = new ChallengeLifecycle(deps.db, deps.bus, outbox);
  const relay = deps.pushRelay ? new PushRelay(deps.pushRelay, deps.logger) : null;
  const push = new PushChallenges(deps.db, deps.bus, apps, lifecycle, factors, users, relay);
  const challenges = new ChallengeService(deps.db, apps, users, factors, lifecycle, push, deps.rateLimiter, deps.challenges);
  const devices = new DeviceService(deps.db, apps, users, factors, outbox, deps.nonces, deps.publicUrl, deps.devices);
  const qrLogins = new QrLoginService(
    {
      db: deps.db,
      bus: deps.bus,
      keyring: deps.keyring,
      nonces: deps.nonces,
      rateLimiter: deps.rateLimiter,
      publicUrl: deps.publicUrl,
      apps,
      users,
      outbox,
      keys: {
        qrSigning: await serverSecret(deps.db, deps.keyring, 'qr_login_signing'),
        pairwise: await serverSecret(deps.db, deps.keyring, 'pairwise_identity'),
      },
      onError: (error) => deps.logger.warn({ err: error }, 'QR login realtime error'),
    },
    deps.qrLogins,
  );
  const idempotency = new Idempotency(deps.db, deps.keyring);
  const actionTokens = new ActionTokens(deps.keyring);
  const rules = new RulesService(deps.db, deps.bus, apps);
  const actions = new ActionService(deps.db, apps, rules, outbox, actionTokens, deps.publicUrl);
  const client = new ClientService(deps.db, apps, users, factors, challenges, outbox, actionTokens);
  const guards = createAuthGuards({
    adminToken: deps.adminToken,
    authenticateApp: (appId, secret, ip) => apps.authenticate(appId, secret, ip),
  });

  healthRoutes(http, deps);
  appRoutes(http, { apps, guards, idempotency });
  webhookRoutes(http, { webhooks, guards });
  userRoutes(http, { users, factors, guards });
  factorRoutes(http, { factors, guards, idempotency });
  challengeRoutes(http, { challenges, guards, idempotency });
  deviceRoutes(http, { devices, guards, idempotency });
  const deviceGuard = createDeviceGuard(http, devices);
  pushRoutes(http, { push, deviceGuard });
  deviceStreamRoute(http, { push, bus: deps.bus, deviceGuard });
  qrLoginRoutes(http, { qrLogins, guards });
  browserSdkRoutes(http);
  actionRoutes(http, { actions, rules, guards, idempotency });
  clientRoutes(http, { client });
  await hostedRoutes(http, { client });
  const encryptedColumns: EncryptedColumn[] = [
    { table: 'apps', idColumn: 'id', column: 'webhook_secret_enc', context: webhookSecretContext },
    { table: 'factors', idColumn: 'id', column: 'secret_enc', context: totpSecretContext },
    { table: 'server_secrets', idColumn: 'name', column: 'secret_enc', context: serverSecretContext },
    { table: 'qr_logins', idColumn: 'id', column: 'private_key_enc', context: loginKeyContext },
  ];
  const housekeeping = async (): Promise<HousekeepingReport> => ({
    idempotency_keys: await idempotency.purgeExpired(),
    webhook_deliveries: await webhooks.purgeEnded(deps.webhookRetentionDays),
    device_registrations: await devices.purgeEndedRegistrations(),
  });
  return { http, dispatcher, housekeeping, challenges, qrLogins, encryptedColumns };
}
