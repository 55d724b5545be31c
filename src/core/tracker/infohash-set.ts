/**
 * A set of 20-byte infohashes (BEP 3) that hands each member a small integer index, kept in typed
 * arrays: the swarm store numbers its torrents with it and the server checks its allow list with
 * it, both without making a string or an object per request.
 *
 * Open addressing with linear probing; a deletion shifts the entries after it back (no
 * tombstones), so lookups stay short however many torrents come and go. The hash is keyed by a
 * per-set random seed: an open tracker takes infohashes from anyone, and an unkeyed hash would let
 * a client pile them into one probe run.
 */

const EMPTY = -1;

export class InfoHashSet {
  private keys: Uint8Array;
  /** Table slot → member index, EMPTY when free. */
  private table: Int32Array;
  private mask: number;
  /** Indexes freed by `delete`, reused first. */
  private readonly freeList: number[] = [];
  private next = 0;
  private count = 0;
  private readonly seed: number;

  constructor(seed: number, capacity = 64) {
    this.seed = seed | 0;
    this.keys = new Uint8Array(capacity * 20);
    const size = pow2AtLeast(capacity * 2);
    this.table = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  /** One past the highest index ever handed out (indexes are below it). */
  get indexLimit(): number {
    return this.next;
  }

  /** The index of the 20 bytes at `b[off..]`, or -1. */
  find(b: Uint8Array, off: number): number {
    const keys = this.keys;
    for (let i = this.hash(b, off) & this.mask; ; i = (i + 1) & this.mask) {
      const x = this.table[i]!;
      if (x === EMPTY) return -1;
      if (sameKey(keys, x * 20, b, off)) return x;
    }
  }

  /** The index of the 20 bytes at `b[off..]`, added when absent. */
  add(b: Uint8Array, off: number): number {
    const found = this.find(b, off);
    if (found >= 0) return found;
    let index = this.freeList.pop();
    if (index === undefined) {
      index = this.next++;
      if (this.next * 20 > this.keys.length) {
        const grown = new Uint8Array(this.keys.length * 2);
        grown.set(this.keys);
        this.keys = grown;
      }
    }
    this.keys.set(b.subarray(off, off + 20), index * 20);
    this.count++;
    if (this.count * 2 > this.table.length) this.rehash(this.table.length * 2);
    this.place(index);
    return index;
  }

  /** Remove the member with this index; the index may be handed out again. */
  delete(index: number): void {
    const mask = this.mask;
    let i = this.hash(this.keys, index * 20) & mask;
    while (this.table[i] !== index) {
      if (this.table[i] === EMPTY) return;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: move later entries of the run into the hole when their home slot
    // is not between the hole and where they sit.
    for (let j = (i + 1) & mask; this.table[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.hash(this.keys, this.table[j]! * 20) & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        this.table[i] = this.table[j]!;
        i = j;
      }
    }
    this.table[i] = EMPTY;
    this.freeList.push(index);
    this.count--;
  }

  /** A copy of the member's 20 bytes. */
  keyAt(index: number): Buffer {
    return Buffer.from(this.keys.subarray(index * 20, index * 20 + 20));
  }

  private place(index: number): void {
    let i = this.hash(this.keys, index * 20) & this.mask;
    while (this.table[i] !== EMPTY) i = (i + 1) & this.mask;
    this.table[i] = index;
  }

  private rehash(size: number): void {
    const old = this.table;
    this.table = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
    for (let i = 0; i < old.length; i++) if (old[i] !== EMPTY) this.place(old[i]!);
  }

  private hash(b: Uint8Array, off: number): number {
    let h = this.seed;
    for (let k = off; k < off + 20; k += 4) h = mixWord(h, (b[k]! << 24) | (b[k + 1]! << 16) | (b[k + 2]! << 8) | b[k + 3]!);
    return finish(h);
  }
}

function sameKey(keys: Uint8Array, at: number, b: Uint8Array, off: number): boolean {
  for (let k = 0; k < 20; k++) if (keys[at + k] !== b[off + k]) return false;
  return true;
}

/** One round of a multiply-rotate hash over 32-bit words (murmur3's block step). */
export function mixWord(h: number, w: number): number {
  let k = Math.imul(w, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's finaliser: every input bit reaches every output bit. */
export function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

export function pow2AtLeast(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}
