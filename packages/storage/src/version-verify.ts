/**
 * `verifyVersions`: the integrity check of a version store's records (see
 * version-records.ts for their layout), streamed over the tree in slices of bounded
 * synchronous work, so that puts and gets go on being served while it runs.
 *
 * ## What is checked
 * Three range scans, in this order. Each record is read once, by its scan; what one
 * scan must check against another's records is compared by fingerprint (a get per
 * record lands in a random block: measured at 2.7x the cost of everything else), and
 * checked again exactly, by gets, wherever the fingerprints disagree, before anything is
 * reported. So a problem reported is always real; damage could only escape through a
 * fingerprint collision (odds 2^-32 per damaged change-feed record, 2^-52 per missing
 * value record).
 * 1. Change feed (`S`): the seqs are exactly 1…L (L: the last seq when the verify
 *    started); the version key each names is fingerprinted.
 * 2. Values (`X`, large values only): each decodes (tag 0: text; the tag 1 of an earlier
 *    layout is damage), and its text hashes to its id; the id of each record that passed
 *    is fingerprinted.
 * 3. Versions (`V`), one key at a time (newest first):
 *    - the key and the record decode; the version id equals `versionIdOf` of its fields;
 *    - its seq has its change-feed record, which names this very record (fingerprint),
 *      and no other version record has the same seq; a version committed during the
 *      verify (seq > L) is checked afterwards by one get of its `S` record, against the
 *      last seq then;
 *    - chains: every non-null previousVersion is a version of the same key with a
 *      strictly earlier clock stamp (wall, logical). Both import (predecessor stored or
 *      earlier in the batch) and replication (orphans are never stored) keep this
 *      invariant, and with it the oldest version of every key has a null
 *      previousVersion. Several versions may have a null one (keys made independently on
 *      two nodes and merged), and several may name the same one (replicated forks):
 *      neither "one root" nor "no fork" is a rule, so neither is checked;
 *    - flag "current at commit": set exactly when the version's seq is below the seq of
 *      every version of its key later in clock order (what `commit` computed);
 *    - its value: an inline text hashes to its value id; a value by reference has its value record, which passed scan 2 (fingerprint of its id;
 *      else each version sharing it is reported). The text's JSON syntax is not parsed
 *      again: a text hashing to its id is the very text canonicalized when written.
 * Then, exactly and only where needed: each change-feed record whose version scan 3 did
 * not meet (it names a record that is missing, or committed under another seq).
 * Counts: `keys` distinct keys, `versions` version records, `values` value records
 * (each distinct value stored is checked once).
 *
 * Not checked: the tree's own structure beyond what the scans read (the engine checks every block's CRC
 * as it reads it).
 *
 * ## Damage and concurrency
 * Damage found in records is a {@link VerifyProblem}, never thrown. A CorruptionError
 * from the engine (a block failing its checksum) is one too: it names the file and
 * offset; the scan resumes past the damaged block (the ends of ever shorter prefixes of
 * the last key read, then a bisection down to the block's end) and says which range went
 * unchecked, or stops when nothing after it can be read. Other errors (I/O, a closed
 * tree) throw. Problems that name no version (a change-feed or value record, a damaged
 * block) have empty namespace, key and versionId, or those of the version they name.
 *
 * Cursors are synchronous and die with every write or install: each slice makes its
 * own and seeks past the last record done. Records are never rewritten or removed, so a
 * write during the verify only adds records; those may or may not be seen, and every
 * check above holds for any mix of records that existed at the start and records added
 * meanwhile: a predecessor is older than its successor, so it sorts after it and is
 * still ahead of the scan; a value record is written with or before its first user (a
 * version scan 3 meets whose value record scan 2 did not see is checked by a get); versions committed
 * after the verify started are recognized by their seq.
 *
 * Browser-safe: no Node module is used.
 */
import { formatHlc, valueIdOfCanonical, versionIdOf } from '@koru/engine';
import { CorruptionError } from './errors.js';
import type { LsmTree } from './lsm/lsm-tree.js';
import { bytesKey } from './lsm/types.js';
import type { VerifyReport } from './types.js';
import {
  decodeSeqKey,
  decodeValueKey,
  decodeValueRecord,
  decodeVersionKey,
  decodeVersionKeySuffix,
  decodeVersionRecord,
  keyPrefix,
  seqKey,
  TAG_SEQ,
  TAG_VALUE,
  TAG_VERSION,
  valueKey,
} from './version-records.js';
import { damageOf, describeKey, messageOf, seqPrint, valuePrint, Verifier, type VerifyVersionsOptions } from './version-verify-state.js';
import { lastSeq } from './version-store-reads.js';
import { decodeHead, headKeyOf } from './head-records.js';
import { decodeHorizon, horizonBefore, isHorizon } from './horizon-records.js';

export type { VerifyVersionsOptions } from './version-verify-state.js';

/** Scan 1: the change feed, 1…startSeq. */
async function verifySeqs(v: Verifier): Promise<void> {
  let next = 1;
  // Each record's version key is fingerprinted here and compared by scan 3 (see Verifier.checkSeq for the exact check).
  const visit = (k: string, bytes: Uint8Array): void => {
    let s: number;
    try {
      s = decodeSeqKey(k);
    } catch (e) {
      v.report('', '', '', `a change-feed record's key is malformed (${describeKey(k)}): ${messageOf(e)}`);
      return;
    }
    if (s < next) {
      v.report('', '', '', `change ${s}: no change has seq 0`);
      return;
    }
    if (s > next) gap(next, s - 1);
    skipped = false;
    next = s + 1;
    v.addSeq(s, bytes);
  };
  // Seqs missing right after a damaged block were not read, not found missing: noted, not reported.
  let skipped = false;
  const gap = (from: number, to: number): void => {
    if (skipped) v.unread.push(from, to);
    else v.report('', '', '', from === to ? `change ${from} has no change-feed record` : `changes ${from}–${to} have no change-feed record`);
  };
  const end = v.startSeq >= Number.MAX_SAFE_INTEGER ? String.fromCharCode(TAG_SEQ.charCodeAt(0) + 1) : seqKey(v.startSeq + 1);
  await v.scan(TAG_SEQ, end, 'change-feed records', visit, () => {
    skipped = true;
  });
  if (!v.seqUnknown && next <= v.startSeq) gap(next, v.startSeq);
  v.seal();
}

/** Scan 2: every value record. */
async function verifyValues(v: Verifier): Promise<void> {
  const visit = (k: string, bytes: Uint8Array): void => {
    v.values++;
    let id: string;
    try {
      id = decodeValueKey(k);
    } catch (e) {
      v.report('', '', '', `a value record's key is malformed (${describeKey(k)}): ${messageOf(e)}`);
      return;
    }
    let why: string | undefined;
    try {
      if (valueIdOfCanonical(decodeValueRecord(bytes).text) !== id) why = 'its text does not hash to its id';
    } catch (e) {
      if (!(e instanceof CorruptionError)) throw e;
      why = `it does not decode: ${e.message}`;
    }
    if (why === undefined) {
      v.valueIds.add(valuePrint(id));
      return;
    }
    v.badValues.set(id, why);
    v.report('', '', '', `value record ${id}: ${why}`);
  };
  await v.scan(TAG_VALUE, String.fromCharCode(TAG_VALUE.charCodeAt(0) + 1), 'value records', visit);
  await v.valueIds.seal(v);
}

/** After scan 3: change-feed records whose version scan 3 did not meet, checked exactly. */
async function verifyUnmetSeqs(v: Verifier): Promise<void> {
  for (let i = 0; i < v.starts.length; i++) {
    for (let s = v.starts[i]!; s <= v.ends[i]!; s++) {
      const rank = v.ranks[i]! + (s - v.starts[i]!);
      if ((v.seen[rank >> 3]! & (1 << (rank & 7))) === 0) v.checkSeq(s);
      if ((rank & 1023) === 0 && v.due()) await v.pause();
    }
  }
}

/** The key scan 3 is in: its names, and what its newer versions left to check. */
interface KeyState {
  prefix: string;
  namespace: string;
  key: string;
  /** The smallest seq of its versions seen so far (all later in clock order). */
  minSeq: number;
  /** Predecessors named but not met yet (they must come later: older), with their successors' stamps. */
  readonly pending: Map<string, Array<{ readonly id: string; readonly wall: number; readonly logical: number }>>;
  /** Records of it were skipped over damage: its chain and flag checks are incomplete. */
  partial: boolean;
  /** Its horizon record was met: the records after it lie below the horizon (see {@link visitHorizon}). */
  below?: boolean;
}

/**
 * A horizon record (horizon-records.ts) in scan 3: it decodes, names a kept version of
 * its key (sorting before it), and has the change-feed record of the version it stands
 * for; it is the predecessor its successors name (its key holds that version's id and
 * clock). Returns false when it is not one.
 */
function visitHorizon(v: Verifier, ks: KeyState, k: string, bytes: Uint8Array, id: string, wall: number, logical: number): boolean {
  if (!isHorizon(bytes)) return false;
  const report = (problem: string): void => v.report(ks.namespace, ks.key, id, problem);
  if (ks.below) report('a second horizon record of the key, below the first');
  ks.below = true;
  let seq: number;
  try {
    const h = decodeHorizon(bytes);
    seq = h.seq;
    if (seq > v.prunedThroughSeq) report(`its horizon record stands for change ${seq}, past the manifest's prunedThroughSeq ${v.prunedThroughSeq}`);
    decodeVersionKeySuffix(ks.prefix + h.keptSuffix, ks.prefix.length);
    if (ks.prefix + h.keptSuffix >= k) report('its horizon record names a kept version that does not sort before it');
  } catch (e) {
    report(`its horizon record does not decode: ${messageOf(e)}`);
    return true;
  }
  const rank = seq >= 1 && seq <= v.startSeq ? v.rank(seq) : -1;
  if (rank >= 0 && (v.seen[rank >> 3]! & (1 << (rank & 7))) === 0) {
    v.seen[rank >> 3]! |= 1 << (rank & 7);
    if (v.seqPrints[rank] !== seqPrint(k)) v.checkSeq(seq);
  }
  const succs = ks.pending.get(id);
  if (succs !== undefined) {
    ks.pending.delete(id);
    for (const x of succs) {
      if (!(x.wall > wall || (x.wall === wall && x.logical > logical))) v.report(ks.namespace, ks.key, x.id, `its previous version ${id} has a clock stamp not earlier than its own`);
    }
  }
  return true;
}

/**
 * A key's predecessors still pending at its end may have been cut by a merge with
 * retention (or a purge) between two slices of the scan: the versions read before it
 * name a predecessor that is now gone, and its horizon record sorts before where the
 * scan resumed, so the scan never met it. Checked exactly (one scan of the key, only
 * when something is pending): the key's horizon record, if any, stands for the newest
 * cut version (its key holds that version's id and clock), as {@link visitHorizon} takes
 * it; under it, any other missing predecessor was cut too.
 */
function settleCutDuringScan(v: Verifier, ks: KeyState): void {
  let id: string;
  let wall: number;
  let logical: number;
  try {
    const h = horizonBefore(v.tree, ks.prefix);
    if (h === undefined) return;
    ({ versionId: id, wall, logical } = decodeVersionKeySuffix(h.vkey, ks.prefix.length));
  } catch {
    return; // unreadable now: the pending predecessors are reported as they are
  }
  const succs = ks.pending.get(id);
  for (const x of succs ?? []) {
    if (!(x.wall > wall || (x.wall === wall && x.logical > logical))) v.report(ks.namespace, ks.key, x.id, `its previous version ${id} has a clock stamp not earlier than its own`);
  }
  // The key is under a horizon now: the other missing predecessors were cut too (see finishKey).
  ks.pending.clear();
}

/** Scan 3: every version record, one key at a time. */
async function verifyVersionRecords(v: Verifier): Promise<void> {
  const tree = v.tree;
  let ks: KeyState = { prefix: '', namespace: '', key: '', minSeq: Infinity, pending: new Map(), partial: false };
  // A key's first record is its newest version: its head record must be a copy of it (or
  // name a newer one, written since the scan began).
  const checkHead = (of: KeyState, k: string, bytes: Uint8Array, id: string): void => {
    let head: ReturnType<typeof decodeHead> | undefined;
    try {
      const b = tree.get(headKeyOf(of.prefix));
      head = b === undefined ? undefined : decodeHead(b);
    } catch (e) {
      v.report(of.namespace, of.key, id, `its head record is unreadable: ${messageOf(e)}`);
      return;
    }
    if (head === undefined) v.report(of.namespace, of.key, id, 'it has versions but no head record');
    else if (head.vkey > k) v.report(of.namespace, of.key, id, `its head record names ${describeKey(head.vkey)}, not its newest version`);
    else if (head.vkey === k && !sameBytes(head.record, bytes)) v.report(of.namespace, of.key, id, "its head record differs from its newest version's record");
  };
  const finishKey = (): void => {
    // Under a horizon, retention cut the key's older versions: a kept version made on a
    // branch (replicated from a peer that kept more) may name any of them, not only the
    // horizon. A version lost to damage instead still has its change record, which scan 2
    // reports above prunedThroughSeq.
    if (!ks.partial && ks.below !== true) {
      if (ks.pending.size > 0) settleCutDuringScan(v, ks);
      for (const [prev, succs] of ks.pending) {
        for (const s of succs) v.report(ks.namespace, ks.key, s.id, `its previous version ${prev} is not an earlier version of this key`);
      }
    }
    ks.pending.clear();
  };
  const visit = (k: string, bytes: Uint8Array): void => {
    v.versions++;
    let wall: number;
    let logical: number;
    let node: string;
    let id: string;
    const sameKey = ks.prefix.length > 0 && k.startsWith(ks.prefix);
    try {
      if (sameKey) ({ wall, logical, node, versionId: id } = decodeVersionKeySuffix(k, ks.prefix.length));
      else {
        finishKey();
        ks = { prefix: '', namespace: '', key: '', minSeq: Infinity, pending: new Map(), partial: false };
        const f = decodeVersionKey(k);
        ({ wall, logical, node, versionId: id } = f);
        ks = { prefix: keyPrefix(f.namespace, f.key), namespace: f.namespace, key: f.key, minSeq: Infinity, pending: new Map(), partial: false };
        v.keys++;
        checkHead(ks, k, bytes, id);
      }
    } catch (e) {
      // Within a known key, its names are known; otherwise none can be given.
      v.report(sameKey ? ks.namespace : '', sameKey ? ks.key : '', '', `a version record's key is malformed (${describeKey(k)}): ${messageOf(e)}`);
      return;
    }
    const { namespace, key } = ks;
    const report = (problem: string): void => v.report(namespace, key, id, problem);
    if (visitHorizon(v, ks, k, bytes, id, wall, logical)) return;
    let r: ReturnType<typeof decodeVersionRecord>;
    try {
      r = decodeVersionRecord(bytes);
    } catch (e) {
      report(`its record does not decode: ${messageOf(e)}`);
      // Its predecessor cannot be known: the key's chain checks would be guesses.
      ks.partial = true;
      return;
    }
    const hlc = formatHlc({ wall, logical });
    if (versionIdOf({ namespace, key, valueId: r.valueId, previousVersion: r.previousVersion, hlc, node, deleted: r.deleted }) !== id) {
      report('its version id does not match its content');
    }
    // Change feed.
    const s = r.seq;
    if (s < 1) report(`its seq ${s} is not a change number (they start at 1)`);
    else if (s > v.startSeq) v.late.push({ seq: s, vkey: k, ns: namespace, key, id });
    else {
      const rank = v.rank(s);
      if (rank < 0) {
        if (!v.isUnread(s)) report(`its change ${s} has no change-feed record`);
      } else if ((v.seen[rank >> 3]! & (1 << (rank & 7))) !== 0) report(`another version record also has seq ${s}`);
      else {
        v.seen[rank >> 3]! |= 1 << (rank & 7);
        if (v.seqPrints[rank] !== seqPrint(k)) {
          report(`its change ${s} names another version record`);
          v.checkSeq(s);
        }
      }
    }
    // Below a horizon (replicated since the cut, with older clocks): hidden from reads and
    // dropped by the next cut, its chain and flag unknowable.
    const below = ks.below === true;
    // Versions later in clock order came first: current at commit iff committed before all of them.
    if (!ks.partial && !below && r.currentAtCommit !== s < ks.minSeq) {
      report(r.currentAtCommit ? `it is flagged current at commit, but a version later in clock order was committed before it` : `it is not flagged current at commit, but every version later in clock order was committed after it`);
    }
    if (s < ks.minSeq) ks.minSeq = s;
    // Chains: successors (newer) waited for this one.
    const succs = ks.pending.get(id);
    if (succs !== undefined) {
      ks.pending.delete(id);
      for (const x of succs) {
        if (!(x.wall > wall || (x.wall === wall && x.logical > logical))) v.report(namespace, key, x.id, `its previous version ${id} has a clock stamp not earlier than its own`);
      }
    }
    if (r.previousVersion !== null && !below) {
      const list = ks.pending.get(r.previousVersion);
      if (list === undefined) ks.pending.set(r.previousVersion, [{ id, wall, logical }]);
      else list.push({ id, wall, logical });
    }
    // Value.
    if (r.deleted) return;
    const valueId = r.valueId!;
    if (r.valueText !== null) {
      if (valueIdOfCanonical(r.valueText) !== valueId) report(`its inline value does not hash to its value id ${valueId}`);
      return;
    }
    const bad = v.badValues.get(valueId);
    if (bad !== undefined) {
      report(`its value ${valueId} is unusable: ${bad}`);
      return;
    }
    // Its value record was read and passed by scan 2 (so it was there before this version, if
    // committed since) — unless history was cut (retention or a purge removes value records
    // too): then it is checked exactly, by a get.
    if (v.valueIds.has(valuePrint(valueId)) && v.prunedThroughSeq === 0) return;
    const damage = damageOf(() => {
      const xb = tree.get(valueKey(valueId));
      if (xb === undefined) report(`its value ${valueId} is missing: no value record`);
      else {
        // Newer than scan 2 (or skipped by it over damage): checked here.
        const why = v.valueProblem(valueId, xb);
        if (why !== undefined) report(`its value ${valueId} is unusable: ${why}`);
      }
    });
    if (damage !== undefined) report(`its value record ${valueId} is unreadable: ${damage}`);
  };
  await v.scan(TAG_VERSION, String.fromCharCode(TAG_VERSION.charCodeAt(0) + 1), 'version records', visit, () => {
    ks.partial = true;
  });
  finishKey();
}

/** Versions committed during the verify: each must be named by its change-feed record. */
function verifyLate(v: Verifier): void {
  if (v.late.length === 0) return;
  let last: number;
  try {
    last = lastSeq(v.tree);
  } catch (e) {
    if (!(e instanceof CorruptionError)) throw e;
    v.report('', '', '', `the last change could not be read: ${e.message}; ${v.late.length} versions committed during the verify were not checked against the change feed`);
    return;
  }
  const seqs = new Set<number>();
  for (const x of v.late) {
    const report = (problem: string): void => v.report(x.ns, x.key, x.id, problem);
    if (x.seq > last) report(`its seq ${x.seq} is past the last change (${last})`);
    else if (seqs.has(x.seq)) report(`another version record also has seq ${x.seq}`);
    else {
      seqs.add(x.seq);
      const damage = damageOf(() => {
        const sb = v.tree.get(seqKey(x.seq));
        if (sb === undefined || bytesKey(sb) !== x.vkey) report(`its change ${x.seq} has no change-feed record naming it`);
      });
      if (damage !== undefined) report(`its change ${x.seq}: the change-feed record is unreadable: ${damage}`);
    }
  }
}

/**
 * Verifies every record of the version store over `tree` (see the module doc for what
 * is checked and how concurrent writes are handled), yielding between slices of at most
 * `sliceMs` of work. Damage is reported in the result, never thrown.
 * @throws InvalidArgumentError for a bad `sliceMs`; the tree's I/O errors and ClosedError
 */
export async function verifyVersions(tree: LsmTree, options: VerifyVersionsOptions = {}): Promise<VerifyReport> {
  const v = new Verifier(tree, options);
  try {
    v.startSeq = lastSeq(tree);
  } catch (e) {
    if (!(e instanceof CorruptionError)) throw e;
    // Scan 1 then reads every change-feed record there is.
    v.report('', '', '', `the last change could not be found: ${e.message}`);
    v.startSeq = Number.MAX_SAFE_INTEGER;
    v.seqUnknown = true;
  }
  await verifySeqs(v);
  if (v.seqUnknown) v.startSeq = v.ends.length === 0 ? 0 : v.ends[v.ends.length - 1]!;
  await verifyValues(v);
  await verifyVersionRecords(v);
  await verifyUnmetSeqs(v);
  verifyLate(v);
  v.progress();
  return { ok: v.problems.length === 0, keys: v.keys, versions: v.versions, values: v.values, problems: v.problems };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
