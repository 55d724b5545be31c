/**
 * Web seeds as block sources beside peers (BEP 19 `url-list`, and BEP 17 `httpseeds`, the
 * script-style HTTP seeds asked by info hash and piece): each HTTP server (../webseed/) is
 * one more sender in the assembler's request scheduler, so a block from a web seed walks the same
 * path as a block from a peer — scheduler → assembler → verifier → storage — and the hash check,
 * the endgame and the bad-data tracing (smart-ban.ts, TrustLedger) apply to it unchanged.
 *
 * The policy, and why:
 * - **Fill in what peers do not provide.** A web seed asks the scheduler for blocks as a peer
 *   holding every piece would, but (a) its request is at most one piece's worth, a bounded number
 *   of times in flight (`maxPiecesInFlight`, default 4) per server, and (b) the picker's rarest-
 *   first order puts pieces no connected peer has first. Blocks peers already requested stay
 *   theirs until the endgame; with no peer (or an idle swarm) the web seed takes everything.
 * - **Whole pieces over one range request.** The blocks taken are grouped into contiguous runs and
 *   each run is one `fetchRange` (a piece that spans files becomes several ranges inside WebSeed).
 *   A run that ends on a piece boundary is extended with the next piece while it is free, up to
 *   `maxRunBytes`: fewer, larger HTTP requests (a sequential download, or a web seed alone).
 * - **Failure releases the reservation.** A run that fails (error, file missing on the server,
 *   the seed dropped) gives its blocks back to the scheduler at once, for peers or another seed.
 * - **Bad data strikes the server.** A piece a web seed alone sent that fails its check, or one the
 *   smart-ban later proves it lied about, is reported to it (`reportBadPiece`, once per failure);
 *   after a few strikes it drops itself (webseed.ts). Its bytes are never kept: the assembler
 *   throws a failed piece away.
 * - **Endgame** comes from the scheduler: once every missing block is requested, peers may ask for
 *   blocks a web seed is fetching and a web seed may fetch blocks peers were asked for; the first
 *   copy wins, the other is counted as waste (a peer's copy is cancelled).
 *
 * The coordinator creates this once the torrent is known, calls `pump()` from its timer, and
 * forwards the servers' events (`webseed-*`). Bytes are counted into the session's traffic (the
 * stall timer sees them as data) and apart, in `downloaded`.
 */
import { isBtError } from '../errors.js';
import { WebSeed, type WebSeedEvent, type WebSeedLayout } from '../webseed/index.js';
import type { BlockRequest } from '../pieces/blocks.js';
import type { PieceAssembler } from './assembler.js';
import { RateMeter } from './rate.js';
import type { Traffic } from './traffic.js';

/** A web seed as the scheduler and the assembler see it: one more sender of blocks. */
export interface WebSeedSender {
  readonly kind: 'webseed';
  /** The server's URL: how events and `piece-verified.from` name it. */
  readonly key: string;
  readonly protocol: WebSeedProtocol;
  readonly seed: WebSeed;
  readonly down: RateMeter;
  readonly up: RateMeter;
  lastDataAt: number;
  /** Payload bytes accepted from it. */
  downloaded: number;
  /** Runs being fetched now. */
  inFlight: number;
  /** Pieces reported bad to it (see `liar`). */
  readonly struck: Set<number>;
}

/** What WebSeed needs of a torrent: its name, whether it has a `files` list, and the files. */
export function webSeedLayout(meta: { name: string; multiFile?: boolean; files: WebSeedLayout['files'] }): WebSeedLayout {
  return { name: meta.name, multiFile: meta.multiFile ?? meta.files.length > 1, files: meta.files };
}

/** Whether a block sender is a web seed (the others are peer connections). */
export function isWebSeedSender(sender: unknown): sender is WebSeedSender {
  return typeof sender === 'object' && sender !== null && (sender as { kind?: unknown }).kind === 'webseed';
}

/** `bep19`: a `url-list` web seed (files over Range requests); `bep17`: an `httpseeds` script. */
export type WebSeedProtocol = 'bep19' | 'bep17';

export interface WebSeedSourceOptions {
  /** BEP 19 web seeds. */
  urls: readonly string[];
  /** BEP 17 HTTP seeds; used only with `infoHash`. */
  httpSeeds?: readonly string[];
  /** The torrent's v1 info hash (BEP 17 requests name it); null for a v2-only torrent. */
  infoHash?: Uint8Array | null;
  layout: WebSeedLayout;
  pieceLength: number;
  totalLength: number;
  /** Runs (each at most `maxRunBytes`) fetched at once from one server. Default 4. */
  maxPiecesInFlight?: number;
  /** Longest single range request when consecutive free pieces can be joined. Default 4 MiB (at least one piece). */
  maxRunBytes?: number;
  /** Per-request idle timeout of the HTTP client. Default 20 s. */
  idleTimeoutMs?: number;
  userAgent?: string;
  /** Test hook: options passed to each WebSeed (backoff, strikes). */
  seedOptions?: Partial<ConstructorParameters<typeof WebSeed>[0]>;
}

export interface WebSeedSourceDeps<P> {
  assembler: PieceAssembler<P | WebSeedSender>;
  traffic: Traffic;
  now(): number;
  emit(ev: WebSeedEvent | { type: 'webseed-added'; url: string; protocol: WebSeedProtocol }): void;
  /** Blocks went back to the scheduler: peers may take them now. */
  released(): void;
  /** Send `cancel` for a block a peer was asked for and a web seed delivered first (endgame). */
  cancel(peer: P, request: BlockRequest): void;
  /** Not a server's failure: a fault of ours. */
  fatal(err: unknown): void;
  signal: AbortSignal;
}

export class WebSeedSources<P> {
  private readonly senders: WebSeedSender[] = [];
  private readonly maxInFlight: number;
  private readonly maxRunBytes: number;
  private readonly pieceLength: number;
  private waiting = false;
  private stopped = false;

  constructor(
    options: WebSeedSourceOptions,
    private readonly deps: WebSeedSourceDeps<P>,
  ) {
    this.maxInFlight = Math.max(1, options.maxPiecesInFlight ?? 4);
    this.pieceLength = options.pieceLength;
    this.maxRunBytes = Math.max(options.pieceLength, options.maxRunBytes ?? 4 * 1024 * 1024);
    const t0 = deps.now();
    const bep17 = options.infoHash ? [...new Set(options.httpSeeds ?? [])].map((url) => ({ url, bep17: { infoHash: options.infoHash! } })) : [];
    for (const { url, bep17: b } of [...[...new Set(options.urls)].map((url) => ({ url, bep17: undefined })), ...bep17]) {
      const seed = new WebSeed({
        url,
        ...(b ? { bep17: b } : {}),
        layout: options.layout,
        pieceLength: options.pieceLength,
        totalLength: options.totalLength,
        maxInFlight: this.maxInFlight,
        idleTimeoutMs: options.idleTimeoutMs ?? 20_000,
        ...(options.userAgent ? { userAgent: options.userAgent } : {}),
        ...options.seedOptions,
        onEvent: (e) => deps.emit(e),
      });
      this.senders.push({ kind: 'webseed', key: seed.url, protocol: b ? 'bep17' : 'bep19', seed, down: new RateMeter(t0), up: new RateMeter(t0), lastDataAt: t0, downloaded: 0, inFlight: 0, struck: new Set() });
    }
  }

  /** Payload bytes accepted from every web seed. */
  get downloaded(): number {
    let n = 0;
    for (const s of this.senders) n += s.downloaded;
    return n;
  }

  /** Web seeds still in use (not dropped). */
  get active(): number {
    return this.senders.filter((s) => s.seed.state !== 'dropped' && s.seed.state !== 'closed').length;
  }

  /** Say which servers are used, then start fetching. */
  start(): void {
    for (const s of this.senders) this.deps.emit({ type: 'webseed-added', url: s.key, protocol: s.protocol });
    this.pump();
  }

  /**
   * Start runs on every server with a free slot: called at start, from the session's timer, when a
   * run ends and when a piece failed. Waits (once) for the assembler's backpressure and the
   * download limit before taking more.
   */
  pump(): void {
    if (this.stopped || this.waiting || this.deps.signal.aborted) return;
    const hold = this.deps.traffic.beforeRead(this.deps.assembler.backpressure(), this.deps.signal);
    if (hold) {
      this.waiting = true;
      void hold.then(() => {
        this.waiting = false;
        this.pump();
      });
      return;
    }
    for (const s of this.senders) {
      while (s.inFlight < this.maxInFlight && usable(s)) {
        const run = this.take(s);
        if (run.length === 0) break;
        s.inFlight++;
        void this.fetch(s, run).finally(() => {
          s.inFlight--;
          this.pump();
        });
      }
    }
  }

  /**
   * The assembler says `sender` sent data proven bad for piece `index`: at the failure (it alone
   * sent the piece, or the trust ledger gave up on it) — a strike each time, so a server that keeps
   * sending the same bad piece is dropped — or when the piece later passed and the smart-ban found
   * its blocks differ: no second strike for a failure already counted.
   */
  liar(sender: WebSeedSender, index: number): void {
    const settled = this.deps.assembler.picker.hasPiece(index);
    if (settled && sender.struck.has(index)) return;
    sender.struck.add(index);
    sender.seed.reportBadPiece(index);
    if (!usable(sender)) this.dropped(sender);
  }

  /** Stop every server: runs in flight reject and give their blocks back. */
  stop(): void {
    this.stopped = true;
    for (const s of this.senders) s.seed.close();
  }

  /**
   * Blocks for one run: at most one piece's worth from the scheduler (rarest-first, pieces this
   * server can serve), then — while the run ends on a piece boundary and stays under
   * `maxRunBytes` — the next piece if it is free.
   */
  private take(s: WebSeedSender): BlockRequest[] {
    const a = this.deps.assembler;
    const blocks = a.geometry.blocksPerPiece;
    const now = this.deps.now();
    const ok = (i: number) => s.seed.hasPiece(i) && a.mayRequest(i, s);
    let out = a.request(s, 'all', blocks, { now, canRequest: ok });
    if (out.length === 0) return out;
    // A piece's worth of blocks is not always one piece: the short last piece, or the tail of one
    // peers began, leaves room for the head of another. Keep the first piece only (the rest goes
    // back): a half piece would end this run, and the other half would start the next one with
    // half of yet another piece — every later run two half pieces, two requests where one does.
    const first = out[0]!.index;
    if (out.some((r) => r.index !== first)) {
      for (const r of out) if (r.index !== first) a.scheduler.release(s, r);
      out = out.filter((r) => r.index === first);
    }
    // Extend a run that ends exactly at the end of a piece with the following pieces.
    let bytes = out.reduce((n, r) => n + r.length, 0);
    for (;;) {
      const last = out[out.length - 1]!;
      const next = last.index + 1;
      if (last.begin + last.length !== a.geometry.pieceSize(last.index) || next >= a.geometry.pieceCount) break;
      if (bytes + a.geometry.pieceSize(next) > this.maxRunBytes) break;
      const more = a.request(s, 'all', blocks, { now, canRequest: (i) => i === next && ok(i) });
      // Only a whole, fresh piece joins the run (a piece peers started stays theirs).
      if (more.length === 0) break;
      out.push(...more);
      bytes += more.reduce((n, r) => n + r.length, 0);
      if (more.length !== a.geometry.blockCount(next) || more[0]!.begin !== 0) break;
    }
    return out;
  }

  /**
   * Fetch `run`'s blocks, grouped into contiguous ranges, and hand them to the assembler. The
   * body is copied once, from the socket's chunks straight into the buffers the pieces will live
   * in: a whole piece into a buffer of the assembler's (which it then adopts, `receivePiece`),
   * the blocks of a piece begun elsewhere into a buffer of their own (then block by block).
   * Each piece goes to the assembler as soon as its last byte is in, not at the end of the
   * range: its hash and write overlap the rest of the response, so a long range costs no latency.
   */
  private async fetch(s: WebSeedSender, run: BlockRequest[]): Promise<void> {
    const pending = new Set(run);
    try {
      for (const range of contiguous(run, this.pieceLength)) {
        const segments = this.segments(range);
        const deliver = (seg: Segment) => {
          seg.delivered = true;
          if (this.stopped) {
            if (seg.whole) this.deps.assembler.releaseBuffer(seg.data!);
            return;
          }
          for (const r of seg.requests) pending.delete(r);
          this.deliver(s, seg);
        };
        // The segment holding range offset `offset`: from the last one found (chunks come in
        // order), or from the start again (a part tried again starts over at its own offset).
        let k = 0;
        const segmentAt = (offset: number): Segment => {
          if (offset < segments[k]!.at) k = 0;
          while (offset >= segments[k]!.at + segments[k]!.length) k++;
          return segments[k]!;
        };
        const bufferOf = (seg: Segment): Uint8Array =>
          // The buffer is taken when the piece's first byte comes: memory follows the data, not the request.
          (seg.data ??= seg.whole ? this.deps.assembler.pieceBuffer(seg.index) : new Uint8Array(seg.length));
        try {
          await s.seed.fetchRange(range.start, range.length, {
            signal: this.deps.signal,
            // The socket reads straight into the piece's buffer (never into one handed over).
            target: (offset, max) => {
              const seg = segmentAt(offset);
              if (seg.delivered) return null;
              const into = offset - seg.at;
              return bufferOf(seg).subarray(into, into + Math.min(max, seg.length - into));
            },
            sink: (offset, bytes) => {
              // Bytes of a piece already handed over are skipped (a part tried again): that
              // buffer is the assembler's now, and they were had.
              let pos = 0;
              while (pos < bytes.length) {
                const seg = segmentAt(offset + pos);
                const into = offset + pos - seg.at;
                const n = Math.min(bytes.length - pos, seg.length - into);
                if (!seg.delivered) {
                  const data = bufferOf(seg);
                  // Read there by the socket already (`target`): nothing to copy.
                  const inPlace = bytes.buffer === data.buffer && bytes.byteOffset + pos === data.byteOffset + into;
                  if (!inPlace) data.set(pos === 0 && n === bytes.length ? bytes : bytes.subarray(pos, pos + n), into);
                  // Parts arrive in stream order, so the furthest byte written says how much is in.
                  seg.filled = Math.max(seg.filled, into + n);
                  if (seg.filled === seg.length) deliver(seg);
                }
                pos += n;
              }
            },
          });
        } catch (err) {
          for (const seg of segments) if (seg.whole && !seg.delivered && seg.data) this.deps.assembler.releaseBuffer(seg.data);
          throw err;
        }
        if (this.stopped) return;
      }
    } catch (err) {
      // WebSeed has already said why (webseed-error, -file-unavailable, -dropped events); an
      // abort is the session stopping. Anything else is a bug here, not a server's fault.
      if (!isBtError(err)) this.deps.fatal(err);
      else if (!usable(s)) this.dropped(s);
    } finally {
      if (pending.size > 0 && !this.stopped) {
        for (const r of pending) this.deps.assembler.scheduler.release(s, r);
        this.deps.released();
      }
    }
  }

  /** A range cut at piece boundaries: a whole piece gets an assembler buffer, a part of one a buffer of its own. */
  private segments(range: ReturnType<typeof contiguous>[number]): Segment[] {
    const a = this.deps.assembler;
    const out: Segment[] = [];
    for (const r of range.requests) {
      const at = r.index * this.pieceLength + r.begin - range.start;
      const last = out[out.length - 1];
      if (last && last.index === r.index) last.requests.push(r);
      else out.push({ index: r.index, at, length: 0, data: null, whole: false, requests: [r], filled: 0, delivered: false });
    }
    for (const seg of out) {
      seg.length = seg.requests.reduce((n, r) => n + r.length, 0);
      seg.whole = seg.requests[0]!.begin === 0 && seg.length === a.geometry.pieceSize(seg.index);
    }
    return out;
  }

  private deliver(s: WebSeedSender, seg: Segment): void {
    const a = this.deps.assembler;
    let accepted = 0;
    const cancels: { peer: P | WebSeedSender; request: BlockRequest }[] = [];
    const data = seg.data!;
    if (seg.whole) {
      const res = a.receivePiece(s, seg.index, data);
      accepted = res.accepted;
      cancels.push(...res.cancels);
    } else {
      const base = seg.requests[0]!.begin;
      for (const r of seg.requests) {
        const res = a.receive(s, r.index, r.begin, data.subarray(r.begin - base, r.begin - base + r.length));
        if (res.status === 'accepted') accepted += r.length;
        cancels.push(...res.cancels);
      }
    }
    if (accepted > 0) {
      s.downloaded += accepted;
      this.deps.traffic.received(s, accepted);
    }
    for (const c of cancels) if (!isWebSeedSender(c.peer)) this.deps.cancel(c.peer, c.request);
  }

  /**
   * A server is gone: whatever it still held goes back to the scheduler, and a piece under
   * suspicion it was the one sender of (smart-ban parole) is free for the next (else no peer may
   * ever ask for it).
   */
  private dropped(s: WebSeedSender): void {
    this.deps.assembler.peerGone(s);
    this.deps.released();
  }
}

/** The part of a range that falls in one piece, and the buffer its bytes are copied into. */
interface Segment {
  index: number;
  /** Offset of its first byte in the range. */
  at: number;
  length: number;
  /** Where its bytes go: taken at the first byte (an assembler buffer when `whole`). */
  data: Uint8Array | null;
  /** It covers the whole piece: `data` is an assembler buffer for `receivePiece`. */
  whole: boolean;
  requests: BlockRequest[];
  /** Bytes of `data` written so far (the furthest offset reached). */
  filled: number;
  /** Handed to the assembler: `data` is no longer ours. */
  delivered: boolean;
}

function usable(s: WebSeedSender): boolean {
  const st = s.seed.state;
  return st === 'ready' || st === 'backoff';
}

/** Requests sorted by offset in the piece stream, joined where one ends where the next begins. */
export function contiguous(run: readonly BlockRequest[], pieceLength: number): { start: number; length: number; requests: BlockRequest[] }[] {
  const at = (r: BlockRequest) => r.index * pieceLength + r.begin;
  const sorted = [...run].sort((x, y) => at(x) - at(y));
  const out: { start: number; length: number; requests: BlockRequest[] }[] = [];
  for (const r of sorted) {
    const cur = out[out.length - 1];
    if (cur && cur.start + cur.length === at(r)) {
      cur.length += r.length;
      cur.requests.push(r);
    } else {
      out.push({ start: at(r), length: r.length, requests: [r] });
    }
  }
  return out;
}
