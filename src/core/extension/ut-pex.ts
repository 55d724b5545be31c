/**
 * BEP 11, "Peer Exchange (PEX)" (`ut_pex`): peers tell each other which peers they are connected
 * to, so a swarm keeps learning addresses without asking a tracker or the DHT again.
 *
 * A message is the BEP 10 payload of `ut_pex`, a bencoded dictionary of compact peer lists:
 * `added` / `dropped` (IPv4, 6 bytes each: address, port, big-endian, as in BEP 23) and `added6` /
 * `dropped6` (IPv6, 18 bytes each, as in BEP 7), with one flags byte per added peer in `added.f`
 * / `added6.f`. (BEP 11's table calls `dropped` "IPv6 compact format": a slip, every client
 * writes 6-byte entries there.) btkit merges the two families into one `PexMessage`.
 *
 * Three layers, from pure to per connection:
 * - the codec `encodePex` / `decodePex` (pure);
 * - `PexSender`: what we told one peer, so each message carries only the difference;
 * - `utPex(hooks)`: the plug-in of one connection (an ExtensionFactory for the registry).
 *
 * The limits, from BEP 11 and the conventions µTorrent and Azureus agreed on (the "PEX
 * conventions" BEP 11 follows: theory.org, BitTorrentPeerExchangeConventions):
 * - at most one message a minute to a peer;
 * - at most 50 added and 50 dropped peers in one message, IPv4 and IPv6 counted together;
 * - a peer is listed as added once its connection is established, and not again until it was
 *   listed as dropped (BEP 11), which is what `PexSender`'s record of what it told gives.
 *
 * Received messages are bounded the other way: ragged lists are refused (a cut entry would be a
 * half-read address), at most `MAX_PEX_RECEIVED` entries of each merged list are read (a few
 * times what any client sends; the rest is ignored), and a peer sending faster than BEP 11
 * allows has the excess ignored, not the connection dropped (the conventions ask for tolerance
 * to a message "just under a minute" after the last).
 */
import { type BDict, type BValue, decode, encode, isBytes, isDict } from '../bencode/index.js';
import { BtError } from '../errors.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../net/address.js';
import type { ExtensionContext, ExtensionFactory, ExtensionPlugin } from './registry.js';

/** The extension's name in the BEP 10 `m` dictionary. */
export const UT_PEX = 'ut_pex';

/** BEP 11 flag bits of an added peer (one byte each in `added.f` / `added6.f`). */
export const PEX_FLAGS = {
  /** Prefers encryption (the `e` field of its extended handshake). */
  encryption: 0x01,
  /** A seed, or upload only (BEP 21). */
  seed: 0x02,
  /** Supports uTP (BEP 29). */
  utp: 0x04,
  /** Announced `ut_holepunch` (BEP 55) in its extended handshake. */
  holepunch: 0x08,
  /** We connected to it: it accepts incoming connections. */
  reachable: 0x10,
} as const;

/** BEP 11 / PEX conventions: no more than one message a minute to one peer. */
export const PEX_INTERVAL_MS = 60_000;
/** PEX conventions: at most 50 added peers in one message, both families together. */
export const PEX_MAX_ADDED = 50;
/** PEX conventions: at most 50 dropped peers in one message, both families together. */
export const PEX_MAX_DROPPED = 50;
/**
 * The most entries read from one received merged list (added, dropped): several times the 50 the
 * conventions allow (libtorrent sends up to 100), so honest peers lose nothing; beyond, ignored.
 */
export const MAX_PEX_RECEIVED = 300;

const V4 = 6;
const V6 = 18;

export interface PexPeer {
  host: string;
  port: number;
  /** BEP 11 flags byte (`PEX_FLAGS`); 0 when the sender gave none. */
  flags: number;
}

export interface PexAddress {
  host: string;
  port: number;
}

/** One ut_pex message, IPv4 and IPv6 merged (IPv4 entries first, each in wire order). */
export interface PexMessage {
  added: PexPeer[];
  dropped: PexAddress[];
}

const badPex = (message: string, detail?: Record<string, unknown>, cause?: unknown) =>
  new BtError('EXT_BAD_PEX', 'network', `bad ut_pex message: ${message}`, { detail, cause });

/**
 * The payload of a ut_pex message. Peers whose host is not an IP literal (a hostname cannot be
 * written in compact form) are left out. Every key is written, empty lists too: some clients
 * read `added` without checking it is there. Throws RangeError for a port outside 0..65535.
 */
export function encodePex(m: PexMessage): Uint8Array {
  const added4: PexPeer[] = [];
  const added6: PexPeer[] = [];
  const dropped4: PexAddress[] = [];
  const dropped6: PexAddress[] = [];
  for (const p of m.added) {
    if (parseIPv4(p.host)) added4.push(p);
    else if (parseIPv6(p.host)) added6.push(p);
  }
  for (const p of m.dropped) {
    if (parseIPv4(p.host)) dropped4.push(p);
    else if (parseIPv6(p.host)) dropped6.push(p);
  }
  const flags = (list: PexPeer[]) => Uint8Array.from(list, (p) => p.flags & 0xff);
  return encode(
    new Map<string, Uint8Array>([
      ['added', compact(added4, 4)],
      ['added.f', flags(added4)],
      ['added6', compact(added6, 6)],
      ['added6.f', flags(added6)],
      ['dropped', compact(dropped4, 4)],
      ['dropped6', compact(dropped6, 6)],
    ]),
  );
}

function compact(list: readonly PexAddress[], family: 4 | 6): Buffer {
  const size = family === 4 ? V4 : V6;
  const out = Buffer.alloc(list.length * size);
  list.forEach((p, i) => {
    if (!Number.isInteger(p.port) || p.port < 0 || p.port > 0xffff) throw new RangeError(`ut_pex: port ${p.port} of ${p.host} is not 0..65535`);
    out.set((family === 4 ? parseIPv4(p.host) : parseIPv6(p.host))!, i * size);
    out.writeUInt16BE(p.port, i * size + size - 2);
  });
  return out;
}

/**
 * Decode a received ut_pex payload. Throws EXT_BAD_PEX (category network) when it is not a
 * bencoded dictionary, when a known key holds something other than a byte string, or when a
 * list's length is not a whole number of entries (6 bytes IPv4, 18 IPv6). Tolerated: missing
 * keys (empty), a flags string shorter than its list (the rest get flags 0) or longer (ignored),
 * unknown keys, non-canonical bencode (nothing is hashed here). At most `MAX_PEX_RECEIVED`
 * entries of the merged added list and of the merged dropped list are read.
 */
export function decodePex(payload: Uint8Array): PexMessage {
  let dict: BDict;
  try {
    const value = decode(payload, { mode: 'lenient', maxDepth: 8, maxItems: 10_000 }).value;
    if (!isDict(value)) throw badPex('not a dictionary');
    dict = value;
  } catch (e) {
    if (e instanceof BtError && e.code === 'EXT_BAD_PEX') throw e;
    throw badPex(e instanceof Error ? e.message : String(e), undefined, e);
  }
  const bytes = (key: string): Uint8Array => {
    const v: BValue | undefined = dict.get(key);
    if (v === undefined) return new Uint8Array(0);
    if (!isBytes(v)) throw badPex(`${key} is not a byte string`, { key });
    return v;
  };
  const list = (key: string, family: 4 | 6): Uint8Array => {
    const b = bytes(key);
    const size = family === 4 ? V4 : V6;
    if (b.length % size !== 0) throw badPex(`${key} is ${b.length} bytes, not a multiple of ${size}`, { key, length: b.length });
    return b;
  };
  // Every key is checked before any entry is read, so a bad key fails the whole message.
  const a4 = list('added', 4);
  const a6 = list('added6', 6);
  const d4 = list('dropped', 4);
  const d6 = list('dropped6', 6);
  const f4 = bytes('added.f');
  const f6 = bytes('added6.f');

  const added: PexPeer[] = [];
  const dropped: PexAddress[] = [];
  readEntries(a4, 4, () => added.length, (host, port, i) => added.push({ host, port, flags: f4[i] ?? 0 }));
  readEntries(a6, 6, () => added.length, (host, port, i) => added.push({ host, port, flags: f6[i] ?? 0 }));
  readEntries(d4, 4, () => dropped.length, (host, port) => dropped.push({ host, port }));
  readEntries(d6, 6, () => dropped.length, (host, port) => dropped.push({ host, port }));
  return { added, dropped };
}

/** Read compact entries while the merged list (`count()`) is under `MAX_PEX_RECEIVED`. */
function readEntries(b: Uint8Array, family: 4 | 6, count: () => number, push: (host: string, port: number, i: number) => void): void {
  const size = family === 4 ? V4 : V6;
  for (let i = 0, off = 0; off < b.length && count() < MAX_PEX_RECEIVED; i++, off += size) {
    const host = family === 4 ? formatIPv4(b, off) : formatIPv6(b, off);
    push(host, (b[off + size - 2]! << 8) | b[off + size - 1]!, i);
  }
}

/** One key per address however it is spelled (`::FFFF:1.2.3.4` and `1.2.3.4`, IPv6 compressed or not). */
function addressKey(host: string, port: number): string {
  const v4 = parseIPv4(host);
  if (v4) return `${formatIPv4(v4)}:${port}`;
  const v6 = parseIPv6(host);
  if (v6) {
    const mapped = v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
    return mapped ? `${formatIPv4(v6, 12)}:${port}` : `[${formatIPv6(v6)}]:${port}`;
  }
  return `${host}:${port}`;
}

export interface PexSenderOptions {
  /** Least time between two messages (ms, the caller's clock). Default 60 s (BEP 11). */
  intervalMs?: number;
  /** Most added peers per message. Default 50 (PEX conventions). */
  maxAdded?: number;
  /** Most dropped peers per message. Default 50 (PEX conventions). */
  maxDropped?: number;
}

/**
 * What we told one peer, to send it the difference. Per connection; pure (time is a parameter).
 *
 * `next(current, now)` is given the peers we are connected to now (the session leaves out the
 * peer this sender talks to; BEP 11 wants only established connections listed) and returns the
 * message to send, or null when it is too early (less than `intervalMs` since the last message)
 * or there is nothing to say. The first message lists the current peers (up to `maxAdded`);
 * each later one lists who appeared and who left since, up to the caps. Peers over a cap are
 * not lost: they stay untold and go in a later message. A peer told as added is not added again
 * until told as dropped, even if its flags changed (BEP 11).
 */
export class PexSender {
  private readonly intervalMs: number;
  private readonly maxAdded: number;
  private readonly maxDropped: number;
  /** Address key → what we told as added and have not dropped since. */
  private readonly told = new Map<string, PexAddress>();
  private lastSentAt: number | undefined;

  constructor(opts: PexSenderOptions = {}) {
    this.intervalMs = opts.intervalMs ?? PEX_INTERVAL_MS;
    this.maxAdded = opts.maxAdded ?? PEX_MAX_ADDED;
    this.maxDropped = opts.maxDropped ?? PEX_MAX_DROPPED;
    for (const [name, v] of [['intervalMs', this.intervalMs], ['maxAdded', this.maxAdded], ['maxDropped', this.maxDropped]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`PexSender: ${name} ${v} is not a non-negative integer`);
    }
  }

  /** How many peers this peer has been told about as added and not since as dropped. */
  get toldCount(): number {
    return this.told.size;
  }

  next(current: readonly PexPeer[], now: number): PexMessage | null {
    if (this.lastSentAt !== undefined && now - this.lastSentAt < this.intervalMs) return null;
    const present = new Map<string, PexPeer>();
    for (const p of current) {
      // A peer that cannot be written in compact form, or one nobody can dial, is not advertised.
      if (p.port < 1 || p.port > 0xffff || (!parseIPv4(p.host) && !parseIPv6(p.host))) continue;
      const key = addressKey(p.host, p.port);
      if (!present.has(key)) present.set(key, p);
    }
    const added: PexPeer[] = [];
    for (const [key, p] of present) {
      if (added.length >= this.maxAdded) break;
      if (!this.told.has(key)) added.push({ host: p.host, port: p.port, flags: p.flags & 0xff });
    }
    const dropped: PexAddress[] = [];
    for (const [key, p] of this.told) {
      if (dropped.length >= this.maxDropped) break;
      if (!present.has(key)) dropped.push({ host: p.host, port: p.port });
    }
    if (added.length === 0 && dropped.length === 0) return null;
    for (const p of added) this.told.set(addressKey(p.host, p.port), { host: p.host, port: p.port });
    for (const p of dropped) this.told.delete(addressKey(p.host, p.port));
    this.lastSentAt = now;
    return { added, dropped };
  }
}

/**
 * Received messages a peer may send in a burst before the rate applies: its first message, one
 * sent "just under a minute" later, and one spare.
 */
export const PEX_RECEIVE_BURST = 3;

/** The plug-in of one connection: a BEP 10 extension named `ut_pex`. */
export interface UtPexPlugin extends ExtensionPlugin {
  /**
   * The session's timer: send this peer the difference since our last message, when the peer
   * announced ut_pex and `PexSender` says it is time. `current`: the peers we are connected to,
   * this one left out. Returns whether a message was sent.
   */
  tick(current: readonly PexPeer[], now: number): boolean;
}

export interface UtPexHooks {
  /**
   * What the peer told us (entries with port 0, which nobody can dial, left out); called once per
   * accepted message that lists anyone. The session feeds its address book (source 'pex').
   */
  onPeers(added: readonly PexPeer[], dropped: readonly PexAddress[]): void;
}

export interface UtPexOptions extends PexSenderOptions {
  /** Messages accepted in a burst before the rate applies (default `PEX_RECEIVE_BURST`). */
  receiveBurst?: number;
}

/**
 * The ut_pex plug-in factory: one plug-in per connection. A received message is decoded (a
 * malformed one throws EXT_BAD_PEX, which has the session drop the peer) and handed to
 * `hooks.onPeers`.
 *
 * Flooding: the peer may send at most one message per half interval (30 s by default: twice the
 * BEP 11 rate, for the conventions' tolerance), after a burst of `receiveBurst`; messages beyond
 * are ignored unread, and the connection stays. The allowance grows with the clock of `tick`
 * (the plug-in has no clock of its own), so the session must tick regularly; until the first
 * tick the peer has only the burst.
 */
export function utPex(hooks: UtPexHooks, options: UtPexOptions = {}): ExtensionFactory {
  return (ctx: ExtensionContext): UtPexPlugin => {
    const sender = new PexSender(options);
    // The allowance is kept in ms of credit (a message costs `costMs`), so whole-ms clocks
    // give exact arithmetic: one message per half interval, at most `burst` saved up.
    const costMs = Math.max(1, Math.floor((options.intervalMs ?? PEX_INTERVAL_MS) / 2));
    const maxCreditMs = (options.receiveBurst ?? PEX_RECEIVE_BURST) * costMs;
    let creditMs = maxCreditMs;
    let lastTickAt: number | undefined;
    return {
      name: UT_PEX,
      onMessage(payload) {
        if (creditMs < costMs) return;
        creditMs -= costMs;
        const m = decodePex(payload);
        const added = m.added.filter((p) => p.port !== 0);
        const dropped = m.dropped.filter((p) => p.port !== 0);
        if (added.length > 0 || dropped.length > 0) hooks.onPeers(added, dropped);
      },
      tick(current, now) {
        if (lastTickAt !== undefined && now > lastTickAt) creditMs = Math.min(maxCreditMs, creditMs + (now - lastTickAt));
        if (lastTickAt === undefined || now > lastTickAt) lastTickAt = now;
        // Nothing is recorded as told while the peer cannot hear it: its first message, once it
        // announces ut_pex, lists everyone.
        if (!ctx.peerSupports()) return false;
        const m = sender.next(current, now);
        if (!m) return false;
        return ctx.send(encodePex(m));
      },
    };
  };
}
