/**
 * The session's side of BEP 11 (session/pex.ts, PeerExchange) alone. Each peer is a plain record
 * whose wire is faked down to what the exchange reads (the remote address, the extension
 * registry); its `ut_pex` plug-in is the real one, made by the exchange's own factory over a fake
 * ExtensionContext that records what it sends, so a tick is read back as the BEP 11 message a
 * remote would receive.
 *
 * What it must do: on a tick, tell each peer the others it could dial (listen port known, not
 * dropped) but never itself, with the seed (0x02) and reachable (0x10) flags; nothing once
 * disabled; and forward what peers tell us to `learned`.
 */
import { describe, expect, it } from 'vitest';
import type { ExtensionPlugin } from '../../../../src/core/extension/registry.js';
import { type PexMessage, UT_PEX, type UtPexPlugin, decodePex, encodePex } from '../../../../src/core/extension/ut-pex.js';
import { Bitfield } from '../../../../src/core/pieces/bitfield.js';
import type { PeerPieces } from '../../../../src/core/pieces/picker.js';
import { PeerExchange, type PexPeerView } from '../../../../src/core/session/pex.js';
import type { Endpoint } from '../../../../src/core/transport/types.js';
import type { PeerWire } from '../../../../src/core/wire/peer-wire.js';

interface FakePeer extends PexPeerView {
  name: string;
  /** What this peer's ut_pex plug-in sent it, decoded. */
  heard: PexMessage[];
  plugin: UtPexPlugin;
  dropped: boolean;
}

function harness(intervalMs?: number) {
  const learned: Endpoint[][] = [];
  const pex = new PeerExchange<FakePeer>({ ...(intervalMs !== undefined ? { intervalMs } : {}), learned: (peers) => learned.push([...peers]) });
  const make = (
    name: string,
    host: string,
    o: { direction: 'outgoing' | 'incoming'; listenPort: number | null; pieces: PeerPieces; remotePort?: number; supports?: boolean },
  ): FakePeer => {
    const heard: PexMessage[] = [];
    const plugin = pex.factory()({
      send: (payload) => {
        heard.push(decodePex(payload));
        return true;
      },
      peerSupports: () => o.supports ?? true,
    }) as UtPexPlugin;
    const registry = { get: (n: string): ExtensionPlugin | undefined => (n === UT_PEX ? plugin : undefined) };
    // The remote port is the connection's (ephemeral for an incoming peer): never what we tell.
    const wire = { conn: { remote: { host, port: o.remotePort ?? 51_000 } }, registry } as unknown as PeerWire;
    return { name, heard, plugin, wire, direction: o.direction, listenPort: o.listenPort, pieces: o.pieces, dropped: false };
  };
  return { pex, learned, make };
}

const partial = (): Bitfield => {
  const b = new Bitfield(8);
  b.set(3);
  return b;
};

/** Entries of a message as `host:port/flags`, sorted. */
const added = (m: PexMessage | undefined): string[] => (m?.added ?? []).map((p) => `${p.host}:${p.port}/${p.flags.toString(16)}`).sort();

describe('PeerExchange', () => {
  it('tells each peer the others it could dial, never itself, with the seed and reachable flags', () => {
    const h = harness();
    // A seed we dialed; a peer that dialed us with a full bitfield and its listen port; a partial
    // one we dialed; one that dialed us without saying where it listens; one already dropped.
    const seed = h.make('seed', '127.0.1.1', { direction: 'outgoing', listenPort: 6881, pieces: 'all' });
    const full = h.make('full', '127.0.1.2', { direction: 'incoming', listenPort: 7000, pieces: Bitfield.full(8) });
    const part = h.make('part', '127.0.1.3', { direction: 'outgoing', listenPort: 6882, pieces: partial() });
    const mute = h.make('mute', '127.0.1.4', { direction: 'incoming', listenPort: null, pieces: partial() });
    const gone = h.make('gone', '127.0.1.5', { direction: 'outgoing', listenPort: 6883, pieces: partial() });
    gone.dropped = true;
    const early = h.make('early', '127.0.1.6', { direction: 'outgoing', listenPort: 6884, pieces: new Bitfield(0) });
    const peers = [seed, full, part, mute, gone, early];
    h.pex.tick(peers, 1_000);
    const seedE = '127.0.1.1:6881/12';
    const fullE = '127.0.1.2:7000/2';
    const partE = '127.0.1.3:6882/10';
    const earlyE = '127.0.1.6:6884/10';
    expect(seed.heard).toHaveLength(1);
    expect(added(seed.heard[0])).toEqual([fullE, partE, earlyE].sort());
    expect(added(full.heard[0])).toEqual([seedE, partE, earlyE].sort());
    expect(added(part.heard[0])).toEqual([seedE, fullE, earlyE].sort());
    // Not listed itself (no port to dial), it still hears of the others.
    expect(added(mute.heard[0])).toEqual([seedE, fullE, partE, earlyE].sort());
    // A dropped peer is neither told nor listed.
    expect(gone.heard).toEqual([]);
    expect(added(early.heard[0])).toEqual([seedE, fullE, partE].sort());
    for (const p of peers) for (const m of p.heard) expect(m.dropped).toEqual([]);
  });

  it('later ticks send the difference, at most once per interval: a peer that left is told as dropped', () => {
    const h = harness(10_000);
    const a = h.make('a', '127.0.1.1', { direction: 'outgoing', listenPort: 6881, pieces: partial() });
    const b = h.make('b', '127.0.1.2', { direction: 'outgoing', listenPort: 6882, pieces: partial() });
    const c = h.make('c', '127.0.1.3', { direction: 'outgoing', listenPort: 6883, pieces: partial() });
    h.pex.tick([a, b, c], 0);
    expect(a.heard).toHaveLength(1);
    c.dropped = true;
    h.pex.peerGone(c);
    h.pex.tick([a, b], 9_999);
    expect(a.heard).toHaveLength(1);
    h.pex.tick([a, b], 10_000);
    expect(a.heard).toHaveLength(2);
    expect(a.heard[1]).toEqual({ added: [], dropped: [{ host: '127.0.1.3', port: 6883 }] });
    expect(b.heard[1]).toEqual({ added: [], dropped: [{ host: '127.0.1.3', port: 6883 }] });
  });

  it('a peer that has not announced ut_pex is sent nothing; peers without a plug-in are skipped', () => {
    const h = harness();
    const a = h.make('a', '127.0.1.1', { direction: 'outgoing', listenPort: 6881, pieces: partial() });
    const deaf = h.make('deaf', '127.0.1.2', { direction: 'outgoing', listenPort: 6882, pieces: partial(), supports: false });
    const bare = h.make('bare', '127.0.1.3', { direction: 'outgoing', listenPort: 6883, pieces: partial() });
    (bare.wire as unknown as { registry: undefined }).registry = undefined;
    h.pex.tick([a, deaf, bare], 0);
    expect(deaf.heard).toEqual([]);
    expect(added(a.heard[0])).toEqual(['127.0.1.2:6882/10', '127.0.1.3:6883/10']);
  });

  it('forwards what a peer tells to `learned`, as addresses', () => {
    const h = harness();
    const a = h.make('a', '127.0.1.1', { direction: 'outgoing', listenPort: 6881, pieces: partial() });
    a.plugin.onMessage!(
      encodePex({
        added: [
          { host: '127.0.3.7', port: 6881, flags: 0x12 },
          { host: '2001:db8::1', port: 51413, flags: 0 },
        ],
        dropped: [{ host: '127.0.3.9', port: 1 }],
      }),
    );
    expect(h.learned).toEqual([
      [
        { host: '127.0.3.7', port: 6881 },
        { host: '2001:db8::1', port: 51413 },
      ],
    ]);
    // A message that only drops peers teaches nothing.
    a.plugin.onMessage!(encodePex({ added: [], dropped: [{ host: '127.0.3.7', port: 6881 }] }));
    expect(h.learned).toHaveLength(1);
  });

  it('disabled (the torrent is private): sends nothing and learns nothing', () => {
    const h = harness();
    const a = h.make('a', '127.0.1.1', { direction: 'outgoing', listenPort: 6881, pieces: partial() });
    const b = h.make('b', '127.0.1.2', { direction: 'outgoing', listenPort: 6882, pieces: partial() });
    h.pex.disable();
    h.pex.tick([a, b], 0);
    h.pex.tick([a, b], 120_000);
    expect(a.heard).toEqual([]);
    expect(b.heard).toEqual([]);
    a.plugin.onMessage!(encodePex({ added: [{ host: '127.0.3.7', port: 6881, flags: 0 }], dropped: [] }));
    expect(h.learned).toEqual([]);
  });
});
