/**
 * peer-messages.ts alone, over a fake torrent (picker, assembler, uploader that record calls):
 * what each message of a peer does to the picker, the scheduler, the uploader and the session,
 * before and after the metadata is known; and how a peer is judged from its blocks (an invalid
 * block drops it, a flood of unrequested ones too, an accepted one counts as traffic).
 */
import { describe, expect, it } from 'vitest';
import type { BtError } from '../../../../src/core/errors.js';
import { Bitfield } from '../../../../src/core/pieces/bitfield.js';
import type { PeerPieces } from '../../../../src/core/pieces/picker.js';
import { MAX_UNREQUESTED_BLOCKS, type Peer, createPeer } from '../../../../src/core/session/peer.js';
import { PeerMessages } from '../../../../src/core/session/peer-messages.js';
import type { Torrent } from '../../../../src/core/session/torrent.js';
import { Traffic } from '../../../../src/core/session/traffic.js';
import type { SessionEvent } from '../../../../src/core/session/types.js';
import type { Message } from '../../../../src/core/wire/messages.js';
import type { PeerWire } from '../../../../src/core/wire/peer-wire.js';

const PIECES = 10;

function fakePeer(pieceCount: number | null, fast = true): { peer: Peer; sent: Message[] } {
  const sent: Message[] = [];
  const wire = {
    conn: { direction: 'outgoing', remote: { host: '127.0.0.5', port: 6881 } },
    peerHandshake: { peerId: new Uint8Array(20).fill(7) },
    state: { amInterested: false, amChoking: true, features: { fast }, canRequest: () => true },
    send: (m: Message) => {
      sent.push(m);
      if (m.type === 'interested') wire.state.amInterested = true;
      return 'sent';
    },
    setPieceCount: () => undefined,
    resendExtendedHandshake: () => sent.push({ type: 'keep-alive' }),
  };
  const peer = createPeer({ id: 1, key: '127.0.0.5:6881', candidate: undefined, wire: wire as unknown as PeerWire, source: 'manual', pieceCount, now: 0 });
  return { peer, sent };
}

function fakeTorrent(receive: 'accepted' | 'unrequested' | 'invalid' = 'accepted') {
  const calls: string[] = [];
  const t = {
    meta: { pieceCount: PIECES },
    picker: {
      completed: 3,
      addPeer: (p: PeerPieces) => calls.push(`addPeer:${p === 'all' ? 'all' : p.count}`),
      removePeer: () => calls.push('removePeer'),
      addHave: (i: number) => calls.push(`addHave:${i}`),
      isWanted: () => true,
      haveBitfield: () => {
        const b = new Bitfield(PIECES);
        for (const i of [0, 1, 2]) b.set(i);
        return b;
      },
    },
    assembler: {
      scheduler: {
        releasePeer: () => calls.push('releasePeer'),
        release: () => true,
      },
      receive: () => ({ status: receive, cancels: [] }),
    },
    uploader: {
      request: (_p: Peer, m: Message) => calls.push(`request:${(m as { index: number }).index}`),
      cancel: () => calls.push('cancel'),
    },
  };
  return { t: t as unknown as Torrent<Peer>, calls };
}

function handler(t: Torrent<Peer> | null) {
  const events: SessionEvent[] = [];
  const dropped: BtError[] = [];
  const asked: string[] = [];
  const traffic = new Traffic(() => 0, {});
  const m = new PeerMessages({
    torrent: () => t,
    traffic,
    now: () => 0,
    emit: (e) => events.push(e),
    drop: (_p, err) => dropped.push(err),
    requestMore: () => asked.push('requestMore'),
    updateInterest: () => asked.push('updateInterest'),
    interested: () => asked.push('interested'),
    dhtNodeSeen: (host, port) => asked.push(`dht:${host}:${port}`),
  });
  return { m, events, dropped, asked, traffic };
}

describe('PeerMessages', () => {
  it('piece sets: a bitfield replaces the set, haves add to it, the last have makes a seed (peer-complete)', () => {
    const { t, calls } = fakeTorrent();
    const { m, events, asked } = handler(t);
    const { peer, sent } = fakePeer(PIECES);
    const bits = new Bitfield(PIECES);
    for (let i = 0; i < PIECES - 1; i++) bits.set(i);
    m.onMessage(peer, { type: 'bitfield', bits: bits.toWire() });
    expect(calls).toEqual(['removePeer', `addPeer:${PIECES - 1}`]);
    expect(asked).toEqual(['updateInterest']);
    m.onMessage(peer, { type: 'have', index: PIECES - 1 });
    expect(calls.slice(2)).toEqual([`addHave:${PIECES - 1}`, 'removePeer', 'addPeer:all']);
    expect(peer.pieces).toBe('all');
    expect(events).toEqual([{ type: 'peer-complete', peer: peer.key, peerId: peer.peerIdHex, finished: true }]);
    expect(sent.map((x) => x.type)).toEqual(['interested']);
  });

  it('before the metadata, piece messages are remembered, requests rejected (BEP 6), and adopted once it arrives', () => {
    const { m, asked } = handler(null);
    const { peer, sent } = fakePeer(null);
    m.onMessage(peer, { type: 'have', index: 4 });
    m.onMessage(peer, { type: 'request', index: 0, begin: 0, length: 16384 });
    expect(peer.early?.haves.has(4)).toBe(true);
    expect(sent).toEqual([{ type: 'reject', index: 0, begin: 0, length: 16384 }]);
    const { t, calls } = fakeTorrent();
    const after = handler(t);
    after.m.metadataArrived(t, peer);
    expect(peer.early).toBeNull();
    expect(calls).toContain('addPeer:1');
    // Our three pieces are told (we said nothing before), after the re-sent extended handshake.
    expect(sent.slice(1).map((x) => (x.type === 'have' ? `have:${x.index}` : x.type))).toEqual(['keep-alive', 'have:0', 'have:1', 'have:2']);
    expect(asked).toEqual([]);
    expect(after.asked).toEqual(['updateInterest']);
  });

  it('requests and cancels go to the uploader; interest asks for a slot; choke without fast releases its requests; port feeds the DHT', () => {
    const { t, calls } = fakeTorrent();
    const { m, asked } = handler(t);
    const { peer } = fakePeer(PIECES, false);
    m.onMessage(peer, { type: 'request', index: 2, begin: 0, length: 16384 });
    m.onMessage(peer, { type: 'cancel', index: 2, begin: 0, length: 16384 });
    m.onMessage(peer, { type: 'interested' });
    m.onMessage(peer, { type: 'choke' });
    m.onMessage(peer, { type: 'port', port: 6999 });
    m.onMessage(peer, { type: 'reject', index: 5, begin: 0, length: 16384 });
    expect(calls).toEqual(['request:2', 'cancel', 'releasePeer']);
    expect(asked).toEqual(['interested', 'dht:127.0.0.5:6999', 'requestMore']);
    expect(peer.rejected.has(5)).toBe(true);
    m.onMessage(peer, { type: 'unchoke' });
    expect(peer.rejected.size).toBe(0);
  });

  it('blocks: accepted ones count as traffic; an invalid one drops the peer; a flood of unrequested ones too', () => {
    const ok = handler(fakeTorrent('accepted').t);
    const { peer } = fakePeer(PIECES);
    peer.snubbed = true;
    ok.m.onMessage(peer, { type: 'piece', index: 0, begin: 0, block: new Uint8Array(16384) });
    expect(ok.traffic.downloaded).toBe(16384);
    expect(peer.snubbed).toBe(false);

    const bad = handler(fakeTorrent('invalid').t);
    bad.m.onMessage(fakePeer(PIECES).peer, { type: 'piece', index: 99, begin: 0, block: new Uint8Array(1) });
    expect(bad.dropped.map((e) => e.code)).toEqual(['PEER_BAD_BLOCK']);

    const flood = handler(fakeTorrent('unrequested').t);
    const pushy = fakePeer(PIECES).peer;
    for (let i = 0; i < MAX_UNREQUESTED_BLOCKS; i++) flood.m.onMessage(pushy, { type: 'piece', index: 1, begin: 0, block: new Uint8Array(1) });
    expect(flood.dropped).toEqual([]);
    flood.m.onMessage(pushy, { type: 'piece', index: 1, begin: 0, block: new Uint8Array(1) });
    expect(flood.dropped.map((e) => e.code)).toEqual(['PEER_UNREQUESTED_DATA']);
    expect(flood.traffic.downloaded).toBe(0);
  });
});
