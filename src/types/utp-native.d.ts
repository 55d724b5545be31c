/**
 * Types for the parts of `utp-native` (2.5.3: libutp, the reference uTP implementation of BEP 29,
 * behind N-API) that src/core/transport/utp.ts uses. The package ships none. Its connections are
 * readable-stream v3 Duplexes; `_connected` is the one internal read (whether the uTP handshake
 * completed), pinned by the exact dependency version and exercised by the transport's tests.
 */
declare module 'utp-native' {
  import type { EventEmitter } from 'node:events';
  import type { Duplex } from 'node:stream';

  export interface UtpConnection extends Duplex {
    remoteAddress: string;
    remotePort: number;
    destroyed: boolean;
    /** Set once the uTP handshake completed (an incoming one: once its first data arrived). */
    _connected: boolean;
  }

  export interface UtpSocket extends EventEmitter {
    /** Every connection of this socket that is not closed yet, incoming and outgoing. */
    readonly connections: UtpConnection[];
    /** Most connections before incoming ones are refused (0: no limit). */
    maxConnections: number;
    bind(port: number, host: string, onListening?: () => void): void;
    /** Bind (unless bound) and accept incoming connections. */
    listen(port: number, host: string, onListening?: () => void): void;
    /** An outgoing connection from this socket's UDP port; `host` an IPv4 address. */
    connect(port: number, host: string): UtpConnection;
    address(): { address: string; family: string; port: number };
    /** Refuse (true) or accept (false) incoming connections. */
    firewall(yes: boolean): void;
    /** Close the UDP socket once every connection closed. */
    close(onClose?: () => void): void;
    ref(): void;
    unref(): void;
    /** The UDP socket's kernel buffers (SO_RCVBUF / SO_SNDBUF); Linux caps them at net.core.[rw]mem_max. */
    setRecvBufferSize(bytes: number): number;
    setSendBufferSize(bytes: number): number;
  }

  interface UtpConstructor {
    new (options?: { allowHalfOpen?: boolean }): UtpSocket;
  }

  const UTP: UtpConstructor;
  export default UTP;
}
