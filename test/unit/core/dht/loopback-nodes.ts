/** Start btkit DHT nodes on loopback for tests; every one is closed by `closeAll`. */
import { DhtNode, type DhtNodeOptions } from '../../../../src/core/dht/node.js';
import type { LookupEvent, DoneEvent } from '../../../../src/core/dht/types.js';

export const loopbackOnly = (host: string) => /^127\./.test(host) || host === '::1';

export async function startNode(opts: Partial<DhtNodeOptions> = {}): Promise<DhtNode> {
  return DhtNode.start({ bootstrap: [], host: '127.0.0.1', port: 0, addressFilter: loopbackOnly, queryTimeoutMs: 500, ...opts });
}

export async function collect(it: AsyncIterable<LookupEvent>): Promise<{ events: LookupEvent[]; done: DoneEvent }> {
  const events: LookupEvent[] = [];
  for await (const e of it) events.push(e);
  const done = events.at(-1);
  if (done?.type !== 'done') throw new Error('no done event');
  return { events, done };
}

export async function closeAll(nodes: (DhtNode | undefined)[]): Promise<void> {
  await Promise.all(nodes.map((n) => n?.close()));
}
