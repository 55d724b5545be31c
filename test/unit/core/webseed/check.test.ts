/**
 * The --check-web-seeds lint in the core: first and last bytes of every file asked for, compared
 * with the local bytes; each kind of failure reported for its file only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checkWebSeeds } from '../../../../src/core/webseed/index.js';
import { startFaultServer, type FaultServer } from '../../../helpers/webseed-fault-server.js';
import { bytes, fixture } from './torrent-fixture.js';

const servers: FaultServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const fx = fixture(
  'rel',
  [
    { path: ['a.bin'], data: bytes(100_000, 'a') },
    { path: ['pad'], data: 100 },
    { path: ['b.bin'], data: bytes(10, 'b') },
    { path: ['c d.bin'], data: bytes(200_000, 'c') },
  ],
  65_536,
);
const read = async (i: number, at: number, n: number) => {
  const f = fx.layout.files[i]!;
  return fx.stream.subarray(f.offset + at, f.offset + at + n);
};

async function serve(files = fx.served()) {
  const s = await startFaultServer(files);
  servers.push(s);
  return s;
}

describe('checkWebSeeds', () => {
  it('a complete server: no problems; two ranges per file, one for a tiny file, none for padding', async () => {
    const s = await serve();
    const [r] = await checkWebSeeds({ urls: [`${s.base}/`], layout: fx.layout, read });
    expect(r).toMatchObject({ filesChecked: 3, problems: [], gaveUp: false });
    expect(s.requests.sort()).toEqual(['/rel/a.bin', '/rel/a.bin', '/rel/b.bin', '/rel/c d.bin', '/rel/c d.bin']);
  });

  it('reports a missing file, a changed file and a file of another size, each for its file', async () => {
    const files = fx.served();
    delete files['/rel/a.bin'];
    files['/rel/b.bin'] = Buffer.from('0123456789'); // same size, other bytes
    files['/rel/c d.bin'] = Buffer.concat([files['/rel/c d.bin']!, Buffer.from('tail')]);
    const s = await serve(files);
    const [r] = await checkWebSeeds({ urls: [`${s.base}/`], layout: fx.layout, read });
    expect(r!.problems.map((p) => [p.path.join('/'), p.code])).toEqual([
      ['a.bin', 'WEBSEED_NOT_FOUND'],
      ['b.bin', 'WEBSEED_CHECK_MISMATCH'],
      ['c d.bin', 'WEBSEED_CHECK_SIZE'],
    ]);
    expect(r!.problems[2]!.fileUrl).toBe(`${s.base}/rel/c%20d.bin`);
  });

  it('a server that ignores Range for big files is reported; small files read whole pass', async () => {
    const s = await serve();
    s.fault = (x) => {
      x.res.writeHead(200, { 'Content-Length': x.file!.length }).end(x.file);
      return true;
    };
    const [r] = await checkWebSeeds({ urls: [`${s.base}/`], layout: fx.layout, read });
    expect(r!.problems.map((p) => [p.path[0], p.code])).toEqual([
      ['a.bin', 'WEBSEED_RANGE_IGNORED'],
      ['c d.bin', 'WEBSEED_RANGE_IGNORED'],
    ]);
  });

  it('gives a URL up after maxProblems', async () => {
    const s = await serve({});
    const [r] = await checkWebSeeds({ urls: [`${s.base}/`], layout: fx.layout, maxProblems: 2, maxInFlight: 1 });
    expect(r).toMatchObject({ gaveUp: true, filesChecked: 2 });
    expect(s.requests).toHaveLength(2);
  });
});
