/**
 * The peer addresses a session knows, from every source (trackers, the user's --peer, incoming
 * connections; DHT and PEX later), and when each may be dialed again.
 *
 * A failed or ended connection backs off (2 s, 5 s, 15 s, 30 s, 60 s); past the last step an
 * address is forgotten unless the user gave it (sticky: retried forever). Pure: the caller passes
 * the clock.
 */
import type { Endpoint } from '../transport/types.js';
import type { PeerSourceName } from './types.js';

export interface Candidate {
  endpoint: Endpoint;
  key: string;
  source: PeerSourceName;
  state: 'idle' | 'connecting' | 'connected' | 'banned' | 'self';
  failures: number;
  retryAt: number;
  /** Given by the user: retried forever. */
  sticky: boolean;
}

export const BACKOFF_MS = [2_000, 5_000, 15_000, 30_000, 60_000] as const;

/** `host:port`, IPv6 in brackets: the key of an address everywhere in the session. */
export const keyOf = (e: Endpoint): string => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

export class PeerBook {
  private readonly byKey = new Map<string, Candidate>();

  get size(): number {
    return this.byKey.size;
  }

  /**
   * Learn `endpoint` from `source`. An address already known is not added twice; listed again by
   * a source it is a hint the peer is back, so an idle one is retried now.
   */
  add(endpoint: Endpoint, source: PeerSourceName, now: number): void {
    const key = keyOf(endpoint);
    const known = this.byKey.get(key);
    if (known) {
      if (source === 'manual') known.sticky = true;
      if (known.state === 'idle') known.retryAt = Math.min(known.retryAt, now);
      return;
    }
    this.byKey.set(key, { endpoint, key, source, state: 'idle', failures: 0, retryAt: 0, sticky: source === 'manual' });
  }

  /** Idle addresses whose back-off is over, in the order they were learnt. */
  *due(now: number): Generator<Candidate> {
    for (const c of this.byKey.values()) if (c.state === 'idle' && c.retryAt <= now) yield c;
  }

  connected(c: Candidate): void {
    c.state = 'connected';
    c.failures = 0;
  }

  /** Never dial it again: it is us, or a peer we banned. */
  exclude(c: Candidate, why: 'self' | 'banned'): void {
    c.state = why;
  }

  /** A dial or handshake failed. */
  dialFailed(c: Candidate, now: number): void {
    if (c.state !== 'connecting' && c.state !== 'connected') return;
    this.backOff(c, now);
  }

  /**
   * A connection ended. A peer that ended well may be dialed again later (a seed that restarts);
   * one that broke, later still — both back off.
   */
  disconnected(c: Candidate, now: number): void {
    if (c.state !== 'connected') return;
    this.backOff(c, now);
  }

  private backOff(c: Candidate, now: number): void {
    c.failures++;
    if (!c.sticky && c.failures > BACKOFF_MS.length) {
      this.byKey.delete(c.key);
      return;
    }
    c.state = 'idle';
    c.retryAt = now + BACKOFF_MS[Math.min(c.failures - 1, BACKOFF_MS.length - 1)]!;
  }
}
