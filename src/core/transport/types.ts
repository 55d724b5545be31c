/**
 * The byte-stream transport under the peer wire protocol (BEP 3 runs over TCP; BEP 29 uTP is a
 * second, congestion-friendly transport over UDP). The session and the wire code see only these
 * interfaces, so TCP and uTP are interchangeable, and tests can join two ends in memory.
 *
 * Shape, and why:
 * - Reading is an `AsyncIterable<Uint8Array>`: the session pulls chunks with `for await` and
 *   pushes them into the wire `MessageDecoder`. Pulling gives backpressure for free (a session
 *   busy writing to disk stops reading, the socket's window fills, the peer slows down), ends
 *   cleanly on EOF, and throws a BtError on a reset.
 * - Writing is `write()` returning false above a high-water mark plus `drained()`, the shape of
 *   Node's writable streams without their events, so a seeder waits instead of buffering a
 *   whole piece queue in memory. A `piece` message is written as its 13-byte header and the block
 *   (see wire/messages.ts `encodePieceHeader`), so a block from disk is never copied.
 * - Dialing and accepting take an AbortSignal: a connect that hangs is ended by the caller's
 *   timeout or by SIGINT, and no timer lives in the transport's interface.
 *
 * This file holds only the interfaces; each transport implements them in its own module.
 */

export type TransportKind = 'tcp' | 'utp';

/** An address as the session and the user see it (IPv6 without brackets). */
export interface Endpoint {
  host: string;
  port: number;
}

export interface RemoteEndpoint extends Endpoint {
  transport: TransportKind;
}

/**
 * One established connection to a peer.
 *
 * Iterating it yields received chunks in order until the peer closes (the loop ends) or the
 * connection fails (the loop throws a BtError, category network, e.g. NET_ECONNRESET). It can be
 * iterated once. Leaving the loop early (break, throw) does not close the connection: call
 * `close()`.
 */
export interface Connection extends AsyncIterable<Uint8Array> {
  readonly remote: RemoteEndpoint;
  readonly local: Endpoint;
  /** Whether we dialed (outgoing) or accepted (incoming); BEP 3 lets the receiving side wait for the initiator's handshake. */
  readonly direction: 'outgoing' | 'incoming';

  /**
   * Queue bytes for sending, in order. Returns false when the queue is above the high-water mark:
   * the caller should `await drained()` before writing more (writes are still accepted, so a
   * message is never split by backpressure). The transport keeps a reference to `data`: do not
   * modify it after the call — until `onWritten`, which is called once the transport is done with
   * it (handed to the operating system, or dropped because the connection closed). Writing after
   * `close()` is ignored and returns false (`onWritten` is then called at once).
   */
  write(data: Uint8Array, onWritten?: () => void): boolean;

  /**
   * Write several buffers as one gather write where the transport can (TCP: one writev), so a
   * 13-byte piece header and its 16 KiB block do not cost two system calls. Same contract as
   * `write`. Optional: callers fall back to `write` for each buffer.
   */
  writev?(chunks: readonly Uint8Array[], onWritten?: () => void): boolean;

  /**
   * Resolves once the send queue is below the low-water mark (at once if it already is).
   * Rejects with a BtError if the connection fails or closes first, or with the abort error
   * when `signal` fires.
   */
  drained(options?: { signal?: AbortSignal }): Promise<void>;

  /** Bytes queued and not yet handed to the operating system. */
  readonly bufferedAmount: number;

  /**
   * Flush what is queued, then send our end of stream (TCP FIN); reading continues until the peer
   * closes too. Resolves when our side is flushed.
   */
  end(): Promise<void>;

  /**
   * Close now, discarding anything queued. With `error`, a pending iteration throws it;
   * otherwise the iteration ends as on EOF. Idempotent.
   */
  close(error?: Error): void;

  /** Resolves when the connection is fully closed, whoever closed it; never rejects. */
  readonly closed: Promise<void>;
}

export interface DialOptions {
  /** Abort the connect (and, if already connected, close the connection). */
  signal?: AbortSignal;
}

export interface ListenOptions {
  /** Address to bind; tests bind 127.0.0.1. */
  host: string;
  /** 0 picks a free port (read it back from `Listener.local`). */
  port: number;
  signal?: AbortSignal;
}

/**
 * Incoming connections. Iterating yields each accepted connection until `close()` or the signal
 * given to `listen` ends the loop; a connection accepted but not taken from the iterator before
 * then is closed by the listener.
 */
export interface Listener extends AsyncIterable<Connection> {
  readonly local: Endpoint;
  readonly transport: TransportKind;
  /** Stop accepting; connections already handed out stay open. */
  close(): Promise<void>;
}

/** A way to reach peers: TCP (transport/tcp.ts) or uTP (transport/utp.ts). */
export interface Transport {
  readonly kind: TransportKind;
  /**
   * Release what the transport holds for all its connections (uTP: its one UDP socket), closing
   * any connection still open. Absent when there is nothing to release (TCP: each connection and
   * listener owns its socket).
   */
  close?(): Promise<void>;
  /**
   * Connect to a peer. Rejects with a BtError: category network (NET_ECONNREFUSED, a timeout
   * the caller enforced through `signal`…) or interrupted (the signal fired).
   */
  dial(remote: Endpoint, options?: DialOptions): Promise<Connection>;
  listen(options: ListenOptions): Promise<Listener>;
}
