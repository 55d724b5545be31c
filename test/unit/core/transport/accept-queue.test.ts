/**
 * The accept queue behind every listener (tcp, utp, memory): connections reach the reader in
 * order, even pushed before it asked; closing closes what nobody took and ends the reader; a
 * connection pushed after the close is closed at once; a listener is iterated once.
 */
import { describe, expect, it } from 'vitest';
import { AcceptQueue } from '../../../../src/core/transport/accept-queue.js';

const conn = (name: string, closed: string[]) => ({ name, close: () => void closed.push(name) });

describe('AcceptQueue', () => {
  it('hands connections over in order, wakes a waiting reader, and ends on close', async () => {
    const closed: string[] = [];
    const q = new AcceptQueue<ReturnType<typeof conn>>();
    q.push(conn('a', closed));
    const it = q[Symbol.asyncIterator]();
    expect((await it.next()).value.name).toBe('a');
    const waiting = it.next();
    q.push(conn('b', closed));
    expect((await waiting).value.name).toBe('b');
    q.push(conn('c', closed)); // never taken
    q.close();
    expect(closed).toEqual(['c']);
    expect((await it.next()).done).toBe(true);
    expect(q.push(conn('late', closed))).toBe(false);
    expect(closed).toEqual(['c', 'late']);
  });

  it('a listener is iterated once', async () => {
    const q = new AcceptQueue<{ close(): void }>();
    void q[Symbol.asyncIterator]().next();
    await expect(q[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'TRANSPORT_ITERATED' });
    q.close();
  });
});
