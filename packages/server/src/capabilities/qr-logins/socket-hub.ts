import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { qrSocketUnexpectedMessageCode, type QrLoginBrowser, type QrLoginServerMessage } from '@tessera/contracts';
import type { BusMessage, RealtimeBus } from '../../platform/bus/bus.ts';
import type { Keyring } from '../../platform/keyring.ts';
import { QrRenderer } from '../../platform/qr-renderer.ts';
import type { QrLoginProgress } from './store.ts';

/** A QR code for a browser: its login id, when it expires, the text it encodes, and the `qr` message with its image. */
export interface IssuedQr {
  loginId: string;
  expiresAtMs: number;
  payload: string;
  message(qrDataUrl: string): string;
}

export interface HubOptions {
  /** A waiting browser's QR code is replaced between 1 and 2 times this long before its expiry (its first code earlier). */
  rotateLeadMs: number;
  /** A browser socket ends (`expired`) after this long even if nobody scans. */
  sessionMs: number;
  /** Each socket is pinged this often; one that did not answer the last ping is dropped. */
  pingIntervalMs: number;
  /** A socket with more than this much unsent data is not reading: it is dropped. */
  maxBufferedBytes: number;
  /** How long a claim waits for the instance holding the browser socket to answer. */
  locateTimeoutMs: number;
  /** Browser sockets one address may hold open on this instance; more are refused (429) before the upgrade. */
  maxSocketsPerIp: number;
}

/** The default of maxSocketsPerIp, and of TESSERA_QR_SOCKETS_PER_ADDRESS which sets it. */
export const defaultMaxSocketsPerIp = 50;

/** What one waiting browser costs: this object, its socket, and one map entry. No timer of its own. */
class Session {
  alive = true;
  /** 0 while the QR code waits for a scan; after a scan, until when the answer may come. */
  answerUntilMs = 0;
  /** Empty until the first QR code is drawn and sent. */
  loginId = '';
  /** When the sweep replaces its QR code. */
  rotateAtMs = 0;
  /** A new QR code is being drawn for it. */
  drawing = false;

  constructor(
    readonly ws: WebSocket,
    readonly appId: string,
    readonly browser: QrLoginBrowser,
    readonly endsAtMs: number,
    /** The sweep (its number modulo the sweeps per ping interval) that pings it. */
    readonly pingSlot: number,
  ) {}
}

export const qrLoginsTopic = 'qr-logins';
const loginTokenContext = (loginId: string) => `qr-login-token:${loginId}`;
const sweepIntervalMs = 1_000;
/**
 * A sweep works in slices of at most this much time, letting other work run in between: with thousands of sockets,
 * its pings and new codes would otherwise hold the event loop, and every request behind it, for tens of milliseconds.
 * Short, since a request waits for a slice at each of its steps (a database round trip, a WebCrypto call): with 5 ms
 * slices, the QR login bench's p99 was 44–51 ms; with 1 ms, 27–39 ms.
 */
const sweepSliceMs = 1;
/** QR codes drawn per message to the renderer: the codes of a batch are then sent in one go, well under a millisecond. */
const drawBatch = 8;

/**
 * The browser sockets of QR login on this instance. A socket is found by the login id of the QR code it
 * shows. What happens to a login (a scan, an answer) may be handled by any instance, so it arrives on
 * the bus topic `qr-logins`, which every instance hears; the instance holding the socket acts on it, the
 * others ignore it. A claim asks, over the same topic, for the browser's address and user agent (the
 * consent screen shows them), and the holder answers on the asker's own reply topic. One shared sweep a
 * second rotates QR codes, ends scans nobody answered, and pings, in slices (sweepSliceMs); the codes are drawn on a
 * worker thread (QrRenderer).
 */
export class QrSocketHub {
  readonly #sessions = new Map<string, Session>();
  /** Open sockets per client address: the socket needs no credentials, so each address gets a share, not all memory. */
  readonly #openPerIp = new Map<string, number>();
  readonly #replyTopic = `qr-logins.reply.${randomBytes(8).toString('hex')}`;
  readonly #pendingLocates = new Map<string, (browser: QrLoginBrowser | null) => void>();
  readonly #unsubscribe: Array<() => void>;
  #sweeper: NodeJS.Timeout | null = null;
  #ticks = 0;
  #attached = 0;
  /** The sessions the sweep under way has still to visit; null when none is under way. */
  #sweepQueue: Session[] | null = null;
  readonly #renderer = new QrRenderer();
  #stopped = false;

  constructor(
    private readonly bus: RealtimeBus,
    private readonly keyring: Keyring,
    private readonly issueQr: (appId: string) => IssuedQr,
    private readonly options: HubOptions,
    private readonly onError: (error: unknown) => void,
    /** Of these login ids, the ones scanned or answered since, from the database. */
    private readonly progressOf: (loginIds: string[]) => Promise<QrLoginProgress[]>,
  ) {
    this.#unsubscribe = [
      bus.subscribe(qrLoginsTopic, (message) => this.#onLoginEvent(message)),
      bus.subscribe(this.#replyTopic, (message) => this.#onLocated(message)),
      bus.onGap(() => void this.#afterGap().catch(this.onError)),
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
    this.#sweepQueue = null;
    this.#stopped = true;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    void this.#renderer.close();
  }

  /** Whether this address may open one more socket (maxSocketsPerIp). */
  hasRoomFor(ip: string): boolean {
    return (this.#openPerIp.get(ip) ?? 0) < this.options.maxSocketsPerIp;
  }

  /** Takes a browser socket that just opened: shows it its first QR code once it is drawn. */
  attach(ws: WebSocket, appId: string, ip: string, userAgent: string): void {
    this.#openPerIp.set(ip, (this.#openPerIp.get(ip) ?? 0) + 1);
    const now = Date.now();
    const browser = { ip, user_agent: userAgent, started_at: new Date(now).toISOString() };
    // Each sweep pings its share of the sockets, so that their pongs come spread over the interval, not all at once.
    const session = new Session(ws, appId, browser, now + this.options.sessionMs, this.#attached++ % this.#sweepsPerPing);
    ws.on('message', onBrowserMessage);
    ws.on('pong', () => (session.alive = true));
    ws.on('close', () => {
      if (this.#sessions.get(session.loginId) === session) this.#sessions.delete(session.loginId);
      const open = (this.#openPerIp.get(ip) ?? 1) - 1;
      if (open > 0) this.#openPerIp.set(ip, open);
      else this.#openPerIp.delete(ip);
    });
    this.#show([session]);
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

  /**
   * Tells the browser of this login, wherever it is, what happened. A login token crosses the bus (Redis, shared
   * with other software maybe) sealed with the keyring: only an instance of this deployment can use it.
   */
  publish(message: BusMessage & { type: 'scanned' | 'approved' | 'denied'; login_id: string }): void {
    const sealed =
      typeof message.login_token === 'string'
        ? { ...message, login_token: this.keyring.encrypt(message.login_token, loginTokenContext(message.login_id)) }
        : message;
    this.bus.publish(qrLoginsTopic, sealed).catch(this.onError);
  }

  /**
   * After a gap in the bus, messages meant for browsers here may have been lost. An answer's token cannot be sent
   * again (only its hash is stored): a browser whose login was answered meanwhile is closed with 1012, and the SDK
   * reconnects and shows a new code to scan, instead of waiting for an answer that will not come. A browser whose code
   * was scanned meanwhile is told so now: else its code would be replaced, and the answer, sent to the scanned code,
   * would find no browser. The others wait on.
   */
  async #afterGap(): Promise<void> {
    const loginIds = [...this.#sessions.keys()].filter((id) => id !== '');
    if (loginIds.length === 0) return;
    for (const login of await this.progressOf(loginIds)) {
      const session = this.#sessions.get(login.id);
      if (!session) continue;
      if (login.status !== 'claimed') session.ws.close(1012, 'the answer may have been missed: scan again');
      else if (session.answerUntilMs === 0) this.#scanned(session, login.expires_at.getTime());
    }
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
        this.#scanned(session, Number(message.answer_until_ms));
        return;
      case 'approved': {
        let token: string;
        try {
          token = this.keyring.decryptString(String(message.login_token), loginTokenContext(session.loginId));
        } catch (error) {
          this.onError(error); // an instance whose keyring lacks the key it was sealed with
          return;
        }
        const approved: QrLoginServerMessage = { type: 'approved', login_token: token };
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
    if (this.#sweepQueue) return; // the last one is still under way
    const pingSlot = ++this.#ticks % this.#sweepsPerPing;
    const queue = [...this.#sessions.values()];
    this.#sweepQueue = queue;
    const slice = (from: number) => {
      if (this.#sweepQueue !== queue) return; // stopped
      const now = Date.now();
      const until = performance.now() + sweepSliceMs;
      const due: Session[] = [];
      let next = from;
      // Issuing the new codes (signing their payloads) counts within the slice: a thousand at once is tens of ms.
      while (next < queue.length && performance.now() < until) {
        this.#sweepOne(queue[next++] as Session, now, pingSlot, due);
        if (due.length === drawBatch) this.#show(due.splice(0));
      }
      if (due.length > 0) this.#show(due);
      if (next < queue.length) setImmediate(slice, next);
      else this.#sweepQueue = null;
    };
    slice(0);
  }

  /** Terminates a socket that stopped reading or answering pings, pings, ends an unanswered scan; `due` gets a code to replace. */
  #sweepOne(session: Session, now: number, pingSlot: number, due: Session[]): void {
    if (this.#sessions.get(session.loginId) !== session) return; // ended since the sweep began
    const ping = session.pingSlot === pingSlot;
    try {
      if (session.ws.bufferedAmount > this.options.maxBufferedBytes || (ping && !session.alive)) {
        session.ws.terminate();
        return;
      }
      if (ping) {
        session.alive = false;
        session.ws.ping();
      }
      if (session.answerUntilMs !== 0) {
        if (now > session.answerUntilMs) this.#end(session, { type: 'expired' });
      } else if (now >= session.endsAtMs) {
        this.#end(session, { type: 'expired' });
      } else if (now >= session.rotateAtMs && !session.drawing) {
        due.push(session);
      }
    } catch (error) {
      this.onError(error);
    }
  }

  /**
   * Issues new QR codes for these sessions (one batch: at most drawBatch) and, once the renderer has drawn them, shows
   * each to its browser, unless it closed or its current code was scanned meanwhile. A code counts from then on: its
   * login id finds the session.
   */
  #show(sessions: Session[]): void {
    const issued = sessions.map((session) => this.issueQr(session.appId));
    for (const session of sessions) session.drawing = true;
    this.#renderer.render(issued.map((qr) => qr.payload)).then(
      (urls) =>
        sessions.forEach((session, index) => {
          session.drawing = false;
          const qr = issued[index] as IssuedQr;
          if (session.ws.readyState !== session.ws.OPEN || session.answerUntilMs !== 0) return;
          const first = session.loginId === '';
          if (this.#sessions.get(session.loginId) === session) this.#sessions.delete(session.loginId);
          session.loginId = qr.loginId;
          session.rotateAtMs = this.#rotationTime(qr.expiresAtMs, first);
          this.#sessions.set(qr.loginId, session);
          session.ws.send(qr.message(urls[index] as string));
        }),
      (error: unknown) => {
        // The sweep tries again for a socket that has a code; one that has none yet is closed, to reconnect.
        for (const session of sessions) {
          session.drawing = false;
          if (session.loginId === '') session.ws.close(1011, 'no QR code');
        }
        if (!this.#stopped) this.onError(error); // stopping closes the renderer: its refusals are expected
      },
    );
  }

  /**
   * When a code is replaced: 1–2 leads before it expires, at random. Browsers that connect together (thousands, after a
   * restart or in a benchmark) would still need their new codes within the same few seconds, every time: so a first
   * code is replaced at a random point between a third of its life and one lead before it expires, which spreads them
   * over most of a lifetime once and for all.
   */
  #rotationTime(expiresAtMs: number, first: boolean): number {
    const lead = this.options.rotateLeadMs;
    if (!first) return expiresAtMs - lead * (1 + Math.random());
    const now = Date.now();
    return now + Math.max(0, expiresAtMs - lead - now) * (1 / 3 + (2 / 3) * Math.random());
  }

  get #sweepsPerPing(): number {
    return Math.max(1, Math.round(this.options.pingIntervalMs / sweepIntervalMs));
  }

  /** Its code was scanned: it is no longer replaced, and the sweep ends it if no answer comes in time. */
  #scanned(session: Session, answerUntilMs: number): void {
    session.answerUntilMs = answerUntilMs;
    this.#send(session, { type: 'scanned' });
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
