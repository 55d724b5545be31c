/**
 * The per-connection protocol state of both sides (BEP 3 choke/interest, BEP 6 fast extension
 * rules, BEP 10 negotiation), as a small state machine the session feeds with every message it
 * receives and sends. Pure: no sockets, no timers; time is a parameter.
 *
 * Why a separate module: the rules that decide what a message *means* depend on this state and
 * on what was negotiated (BEP 6 changes what a choke does to pending requests), and keeping them
 * here lets them be tested message by message without a socket.
 *
 * Both sides start choked and not interested (BEP 3: "Connections start out choked and not
 * interested").
 */
import { BtError, type CodeOf } from '../errors.js';
import type { Message } from './messages.js';

/** Features both sides enabled in their handshakes (see handshake.ts `negotiated`). */
export interface Features {
  fast: boolean;
  extended: boolean;
  dht: boolean;
  /**
   * BEP 52 v2 upgrade bit on both sides. A connection made with a v2 (truncated) infohash speaks
   * v2 whatever the bits say; the session decides that (it knows which infohash was used).
   */
  v2?: boolean;
}

/**
 * What the session must do about a received message, beyond reading the updated flags.
 * - `drop-our-requests`: a choke without BEP 6; the peer has discarded every request we sent
 *   (BEP 3), so they go back to the picker. With BEP 6 the peer rejects each one explicitly.
 * - `serve` / `reject` / `ignore`: for a received `request`. While we choke the peer, BEP 6 says
 *   reject it (unless its piece is in the allowed-fast set we gave); without BEP 6, ignore it.
 * - `none`: nothing beyond the flags (or the message is the session's to interpret: have, piece …).
 */
export type ReceiveAction = 'none' | 'drop-our-requests' | 'serve' | 'reject' | 'ignore';

/**
 * What the session must do after sending a message.
 * - `discard-their-requests`: we choked a peer without BEP 6: drop its queued requests silently.
 * - `reject-their-requests`: we choked a BEP 6 peer: send `reject` for each queued request whose
 *   piece is not in `allowedFastOut` (BEP 6: a choke no longer implicitly cancels them).
 */
export type SendAction = 'none' | 'discard-their-requests' | 'reject-their-requests';

/** BEP 3: peers drop a connection that has been silent for about two minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
/** Send a keep-alive when we have sent nothing for this long, well inside the peer's 2-minute limit. */
export const DEFAULT_KEEP_ALIVE_MS = 90_000;
/** The most allowed-fast pieces we remember from one peer; BEP 6 suggests a set of about 10. */
export const MAX_ALLOWED_FAST = 256;

const protocolError = (code: Extract<CodeOf<'network'>, `WIRE_${string}`>, message: string, detail: Record<string, unknown>) => new BtError(code, 'network', message, { detail });

const FAST_ONLY = new Set<Message['type']>(['suggest', 'have-all', 'have-none', 'reject', 'allowed-fast']);
const PIECE_SET = new Set<Message['type']>(['bitfield', 'have-all', 'have-none']);
/** Messages that may precede the bitfield: BEP 10 sends the extended handshake "immediately after" the BEP 3 handshake. */
const BEFORE_PIECE_SET_OK = new Set<Message['type']>(['keep-alive', 'extended', 'port', 'hash-request', 'hashes', 'hash-reject']);

export class ConnectionState {
  /** We refuse to upload to the peer. */
  amChoking = true;
  /** We want pieces the peer has. */
  amInterested = false;
  /** The peer refuses to upload to us. */
  peerChoking = true;
  /** The peer wants pieces we have. */
  peerInterested = false;
  /** Pieces the peer lets us request while it chokes us (BEP 6 allowed fast, received). */
  readonly allowedFastIn = new Set<number>();
  /** Pieces we let the peer request while we choke it (BEP 6 allowed fast, sent). */
  readonly allowedFastOut = new Set<number>();
  /** Time (ms, caller's clock) of the last byte received / sent. */
  lastReceivedAt: number;
  lastSentAt: number;
  /** The peer's opening is over (a piece set or any other message than those allowed before one). */
  private openingDone = false;
  /** The peer sent have all: a seed, which no later piece set can contradict. */
  private saidHaveAll = false;

  constructor(
    readonly features: Features,
    now = 0,
  ) {
    this.lastReceivedAt = now;
    this.lastSentAt = now;
  }

  /**
   * Apply a received message. Throws BtError (category network) on a protocol violation the peer
   * must be dropped for: a BEP 6 message without BEP 6 (WIRE_FAST_NOT_NEGOTIATED), an extended
   * message without BEP 10 (WIRE_EXTENDED_NOT_NEGOTIATED), a piece set that cannot be believed
   * (WIRE_UNEXPECTED_BITFIELD: any piece set after a have all, a have none after the opening).
   *
   * BEP 3 allows the bitfield "only directly after the handshaking" (BEP 6 gives have all / have
   * none the same place), but real clients send it later: aria2c 1.36, each time it tells a peer
   * about pieces it finished, sends one bitfield instead of the haves when that is no longer than
   * them (`5 + bitfield bytes <= 9 × haves`), and have all instead once it has everything (with
   * BEP 6). So a downloading aria2c on a fast link sends bitfields throughout, between haves and
   * after other messages; refusing them cost btkit the peer every few seconds (issue 13). A later
   * bitfield or have all therefore replaces the peer's set: the session must uncount the old one.
   * What stays refused has no use and would rewrite what the picker counted: a piece set after
   * have all (a seed does not lose pieces), and a have none after the opening.
   */
  receive(m: Message, now?: number): ReceiveAction {
    if (now !== undefined) this.lastReceivedAt = now;
    if (FAST_ONLY.has(m.type) && !this.features.fast) {
      throw protocolError('WIRE_FAST_NOT_NEGOTIATED', `${m.type} message from a peer without the fast extension`, { type: m.type });
    }
    if (m.type === 'extended' && !this.features.extended) {
      throw protocolError('WIRE_EXTENDED_NOT_NEGOTIATED', 'extended message from a peer without the extension protocol', { type: m.type });
    }
    if (PIECE_SET.has(m.type)) {
      if (this.saidHaveAll || (m.type === 'have-none' && this.openingDone)) {
        throw protocolError('WIRE_UNEXPECTED_BITFIELD', `${m.type} after ${this.saidHaveAll ? 'have all' : 'the first messages'}`, { type: m.type });
      }
      if (m.type === 'have-all') this.saidHaveAll = true;
      this.openingDone = true;
    } else if (!BEFORE_PIECE_SET_OK.has(m.type)) {
      this.openingDone = true;
    }
    switch (m.type) {
      case 'choke':
        this.peerChoking = true;
        return this.features.fast ? 'none' : 'drop-our-requests';
      case 'unchoke':
        this.peerChoking = false;
        return 'none';
      case 'interested':
        this.peerInterested = true;
        return 'none';
      case 'not-interested':
        this.peerInterested = false;
        return 'none';
      case 'allowed-fast':
        if (this.allowedFastIn.size < MAX_ALLOWED_FAST) this.allowedFastIn.add(m.index);
        return 'none';
      case 'request':
        if (!this.amChoking || (this.features.fast && this.allowedFastOut.has(m.index))) return 'serve';
        return this.features.fast ? 'reject' : 'ignore';
      default:
        return 'none';
    }
  }

  /** Record a message we sent. */
  sent(m: Message, now?: number): SendAction {
    if (now !== undefined) this.lastSentAt = now;
    switch (m.type) {
      case 'choke': {
        const was = this.amChoking;
        this.amChoking = true;
        if (was) return 'none';
        return this.features.fast ? 'reject-their-requests' : 'discard-their-requests';
      }
      case 'unchoke':
        this.amChoking = false;
        return 'none';
      case 'interested':
        this.amInterested = true;
        return 'none';
      case 'not-interested':
        this.amInterested = false;
        return 'none';
      case 'allowed-fast':
        this.allowedFastOut.add(m.index);
        return 'none';
      default:
        return 'none';
    }
  }

  /** Whether we may send a request for a block of `index` now. */
  canRequest(index: number): boolean {
    return !this.peerChoking || (this.features.fast && this.allowedFastIn.has(index));
  }

  /** Bytes arrived that are not a complete message yet (a slow piece still counts as life). */
  touchReceived(now: number): void {
    this.lastReceivedAt = now;
  }

  /** The peer has sent nothing for `timeoutMs`: drop it. */
  isSilent(now: number, timeoutMs = DEFAULT_IDLE_TIMEOUT_MS): boolean {
    return now - this.lastReceivedAt >= timeoutMs;
  }

  /** We have sent nothing for `intervalMs`: send a keep-alive so the peer does not drop us. */
  keepAliveDue(now: number, intervalMs = DEFAULT_KEEP_ALIVE_MS): boolean {
    return now - this.lastSentAt >= intervalMs;
  }
}
