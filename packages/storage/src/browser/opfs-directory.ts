/**
 * A {@link StorageDirectory} in the Origin Private File System, through synchronous
 * access handles: the browser's fast durable backend. Only in a dedicated worker (sync
 * access handles exist nowhere else).
 *
 * OPFS's directory operations (create, remove, rename a file) are asynchronous, but the
 * engine's directory is synchronous. So the directory is an *access-handle pool* (the
 * design of wa-sqlite's OPFSAccessHandlePoolVFS): a set of OPFS files `pool-NNNNNN`,
 * each held open with a sync access handle for the directory's lifetime. Each pool file
 * is a slot: a header area naming the logical file it holds in two copies, A then B
 * (pool-header.ts: a valid A wins, else a valid B; no valid copy but an empty one is a
 * free slot; two damaged copies are CORRUPTION at open), then that file's bytes. Every
 * logical operation is then synchronous, and its steps are ordered so that a crash at
 * any point (a write not flushed lost, or torn within the one copy being written) leaves
 * the old state or the new one, never two damaged copies (a false CORRUPTION):
 * - claim (the end of create and writeAtomic): write A, flush, write B, flush. A crash
 *   leaves: nothing new (the area as it was: free); A torn, B empty (free); A valid,
 *   B empty or torn (the file: B is rewritten at open); both valid.
 * - clear (a file removed while open, still readable through its handles): zero B,
 *   flush, zero A, flush. A crash leaves: B torn or empty, A valid (the file, as
 *   before); A torn, B empty (free); both empty (free).
 * - create: a free slot with bytes left (a stale life) is truncated to nothing and
 *   flushed first (the truncation is atomic: old length or none), then claimed with
 *   empty content.
 * - remove (no open handle) and every freeing: truncate to nothing, flush (atomic).
 * - writeAtomic: a free slot is truncated, its header area zeroed (free) and the bytes
 *   written after it, flushed; then it is claimed with a higher generation; then the old
 *   slot is freed. Until A is flushed, the new slot is free and the old file stands; from
 *   then on both claim the name and the higher generation wins at open (the other is
 *   freed).
 * At open, a file's copy that is not the same bytes as its valid one is rewritten from it
 * (flushed, best effort: a crash in it leaves a valid copy), so a damaged copy does not
 * stay one damage away from losing the file; and a free slot still holding bytes is
 * truncated to nothing, so a torn claim left by a crash cannot, with one more damaged
 * byte, look like two damaged copies.
 * The handles are exclusive: a second opener (another tab's worker) fails with
 * DATABASE_LOCKED. The pool grows in the background when free slots run low, and before
 * each flush or merge by as many files as it may create ({@link reserve}, called by
 * DirectoryAdapter).
 *
 * A file removed or replaced while open stays readable through its open handles (as on
 * POSIX): its header is cleared at once, its slot is freed at the last close.
 */
import { InvalidArgumentError } from '@koru/engine';
import { CorruptionError, IoError } from '../errors.js';
import type { OpenMode, RandomAccessFile, StorageDirectory } from '../lsm/io.js';
import { browserEstimate, opfsRoot, lockedError, shortWrite, storageError, type OpfsDirectoryHandle, type OpfsFileHandle, type SyncAccessHandle } from './opfs-handles.js';
import { OPFS_ROOT_DIR, POOL_FILE, type OpfsListing } from './opfs-listing.js';
import { OpfsFile, type Slot } from './opfs-file.js';
import { classifyPoolHeaders, encodePoolHeader, HEADER_COPY_AT, HEADER_COPY_BYTES, nameBytes, POOL_HEADER_BYTES } from './pool-header.js';
import { pathParts } from './paths.js';

/**
 * Options of {@link OpfsDirectory.open}.
 *
 * Sizing: every file takes a slot, so the pool grows with the database (one slot per
 * segment, log, sidecar, MANIFEST, NODE). What must be free at any instant is what the
 * engine creates between two awaits: outside flushes and merges, a log rotation (a log
 * and its sidecar), a manifest or sidecar replacement (one slot each until the old one
 * is freed) — at most 4 — and a flush or merge creates up to `maxOutputs` segments in
 * one synchronous run, which DirectoryAdapter reserves (awaits) before it starts. The
 * default low-water mark of 16 free slots is four times the first; the pool refills in
 * the background whenever it falls below.
 */
export interface OpfsDirectoryOptions {
  /** Free slots kept ahead: below this many, the pool grows in the background (default 16). */
  readonly lowWater?: number;
  /** Pool files added at a time (default 16). */
  readonly growBy?: number;
  /**
   * The directory and its pool files as listed by the context that owns the database
   * (opfs-listing.ts), so that opening skips the walk and the listing: it must be the
   * directory of this path, listed while no other context could change it.
   */
  readonly listing?: OpfsListing;
}

/** How long close() waits for a pool growth under way (see close). */
const CLOSE_WAITS_FOR_GROWTH_MS = 1_000;

export { browserEstimate, OPFS_ROOT_DIR };
const ZERO_HEADER = new Uint8Array(POOL_HEADER_BYTES);
const ZERO_COPY = new Uint8Array(HEADER_COPY_BYTES);

function missing(location: string, name: string): IoError {
  return new IoError(`${location}/${name} does not exist`, undefined, { code: 'ENOENT', file: name });
}

/** A database directory in OPFS, as a pool of sync access handles (see the module doc). */
export class OpfsDirectory implements StorageDirectory {
  readonly location: string;
  readonly #dir: OpfsDirectoryHandle;
  readonly #slots: Slot[] = [];
  readonly #names = new Map<string, Slot>();
  readonly #free: Slot[] = [];
  readonly #lowWater: number;
  readonly #growBy: number;
  #nextIndex = 0;
  #generation = 1;
  #growing: Promise<void> | undefined;
  #growError: unknown;
  #closed = false;

  private constructor(location: string, dir: OpfsDirectoryHandle, options: OpfsDirectoryOptions) {
    this.location = location;
    this.#dir = dir;
    this.#lowWater = options.lowWater ?? 16;
    this.#growBy = options.growBy ?? 16;
    for (const [k, v] of [['lowWater', this.#lowWater], ['growBy', this.#growBy]] as const) {
      if (!Number.isSafeInteger(v) || v < 1 || v > 1024) throw new InvalidArgumentError(`${k} must be an integer from 1 to 1024, not ${String(v)}`);
    }
  }

  /**
   * Opens (creating it if needed) the database directory `koru/<path>` of this origin's
   * OPFS and takes every pool file's sync access handle.
   * @throws INVALID_ARGUMENT for a bad path; DATABASE_LOCKED when another tab or worker
   *   holds it; IO_ERROR where OPFS or sync access handles are missing (not a dedicated worker);
   *   CORRUPTION when a pool file's two header copies are both damaged
   */
  static async open(path: string, options: OpfsDirectoryOptions = {}): Promise<OpfsDirectory> {
    const parts = pathParts(path);
    const location = `opfs:${OPFS_ROOT_DIR}/${parts.join('/')}`;
    const listing = options.listing;
    if (listing !== undefined && listing.directory.name !== parts[parts.length - 1]) {
      throw new InvalidArgumentError(`the listing given to open ${location} is of another directory (${listing.directory.name})`);
    }
    let dir: OpfsDirectoryHandle;
    try {
      if (listing !== undefined) dir = listing.directory;
      else {
        dir = await opfsRoot();
        for (const p of [OPFS_ROOT_DIR, ...parts]) dir = await dir.getDirectoryHandle(p, { create: true });
      }
    } catch (e) {
      throw storageError(`cannot open the OPFS directory ${location}`, location, e);
    }
    const d = new OpfsDirectory(location, dir, options);
    try {
      await d.#load(listing?.files);
      await d.reserve(d.#lowWater);
    } catch (e) {
      await d.close();
      throw e;
    }
    return d;
  }

  /**
   * Takes every pool file's handle (of those `listed`, else of those listed now) and
   * reads the headers (see pool-header.ts); two claims of one name: the higher generation
   * wins. @throws CORRUPTION for a damaged header area
   */
  async #load(listed: readonly OpfsFileHandle[] | undefined): Promise<void> {
    const handles = new Map<string, OpfsFileHandle>();
    const files: string[] = [];
    if (listed !== undefined) {
      for (const h of listed) if (POOL_FILE.test(h.name) && !handles.has(h.name)) handles.set(h.name, h);
      files.push(...handles.keys());
    } else {
      try {
        for await (const name of this.#dir.keys()) if (POOL_FILE.test(name)) files.push(name);
      } catch (e) {
        throw storageError(`cannot list ${this.location}`, this.location, e);
      }
    }
    files.sort();
    // Every handle is asked for at once: each is a round trip to the browser process, and
    // one after the other they were most of an open's time (32 files: ~30 ms in Chromium).
    // The headers are then read in file order, as before.
    const slots = await this.#openSlots(files, handles);
    const claims = new Map<string, { slot: Slot; generation: number }>();
    const area = new Uint8Array(POOL_HEADER_BYTES);
    for (const [i, fileName] of files.entries()) {
      const slot = slots[i]!;
      this.#nextIndex = Math.max(this.#nextIndex, Number(POOL_FILE.exec(fileName)![1]) + 1);
      let n = 0;
      try {
        if (slot.raw > 0) n = slot.handle.read(area, { at: 0 });
      } catch (e) {
        throw storageError(`cannot read ${this.location}/${fileName}`, fileName, e);
      }
      const state = classifyPoolHeaders(area.subarray(0, Math.min(n, slot.raw)));
      if (state.kind === 'damaged') throw this.#damaged(fileName);
      if (state.kind === 'free') {
        if (slot.raw > 0) this.#tidy(slot);
        this.#free.push(slot);
        continue;
      }
      if (!state.intact) this.#heal(slot, area.slice(HEADER_COPY_AT[state.from], HEADER_COPY_AT[state.from] + HEADER_COPY_BYTES), state.from === 0 ? 1 : 0);
      const h = state.header;
      this.#generation = Math.max(this.#generation, h.generation + 1);
      const other = claims.get(h.name);
      if (other !== undefined && other.generation > h.generation) {
        this.#freeSlot(slot);
        continue;
      }
      if (other !== undefined) this.#freeSlot(other.slot);
      claims.set(h.name, { slot, generation: h.generation });
      slot.name = h.name;
      slot.size = Math.max(0, slot.raw - POOL_HEADER_BYTES);
      this.#names.set(h.name, slot);
    }
  }

  /** The CORRUPTION of pool file `fileName`, both of whose header copies are damaged. */
  #damaged(fileName: string): CorruptionError {
    const file = `${this.location}/${fileName}`;
    return new CorruptionError(
      `${file}: both copies of its pool header are damaged, so which file of the database it holds (a segment, a log, ` +
        `the manifest…) is unknown; refusing to open (taking it for a free slot would silently drop that file and its ` +
        `writes). Opening with repair does not help: nothing can tell which file is missing. Restore the database (from ` +
        `a backup, or sync it again), or delete ${fileName} from this OPFS directory to open without whatever it held.`,
      { file, offset: 0 },
    );
  }

  /**
   * Truncates a free slot that still holds bytes (a torn claim, a cleared file's content)
   * to nothing, flushed, so that what a crash left behind cannot meet a later damage and
   * look like two damaged copies. Best effort: a creation truncates the slot again anyway.
   */
  #tidy(slot: Slot): void {
    try {
      slot.handle.truncate(0);
      slot.handle.flush();
      slot.raw = 0;
    } catch {
      // Still free; create and writeAtomic truncate it before claiming it.
    }
  }

  /**
   * Rewrites copy `to` of `slot`'s header from the valid `copy` (flushed). Best effort: a
   * failure (or a crash) leaves the valid copy, which the next open reads again.
   */
  #heal(slot: Slot, copy: Uint8Array, to: 0 | 1): void {
    try {
      this.#writeAll(slot, copy, HEADER_COPY_AT[to]);
      slot.handle.flush();
      slot.raw = Math.max(slot.raw, POOL_HEADER_BYTES);
    } catch {
      // The file opens from its valid copy either way.
    }
  }

  /**
   * Opens the existing pool files `fileNames` concurrently (through their `listed`
   * handles where given). Waits for every one before throwing the first failure (in
   * `fileNames` order), so that no handle arrives after the caller gave up: those opened
   * are in #slots, which close() closes.
   */
  async #openSlots(fileNames: readonly string[], listed: ReadonlyMap<string, OpfsFileHandle>): Promise<Slot[]> {
    const results = await Promise.allSettled(fileNames.map((f) => this.#openSlot(f, false, listed.get(f))));
    const slots: Slot[] = [];
    for (const r of results) {
      if (r.status === 'rejected') throw r.reason;
      slots.push(r.value);
    }
    return slots;
  }

  /** Opens pool file `fileName` (created if absent; through `listed`, its handle, if given) with its sync access handle. */
  async #openSlot(fileName: string, create = false, listed?: OpfsFileHandle): Promise<Slot> {
    let handle: SyncAccessHandle;
    try {
      const fh = listed ?? (await this.#dir.getFileHandle(fileName, { create }));
      handle = await fh.createSyncAccessHandle();
    } catch (e) {
      throw lockedError(this.location, e) ?? storageError(`cannot open ${this.location}/${fileName}`, fileName, e);
    }
    if (this.#closed) {
      // Closed while this handle was on its way (a pool growth close() stopped waiting for).
      handle.close();
      throw new IoError(`${this.location} is closed`);
    }
    const slot: Slot = { fileName, handle, name: undefined, size: 0, raw: 0, refs: 0, unlinked: false };
    this.#slots.push(slot);
    try {
      slot.raw = handle.getSize();
    } catch (e) {
      throw storageError(`cannot read the size of ${this.location}/${fileName}`, fileName, e);
    }
    return slot;
  }

  /**
   * Resolves once at least `files` slots are free (more pool files created and opened if
   * needed), so that many files can then be created synchronously.
   */
  async reserve(files: number): Promise<void> {
    this.checkOpen();
    while (this.#free.length < files) {
      if (this.#growing !== undefined) await this.#growing;
      else await this.#grow(Math.max(this.#growBy, files - this.#free.length));
      this.checkOpen();
      if (this.#growError !== undefined) {
        const e = this.#growError;
        this.#growError = undefined;
        throw e;
      }
    }
  }

  /** Adds `count` pool files; one grow at a time. */
  #grow(count: number): Promise<void> {
    const run = (async () => {
      if (this.#closed) return;
      const fileNames: string[] = [];
      for (let i = 0; i < count; i++) fileNames.push(`pool-${String(this.#nextIndex++).padStart(6, '0')}`);
      // Created concurrently (see #openSlots); on a failure, the files created are free
      // slots all the same (found again at the next open), so they join the free list.
      const results = await Promise.allSettled(fileNames.map((f) => this.#openSlot(f, true)));
      let failure: { reason: unknown } | undefined;
      for (const r of results) {
        if (r.status === 'fulfilled') this.#free.push(r.value);
        else failure ??= r;
      }
      if (failure !== undefined) throw failure.reason;
    })()
      .catch((e: unknown) => {
        this.#growError = e;
      })
      .finally(() => (this.#growing = undefined));
    this.#growing = run;
    return run;
  }

  /** Free slots now (free pool files not yet taken). */
  get freeSlots(): number {
    return this.#free.length;
  }

  /** Pool files held open. */
  get poolSize(): number {
    return this.#slots.length;
  }

  open(name: string, mode: OpenMode): RandomAccessFile {
    this.checkOpen();
    let slot = this.#names.get(name);
    if (mode === 'create') {
      if (slot !== undefined) throw new IoError(`${this.location}/${name} already exists`, undefined, { code: 'EEXIST', file: name });
      const header = encodePoolHeader(name, this.#generation);
      slot = this.#take(name);
      try {
        // Stale content of the slot's previous life must be gone before the header claims it.
        if (slot.raw > 0) {
          slot.handle.truncate(0);
          slot.handle.flush();
          slot.raw = 0;
        }
        this.#claim(slot, header);
      } catch (e) {
        // A header written but not flushed could still claim the name after a crash: cut it.
        try {
          slot.handle.truncate(0);
          slot.raw = 0;
          this.#free.push(slot);
        } catch {
          // Left out of use (a later open finds what its header says).
        }
        throw storageError(`cannot create ${this.location}/${name}`, name, e);
      }
      this.#generation++;
      slot.raw = POOL_HEADER_BYTES;
      slot.size = 0;
      slot.name = name;
      this.#names.set(name, slot);
    } else if (slot === undefined) throw missing(this.location, name);
    slot.refs++;
    return new OpfsFile(name, slot, mode !== 'read', this);
  }

  list(): string[] {
    this.checkOpen();
    return [...this.#names.keys()].sort();
  }

  exists(name: string): boolean {
    this.checkOpen();
    return this.#names.has(name);
  }

  remove(name: string): void {
    this.checkOpen();
    const slot = this.#names.get(name);
    if (slot === undefined) return;
    this.#names.delete(name);
    this.#unlink(slot, name);
  }

  writeAtomic(name: string, bytes: Uint8Array): void {
    this.checkOpen();
    const header = encodePoolHeader(name, this.#generation);
    const slot = this.#take(name);
    try {
      if (slot.raw > 0) slot.handle.truncate(0);
      // The header area stays zero (a free slot) until the content is flushed.
      this.#writeAll(slot, ZERO_HEADER, 0);
      this.#writeAll(slot, bytes, POOL_HEADER_BYTES);
      slot.handle.flush();
      this.#claim(slot, header);
    } catch (e) {
      try {
        this.#freeSlot(slot);
      } catch {
        // Left out of use; the replacement's own failure is the one to report.
      }
      throw storageError(`cannot replace ${this.location}/${name}`, name, e);
    }
    this.#generation++;
    slot.raw = POOL_HEADER_BYTES + bytes.length;
    slot.size = bytes.length;
    slot.name = name;
    const old = this.#names.get(name);
    this.#names.set(name, slot);
    if (old === undefined) return;
    try {
      this.#unlink(old, name);
    } catch {
      // The replacement stands (its generation is higher, so it wins at the next open, which
      // frees the old slot); the old slot stays out of use until then.
    }
  }

  readAll(name: string): Uint8Array | undefined {
    this.checkOpen();
    const slot = this.#names.get(name);
    if (slot === undefined) return undefined;
    // A segment's writer may still buffer appends (opfs-file.ts): they are part of the file.
    slot.writeOut?.();
    const buf = new Uint8Array(slot.size);
    try {
      const n = slot.handle.read(buf, { at: POOL_HEADER_BYTES });
      return n === buf.length ? buf : buf.subarray(0, n);
    } catch (e) {
      throw storageError(`reading ${this.location}/${name}`, name, e);
    }
  }

  /**
   * Nothing left to do: every creation, removal and replacement flushed the pool file it
   * changed before returning, and the set of pool files itself only changes by growth,
   * whose new files are free slots (a crash losing one loses nothing).
   */
  syncDirectory(): void {
    this.checkOpen();
  }

  /** The origin's storage use and quota (navigator.storage.estimate()). */
  async estimate(): Promise<{ usage: number; quota: number }> {
    return browserEstimate();
  }

  /** Closes every pool file's handle (a grow under way finishes first). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    // A growth under way adds free slots only. Chromium has been seen to leave a
    // createSyncAccessHandle of it unresolved until long after the worker went idle, so
    // closing waits a moment, not for ever: a handle arriving later is closed on arrival.
    if (this.#growing !== undefined) await Promise.race([this.#growing, new Promise((r) => setTimeout(r, CLOSE_WAITS_FOR_GROWTH_MS))]);
    for (const s of this.#slots) {
      try {
        s.handle.close();
      } catch {
        // Closing goes on: the handle is released with the worker anyway.
      }
    }
    this.#slots.length = 0;
    this.#names.clear();
    this.#free.length = 0;
  }

  /** @internal A RandomAccessFile let go of `slot`: an unlinked slot is freed at its last close. */
  release(slot: Slot): void {
    if (--slot.refs > 0 || !slot.unlinked || this.#closed) return;
    slot.unlinked = false;
    this.#freeSlot(slot);
  }

  /** @internal Throws once the directory is closed. */
  checkOpen(): void {
    if (this.#closed) throw new IoError(`${this.location} is closed`);
  }

  /** A free slot for `name`; the pool grows in the background when few are left. */
  #take(name: string): Slot {
    nameBytes(name);
    const slot = this.#free.pop();
    if (this.#free.length < this.#lowWater && this.#growing === undefined && !this.#closed) void this.#grow(this.#growBy);
    if (slot === undefined) {
      const why = this.#growError === undefined ? 'it is still growing' : `growing it failed: ${String((this.#growError as Error)?.message ?? this.#growError)}`;
      throw new IoError(`cannot create ${this.location}/${name}: no free file slot in the OPFS pool (${this.#slots.length} files; ${why})`, this.#growError, { file: name });
    }
    return slot;
  }

  /** Drops `name`'s claim on `slot`: freed now, or at its last close while open (readable till then). */
  #unlink(slot: Slot, name: string): void {
    slot.name = undefined;
    if (slot.refs === 0) {
      this.#freeSlot(slot, name);
      return;
    }
    try {
      // B first: until A is cleared the file stands whole (A valid); a torn A then leaves B empty (free).
      this.#writeAll(slot, ZERO_COPY, HEADER_COPY_AT[1]);
      slot.handle.flush();
      this.#writeAll(slot, ZERO_COPY, HEADER_COPY_AT[0]);
      slot.handle.flush();
    } catch (e) {
      throw storageError(`cannot remove ${this.location}/${name}`, name, e);
    }
    slot.unlinked = true;
  }

  /** Truncates `slot` to nothing (no header: free) and returns it to the free list. */
  #freeSlot(slot: Slot, name = slot.fileName): void {
    try {
      slot.handle.truncate(0);
      slot.handle.flush();
    } catch (e) {
      // Not freed: the slot stays out of use (its header may still claim the name on disk,
      // which a later open would then find again).
      throw storageError(`cannot remove ${this.location}/${name}`, name, e);
    }
    slot.raw = 0;
    slot.size = 0;
    slot.name = undefined;
    this.#free.push(slot);
  }

  /** Writes header `copy` into copy A, flushes, then into copy B, flushes: a torn write spoils one copy at most. */
  #claim(slot: Slot, copy: Uint8Array): void {
    this.#writeAll(slot, copy, HEADER_COPY_AT[0]);
    slot.handle.flush();
    this.#writeAll(slot, copy, HEADER_COPY_AT[1]);
    slot.handle.flush();
  }

  #writeAll(slot: Slot, bytes: Uint8Array, at: number): void {
    const n = slot.handle.write(bytes, { at });
    if (n !== bytes.length) throw shortWrite(`writing ${this.location}/${slot.fileName}`, slot.fileName, n, bytes.length);
  }
}
