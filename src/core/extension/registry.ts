/**
 * BEP 10 extension plug-ins and their message ids on one connection.
 *
 * BEP 10 has each side choose the ids it wants to *receive* each extension as (its handshake's
 * `m`), so one extension has two ids per connection: ours (assigned here, 1.. in registration
 * order, the same on every connection) for dispatching what arrives, and the peer's (read from its
 * handshake, possibly changed or turned off by a later one) for what we send. The registry keeps
 * both tables so a plug-in only ever says "send this payload", never picks an id.
 *
 * Plug-ins are created per connection (their state, such as BEP 9 requests in flight, belongs to
 * one peer) by factories given the connection's `ExtensionContext`. The registry does no I/O: it
 * hands outgoing payloads to the `send` function the session passes in.
 *
 * The next plug-ins are meant to slot in without changes here:
 * - BEP 9 `ut_metadata`: `handshakeFields` adds `metadata_size` when we have the info dict;
 *   `onExtendedHandshake` reads the peer's `metadataSize` and whether it has `ut_metadata`;
 *   `onMessage` decodes request/data/reject messages (a bencoded dict followed by the piece bytes).
 * - BEP 11 `ut_pex`: `onMessage` decodes added/dropped peer lists and the session reads them from
 *   the plug-in; it sends its own messages through `ctx.send` on the session's timer.
 */
import type { BEncodable } from '../bencode/index.js';
import { BtError } from '../errors.js';
import type { Handshake } from '../wire/handshake.js';
import { type ExtendedHandshake, type ExtendedHandshakeInit, decodeExtendedHandshake, encodeExtendedHandshake } from './handshake.js';

/** The extended message id of the BEP 10 handshake itself. */
export const HANDSHAKE_ID = 0;

/** What a plug-in may do on its connection. */
export interface ExtensionContext {
  /**
   * Send one message of this extension (the payload after the extended id). Returns false, and
   * sends nothing, when the peer has not announced the extension or has turned it off.
   */
  send(payload: Uint8Array): boolean;
  /** Whether the peer currently accepts this extension's messages. */
  peerSupports(): boolean;
}

/**
 * One extension on one connection. Every hook is optional; a hook may throw a BtError (category
 * network) to have the session drop the peer, e.g. for a malformed message.
 */
export interface ExtensionPlugin {
  /** The name in `m`, e.g. `ut_metadata` (BEP 9) or `ut_pex` (BEP 11). ASCII. */
  readonly name: string;
  /** The peer's BEP 3 handshake (reserved bits, infohash, peer id); called once, before any extended message. */
  onHandshake?(handshake: Handshake): void;
  /** Keys this plug-in adds to our extended handshake, e.g. `{ metadata_size: 31337 }`; called each time we build one. */
  handshakeFields?(): Readonly<Record<string, BEncodable>>;
  /**
   * The peer's extended handshake, each time one arrives (BEP 10 allows updates). `supported`:
   * the peer now accepts this extension's messages.
   */
  onExtendedHandshake?(handshake: ExtendedHandshake, supported: boolean): void;
  /** A message of this extension from the peer: the payload after the extended id. */
  onMessage?(payload: Uint8Array): void;
}

/** Creates a plug-in for one connection. */
export type ExtensionFactory = (ctx: ExtensionContext) => ExtensionPlugin;

export interface RegistryOptions {
  /** Sends one extended message: `id` is the peer's id for it, `payload` what follows the id. */
  send(id: number, payload: Uint8Array): void;
}

/** What `receive` did with an extended message. */
export type ReceiveResult = { kind: 'handshake'; handshake: ExtendedHandshake } | { kind: 'message'; name: string };

export class ExtensionRegistry {
  /** Our id for each extension name (binary-string key = ASCII name). */
  readonly localIds = new Map<string, number>();
  /** The peer's id for each extension name it announced with a non-zero id. */
  readonly remoteIds = new Map<string, number>();
  private readonly byLocalId = new Map<number, ExtensionPlugin>();
  private readonly plugins: ExtensionPlugin[] = [];
  /** The peer's latest extended handshake as received (`remoteIds` is the merged view of every `m`). */
  peerHandshake: ExtendedHandshake | undefined;

  constructor(
    factories: readonly ExtensionFactory[],
    private readonly options: RegistryOptions,
  ) {
    if (factories.length > 255) throw new RangeError('at most 255 extensions fit in one-byte ids');
    for (const factory of factories) {
      let name = '';
      const plugin = factory({
        send: (payload) => this.sendAs(name, payload),
        peerSupports: () => this.remoteIds.has(name),
      });
      name = plugin.name;
      if (this.localIds.has(name)) throw new RangeError(`extension ${name} registered twice`);
      const id = this.plugins.length + 1;
      this.plugins.push(plugin);
      this.localIds.set(name, id);
      this.byLocalId.set(id, plugin);
    }
  }

  get(name: string): ExtensionPlugin | undefined {
    const id = this.localIds.get(name);
    return id === undefined ? undefined : this.byLocalId.get(id);
  }

  peerSupports(name: string): boolean {
    return this.remoteIds.has(name);
  }

  private sendAs(name: string, payload: Uint8Array): boolean {
    const id = this.remoteIds.get(name);
    if (id === undefined) return false;
    this.options.send(id, payload);
    return true;
  }

  /** Our extended handshake payload: `m` from our ids, plus every plug-in's fields, plus `init`. */
  ourHandshake(init: Omit<ExtendedHandshakeInit, 'm'> = {}): Buffer {
    const extra: Record<string, BEncodable> = {};
    for (const p of this.plugins) Object.assign(extra, p.handshakeFields?.() ?? {});
    Object.assign(extra, init.extra ?? {});
    return encodeExtendedHandshake({ ...init, m: this.localIds, extra });
  }

  /** Pass the peer's BEP 3 handshake to every plug-in. */
  onHandshake(handshake: Handshake): void {
    for (const p of this.plugins) p.onHandshake?.(handshake);
  }

  /**
   * Handle a received extended message (`id` as on the wire). Id 0 is the peer's handshake: its
   * `m` updates the peer's ids (0 removes one; names it omits keep their id, per BEP 10's rule
   * for later handshakes) and every plug-in hears about it. Any other id must be one we assigned.
   * Throws EXT_BAD_HANDSHAKE or EXT_UNKNOWN_MESSAGE (category network), or what a plug-in throws.
   */
  receive(id: number, payload: Uint8Array): ReceiveResult {
    if (id === HANDSHAKE_ID) {
      const handshake = decodeExtendedHandshake(payload);
      for (const [name, remote] of handshake.m) {
        if (remote === 0) this.remoteIds.delete(name);
        else this.remoteIds.set(name, remote);
      }
      this.peerHandshake = handshake;
      for (const p of this.plugins) p.onExtendedHandshake?.(handshake, this.remoteIds.has(p.name));
      return { kind: 'handshake', handshake };
    }
    const plugin = this.byLocalId.get(id);
    if (!plugin) {
      throw new BtError('EXT_UNKNOWN_MESSAGE', 'network', `extended message id ${id} was never announced`, { detail: { id } });
    }
    plugin.onMessage?.(payload);
    return { kind: 'message', name: plugin.name };
  }
}
