import { createHash } from 'node:crypto';
import type { CodeFactorType } from './client-service.ts';

/** The app as the page shows it. */
export interface Brand {
  name: string;
  logo: string | null;
}

export type HostedView =
  | { kind: 'code'; token: string; method: CodeFactorType; alternatives: CodeFactorType[]; enrolling: boolean; error?: string }
  | { kind: 'enroll'; token: string; qrDataUrl: string; secret: string }
  | { kind: 'message'; title: string; text: string }
  /** Waiting for an approval on the device (the page refreshes itself, held by the server until a change: no script), or after it ended. */
  | { kind: 'push'; token: string; number?: number; waiting: boolean; reportedFraud: boolean; alternatives: CodeFactorType[] };

const style = `
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f4f5f7}
main{max-width:26rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:.75rem;box-shadow:0 1px 4px #0002}
header{display:flex;align-items:center;gap:.75rem;margin-bottom:1rem}header img{max-height:3rem;max-width:9rem}
.brand{font-weight:600;margin:0}h1{font-size:1.4rem;margin:.5rem 0}label{display:block;font-weight:600;margin:1rem 0 .25rem}
input{width:100%;font:inherit;font-size:1.4rem;letter-spacing:.2em;padding:.5rem;border:2px solid #767676;border-radius:.4rem}
input:focus,button:focus,a:focus{outline:3px solid #1d4ed8;outline-offset:2px}
button{margin-top:1rem;width:100%;font:inherit;font-weight:600;padding:.7rem;border:0;border-radius:.4rem;background:#1d4ed8;color:#fff;cursor:pointer}
.error{color:#b00020;font-weight:600}.qr{display:block;margin:1rem auto;width:220px;height:220px;image-rendering:pixelated}
.number{display:block;font-size:2.5rem;text-align:center;letter-spacing:.1em}code{font-size:1.05rem;word-break:break-all;background:#f0f0f0;padding:.2rem .4rem;border-radius:.3rem}a{color:#1d4ed8}`;

// The only style of the page, allowed by its hash: the Content-Security-Policy needs no 'unsafe-inline'.
const styleHash = createHash('sha256').update(style).digest('base64');

/** The page's Content-Security-Policy: no script, images only as data: URLs, forms only to us (and to where we redirect). */
export function hostedPageCsp(redirectOrigin: string | null): string {
  const formAction = ["'self'", ...(redirectOrigin ? [redirectOrigin] : [])].join(' ');
  return `default-src 'none'; style-src 'sha256-${styleHash}'; img-src data:; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`;
}

const methodText: Record<CodeFactorType, { label: string; hint: (app: string) => string; link: string; input: string }> = {
  totp: {
    label: 'Code from your authenticator app',
    hint: (app) => `Open your authenticator app and type the code it shows for ${app}.`,
    link: 'Use your authenticator app',
    input: 'inputmode="numeric" pattern="[0-9 ]{6,11}"',
  },
  recovery: {
    label: 'Recovery code',
    hint: () => 'Type one of the recovery codes you saved, such as abcd-efgh-jkmn-pqrs. Each works once.',
    link: 'Use a recovery code instead',
    input: 'autocapitalize="none" spellcheck="false"',
  },
};

/** The hosted page: plain HTML whose forms work without script; Enter submits them. */
export function renderHostedPage(brand: Brand, view: HostedView): string {
  const title = view.kind === 'message' ? view.title : view.kind === 'enroll' ? 'Set up your authenticator app' : 'Verify it’s you';
  const refresh =
    view.kind === 'push' && view.waiting
      ? `<meta http-equiv="refresh" content="1;url=actions?token=${encodeURIComponent(view.token)}&amp;method=push&amp;wait=1">`
      : '';
  const logo = brand.logo ? `<img src="${escape(brand.logo)}" alt="">` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">${refresh}<title>${escape(title)} – ${escape(brand.name)}</title><style>${style}</style></head>
<body><main>
<header>${logo}<p class="brand">${escape(brand.name)}</p></header>
<h1>${escape(title)}</h1>
${body(brand, view)}
</main></body></html>`;
}

function body(brand: Brand, view: HostedView): string {
  if (view.kind === 'message') return `<p>${escape(view.text)}</p>`;
  if (view.kind === 'push') return pushBody(view);
  if (view.kind === 'enroll') {
    return `<p id="hint">Scan this QR code with your authenticator app, then type the code it shows.</p>
<img class="qr" src="${escape(view.qrDataUrl)}" alt="QR code to add ${escape(brand.name)} to your authenticator app">
<p>Cannot scan it? Enter this key in the app instead: <code>${escape(groups(view.secret))}</code></p>
${codeForm(view.token, 'totp', undefined)}`;
  }
  const text = methodText[view.method];
  const hint = view.enrolling ? `Type the code your authenticator app shows for ${brand.name}.` : text.hint(brand.name);
  const others = view.alternatives
    .filter((method) => method !== view.method)
    .map((method) => `<p><a href="actions?token=${encodeURIComponent(view.token)}&amp;method=${method}">${methodText[method].link}</a></p>`);
  const restart = view.enrolling ? [`<p><a href="actions?token=${encodeURIComponent(view.token)}">Show a new QR code</a></p>`] : [];
  return `<p id="hint">${escape(hint)}</p>
${codeForm(view.token, view.method, view.error)}
${[...others, ...restart].join('\n')}`;
}

function pushBody(view: Extract<HostedView, { kind: 'push' }>): string {
  const token = encodeURIComponent(view.token);
  const others = view.alternatives.map((method) => `<p><a href="actions?token=${token}&amp;method=${method}">${methodText[method].link}</a></p>`);
  if (view.reportedFraud) {
    return `<p role="alert">You reported this request as not started by you, so no new one will be sent. If it was you after all, start again from the app.</p>
${others.join('\n')}`;
  }
  if (!view.waiting) {
    return `<p role="alert">The request was denied or has expired.</p>
<p><a href="actions?token=${token}&amp;method=push&amp;again=1">Send a new request to your authenticator app</a></p>
${others.join('\n')}`;
  }
  const number = view.number === undefined ? '' : ` and pick this number: <strong class="number">${view.number}</strong>`;
  return `<p role="status" aria-live="polite">We sent a request to your authenticator app. Approve it there${number}.
This page goes on by itself once you approve.</p>
${others.join('\n')}`;
}

function codeForm(token: string, method: CodeFactorType, error: string | undefined): string {
  const text = methodText[method];
  const described = error ? 'hint error' : 'hint';
  return `${error ? `<p id="error" class="error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="actions">
<input type="hidden" name="token" value="${escape(token)}"><input type="hidden" name="method" value="${method}">
<label for="code">${escape(text.label)}</label>
<input id="code" name="code" type="text" ${text.input} autocomplete="one-time-code" required autofocus aria-describedby="${described}"${error ? ' aria-invalid="true"' : ''}>
<button type="submit">Verify</button>
</form>`;
}

function groups(secret: string): string {
  return secret.replace(/(.{4})/g, '$1 ').trim();
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
