/**
 * The mainline DHT (BEP 5) for btkit: a node on bittorrent-dht with typed lookups (BEP 32 IPv6,
 * BEP 33 scrapes), announces and a state file. See node.ts for what is ours and what the
 * library's.
 */
export { DhtNode, PUBLIC_BOOTSTRAP_NODES, type DhtNodeOptions, type LookupOptions, type AnnounceOptions, type BootstrapResult, type HostPort } from './node.js';
export { LOOKUP_DEFAULTS, traverse, type TraversalOptions } from './lookup.js';
export { loadDhtState, saveDhtState, parseDhtState, type DhtState, type LoadedState, MAX_SAVED_NODES } from './state.js';
export { bloomEstimate, bloomInsert, bloomUnion, bloomHas, emptyBloom, BLOOM_BYTES } from './bloom.js';
export {
  decodeCompactNodes,
  encodeCompactNodes,
  decodeCompactPeer,
  encodeCompactPeer,
  formatHostPort,
  isUsableAddress,
  type CompactNode,
  type IpFamily,
  type PeerAddress,
} from './compact.js';
export { checkDatagram, readReply } from './krpc.js';
export { QueryFailure, type KrpcTransport, type QueryTarget } from './transport.js';
export type * from './types.js';
