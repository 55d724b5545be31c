/** BEP 10 plug-in registry: local ids, the peer's ids, dispatch and updates. */
import { describe, expect, it } from 'vitest';
import { decode, isDict } from '../../../../src/core/bencode/index.js';
import { encodeExtendedHandshake } from '../../../../src/core/extension/handshake.js';
import { type ExtensionContext, type ExtensionFactory, ExtensionRegistry } from '../../../../src/core/extension/registry.js';

interface Probe {
  ctx?: ExtensionContext;
  events: string[];
}

function probe(name: string, p: Probe, fields?: Record<string, number>): ExtensionFactory {
  return (ctx) => {
    p.ctx = ctx;
    return {
      name,
      onHandshake: (h) => p.events.push(`handshake ${h.peerId.length}`),
      handshakeFields: fields ? () => fields : undefined,
      onExtendedHandshake: (_h, supported) => p.events.push(`ext ${supported}`),
      onMessage: (payload) => p.events.push(`msg ${Buffer.from(payload).toString()}`),
    };
  };
}

function setup() {
  const meta: Probe = { events: [] };
  const pex: Probe = { events: [] };
  const sent: [number, string][] = [];
  const reg = new ExtensionRegistry([probe('ut_metadata', meta, { metadata_size: 1234 }), probe('ut_pex', pex)], {
    send: (id, payload) => sent.push([id, Buffer.from(payload).toString()]),
  });
  return { reg, meta, pex, sent };
}

describe('ExtensionRegistry', () => {
  it('assigns local ids in registration order and announces them with plug-in fields', () => {
    const { reg } = setup();
    expect([...reg.localIds]).toEqual([
      ['ut_metadata', 1],
      ['ut_pex', 2],
    ]);
    const ours = decode(reg.ourHandshake({ v: 'btkit 0.1.0', reqq: 250 })).value;
    expect(isDict(ours)).toBe(true);
    const d = ours as Map<string, unknown>;
    expect([...(d.get('m') as Map<string, number>)]).toEqual([
      ['ut_metadata', 1],
      ['ut_pex', 2],
    ]);
    expect(d.get('metadata_size')).toBe(1234);
    expect(d.get('reqq')).toBe(250);
  });

  it('sends with the peer id once the peer announced the extension, not before', () => {
    const { reg, meta, pex, sent } = setup();
    expect(meta.ctx!.send(Buffer.from('early'))).toBe(false);
    expect(meta.ctx!.peerSupports()).toBe(false);
    const r = reg.receive(0, encodeExtendedHandshake({ m: { ut_metadata: 3 } }));
    expect(r.kind).toBe('handshake');
    expect(meta.ctx!.send(Buffer.from('req'))).toBe(true);
    expect(pex.ctx!.send(Buffer.from('pex'))).toBe(false);
    expect(sent).toEqual([[3, 'req']]);
    expect(meta.events).toEqual(['ext true']);
    expect(pex.events).toEqual(['ext false']);
  });

  it('applies later handshakes: new ids, 0 turns an extension off, omitted names keep their id', () => {
    const { reg } = setup();
    reg.receive(0, encodeExtendedHandshake({ m: { ut_metadata: 3, ut_pex: 4 } }));
    reg.receive(0, encodeExtendedHandshake({ m: { ut_pex: 0 } }));
    expect(reg.peerSupports('ut_pex')).toBe(false);
    expect(reg.remoteIds.get('ut_metadata')).toBe(3);
    reg.receive(0, encodeExtendedHandshake({ m: { ut_metadata: 9 } }));
    expect(reg.remoteIds.get('ut_metadata')).toBe(9);
  });

  it('dispatches by our id and refuses ids we never announced', () => {
    const { reg, meta, pex } = setup();
    expect(reg.receive(2, Buffer.from('hello'))).toEqual({ kind: 'message', name: 'ut_pex' });
    expect(pex.events).toEqual(['msg hello']);
    expect(meta.events).toEqual([]);
    expect(() => reg.receive(3, Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'EXT_UNKNOWN_MESSAGE', category: 'network' }));
  });

  it('passes the BEP 3 handshake to every plug-in', () => {
    const { reg, meta, pex } = setup();
    reg.onHandshake({ reserved: new Uint8Array(8), infoHash: new Uint8Array(20), peerId: new Uint8Array(20) });
    expect([meta.events, pex.events]).toEqual([['handshake 20'], ['handshake 20']]);
  });

  it('refuses a bad handshake payload and two plug-ins with one name', () => {
    const { reg } = setup();
    expect(() => reg.receive(0, Buffer.from('i1e'))).toThrow(expect.objectContaining({ code: 'EXT_BAD_HANDSHAKE' }));
    expect(() => new ExtensionRegistry([probe('x', { events: [] }), probe('x', { events: [] })], { send: () => {} })).toThrow(RangeError);
  });
});
