/**
 * A v2 seed session answering BEP 52 hash requests below the piece layer over the in-memory
 * transport: a raw peer (PeerWire) connects with the truncated v2 infohash and asks for the block
 * layer of one piece, with the proof to the file's root. The answer's block hashes must be the
 * SHA-256 of the file's 16 KiB blocks as read here from the original bytes, and the whole answer
 * must fold to the root; a request the seed cannot answer (an unknown root, a misaligned range) is
 * rejected, and the peer stays connected.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockLeaves } from '../../../../src/core/metainfo/merkle.js';
import { createTorrent } from '../../../../src/core/metainfo/create.js';
import type { Metainfo } from '../../../../src/core/metainfo/types.js';
import { proves, split } from '../../../../src/core/pieces/hash-tree.js';
import { Session } from '../../../../src/core/session/index.js';
import { FileStore } from '../../../../src/core/storage/file-store.js';
import { makePeerId } from '../../../../src/core/tracker/peer-id.js';
import { MemoryNetwork } from '../../../../src/core/transport/memory.js';
import type { Message } from '../../../../src/core/wire/messages.js';
import { PeerWire } from '../../../../src/core/wire/peer-wire.js';
import { patternBytes } from '../../../helpers/tmp.js';

const PL = 64 * 1024;
let root: string;
let meta: Metainfo;
let data: Buffer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'btkit-v2serve-'));
  // 5 pieces and a bit of 64 KiB (4 blocks each): a piece layer, and a block layer below it.
  data = patternBytes(5 * PL + 3000, 'v2 serve');
  await writeFile(join(root, 'f.bin'), data);
  meta = (await createTorrent({ path: join(root, 'f.bin'), pieceLength: PL, version: 'v2', threads: 1 })).metainfo;
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a v2 seed session serves the block layer from its data', () => {
  it('answers a block-layer request with the blocks\' hashes and a proof to the root; rejects what it cannot serve', async () => {
    const net = new MemoryNetwork();
    const seed = new Session({ metainfo: meta, store: FileStore.open(meta, { outDir: root }), peerId: makePeerId('-BK0100-'), transports: [net.transport('127.0.0.2')], listen: { host: '127.0.0.2', port: 6881 }, seed: {}, trustedComplete: true, tickMs: 50 });
    const ctl = new AbortController();
    const running = (async () => {
      try {
        for await (const _ of seed.run(ctl.signal)) void _;
      } catch {
        // aborted at the end
      }
    })();
    for (let i = 0; i < 500 && !seed.listening; i++) await new Promise((r) => setTimeout(r, 5));
    const conn = await net.transport('127.0.0.3').dial({ host: '127.0.0.2', port: 6881 });
    const v2 = meta.infoHash.v2!;
    const wire = new PeerWire(conn, { infoHash: v2.subarray(0, 20), peerId: makePeerId('-XX0001-'), pieceCount: meta.pieceCount, v2: true });
    await wire.handshake({ timeoutMs: 5000 });
    const got: Message[] = [];
    const reading = wire.run({ onMessage: (m) => void got.push(m) }).catch(() => undefined);
    const answers = () => got.filter((m) => m.type === 'hashes' || m.type === 'hash-reject');
    const waitAnswers = async (n: number) => {
      for (let i = 0; i < 1000 && answers().length < n; i++) await new Promise((r) => setTimeout(r, 5));
      return answers();
    };
    const file = meta.files.find((f) => !f.padding)!;
    const root32 = file.piecesRoot!;
    // Piece 2's four blocks (indices 8–11 of the block layer), proof up to the root (height 5: 21 blocks → 32 leaves).
    const request = { root: root32, baseLayer: 0, index: 8, length: 4, proofLayers: 4 };
    wire.send({ type: 'hash-request', ...request });
    const [answer] = await waitAnswers(1);
    expect(answer!.type).toBe('hashes');
    const nodes = split((answer as Extract<Message, { type: 'hashes' }>).hashes);
    expect(nodes.slice(0, 4)).toEqual(blockLeaves(data.subarray(2 * PL, 3 * PL)));
    expect(proves(root32, 5, request, nodes)).toBe(true);
    // An unknown root and a misaligned range: rejected, the connection stays.
    wire.send({ type: 'hash-request', ...request, root: Buffer.alloc(32, 7) });
    wire.send({ type: 'hash-request', ...request, index: 6 });
    const all = await waitAnswers(3);
    expect(all.map((m) => m.type)).toEqual(['hashes', 'hash-reject', 'hash-reject']);
    expect(wire.closed).toBe(false);
    wire.close();
    await reading;
    ctl.abort();
    await running;
  });
});
