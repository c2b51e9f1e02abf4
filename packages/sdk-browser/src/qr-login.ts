import type { QrLoginServerMessage } from '@tessera/contracts';
import { retryDelayMs } from './retry-delay.ts';

/** What the widget shows; `onStatus` hears each change. `refused` is final: see `onError`. */
export type QrLoginStatus = 'connecting' | 'waiting' | 'scanned' | 'approved' | 'denied' | 'expired' | 'reconnecting' | 'refused';

/** Why the server refused the widget: an unknown or inactive app (404, 403), or a page origin the app does not allow (403). */
export interface QrLoginRefusal {
  status: number;
  code: string;
  message: string;
}

export interface QrLoginToken {
  /** One-time, valid 2 minutes: hand it to your backend, which verifies it (`POST /v1/qr-logins/verify`). */
  loginToken: string;
  /** The consented profile, encrypted: only Tessera can open it, at verification. */
  encryptedProfile?: string;
}

export interface QrLoginOptions {
  /** The Tessera server's base URL, e.g. `https://tessera.example.com`. */
  server: string;
  appId: string;
  /** Where the widget goes: an element, or a CSS selector. */
  container: HTMLElement | string;
  onToken(token: QrLoginToken): void;
  onStatus?(status: QrLoginStatus): void;
  /** The server refused this app or this page's origin: the widget stops (status `refused`) and says why here. */
  onError?(refusal: QrLoginRefusal): void;
  /** Replaces the status texts (to translate them, say). */
  texts?: Partial<Record<QrLoginStatus, string>>;
}

export interface QrLoginHandle {
  /** Removes the widget and closes its socket. */
  close(): void;
}

const defaultTexts: Record<QrLoginStatus, string> = {
  connecting: 'Preparing a sign-in code…',
  waiting: 'Scan this code with your Tessera authenticator to sign in.',
  scanned: 'Code scanned. Approve the sign-in on your device.',
  approved: 'Approved. Signing you in…',
  denied: 'The sign-in was declined on the device.',
  expired: 'This code has expired.',
  reconnecting: 'Connection lost. Reconnecting…',
  refused: 'Sign-in with a QR code is not available here.',
};

/**
 * QR login in a page: opens the socket, shows each QR code the server sends (it replaces them before
 * they expire), follows the scan and the answer, reconnects after a network drop, and hands the login
 * token to `onToken`. The code is an <img> with alt text; the status line is an aria-live region.
 */
export function qrLogin(options: QrLoginOptions): QrLoginHandle {
  const container = typeof options.container === 'string' ? document.querySelector<HTMLElement>(options.container) : options.container;
  if (!container) throw new TypeError(`qrLogin: no element matches ${String(options.container)}`);
  const texts = { ...defaultTexts, ...options.texts };
  const view = render(container);
  let socket: WebSocket | null = null;
  let finished = false;
  let closed = false;
  let retries = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;

  const show = (status: QrLoginStatus) => {
    // A new code, or one more failed reconnection, is no change: the live region is not rewritten (screen readers
    // would announce it again) and onStatus hears only changes.
    if (view.root.dataset.status === status) return;
    view.root.dataset.status = status;
    view.status.textContent = texts[status];
    view.image.hidden = status !== 'waiting';
    view.again.hidden = status !== 'denied' && status !== 'expired';
    options.onStatus?.(status);
  };

  const onMessage = (event: MessageEvent) => {
    let message: QrLoginServerMessage;
    try {
      message = JSON.parse(String(event.data)) as QrLoginServerMessage;
    } catch {
      return;
    }
    switch (message.type) {
      case 'qr':
        retries = 0;
        view.image.src = message.qr_data_url;
        view.root.dataset.loginId = message.login_id;
        show('waiting');
        return;
      case 'scanned':
        show('scanned');
        return;
      case 'approved':
        finished = true;
        show('approved');
        options.onToken(
          message.encrypted_profile === undefined
            ? { loginToken: message.login_token }
            : { loginToken: message.login_token, encryptedProfile: message.encrypted_profile },
        );
        return;
      case 'denied':
      case 'expired':
        finished = true;
        show(message.type);
        return;
    }
  };

  const connectUrl = new URL('v1/qr-logins/connect', options.server.replace(/\/*$/, '/'));
  connectUrl.searchParams.set('app_id', options.appId);

  const retry = () => {
    // A dropped network, a restarted server: try again, waiting longer each time (retry-delay.ts).
    show('reconnecting');
    retryTimer = setTimeout(connect, retryDelayMs(retries++));
  };

  const connect = () => {
    finished = false;
    const url = new URL(connectUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url);
    socket = ws;
    let opened = false;
    ws.addEventListener('open', () => (opened = true));
    ws.addEventListener('message', onMessage);
    ws.addEventListener('close', () => {
      if (socket !== ws || closed || finished) return;
      if (opened) return retry();
      // Never opened: the server may have refused the upgrade, whose answer the browser does not show. Asked again as
      // plain HTTP, it says: 426 (it would take the upgrade: a network problem, try again) or the refusal.
      void refusalOf(connectUrl).then((refusal) => {
        if (socket !== ws || closed) return;
        if (!refusal) return retry();
        finished = true;
        show('refused');
        options.onError?.(refusal);
      });
    });
  };

  view.again.addEventListener('click', () => {
    show('connecting');
    // The button hides itself: keyboard focus goes to the status line, which then tells what happens next.
    view.status.focus();
    connect();
  });
  show('connecting');
  connect();

  return {
    close() {
      closed = true;
      clearTimeout(retryTimer);
      socket?.close(1000);
      view.root.remove();
    },
  };
}

/** The server's refusal of this app or origin, or null when it would take the upgrade or could not be asked. */
async function refusalOf(connectUrl: URL): Promise<QrLoginRefusal | null> {
  try {
    const response = await fetch(connectUrl, { headers: { accept: 'application/json' } });
    if (![400, 403, 404].includes(response.status)) return null;
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    return { status: response.status, code: body.error?.code ?? 'refused', message: body.error?.message ?? `HTTP ${response.status}` };
  } catch {
    return null;
  }
}

function render(container: HTMLElement) {
  const root = document.createElement('div');
  root.className = 'tessera-qr-login';
  const image = document.createElement('img');
  image.alt = 'QR code: scan it with your Tessera authenticator to sign in';
  image.width = 264;
  image.height = 264;
  // The code is drawn with few pixels per module: scaled up, it must stay sharp.
  image.style.imageRendering = 'pixelated';
  image.hidden = true;
  const status = document.createElement('p');
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  status.tabIndex = -1;
  const again = document.createElement('button');
  again.type = 'button';
  again.textContent = 'Show a new code';
  again.hidden = true;
  root.append(image, status, again);
  container.append(root);
  return { root, image, status, again };
}
