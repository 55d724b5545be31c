/**
 * KRPC (BEP 5 "KRPC Protocol") message checks and reply reading. Pure: bytes or decoded values
 * in, verdicts and typed values out.
 *
 * Two jobs:
 * - `checkDatagram` vets every datagram *before* bittorrent-dht sees it. That library trusts the
 *   types of what it receives (`info_hash.toString('hex')`, `token.equals(…)`, `r.id.equals(…)`
 *   on whatever arrived), so one datagram with an integer where bytes belong throws inside the
 *   socket's 'message' handler and takes the process down. Anything that is not well-formed
 *   KRPC with the field types BEP 5, 32, 33 and 44 give is dropped here.
 * - `readReply` turns the `r` dictionary of a response (as k-rpc decoded it: an object of
 *   Buffers and numbers) into typed nodes, peers, token and BEP 33 filters, bounded in size and
 *   reporting what was malformed instead of throwing.
 */
import { decode, isBytes, isDict, isInt, isList, type BDict, type BValue } from '../bencode/index.js';
import { isBloom } from './bloom.js';
import { type CompactNode, type PeerAddress, NODE_ID_BYTES, decodeCompactNodes, decodeCompactPeer } from './compact.js';

/** The largest UDP payload; anything claiming more was not a single datagram. */
export const MAX_DATAGRAM_BYTES = 65_507;

export type DatagramVerdict =
  /** `readOnly`: a query with BEP 43 `ro=1`, whose sender must not enter our routing table. */
  | { ok: true; kind: 'q' | 'r' | 'e'; method?: string; readOnly?: boolean }
  | { ok: false; reason: string };

const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** Field types for query arguments (`a`), per method where a method needs a field. */
const BYTES20_ARGS = ['id', 'target', 'info_hash'];
const BYTES_ARGS = ['token', 'k', 'salt', 'sig'];
const NUMBER_ARGS = ['port', 'implied_port', 'seq', 'cas', 'seed', 'noseed', 'scrape'];
const REQUIRED_ARGS: Record<string, string[]> = {
  find_node: ['target'],
  get_peers: ['info_hash'],
  announce_peer: ['info_hash', 'token', 'port'],
  get: ['target'],
  put: ['token', 'v'],
};

function checkArgs(a: BDict, method: string): string | null {
  const id = a.get('id');
  if (!isBytes(id) || id.length !== NODE_ID_BYTES) return 'query without a 20-byte a.id';
  for (const key of REQUIRED_ARGS[method] ?? []) if (!a.has(key)) return `${method} without a.${key}`;
  for (const key of BYTES20_ARGS) {
    const v = a.get(key);
    if (v !== undefined && !(isBytes(v) && v.length === NODE_ID_BYTES)) return `a.${key} is not 20 bytes`;
  }
  for (const key of BYTES_ARGS) {
    const v = a.get(key);
    if (v !== undefined && !isBytes(v)) return `a.${key} is not a byte string`;
  }
  for (const key of NUMBER_ARGS) {
    const v = a.get(key);
    if (v !== undefined && typeof v !== 'number') return `a.${key} is not an integer`;
  }
  const want = a.get('want');
  if (want !== undefined && !(isList(want) && want.every(isBytes))) return 'a.want is not a list of byte strings';
  return null;
}

function checkResponse(r: BDict): string | null {
  const id = r.get('id');
  if (!isBytes(id) || id.length !== NODE_ID_BYTES) return 'response without a 20-byte r.id';
  for (const key of ['nodes', 'nodes6', 'token', 'BFsd', 'BFpe']) {
    const v = r.get(key);
    if (v !== undefined && !isBytes(v)) return `r.${key} is not a byte string`;
  }
  const values = r.get('values');
  if (values !== undefined && !(isList(values) && values.every(isBytes))) return 'r.values is not a list of byte strings';
  return null;
}

/**
 * Whether any dictionary in `value`, at any depth, has the key `__proto__`. The checks here read
 * keys from a Map, but the bencode inside k-rpc-socket builds plain objects, where `__proto__`
 * becomes the object's prototype: `r.__proto__.token` or `a.__proto__.implied_port` would reach
 * bittorrent-dht as inherited fields that none of the checks below saw (issue 15). Iterative,
 * and bounded by the decoder's `maxItems`.
 */
function hasProtoKey(value: BValue): boolean {
  const stack: BValue[] = [value];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (isDict(v)) {
      if (v.has('__proto__')) return true;
      for (const x of v.values()) stack.push(x);
    } else if (isList(v)) {
      for (const x of v) stack.push(x);
    }
  }
  return false;
}

/**
 * Vet one datagram: bencoded, a dictionary, `t` and `y` present, and the fields of its kind of
 * the type the protocol gives them. Duplicate keys are refused (two decoders could pick different
 * values) and so are bytes after the message; other non-canonical encodings are tolerated, as
 * real clients produce them.
 */
export function checkDatagram(bytes: Uint8Array): DatagramVerdict {
  if (bytes.length === 0 || bytes.length > MAX_DATAGRAM_BYTES) return { ok: false, reason: 'empty or oversized datagram' };
  let value: BValue;
  try {
    const res = decode(bytes, { mode: 'lenient', maxDepth: 16, maxItems: 20_000 });
    if (res.nonCanonical.some((n) => n.kind === 'duplicate-key')) return { ok: false, reason: 'duplicate dictionary key' };
    if (res.nonCanonical.some((n) => n.kind === 'trailing-bytes')) return { ok: false, reason: 'bytes after the message' };
    value = res.value;
  } catch {
    return { ok: false, reason: 'not bencoded' };
  }
  if (!isDict(value)) return { ok: false, reason: 'not a dictionary' };
  if (hasProtoKey(value)) return { ok: false, reason: 'a `__proto__` key' };
  const t = value.get('t');
  const y = value.get('y');
  if (!isBytes(t) || t.length === 0) return { ok: false, reason: 'no transaction id' };
  if (!isBytes(y)) return { ok: false, reason: 'no message type' };
  const kind = text(y);
  if (kind === 'q') {
    const q = value.get('q');
    const a = value.get('a');
    if (!isBytes(q)) return { ok: false, reason: 'query without a method name' };
    if (!isDict(a)) return { ok: false, reason: 'query without an argument dictionary' };
    const method = text(q);
    const problem = checkArgs(a, method);
    if (problem) return { ok: false, reason: problem };
    return value.get('ro') === 1 ? { ok: true, kind, method, readOnly: true } : { ok: true, kind, method };
  }
  if (kind === 'r') {
    const r = value.get('r');
    if (!isDict(r)) return { ok: false, reason: 'response without an r dictionary' };
    const problem = checkResponse(r);
    return problem ? { ok: false, reason: problem } : { ok: true, kind };
  }
  if (kind === 'e') {
    const e = value.get('e');
    if (e !== undefined && !(isList(e) && e.every((x) => isBytes(x) || isInt(x)))) return { ok: false, reason: 'malformed error' };
    return { ok: true, kind };
  }
  return { ok: false, reason: 'unknown message type' };
}

export interface ReplyLimits {
  /** Nodes decoded per family and reply (default 16: BEP 5 replies carry 8). */
  maxNodes?: number;
  /** Peers decoded per reply (default 1000). */
  maxValues?: number;
}

export interface ParsedReply {
  id: Buffer | null;
  token: Buffer | null;
  nodes: CompactNode[];
  peers: PeerAddress[];
  /** BEP 33 seed and peer filters, when present and 256 bytes. */
  bfsd: Uint8Array | null;
  bfpe: Uint8Array | null;
  /** What was wrong with the reply (fields ignored), for diagnostics. */
  problems: string[];
}

const asBuffer = (v: unknown): Buffer | null =>
  v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : null;

/** Read a decoded `r` dictionary (any shape) into typed fields; never throws. */
export function readReply(r: unknown, limits: ReplyLimits = {}): ParsedReply {
  const maxNodes = limits.maxNodes ?? 16;
  const maxValues = limits.maxValues ?? 1000;
  const out: ParsedReply = { id: null, token: null, nodes: [], peers: [], bfsd: null, bfpe: null, problems: [] };
  if (r === null || typeof r !== 'object' || r instanceof Uint8Array || Array.isArray(r)) {
    out.problems.push('r is not a dictionary');
    return out;
  }
  const get = (key: string): unknown => (Object.prototype.hasOwnProperty.call(r, key) ? (r as Record<string, unknown>)[key] : undefined);
  const id = asBuffer(get('id'));
  out.id = id && id.length === NODE_ID_BYTES ? id : null;
  out.token = asBuffer(get('token'));
  for (const [key, family] of [['nodes', 4], ['nodes6', 6]] as const) {
    const raw = get(key);
    if (raw === undefined) continue;
    const bytes = asBuffer(raw);
    if (!bytes) {
      out.problems.push(`${key} is not a byte string`);
      continue;
    }
    const decoded = decodeCompactNodes(bytes, family, maxNodes);
    if (decoded.malformed) out.problems.push(`${key} length ${bytes.length} is not a multiple of ${family === 4 ? 26 : 38}`);
    if (decoded.skipped > 0) out.problems.push(`${key}: ${decoded.skipped} nodes beyond the first ${maxNodes} ignored`);
    out.nodes.push(...decoded.nodes);
  }
  const values = get('values');
  if (values !== undefined) {
    if (!Array.isArray(values)) {
      out.problems.push('values is not a list');
    } else {
      let bad = 0;
      for (const v of values.slice(0, maxValues)) {
        const b = asBuffer(v);
        const peer = b ? decodeCompactPeer(b) : null;
        if (peer) out.peers.push(peer);
        else bad++;
      }
      if (bad > 0) out.problems.push(`${bad} values are not compact peers`);
      if (values.length > maxValues) out.problems.push(`values: ${values.length - maxValues} peers beyond the first ${maxValues} ignored`);
    }
  }
  const bfsd = get('BFsd');
  const bfpe = get('BFpe');
  if (bfsd !== undefined) (isBloom(bfsd) ? (out.bfsd = bfsd) : out.problems.push('BFsd is not 256 bytes'));
  if (bfpe !== undefined) (isBloom(bfpe) ? (out.bfpe = bfpe) : out.problems.push('BFpe is not 256 bytes'));
  return out;
}
