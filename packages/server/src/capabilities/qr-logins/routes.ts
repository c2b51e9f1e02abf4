import type { FastifyInstance } from 'fastify';
import type { QrLoginClaimRequest } from '@tessera/contracts';
import { callingApp, type AuthGuards } from '../../platform/http/auth.ts';
import { errorResponses, securityOf } from '../../platform/http/openapi.ts';
import { releaseUpgrade, upgradeRequired } from '../../platform/http/websocket-release.ts';
import {
  answerBody,
  answerSchema,
  claimBody,
  claimSchema,
  connectQuery,
  linkBody,
  linkSchema,
  loginIdParams,
  verificationSchema,
  verifyBody,
} from './schemas.ts';
import type { QrLoginService } from './service.ts';

const tags = ['qr-logins'];
const proofAuth =
  'Authenticated by the proof, a JWS signed by the authenticator’s identity key (see the module doc of login-proof.ts); ' +
  'a proof is accepted once.';

export function qrLoginRoutes(app: FastifyInstance, deps: { qrLogins: QrLoginService; guards: AuthGuards }): void {
  const { qrLogins, guards } = deps;

  const onSocketError = (error: Error) => app.log.debug({ err: error }, 'QR login browser socket error');
  // The browser socket. Its refusals (unknown or inactive app, origin not allowed) are HTTP answers to
  // the upgrade request, before any socket exists.
  app.route<{ Querystring: { app_id: string } }>({
    method: 'GET',
    url: '/v1/qr-logins/connect',
    schema: {
      tags,
      summary: 'The browser’s QR login socket (WebSocket)',
      description:
        'Upgrade to a WebSocket, from a page of an origin the app allows. Messages (JSON): {type:"qr", login_id, qr_payload, ' +
        'qr_data_url, expires_at} (again before each code expires), {type:"scanned"}, then {type:"approved", login_token, ' +
        'encrypted_profile?}, {type:"denied"} or {type:"expired"}. The browser sends nothing. A request without the upgrade: ' +
        '426 upgrade_required; a malformed upgrade (Sec-WebSocket-Key or -Version): 400.',
      querystring: connectQuery,
      response: errorResponses(400, 403, 404, 426, 429),
    },
    // A browser cannot read a refused upgrade's status: the widget asks again with a plain GET, whose answer (426 when
    // the upgrade would be taken, else the refusal) it may read from any origin.
    onRequest: async (_request, reply) => void reply.header('access-control-allow-origin', '*'),
    preHandler: async (request) => qrLogins.checkBrowser(request.query.app_id, request.headers.origin, request.ip),
    handler: upgradeRequired,
    wsHandler: (socket, request) => {
      releaseUpgrade(socket, request, onSocketError);
      qrLogins.attachBrowser(socket, request.query.app_id, request.ip, request.headers['user-agent']);
    },
  });

  app.post<{ Body: QrLoginClaimRequest }>(
    '/v1/qr-logins/claim',
    {
      schema: {
        tags,
        summary: 'Claim a scanned QR code (called by the authenticator)',
        description:
          `What the consent screen shows, and the key made for this login to encrypt the profile to. ${proofAuth} ` +
          'A forged or altered code: 400 qr_payload_invalid; an expired or replaced one: 410 qr_login_expired; ' +
          'a code already claimed: 409 qr_login_already_claimed. Nothing changes on a refusal.',
        body: claimBody,
        response: { 200: claimSchema, ...errorResponses(400, 403, 404, 409, 410, 422) },
      },
    },
    (request) => qrLogins.claim(request.body),
  );

  app.post<{ Params: { login_id: string }; Body: { proof: string } }>(
    '/v1/qr-logins/:login_id/answer',
    {
      schema: {
        tags,
        summary: 'Approve or deny a claimed QR login (called by the authenticator that claimed it)',
        description:
          `${proofAuth} Approving sends the browser a one-time login token (valid 2 minutes) and the encrypted profile. ` +
          'Another identity than the claimer: 403 qr_login_wrong_identity; already answered: 409 qr_login_not_pending.',
        params: loginIdParams,
        body: answerBody,
        response: { 200: answerSchema, ...errorResponses(400, 403, 404, 409, 410, 422) },
      },
    },
    (request) => qrLogins.answer(request.params.login_id, request.body.proof),
  );

  app.post<{ Body: { login_token: string } }>(
    '/v1/qr-logins/verify',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Verify a login token (the app’s backend)',
        description:
          'Once, by the app it was made for, within 2 minutes: the pairwise identity_id, the linked user_id or null, and the ' +
          'consented profile (decrypted now; the login’s key is deleted). Unknown or another app’s: 404 login_token_invalid; ' +
          'used: 410 login_token_used; too late: 410 login_token_expired.',
        security: securityOf.app,
        body: verifyBody,
        response: { 200: verificationSchema, ...errorResponses(400, 401, 403, 404, 410) },
      },
    },
    (request) => qrLogins.verify(callingApp(request), request.body.login_token),
  );

  app.post<{ Body: { identity_id: string; user_id: string } }>(
    '/v1/qr-logins/links',
    {
      onRequest: guards.app,
      schema: {
        tags,
        summary: 'Link an identity to a user (onboarding)',
        description:
          'After a QR login with no linked user, the app creates its user (here, on first use) and links it: the next ' +
          'QR login by this person returns this user_id. An identity links to one user: 409 identity_already_linked. ' +
          'Only an identity a QR login of this app verified in the last day: another (another app\'s) is 404.',
        security: securityOf.app,
        body: linkBody,
        response: { 200: linkSchema, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    (request) => qrLogins.link(callingApp(request), request.body.identity_id, request.body.user_id),
  );
}
