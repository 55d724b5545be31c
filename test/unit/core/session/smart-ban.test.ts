/**
 * Finding who sent bad data: blocks of a failed piece are remembered with their senders; when the
 * piece passes, exactly the peers whose block differs from the good bytes are named — not the
 * honest peers who sent blocks of the same failed piece. A piece that failed with several senders
 * goes to one peer at a time until it passes.
 */
import { describe, expect, it } from 'vitest';
import { SmartBan } from '../../../../src/core/session/smart-ban.js';

const BLOCK = 4;
const good = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); // blocks: [1-4] [5-8] [9-10]
const withBlock = (b: number, bytes: number[]) => {
  const d = Uint8Array.from(good);
  d.set(bytes, b * BLOCK);
  return d;
};

describe('SmartBan', () => {
  it('names the sender of the differing block once the piece passes, and only it', () => {
    const ban = new SmartBan<string>(BLOCK);
    // Block 1 came from the liar; blocks 0 and 2 from honest peers.
    ban.failed(7, withBlock(1, [0, 0, 0, 0]), ['alice', 'liar', 'bob'], 3);
    expect([...ban.verified(7, good)]).toEqual(['liar']);
    // Once passed, the piece's suspects are forgotten.
    expect([...ban.verified(7, good)]).toEqual([]);
  });

  it('a short last block is compared over its own length', () => {
    const ban = new SmartBan<string>(BLOCK);
    ban.failed(1, withBlock(2, [9, 11]), ['a', 'b', 'c'], 3);
    expect([...ban.verified(1, good)]).toEqual(['c']);
  });

  it('over several failures, every liar is named, an honest re-sender is not', () => {
    const ban = new SmartBan<string>(BLOCK);
    ban.failed(2, withBlock(0, [0, 0, 0, 0]), ['x', 'honest', 'honest'], 2);
    ban.failed(2, withBlock(2, [0, 0]), ['honest', 'honest', 'y'], 2);
    expect([...ban.verified(2, good)].sort()).toEqual(['x', 'y']);
  });

  it('a piece that passes without ever failing names nobody', () => {
    expect([...new SmartBan<string>(BLOCK).verified(3, good)]).toEqual([]);
  });

  it('parole: after a failure with several senders, one peer at a time until it passes or leaves', () => {
    const ban = new SmartBan<string>(BLOCK);
    ban.failed(5, good, ['a', 'b'], 2);
    expect(ban.mayRequest(5, 'a') && ban.mayRequest(5, 'b')).toBe(true);
    ban.requested(5, 'a');
    expect(ban.mayRequest(5, 'a')).toBe(true);
    expect(ban.mayRequest(5, 'b')).toBe(false);
    ban.requested(5, 'b'); // does not take it from a
    expect(ban.mayRequest(5, 'b')).toBe(false);
    ban.peerGone('a');
    expect(ban.mayRequest(5, 'b')).toBe(true);
    ban.requested(5, 'b');
    expect(ban.mayRequest(5, 'a')).toBe(false);
    ban.verified(5, good);
    expect(ban.mayRequest(5, 'a')).toBe(true);
  });

  it('a failure with a single sender needs no parole; other pieces are never restricted', () => {
    const ban = new SmartBan<string>(BLOCK);
    ban.failed(6, good, ['a', 'a', 'a'], 1);
    ban.requested(6, 'a');
    expect(ban.mayRequest(6, 'b')).toBe(true);
    expect(ban.mayRequest(99, 'b')).toBe(true);
  });
});
