/**
 * Types for the parts of `bittorrent-dht` (v11, webtorrent) that src/core/dht uses. The package
 * ships none. Besides its public API this declares the few internals the wrapper reaches into
 * (`_rpc`, `_onquery`, `_addPeer`): the public API has no way to observe a lookup's queries, to
 * answer BEP 32 `want`, or to store IPv6 peers. They are pinned by the exact dependency version
 * and exercised by the DHT tests, so an upgrade that moves them fails there, not in the field.
 */
declare module 'bittorrent-dht' {
  import type { EventEmitter } from 'node:events';
  import type { Socket } from 'node:dgram';

  /** A routing-table contact as k-bucket stores it. */
  export interface DhtContact {
    id: Buffer;
    host: string;
    port: number;
    seen?: number;
    distance?: number;
    token?: Buffer | null;
  }

  /** The k-bucket routing table (k-bucket v5). */
  export interface KBucket {
    add(contact: DhtContact): unknown;
    get(id: Uint8Array): DhtContact | null;
    remove(id: Uint8Array): unknown;
    closest(id: Uint8Array, n?: number): DhtContact[];
    count(): number;
    toArray(): DhtContact[];
  }

  /** The k-rpc-socket under k-rpc: transaction ids, timeouts, (de)coding. */
  export interface KrpcSocket extends EventEmitter {
    socket: Socket;
    inflight: number;
    timeout: number;
    /** Sends a query; returns its transaction id (undefined when the host needed DNS). */
    query(
      peer: { host: string; port: number; id?: Buffer },
      message: { q: string; a: Record<string, unknown> },
      cb: (err: (Error & { code?: unknown }) | null, res: Record<string, unknown> | null, peer: { address?: string; host?: string; port: number }) => void,
    ): number | undefined;
    cancel(tid: number, err?: Error): void;
    /** Encodes and sends one message (queries, responses, errors all pass here). */
    send(peer: { address?: string; host?: string; port: number }, message: Record<string, unknown>, cb?: () => void): void;
  }

  /** k-rpc: the routing table plus iterative helpers. */
  export interface Krpc extends EventEmitter {
    id: Buffer;
    k: number;
    nodes: KBucket;
    socket: KrpcSocket;
    response(
      peer: { address?: string; host?: string; port: number },
      query: Record<string, unknown>,
      response: Record<string, unknown>,
      nodes?: DhtContact[] | null,
      cb?: () => void,
    ): void;
    error(peer: { address?: string; host?: string; port: number }, query: Record<string, unknown>, error: [number, string]): void;
    /** Adds a contact that talked to us (called for every query and response with a valid id). */
    _addNode(node: DhtContact): void;
  }

  export interface DhtOptions {
    nodeId?: Buffer | string;
    /** `false` or a list. Undefined or `true` means the public routers: never pass those. */
    bootstrap?: false | (string | { host: string; port: number })[];
    host?: string | false;
    concurrency?: number;
    k?: number;
    /** k-rpc-socket's query timeout in ms. */
    timeout?: number;
    /** The UDP socket to use (k-rpc-socket creates a udp4 socket otherwise). */
    socket?: Socket;
    maxPeers?: number;
    maxAge?: number;
    maxTables?: number;
    maxValues?: number;
    timeBucketOutdated?: number;
  }

  export default class DHT extends EventEmitter {
    constructor(opts?: DhtOptions);
    readonly nodeId: Buffer;
    listening: boolean;
    destroyed: boolean;
    nodes: KBucket;
    _rpc: Krpc;
    _onquery(query: Record<string, unknown>, peer: { address: string; port: number }): void;
    _addPeer(peer: { host: string; port: number }, infoHash: Buffer, from: { host: string; port: number }): void;
    _peers: { add(key: string, value: Buffer): void; get(key: string, n?: number): Buffer[] };
    listen(port?: number, address?: string, cb?: () => void): void;
    address(): { address: string; family: string; port: number };
    addNode(node: { id?: Buffer | string; host: string; port: number }): void;
    removeNode(id: Buffer | string): void;
    destroy(cb?: () => void): void;
  }
}
