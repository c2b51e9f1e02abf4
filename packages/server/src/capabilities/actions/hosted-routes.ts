import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { literals } from '../../platform/http/schema-kit.ts';
import { ApiError } from '../../platform/http/api-error.ts';
import type { ClientService, ClientSession, CodeFactorType } from './client-service.ts';
import { hostedPageCsp, renderHostedPage, type Brand, type HostedView } from './hosted-page.ts';

const method = literals(['totp', 'recovery'] as const);
const pageQuery = Type.Object({
  token: Type.String({ maxLength: 4096 }),
  method: Type.Optional(literals(['totp', 'recovery', 'push'] as const)),
  again: Type.Optional(Type.Literal('1')),
  wait: Type.Optional(Type.Literal('1')),
});
/** How long the waiting page's refresh is held when nothing changes: the page is replaced this seldom. */
const pushWaitSeconds = 25;
const formBody = Type.Object({ token: Type.String({ maxLength: 4096 }), method, code: Type.String({ maxLength: 64 }) });
const codeTypes: readonly CodeFactorType[] = ['totp', 'recovery'];
/** The page's brand before the token says whose it is. */
const defaultBrand: Brand = { name: 'Tessera', logo: null };

/**
 * The hosted page of an action (the `url` of a track): it runs the challenge, or a first TOTP enrollment,
 * then sends the browser to the action's redirect_url with `?token=<success token>`. Server-rendered HTML
 * with plain forms (POST, then a 303 redirect): it needs no script and no build on the app's side. The track
 * token is in the page's query, so the page sends no Referer and is never cached.
 *
 * A user with a device gets a push request first (as the API's default): the page shows the number to
 * pick and refreshes itself (a meta refresh, still no script) with `wait=1`, which the server holds until the
 * request is answered or 25 s have passed. So the browser goes on as soon as the person approves, while a
 * keyboard or screen-reader user keeps the page (and the focus) between refreshes, not only 2 s.
 */
export async function hostedRoutes(app: FastifyInstance, deps: { client: ClientService }): Promise<void> {
  const { client } = deps;
  await app.register(async (scope) => {
    // A request the page itself would never send (a tampered form or link) still gets a page, not the API's JSON.
    scope.setErrorHandler((error: Error & { validation?: unknown; statusCode?: number }, _request, reply) => {
      if (!error.validation) throw error;
      const view = message('Something went wrong', 'This link or form is not valid. Go back and try again.');
      return reply.code(400).headers(pageHeaders(null)).type('text/html; charset=utf-8').send(renderHostedPage(defaultBrand, view));
    });
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(body.toString()))),
    );

    scope.get<{ Querystring: { token: string; method?: CodeFactorType | 'push'; again?: '1'; wait?: '1' } }>(
      '/hosted/actions',
      { schema: { hide: true, querystring: pageQuery } },
      async (request, reply) => {
        const { token } = request.query;
        return guarded(reply, token, async (session) => {
          const { action, factorTypes } = await client.state(session);
          if (action.state !== 'CHALLENGE_REQUIRED' && action.state !== 'ALLOW') return send(reply, session, doneView(action.state), 409);
          const methods = codeTypes.filter((type) => factorTypes.includes(type));
          const asked = request.query.method;
          if (factorTypes.includes('push') && (asked === 'push' || asked === undefined)) {
            const gone = new AbortController();
            reply.raw.on('close', () => gone.abort());
            let push = await client.push(session, request.query.wait ? pushWaitSeconds : 0, gone.signal);
            const reportedFraud = push?.deny_reason === 'fraud';
            if (push === null || (request.query.again && push.status !== 'pending' && !reportedFraud)) push = await client.startPush(session);
            if (push.token) return finish(reply, action.redirect_url, push.token, session);
            const view: HostedView = {
              kind: 'push',
              token,
              waiting: push.status === 'pending',
              reportedFraud,
              alternatives: methods,
              ...(push.number ? { number: push.number } : {}),
            };
            return send(reply, session, view, 200, action.redirect_url);
          }
          const chosen = asked && asked !== 'push' && methods.includes(asked) ? asked : methods[0];
          if (chosen) return send(reply, session, { kind: 'code', token, method: chosen, alternatives: methods, enrolling: false }, 200, action.redirect_url);
          const enrollment = await client.enrollTotp(session);
          return send(reply, session, { kind: 'enroll', token, qrDataUrl: enrollment.qr_data_url, secret: enrollment.secret }, 200, action.redirect_url);
        });
      },
    );

    scope.post<{ Body: { token: string; method: CodeFactorType; code: string } }>(
      '/hosted/actions',
      { schema: { hide: true, body: formBody } },
      async (request, reply) => {
        const { token, method: type, code } = request.body;
        return guarded(reply, token, async (session) => {
          const { action, factorTypes } = await client.state(session);
          const enrolling = type === 'totp' && action.enroll_factor_id !== null && !factorTypes.includes('totp');
          try {
            // People type a TOTP code as shown, often "123 456": the spaces are not part of it.
            const success = await client.verifyCode(session, type, type === 'totp' ? code.replace(/\s+/g, '') : code.trim());
            return finish(reply, action.redirect_url, success.token, session);
          } catch (error) {
            if (!(error instanceof ApiError) || !['invalid_code', 'validation_failed', 'user_locked'].includes(error.code)) throw error;
            const text =
              error.code === 'user_locked' ? 'Too many wrong codes: try again later.' : 'That code is not right. Check it and try again.';
            const alternatives = codeTypes.filter((other) => factorTypes.includes(other));
            const view: HostedView = { kind: 'code', token, method: type, alternatives, enrolling, error: text };
            return send(reply, session, view, error.status, action.redirect_url);
          }
        });
      },
    );
  });

  /** Runs `work` with the token's session; a refused token or a refusal of the API becomes a page, not JSON. */
  async function guarded(reply: FastifyReply, token: string, work: (session: ClientSession) => Promise<FastifyReply>) {
    let session: ClientSession | null = null;
    try {
      session = await client.session(token);
      return await work(session);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const brand: Brand = session ? brandOf(session) : defaultBrand;
      const text = error.code === 'client_token_invalid' ? 'This link has expired or is not valid. Go back and try again.' : error.message;
      return reply.code(error.status).headers(pageHeaders(null)).type('text/html; charset=utf-8').send(renderHostedPage(brand, message('Something went wrong', text)));
    }
  }
}

/** After a success: to the app's redirect_url with the success token, or a page that says it is done. */
function finish(reply: FastifyReply, redirectUrl: string | null, token: string, session: ClientSession): FastifyReply {
  if (!redirectUrl) return send(reply, session, message('Done', 'You are verified. You can close this window.'));
  const target = new URL(redirectUrl);
  target.searchParams.set('token', token);
  return reply.code(303).headers(pageHeaders(redirectUrl)).header('location', target.href).send();
}

function send(reply: FastifyReply, session: ClientSession, view: HostedView, status = 200, redirectUrl: string | null = null): FastifyReply {
  return reply.code(status).headers(pageHeaders(redirectUrl)).type('text/html; charset=utf-8').send(renderHostedPage(brandOf(session), view));
}

function pageHeaders(redirectUrl: string | null): Record<string, string> {
  return {
    'content-security-policy': hostedPageCsp(redirectUrl ? new URL(redirectUrl).origin : null),
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
  };
}

function brandOf(session: ClientSession): Brand {
  const { app } = session;
  return { name: app.branding.display_name ?? app.issuer_name ?? app.name, logo: app.branding.logo };
}

function message(title: string, text: string): HostedView {
  return { kind: 'message', title, text };
}

function doneView(state: string): HostedView {
  return state === 'CHALLENGE_SUCCEEDED'
    ? message('Already verified', 'This request was already verified. You can close this window.')
    : message('Not allowed', 'This request cannot be completed here.');
}
