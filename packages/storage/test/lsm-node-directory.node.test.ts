// NodeDirectory: the engine's I/O boundary on node:fs, against real files in a temp dir,
// with injected FileOps for full and failing disks, and checked against MemoryDirectory
// (the reference implementation of the same interface) on random operation sequences.
import { ErrorCodes } from '@koru/engine';
import { fcSeed, tempDir } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RandomAccessFile, StorageDirectory } from '../src/lsm/io.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { FaultyOps } from './disk-helpers.js';
import { NodeDirectory } from '../src/node/node-directory.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-lsm-dir-');
  cleanups.push(cleanup);
  return dir;
}

const bytes = (...xs: number[]) => Uint8Array.from(xs);
const text = (s: string) => new TextEncoder().encode(s);

/** The KoruError `fn` throws (fails the test when it throws nothing). */
function thrown(fn: () => unknown): { code: string; message: string; details: Record<string, unknown>; cause?: { code?: string } } {
  try {
    fn();
  } catch (e) {
    return e as ReturnType<typeof thrown>;
  }
  throw new Error('expected an error');
}

describe('NodeDirectory: opening', () => {
  it("'create' makes a new empty file and fails with EEXIST when the name is taken", () => {
    const dir = newDir();
    const d = new NodeDirectory(dir);
    const f = d.open('a', 'create');
    expect(f.name).toBe('a');
    expect(f.size()).toBe(0);
    f.close();
    expect(statSync(join(dir, 'a')).size).toBe(0);
    const e = thrown(() => d.open('a', 'create'));
    expect(e.code).toBe(ErrorCodes.IO_ERROR);
    expect(e.details).toMatchObject({ code: 'EEXIST', file: 'a' });
  });

  for (const mode of ['read', 'append'] as const) {
    it(`'${mode}' of a missing file is IO_ERROR with code ENOENT, and creates nothing`, () => {
      const dir = newDir();
      const d = new NodeDirectory(dir);
      const e = thrown(() => d.open('nope', mode));
      expect(e.code).toBe(ErrorCodes.IO_ERROR);
      expect(e.details).toEqual({ code: 'ENOENT', file: 'nope' });
      expect(e.message).toContain(join(dir, 'nope'));
      expect(d.exists('nope')).toBe(false);
      expect(d.list()).toEqual([]);
    });
  }

  it('names that are not plain file names are refused', () => {
    const d = new NodeDirectory(newDir());
    for (const name of ['', '.', '..', 'a/b', '../x', 'a\\b', 'a\0b']) {
      expect(thrown(() => d.open(name, 'create')).code).toBe(ErrorCodes.INVALID_ARGUMENT);
      expect(thrown(() => d.writeAtomic(name, bytes(1))).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
  });
});

describe('NodeDirectory: files', () => {
  it('appends return their offsets, reads at any offset give the bytes back, across reopening', () => {
    const dir = newDir();
    const d = new NodeDirectory(dir);
    const f = d.open('log', 'create');
    expect(f.append(text('hello '))).toBe(0);
    expect(f.append(text('world'))).toBe(6);
    expect(f.append(new Uint8Array(0))).toBe(11);
    expect(f.size()).toBe(11);
    expect(new TextDecoder().decode(f.read(3, 5))).toBe('lo wo');
    f.sync();
    f.close();
    expect(readFileSync(join(dir, 'log')).toString()).toBe('hello world');

    const a = d.open('log', 'append');
    expect(a.size()).toBe(11);
    // Positional writes at the tracked end, not O_APPEND: the offset is where the bytes land.
    expect(a.append(text('!'))).toBe(11);
    a.close();
    const r = d.open('log', 'read');
    expect(new TextDecoder().decode(r.read(0, 12))).toBe('hello world!');
    r.close();
  });

  it('a read short of the end returns what is there; past the end returns nothing', () => {
    const d = new NodeDirectory(newDir());
    const f = d.open('f', 'create');
    f.append(bytes(1, 2, 3, 4, 5));
    expect(f.read(3, 100)).toEqual(bytes(4, 5));
    expect(f.read(5, 10)).toEqual(bytes());
    expect(f.read(99, 10)).toEqual(bytes());
    expect(f.read(0, 0)).toEqual(bytes());
    f.close();
  });

  it('reads return fresh plain Uint8Arrays that own their bytes', () => {
    const d = new NodeDirectory(newDir());
    const f = d.open('f', 'create');
    f.append(bytes(1, 2, 3));
    const a = f.read(0, 3);
    expect(Object.getPrototypeOf(a)).toBe(Uint8Array.prototype);
    a[0] = 99;
    // .slice copies (Buffer's would not), and the next read is not the same memory.
    const s = a.slice(0, 1);
    s[0] = 7;
    expect(a[0]).toBe(99);
    expect(f.read(0, 3)).toEqual(bytes(1, 2, 3));
    // A short read leaves no stale bytes behind in the backing store.
    const short = f.read(1, 4096);
    expect(new Uint8Array(short.buffer).subarray(short.byteOffset + short.length).every((b) => b === 0)).toBe(true);
    f.close();
  });

  it('appends track the size themselves: one fstat at open, none per append', () => {
    const ops = new FaultyOps();
    const d = new NodeDirectory(newDir(), ops);
    d.open('f', 'create').close();
    const f = d.open('f', 'append');
    const before = ops.fstatCalls;
    for (let i = 0; i < 50; i++) expect(f.append(bytes(i))).toBe(i);
    expect(f.size()).toBe(50);
    expect(ops.fstatCalls).toBe(before);
    f.close();
  });

  it('truncate cuts the file, later appends land at the new end, and it never extends', () => {
    const dir = newDir();
    const d = new NodeDirectory(dir);
    const f = d.open('f', 'create');
    f.append(bytes(1, 2, 3, 4, 5, 6));
    f.truncate(4);
    expect(f.size()).toBe(4);
    expect(statSync(join(dir, 'f')).size).toBe(4);
    expect(f.append(bytes(9))).toBe(4);
    f.truncate(100);
    expect(f.size()).toBe(5);
    expect(readFileSync(join(dir, 'f'))).toEqual(Buffer.from([1, 2, 3, 4, 9]));
    expect(thrown(() => f.truncate(-1)).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    f.close();
  });

  it("a 'read' handle refuses appends and truncation, and sees another handle's appends", () => {
    const d = new NodeDirectory(newDir());
    const w = d.open('f', 'create');
    w.append(bytes(1));
    const r = d.open('f', 'read');
    expect(thrown(() => r.append(bytes(2))).code).toBe(ErrorCodes.IO_ERROR);
    expect(thrown(() => r.truncate(0)).code).toBe(ErrorCodes.IO_ERROR);
    w.append(bytes(2, 3));
    expect(r.size()).toBe(3);
    expect(r.read(0, 3)).toEqual(bytes(1, 2, 3));
    r.close();
    w.close();
  });

  it('close is idempotent and a closed handle refuses everything', () => {
    const d = new NodeDirectory(newDir());
    const f = d.open('f', 'create');
    f.close();
    f.close();
    for (const op of [() => f.read(0, 1), () => f.append(bytes(1)), () => f.sync(), () => f.truncate(0), () => f.size()]) {
      expect(thrown(op).code).toBe(ErrorCodes.IO_ERROR);
    }
  });
});

describe('NodeDirectory: readInto', () => {
  it('fills the target from the offset, returns fewer only where the file ends, and 0 past it', () => {
    const d = new NodeDirectory(newDir());
    const f = d.open('a', 'create');
    f.append(text('0123456789'));
    const target = new Uint8Array(4).fill(0xee);
    expect(f.readInto!(2, target)).toBe(4);
    expect(new TextDecoder().decode(target)).toBe('2345');
    target.fill(0xee);
    expect(f.readInto!(8, target)).toBe(2);
    expect([...target]).toEqual([0x38, 0x39, 0xee, 0xee]);
    expect(f.readInto!(10, target)).toBe(0);
    expect(f.readInto!(99, target)).toBe(0);
    f.close();
    expect(thrown(() => f.readInto!(0, target)).code).toBe(ErrorCodes.IO_ERROR);
  });

  it('refuses a negative or fractional offset with INVALID_ARGUMENT', () => {
    const d = new NodeDirectory(newDir());
    const f = d.open('a', 'create');
    f.append(bytes(1, 2, 3));
    for (const offset of [-1, 0.5, Number.NaN]) expect(thrown(() => f.readInto!(offset, new Uint8Array(2))).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    f.close();
  });
});

describe('NodeDirectory: the directory', () => {
  it('lists files sorted (subdirectories left out, temporary leftovers included)', () => {
    const dir = newDir();
    const d = new NodeDirectory(dir);
    for (const n of ['00000010.kseg', 'MANIFEST', '00000002.kwal', 'MANIFEST.tmp', 'LOCK']) writeFileSync(join(dir, n), '');
    mkdirSync(join(dir, 'sub'));
    expect(d.list()).toEqual(['00000002.kwal', '00000010.kseg', 'LOCK', 'MANIFEST', 'MANIFEST.tmp']);
    // Sorted as JavaScript sorts (UTF-16 code units), like MemoryDirectory; libuv's own
    // order (UTF-8 bytes) differs for these two.
    writeFileSync(join(dir, '\uFF61'), '');
    writeFileSync(join(dir, '\u{1F600}'), '');
    expect(d.list().slice(-2)).toEqual(['\u{1F600}', '\uFF61']);
  });

  it('list of a missing directory is IO_ERROR', () => {
    const d = new NodeDirectory(join(newDir(), 'gone'));
    const e = thrown(() => d.list());
    expect(e.code).toBe(ErrorCodes.IO_ERROR);
    expect(e.details).toMatchObject({ code: 'ENOENT' });
  });

  it('exists and remove; removing a missing file is fine', () => {
    const d = new NodeDirectory(newDir());
    d.open('f', 'create').close();
    expect(d.exists('f')).toBe(true);
    d.remove('f');
    expect(d.exists('f')).toBe(false);
    d.remove('f');
    d.remove('never');
    d.syncDirectory();
    expect(d.list()).toEqual([]);
  });

  it('readAll gives the whole file, or undefined when it is missing', () => {
    const dir = newDir();
    const d = new NodeDirectory(dir);
    expect(d.readAll('nope')).toBeUndefined();
    writeFileSync(join(dir, 'empty'), '');
    expect(d.readAll('empty')).toEqual(bytes());
    const big = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) & 255);
    writeFileSync(join(dir, 'big'), big);
    expect(d.readAll('big')).toEqual(big);
  });

  it('writeAtomic creates and replaces with exactly the new bytes', () => {
    const dir = newDir();
    const d = new NodeDirectory(dir);
    d.writeAtomic('MANIFEST', text('first, longer content'));
    expect(d.readAll('MANIFEST')).toEqual(text('first, longer content'));
    d.writeAtomic('MANIFEST', text('second'));
    expect(d.readAll('MANIFEST')).toEqual(text('second'));
    expect(d.list()).toEqual(['MANIFEST']);
  });

  it('a .tmp left by a crash does not affect the file, and the next writeAtomic overwrites it whole', () => {
    const dir = newDir();
    const d = new NodeDirectory(dir);
    d.writeAtomic('MANIFEST', text('committed'));
    // A crash between writing the temporary file and the rename leaves this behind.
    writeFileSync(join(dir, 'MANIFEST.tmp'), 'half-written garbage that is longer than anything');
    expect(d.readAll('MANIFEST')).toEqual(text('committed'));
    expect(new NodeDirectory(dir).readAll('MANIFEST')).toEqual(text('committed'));
    d.writeAtomic('MANIFEST', text('next'));
    expect(d.readAll('MANIFEST')).toEqual(text('next'));
    expect(d.list()).toEqual(['MANIFEST']);
  });
});

describe('NodeDirectory: disk faults', () => {
  for (const budget of [0, 3]) {
    it(`ENOSPC on append (after ${budget} bytes) is STORAGE_FULL and leaves the file as it was`, () => {
      const dir = newDir();
      const ops = new FaultyOps();
      const d = new NodeDirectory(dir, ops);
      const f = d.open('wal', 'create');
      f.append(text('kept'));
      ops.writeFault = { code: 'ENOSPC', budget };
      const e = thrown(() => f.append(text('lost bytes')));
      expect(e.code).toBe(ErrorCodes.STORAGE_FULL);
      expect(e.cause?.code).toBe('ENOSPC');
      expect(f.size()).toBe(4);
      expect(readFileSync(join(dir, 'wal')).toString()).toBe('kept');
      ops.writeFault = null;
      expect(f.append(text('!'))).toBe(4);
      expect(readFileSync(join(dir, 'wal')).toString()).toBe('kept!');
      f.close();
    });
  }

  for (const budget of [0, 5]) {
    it(`ENOSPC in writeAtomic (after ${budget} bytes) is STORAGE_FULL, keeps the old file and leaves no .tmp`, () => {
      const dir = newDir();
      const ops = new FaultyOps();
      const d = new NodeDirectory(dir, ops);
      d.writeAtomic('MANIFEST', text('old manifest'));
      ops.writeFault = { code: 'ENOSPC', budget };
      const e = thrown(() => d.writeAtomic('MANIFEST', text('new manifest, longer')));
      expect(e.code).toBe(ErrorCodes.STORAGE_FULL);
      expect(readFileSync(join(dir, 'MANIFEST')).toString()).toBe('old manifest');
      expect(d.list()).toEqual(['MANIFEST']);
    });
  }

  it('EIO on sync, on read and in writeAtomic is IO_ERROR naming code and file; the old file survives', () => {
    const dir = newDir();
    const ops = new FaultyOps();
    const d = new NodeDirectory(dir, ops);
    d.writeAtomic('MANIFEST', text('old'));
    const f = d.open('seg', 'create');
    f.append(bytes(1, 2, 3));

    ops.syncFault = 'EIO';
    const onSync = thrown(() => f.sync());
    expect(onSync.code).toBe(ErrorCodes.IO_ERROR);
    expect(onSync.details).toEqual({ code: 'EIO', file: 'seg' });
    const onAtomic = thrown(() => d.writeAtomic('MANIFEST', text('new')));
    expect(onAtomic.code).toBe(ErrorCodes.IO_ERROR);
    expect(onAtomic.details).toEqual({ code: 'EIO', file: 'MANIFEST' });
    ops.syncFault = null;
    expect(d.readAll('MANIFEST')).toEqual(text('old'));
    expect(d.list()).toEqual(['MANIFEST', 'seg']);

    ops.readFault = 'EIO';
    expect(thrown(() => f.read(0, 3)).details).toEqual({ code: 'EIO', file: 'seg' });
    expect(thrown(() => d.readAll('MANIFEST')).details).toEqual({ code: 'EIO', file: 'MANIFEST' });
    ops.readFault = null;
    ops.writeFault = { code: 'EIO', budget: 0 };
    const onAppend = thrown(() => f.append(bytes(4)));
    expect(onAppend.code).toBe(ErrorCodes.IO_ERROR);
    expect(onAppend.details).toEqual({ code: 'EIO', file: 'seg' });
    f.close();
  });
});

describe('NodeDirectory behaves as MemoryDirectory', () => {
  type Op =
    | { op: 'append'; file: number; data: Uint8Array }
    | { op: 'read'; file: number; offset: number; length: number }
    | { op: 'truncate'; file: number; length: number }
    | { op: 'atomic'; file: number; data: Uint8Array }
    | { op: 'remove'; file: number }
    | { op: 'readAll'; file: number };
  const file = fc.integer({ min: 0, max: 2 });
  const data = fc.uint8Array({ maxLength: 300 });
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('append' as const), file, data }),
    fc.record({ op: fc.constant('read' as const), file, offset: fc.nat(1200), length: fc.nat(400) }),
    fc.record({ op: fc.constant('truncate' as const), file, length: fc.nat(1200) }),
    fc.record({ op: fc.constant('atomic' as const), file, data }),
    fc.record({ op: fc.constant('remove' as const), file }),
    fc.record({ op: fc.constant('readAll' as const), file }),
  );

  /** Applies `op` through `d`, reopening handles as needed; returns what it observed. */
  function apply(d: StorageDirectory, handles: Map<number, RandomAccessFile>, op: Op): unknown {
    const name = `f${op.file}`;
    const handle = (): RandomAccessFile => {
      let h = handles.get(op.file);
      if (h === undefined) {
        h = d.open(name, d.exists(name) ? 'append' : 'create');
        handles.set(op.file, h);
      }
      return h;
    };
    const drop = () => {
      handles.get(op.file)?.close();
      handles.delete(op.file);
    };
    switch (op.op) {
      case 'append':
        return [handle().append(op.data), handle().size()];
      case 'read':
        return d.exists(name) ? Array.from(handle().read(op.offset, op.length)) : null;
      case 'truncate':
        handle().truncate(op.length);
        return handle().size();
      case 'atomic':
        drop();
        d.writeAtomic(name, op.data);
        return d.list();
      case 'remove':
        drop();
        d.remove(name);
        return d.list();
      case 'readAll': {
        const all = d.readAll(name);
        return all === undefined ? null : Array.from(all);
      }
    }
  }

  it('on random sequences of appends, reads, truncations, replacements and removals', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const { dir, cleanup } = tempDir('koru-lsm-model-');
        const node = new NodeDirectory(dir);
        const memory = new MemoryDirectory();
        const nodeHandles = new Map<number, RandomAccessFile>();
        const memoryHandles = new Map<number, RandomAccessFile>();
        try {
          for (const op of ops) expect(apply(node, nodeHandles, op)).toEqual(apply(memory, memoryHandles, op));
          for (const n of memory.list()) expect(node.readAll(n)).toEqual(memory.readAll(n));
        } finally {
          for (const h of nodeHandles.values()) h.close();
          cleanup();
        }
      }),
      { seed: fcSeed('NodeDirectory vs MemoryDirectory'), numRuns: 60 },
    );
  });
});

describe('checksums on Node', () => {
  it('uses node:zlib CRC-32 once a NodeDirectory exists, with the same results as the plain one', async () => {
    const { crc32, crc32Js } = await import('../src/lsm/checksum.js');
    const { crc32: zlibCrc32 } = await import('node:zlib');
    const { dir, cleanup } = tempDir('koru-crc-');
    try {
      new NodeDirectory(dir);
      for (let n = 0; n < 300; n += 7) {
        const b = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
        expect(crc32(b)).toBe(zlibCrc32(b));
        expect(crc32Js(b)).toBe(zlibCrc32(b));
        expect(crc32(b, 12345, 3, Math.max(3, n - 2))).toBe(crc32Js(b, 12345, 3, Math.max(3, n - 2)));
      }
    } finally {
      cleanup();
    }
  });
});
