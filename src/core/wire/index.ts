/**
 * The peer wire protocol (BEP 3, with BEP 5 `port`, BEP 6 fast messages, BEP 10 extended
 * messages): pure codecs and per-connection state, no sockets. For the session:
 *
 *   const decoder = new MessageDecoder({ pieceCount });   // expects the 68-byte handshake first
 *   conn.write(encodeHandshake({ reserved: reservedWith(['fast', 'extended', 'dht']), infoHash, peerId }));
 *   for await (const chunk of conn) {
 *     decoder.push(chunk);
 *     for (const frame of decoder.messages()) {        // throws BtError WIRE_… → drop the peer
 *       if (frame.type === 'handshake') state = new ConnectionState(negotiated(ours, frame.handshake.reserved), now);
 *       else switch (state.receive(frame, now)) { … }  // 'drop-our-requests' | 'serve' | 'reject' | …
 *     }
 *   }
 */
export * from './handshake.js';
export * from './messages.js';
export * from './decoder.js';
export * from './state.js';
export * from './allowed-fast.js';
