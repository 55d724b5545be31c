/**
 * The download and seed engine for one torrent: the session (peers, pieces, storage, choking),
 * its peer sources (trackers now) and helpers (in-order file stream, rates, choker).
 *
 *   const store = FileStore.open(meta, { outDir });
 *   const session = new Session({ metainfo: meta, store, peerId, resumePath, listen: { host: '0.0.0.0', port: 6881 } });
 *   session.addSource(new TrackerSource({ client, tiers: new TrackerTiers(meta.trackers), infoHash, peerId }));
 *   session.addPeers('manual', [{ host: '127.0.0.1', port: 51413 }]);
 *   for await (const ev of session.run(signal)) render(ev);   // throws BtError NO_PEERS, IO_…, or the abort error
 */
export * from './types.js';
export * from './session.js';
export * from './tracker-source.js';
export * from './stream.js';
export * from './choker.js';
export * from './rate.js';
export * from './hasher.js';
export * from './seed-choker.js';
export * from './stop-conditions.js';
export * from './download.js';
export * from './select.js';
export * from './dht-source.js';
export * from './seed.js';
