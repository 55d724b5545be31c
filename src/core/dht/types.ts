/**
 * The public shapes of src/core/dht: node references and the typed events a lookup yields
 * (BEP 5 get_peers, BEP 32 IPv6, BEP 33 scrape). Every field is JSON-ready (ids and hashes as
 * hex), so a command can print events as NDJSON without translation.
 */
import type { IpFamily } from './compact.js';

/** A DHT node as a lookup saw it. `id` is null for a bootstrap node that has not answered yet. */
export interface NodeRef {
  host: string;
  port: number;
  family: IpFamily;
  id: string | null;
}

export interface PeerRef {
  host: string;
  port: number;
  family: IpFamily;
}

/** A get_peers (or find_node) query was sent to `node`. */
export interface QueryEvent {
  type: 'query';
  node: NodeRef;
  /** Milliseconds since the lookup started. */
  atMs: number;
}

/** `node` answered. */
export interface ResponseEvent {
  type: 'response';
  node: NodeRef;
  atMs: number;
  rttMs: number;
  /** Closer nodes it returned (after limits and address checks). */
  nodes: number;
  /** Peers it returned (new and already known). */
  values: number;
  /** It gave a write token, so it accepts our announce (BEP 5). */
  token: boolean;
  /** It returned BEP 33 bloom filters. */
  scrape: boolean;
  /** Fields that were malformed and ignored. */
  problems?: string[];
}

/** A query to `node` failed. */
export interface FailureEvent {
  type: 'failure';
  node: NodeRef;
  atMs: number;
  reason: 'timeout' | 'error-reply' | 'send-failed' | 'unexpected-id';
  message: string;
}

/** A peer not seen before in this lookup, and the node that gave it. */
export interface PeerEvent {
  type: 'peer';
  peer: PeerRef;
  from: NodeRef;
  atMs: number;
}

/** BEP 33 estimate from the union of the bloom filters the nodes returned. */
export interface ScrapeEstimate {
  seeds: number;
  /** Peers that are not seeds (BEP 33 "BFpe"). */
  peers: number;
  /** Nodes whose filters went into the estimate. */
  nodes: number;
}

export type LookupEndReason =
  /** The k closest nodes have all answered: the lookup converged. */
  | 'complete'
  /** The lookup's time budget ran out. */
  | 'timeout'
  /** `maxPeers` distinct peers were found. */
  | 'max-peers'
  /** `maxQueried` queries were sent before convergence. */
  | 'max-queried'
  /** No node answered: nobody to ask (empty routing table, no bootstrap node) or all failed. */
  | 'no-nodes';

export interface DoneEvent {
  type: 'done';
  reason: LookupEndReason;
  infoHash: string;
  /** Queries sent (the BEP 33 scrape round included). */
  queried: number;
  /** Replies received. */
  answered: number;
  /** Queries that timed out or were refused. */
  failed: number;
  peers: number;
  elapsedMs: number;
  /** Milliseconds from the start to the first peer, null when none was found. */
  firstPeerMs: number | null;
  /** The closest nodes that answered, nearest first (at most k). */
  closest: (NodeRef & { token: boolean })[];
  /** Present when the lookup asked for a BEP 33 scrape. */
  scrape?: ScrapeEstimate;
}

export type LookupEvent = QueryEvent | ResponseEvent | FailureEvent | PeerEvent | DoneEvent;

export interface AnnounceResult {
  infoHash: string;
  /** The port announced; 0 with `impliedPort` (the node's UDP source port, BEP 5). */
  port: number;
  impliedPort: boolean;
  /** Nodes asked (the closest that gave a token). */
  attempted: number;
  /** Nodes that acknowledged the announce. */
  accepted: number;
  failures: { node: NodeRef; message: string }[];
}

/** A routing-table entry as saved to the state file. */
export interface SavedNode {
  id: string;
  host: string;
  port: number;
}
