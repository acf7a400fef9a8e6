// The live feed: one WebSocket to /api/v1/ws for the whole UI.
//
// Reconnects with capped exponential backoff (with jitter).  After every
// (re)connection, and whenever the gateway says it may have missed alerts
// ({"type":"catchup"}), it reads GET /api/v1/drifts newest-first down to the
// newest id it already delivered, and delivers what it missed oldest first.
// Every alert is delivered once: ids already delivered are skipped.
import type { DriftItem } from './api';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'offline';
export interface LiveStatus {
  state: LiveState;
  attempt: number; // reconnect attempts since the last good connection
  detail?: string;
}

/** Delay before reconnect attempt n (1-based): 0.5 s doubling up to 15 s, ±20 % jitter. */
export function backoffMs(attempt: number, rand: () => number = Math.random): number {
  const base = Math.min(15000, 500 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * rand()));
}

export interface Page {
  items: DriftItem[];
  next_cursor: string | null;
}

/** What was committed after `after` (an id): pages newest first until an id
 * at or below `after`; returns oldest first.  `complete` is false when
 * maxPages ran out first (the caller should reload instead). */
export async function catchUp(
  after: number,
  fetchPage: (cursor?: string) => Promise<Page>,
  maxPages = 20,
): Promise<{ items: DriftItem[]; complete: boolean }> {
  const out: DriftItem[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const page = await fetchPage(cursor);
    for (const it of page.items) {
      if (it.id <= after) return { items: out.reverse(), complete: true };
      out.push(it);
    }
    if (!page.next_cursor) return { items: out.reverse(), complete: true };
    cursor = page.next_cursor;
  }
  return { items: out.reverse(), complete: false };
}

/** Ids already delivered, bounded (the oldest are forgotten first). */
export class SeenIds {
  private set = new Set<number>();
  private order: number[] = [];
  newest = 0;
  constructor(private readonly max = 50000) {}
  /** True when id is new (and records it). */
  add(id: number): boolean {
    if (this.set.has(id) || (this.order.length >= this.max && id < (this.order[0] ?? 0))) return false;
    this.set.add(id);
    this.order.push(id);
    if (id > this.newest) this.newest = id;
    if (this.order.length > this.max) {
      this.order.sort((a, b) => a - b);
      const drop = this.order.splice(0, this.order.length - this.max);
      for (const d of drop) this.set.delete(d);
    }
    return true;
  }
  /** Marks everything up to id as known without remembering each (a table's first page). */
  knowUpTo(id: number): void {
    if (id > this.newest) this.newest = id;
  }
}

export interface LiveFeedOptions {
  url: () => string; // ws://host/api/v1/ws?access_token=...
  fetchPage: (cursor?: string) => Promise<Page>;
  /** Attempts after which the status says Offline (it keeps retrying). */
  offlineAfter?: number;
  WebSocketImpl?: typeof WebSocket;
}

type Listener<T> = (v: T) => void;

export class LiveFeed {
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private stopped = true;
  private everConnected = false;
  private catching: Promise<void> | null = null;
  private catchAgain = false;
  readonly seen = new SeenIds();
  private statusNow: LiveStatus = { state: 'connecting', attempt: 0 };
  private alertL = new Set<Listener<DriftItem>>();
  private statusL = new Set<Listener<LiveStatus>>();
  private stateL = new Set<Listener<unknown>>();
  private resetL = new Set<Listener<void>>();

  constructor(private readonly opts: LiveFeedOptions) {}

  get status(): LiveStatus {
    return this.statusNow;
  }
  onAlert(f: Listener<DriftItem>) {
    this.alertL.add(f);
    return () => void this.alertL.delete(f);
  }
  onStatus(f: Listener<LiveStatus>) {
    this.statusL.add(f);
    return () => void this.statusL.delete(f);
  }
  onState(f: Listener<unknown>) {
    this.stateL.add(f);
    return () => void this.stateL.delete(f);
  }
  /** Too much was missed to catch up: views should reload. */
  onReset(f: Listener<void>) {
    this.resetL.add(f);
    return () => void this.resetL.delete(f);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (typeof window !== 'undefined') {
      window.addEventListener('offline', this.onOffline);
      window.addEventListener('online', this.onOnline);
    }
    this.connect();
  }

  /** The browser lost its network: say so now rather than at the next failure. */
  private onOffline = () => {
    if (!this.stopped) this.setStatus({ state: 'offline', attempt: this.attempt, detail: 'the browser is offline' });
  };

  /** Back online: retry at once instead of waiting out the backoff. */
  private onOnline = () => {
    if (this.stopped || this.ws) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  };

  stop(): void {
    this.stopped = true;
    if (typeof window !== 'undefined') {
      window.removeEventListener('offline', this.onOffline);
      window.removeEventListener('online', this.onOnline);
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close(1000);
    }
  }

  /** A view loaded alerts up to id from the API: catch-up starts above it. */
  noteLoaded(newestId: number): void {
    this.seen.knowUpTo(newestId);
  }

  private setStatus(s: LiveStatus) {
    this.statusNow = s;
    for (const f of this.statusL) f(s);
  }

  private deliver(a: DriftItem) {
    if (!this.seen.add(a.id)) return;
    for (const f of this.alertL) f(a);
  }

  private connect() {
    if (this.stopped) return;
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    let ws: WebSocket;
    try {
      ws = new Impl(this.opts.url());
    } catch (e) {
      this.scheduleReconnect(e instanceof Error ? e.message : String(e));
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => this.onMessage(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.scheduleReconnect(ev.code === 1008 ? 'dropped by the gateway (too slow)' : `closed (${ev.code})`);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private scheduleReconnect(why: string) {
    if (this.stopped) return;
    this.attempt++;
    const off = this.attempt > (this.opts.offlineAfter ?? 6) || (typeof navigator !== 'undefined' && navigator.onLine === false);
    this.setStatus({ state: off ? 'offline' : 'reconnecting', attempt: this.attempt, detail: why });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, backoffMs(this.attempt));
  }

  private onMessage(data: unknown) {
    if (typeof data !== 'string') return;
    let m: { type?: string; alert?: DriftItem; state?: unknown };
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    switch (m.type) {
      case 'hello': {
        this.attempt = 0;
        this.setStatus({ state: 'live', attempt: 0 });
        // after the first connection, or a reconnection: what did we miss?
        if (this.everConnected || this.seen.newest > 0) void this.runCatchUp();
        else void this.baseline();
        this.everConnected = true;
        break;
      }
      case 'alert':
        if (m.alert) this.deliver(m.alert);
        break;
      case 'catchup':
        void this.runCatchUp();
        break;
      case 'state':
        for (const f of this.stateL) f(m.state);
        break;
    }
  }

  /** First connection with nothing loaded: what exists now is not "missed". */
  private async baseline() {
    try {
      const p = await this.opts.fetchPage();
      this.seen.knowUpTo(p.items[0]?.id ?? 0);
    } catch {
      // no baseline: a later catch-up starts from 0 and is capped
    }
  }

  /** One catch-up at a time; a request during one runs another after it. */
  runCatchUp(): Promise<void> {
    if (this.catching) {
      this.catchAgain = true;
      return this.catching;
    }
    const run = async () => {
      do {
        this.catchAgain = false;
        try {
          const r = await catchUp(this.seen.newest, this.opts.fetchPage);
          for (const a of r.items) this.deliver(a);
          if (!r.complete) for (const f of this.resetL) f();
        } catch {
          // the API is away too: the next hello tries again
        }
      } while (this.catchAgain && !this.stopped);
    };
    this.catching = run().finally(() => {
      this.catching = null;
    });
    return this.catching;
  }
}
