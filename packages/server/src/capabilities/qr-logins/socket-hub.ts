import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { qrSocketUnexpectedMessageCode, type QrLoginBrowser, type QrLoginServerMessage } from '@tessera/contracts';
import type { BusMessage, RealtimeBus } from '../../platform/bus/bus.ts';

/** A QR code for a browser: its login id, when it expires, and the `qr` message that shows it. */
export interface IssuedQr {
  loginId: string;
  expiresAtMs: number;
  message: string;
}

export interface HubOptions {
  /** How long before its expiry a waiting browser's QR code is replaced. */
  rotateLeadMs: number;
  /** A browser socket ends (`expired`) after this long even if nobody scans. */
  sessionMs: number;
  /** Each socket is pinged this often; one that did not answer the last ping is dropped. */
  pingIntervalMs: number;
  /** A socket with more than this much unsent data is not reading: it is dropped. */
  maxBufferedBytes: number;
  /** How long a claim waits for the instance holding the browser socket to answer. */
  locateTimeoutMs: number;
}

/** What one waiting browser costs: this object, its socket, and one map entry. No timer of its own. */
class Session {
  alive = true;
  /** 0 while the QR code waits for a scan; after a scan, until when the answer may come. */
  answerUntilMs = 0;

  constructor(
    readonly ws: WebSocket,
    readonly appId: string,
    readonly browser: QrLoginBrowser,
    readonly endsAtMs: number,
    public loginId: string,
    public qrExpiresAtMs: number,
  ) {}
}

export const qrLoginsTopic = 'qr-logins';
const sweepIntervalMs = 1_000;

/**
 * The browser sockets of QR login on this instance. A socket is found by the login id of the QR code it
 * shows. What happens to a login (a scan, an answer) may be handled by any instance, so it arrives on
 * the bus topic `qr-logins`, which every instance hears; the instance holding the socket acts on it, the
 * others ignore it. A claim asks, over the same topic, for the browser's address and user agent (the
 * consent screen shows them), and the holder answers on the asker's own reply topic. One shared sweep a
 * second rotates QR codes, ends scans nobody answered, and pings.
 */
export class QrSocketHub {
  readonly #sessions = new Map<string, Session>();
  readonly #replyTopic = `qr-logins.reply.${randomBytes(8).toString('hex')}`;
  readonly #pendingLocates = new Map<string, (browser: QrLoginBrowser | null) => void>();
  readonly #unsubscribe: Array<() => void>;
  #sweeper: NodeJS.Timeout | null = null;
  #ticks = 0;

  constructor(
    private readonly bus: RealtimeBus,
    private readonly issueQr: (appId: string) => IssuedQr,
    private readonly options: HubOptions,
    private readonly onError: (error: unknown) => void,
  ) {
    this.#unsubscribe = [
      bus.subscribe(qrLoginsTopic, (message) => this.#onLoginEvent(message)),
      bus.subscribe(this.#replyTopic, (message) => this.#onLocated(message)),
    ];
  }

  get size(): number {
    return this.#sessions.size;
  }

  start(): void {
    this.#sweeper ??= setInterval(() => this.#sweep(), sweepIntervalMs);
    this.#sweeper.unref();
  }

  stop(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = null;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }

  /** Takes a browser socket that just opened: shows it its first QR code. */
  attach(ws: WebSocket, appId: string, ip: string, userAgent: string): void {
    const now = Date.now();
    const qr = this.issueQr(appId);
    const browser = { ip, user_agent: userAgent, started_at: new Date(now).toISOString() };
    const session = new Session(ws, appId, browser, now + this.options.sessionMs, qr.loginId, qr.expiresAtMs);
    this.#sessions.set(qr.loginId, session);
    ws.on('message', onBrowserMessage);
    ws.on('pong', () => (session.alive = true));
    ws.on('close', () => {
      if (this.#sessions.get(session.loginId) === session) this.#sessions.delete(session.loginId);
    });
    ws.send(qr.message);
  }

  /** Where the browser showing this login's QR code is, asked of whichever instance holds it; null if none does. */
  locate(loginId: string): Promise<QrLoginBrowser | null> {
    const requestId = randomBytes(12).toString('base64url');
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settleLocate(requestId, null), this.options.locateTimeoutMs);
      this.#pendingLocates.set(requestId, (browser) => {
        clearTimeout(timer);
        resolve(browser);
      });
      this.bus
        .publish(qrLoginsTopic, { type: 'locate', login_id: loginId, request_id: requestId, reply_to: this.#replyTopic })
        .catch((error: unknown) => {
          this.onError(error);
          this.#settleLocate(requestId, null);
        });
    });
  }

  /** Tells the browser of this login, wherever it is, what happened. */
  publish(message: BusMessage & { type: 'scanned' | 'approved' | 'denied'; login_id: string }): void {
    this.bus.publish(qrLoginsTopic, message).catch(this.onError);
  }

  #settleLocate(requestId: string, browser: QrLoginBrowser | null): void {
    const settle = this.#pendingLocates.get(requestId);
    this.#pendingLocates.delete(requestId);
    settle?.(browser);
  }

  #onLocated(message: BusMessage): void {
    this.#settleLocate(String(message.request_id), (message.browser as QrLoginBrowser | undefined) ?? null);
  }

  #onLoginEvent(message: BusMessage): void {
    const session = this.#sessions.get(String(message.login_id));
    if (!session) return;
    switch (message.type) {
      case 'locate':
        // Answered after a scan too: a second claim then hears "already claimed" from the database.
        this.bus.publish(String(message.reply_to), { request_id: message.request_id, browser: session.browser }).catch(this.onError);
        return;
      case 'scanned':
        session.answerUntilMs = Number(message.answer_until_ms);
        this.#send(session, { type: 'scanned' });
        return;
      case 'approved': {
        const approved: QrLoginServerMessage = { type: 'approved', login_token: String(message.login_token) };
        if (typeof message.encrypted_profile === 'string') approved.encrypted_profile = message.encrypted_profile;
        this.#end(session, approved);
        return;
      }
      case 'denied':
        this.#end(session, { type: 'denied' });
        return;
    }
  }

  #sweep(): void {
    const now = Date.now();
    const ping = ++this.#ticks % Math.max(1, Math.round(this.options.pingIntervalMs / sweepIntervalMs)) === 0;
    for (const session of [...this.#sessions.values()]) {
      try {
        if (session.ws.bufferedAmount > this.options.maxBufferedBytes || (ping && !session.alive)) {
          session.ws.terminate();
          continue;
        }
        if (ping) {
          session.alive = false;
          session.ws.ping();
        }
        if (session.answerUntilMs !== 0) {
          if (now > session.answerUntilMs) this.#end(session, { type: 'expired' });
        } else if (now >= session.qrExpiresAtMs - this.options.rotateLeadMs) {
          this.#rotate(session, now);
        }
      } catch (error) {
        this.onError(error);
      }
    }
  }

  #rotate(session: Session, now: number): void {
    if (now >= session.endsAtMs) {
      this.#end(session, { type: 'expired' });
      return;
    }
    const qr = this.issueQr(session.appId);
    this.#sessions.delete(session.loginId);
    session.loginId = qr.loginId;
    session.qrExpiresAtMs = qr.expiresAtMs;
    this.#sessions.set(qr.loginId, session);
    session.ws.send(qr.message);
  }

  #send(session: Session, message: QrLoginServerMessage): void {
    session.ws.send(JSON.stringify(message));
  }

  /** The last message of a socket: it closes normally, and its QR code is forgotten at once. */
  #end(session: Session, message: QrLoginServerMessage): void {
    this.#sessions.delete(session.loginId);
    this.#send(session, message);
    session.ws.close(1000, message.type);
  }
}

/** The browser only listens: anything it sends ends its socket with a close code that says so. */
function onBrowserMessage(this: WebSocket): void {
  this.close(qrSocketUnexpectedMessageCode, 'the browser socket only receives');
}
