// Walks of the kernel's containers as typed objects: list_head and hlist lists (include/linux/list.h), red-black
// trees (lib/rbtree.c), XArrays and radix trees (lib/xarray.c, 4.20+; the radix tree is an XArray since then),
// and per-CPU copies of a variable. Each stops with a BadDataError on a list that does not end.
import { BadDataError, UsageError } from "../errors.ts";
import type { Kernel } from "./kernel.ts";
import { KernelObject, containerOf } from "./object.ts";
import { parseType, type KernelType } from "./types.ts";

/** Longest walk before a list or tree is taken as corrupted. */
const LIMIT = 1 << 22;

/** The address an object stands for: a pointer's value, or where the object itself is. */
function addressOf(o: KernelObject): bigint {
  const a = o.type.kind === "pointer" ? o.integer() : o.address;
  if (a === undefined) throw new UsageError("a list head must be an object in memory or a pointer to one");
  return a;
}

/**
 * The list_head nodes of the list headed by `head` (a struct list_head or a pointer to one), head excluded.
 * @example [...listForEach(k.var("modules"))].length
 */
export function* listForEach(head: KernelObject): Generator<bigint> {
  const h = addressOf(head);
  const view = head.view;
  let n = 0;
  for (let p = view.u64(h); p !== h; p = view.u64(p)) {
    if (p === 0n) throw new BadDataError(`the list at 0x${h.toString(16)} has a NULL next pointer after ${n} entries`);
    if (++n > LIMIT) throw new BadDataError(`the list at 0x${h.toString(16)} does not end after ${LIMIT} entries`, { hint: "the list is corrupted" });
    yield p;
  }
}

/**
 * The entries of type `type` linked through their list_head `member` into the list at `head`.
 * @example for (const m of listForEachEntry(k.var("modules"), "struct module", "list")) m.member("name").string()
 */
export function* listForEachEntry(head: KernelObject, type: string, member: string): Generator<KernelObject> {
  const t = typeOf(head, type);
  const off = BigInt(t.member(member).offset);
  for (const p of listForEach(head)) yield new KernelObject(head.view, t, p - off, "btf");
}

/**
 * The entries of type `type` linked through their hlist_node `member` into the hlist_head `head`.
 * @example [...hlistForEachEntry(bucket, "struct pid", "pid_chain")]
 */
export function* hlistForEachEntry(head: KernelObject, type: string, member: string): Generator<KernelObject> {
  const t = typeOf(head, type);
  const off = BigInt(t.member(member).offset);
  let n = 0;
  for (let p = head.view.u64(addressOf(head)); p !== 0n; p = head.view.u64(p)) {
    if (++n > LIMIT) throw new BadDataError(`the hlist at 0x${addressOf(head).toString(16)} does not end`, { hint: "the list is corrupted" });
    yield new KernelObject(head.view, t, p - off, "btf");
  }
}

/**
 * The rb_node addresses of the tree at `root` (struct rb_root or rb_root_cached, or a pointer to one), in order.
 * @example [...rbtreeInorder(k.perCpu("runqueues", 0).member("cfs.tasks_timeline"))]
 */
export function* rbtreeInorder(root: KernelObject): Generator<bigint> {
  const r = root.type.kind === "pointer" ? root.deref() : root;
  const rb = r.has("rb_root") ? r.member("rb_root") : r;
  const view = root.view;
  const stack: bigint[] = [];
  // struct rb_node { unsigned long __rb_parent_color; struct rb_node *rb_right; struct rb_node *rb_left; }
  let node = view.u64(rb.address!);
  let n = 0;
  while (node !== 0n || stack.length) {
    while (node !== 0n) {
      if (++n > LIMIT) throw new BadDataError(`the rbtree at 0x${rb.address!.toString(16)} does not end`, { hint: "the tree is corrupted" });
      stack.push(node);
      node = view.u64(node + 16n);
    }
    const top = stack.pop()!;
    yield top;
    node = view.u64(top + 8n);
  }
}

/**
 * The entries of type `type` linked through their rb_node `member` into the tree at `root`, in order.
 * @example [...rbtreeForEachEntry(rq.member("cfs.tasks_timeline"), "struct sched_entity", "run_node")]
 */
export function* rbtreeForEachEntry(root: KernelObject, type: string, member: string): Generator<KernelObject> {
  const t = typeOf(root, type);
  const off = BigInt(t.member(member).offset);
  for (const p of rbtreeInorder(root)) yield new KernelObject(root.view, t, p - off, "btf");
}

/** One present entry of an XArray. */
export interface XaEntry {
  /** Its index. */
  index: bigint;
  /** The entry (a pointer, or a value entry with bit 0 set). */
  entry: bigint;
}

/**
 * The entries of the XArray `xa` (struct xarray, or radix_tree_root, or a pointer to one), by index.
 * @example for (const { index, entry } of xarrayForEach(mapping.member("i_pages"))) …
 */
export function* xarrayForEach(xa: KernelObject): Generator<XaEntry> {
  const x = xa.type.kind === "pointer" ? xa.deref() : xa;
  const view = xa.view;
  const node = typeOf(xa, "struct xa_node");
  const slotsOff = BigInt(node.member("slots").offset);
  const nslots = node.member("slots").type.length;
  const shiftOff = BigInt(node.member("shift").offset);
  const head = x.member("xa_head").integer();
  const isNode = (e: bigint) => (e & 3n) === 2n && e > 4096n;
  if (head === 0n) return;
  if (!isNode(head)) {
    yield { index: 0n, entry: head };
    return;
  }
  function* walk(n: bigint, base: bigint): Generator<XaEntry> {
    const shift = BigInt(view.u8(n + shiftOff));
    const slots = view.read(n + slotsOff, nslots * 8);
    const dv = new DataView(slots.buffer, slots.byteOffset, slots.byteLength);
    for (let i = 0; i < nslots; i++) {
      const e = dv.getBigUint64(i * 8, true);
      if (e === 0n) continue;
      const index = base + (BigInt(i) << shift);
      if (isNode(e) && shift > 0n) yield* walk(e - 2n, index);
      else if (!((e & 3n) === 2n && e < 4096n)) yield { index, entry: e }; // skip sibling and retry entries
    }
  }
  yield* walk(head - 2n, 0n);
}

/** One entry of a maple tree: the range of indexes it covers and its value. */
export interface MapleEntry {
  first: bigint;
  last: bigint;
  entry: bigint;
}

/**
 * maple_type (include/linux/maple_tree.h): slots and pivots per node of each type, and where the node's metadata
 * (struct maple_metadata: the offset of its last used slot) sits: in the last slot of a range node, after the gaps
 * of an allocation-range node.
 */
const MAPLE_LAYOUT: Record<number, { slots: number; pivots: number; leaf: boolean; meta: number }> = {
  1: { slots: 16, pivots: 15, leaf: true, meta: 8 + 15 * 8 + 15 * 8 }, // maple_leaf_64
  2: { slots: 16, pivots: 15, leaf: false, meta: 8 + 15 * 8 + 15 * 8 }, // maple_range_64
  3: { slots: 10, pivots: 9, leaf: false, meta: 8 + 9 * 8 + 10 * 8 + 10 * 8 }, // maple_arange_64
};

/**
 * The entries of the maple tree `mt` (struct maple_tree, or a pointer to one; 6.1+: VMAs, 6.5+: IRQ descriptors),
 * in index order.
 * @example [...mapleTreeForEach(task.member("mm").member("mm_mt"))].length // the task's VMAs
 */
export function* mapleTreeForEach(mt: KernelObject): Generator<MapleEntry> {
  const t = mt.type.kind === "pointer" ? mt.deref() : mt;
  const view = mt.view;
  const root = t.member("ma_root").integer();
  const MAX = 0xffffffffffffffffn;
  if (root === 0n) return;
  const isNode = (e: bigint) => (e & 3n) === 2n && e > 4096n;
  if (!isNode(root)) {
    yield { first: 0n, last: 0n, entry: root };
    return;
  }
  // struct maple_range_64 / maple_arange_64: { parent; pivot[P]; slot[S]; … } — pivots start at 8. The last used
  // slot is ma_data_end()'s: from the metadata when the last pivot is 0 (always for arange), else the last pivot's
  // (when it is the node's max) or the last slot. A pivot of 0 is a real one only where the node's range starts at 0.
  function* walk(enc: bigint, min: bigint, max: bigint, depth: number): Generator<MapleEntry> {
    const node = enc & ~0xffn;
    const type = Number((enc >> 3n) & 0xfn);
    const layout = MAPLE_LAYOUT[type];
    if (!layout || depth > 32) throw new BadDataError(`maple tree node 0x${node.toString(16)} has type ${(enc >> 3n) & 0xfn}, not a 64-bit range node`);
    const b = view.read(node, layout.meta + 8);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const pivot = (i: number) => dv.getBigUint64(8 + i * 8, true);
    const lastPivot = pivot(layout.pivots - 1);
    const end = type === 3 || lastPivot === 0n ? b[layout.meta]! : lastPivot === max ? layout.pivots - 1 : layout.pivots;
    let lo = min;
    for (let i = 0; i <= Math.min(end, layout.slots - 1); i++) {
      let hi = i < layout.pivots ? pivot(i) : max;
      if (hi > max || (i === end && hi === 0n && lo > 0n)) hi = max;
      const slot = dv.getBigUint64(8 + layout.pivots * 8 + i * 8, true);
      if (slot !== 0n) {
        if (layout.leaf) yield { first: lo, last: hi, entry: slot };
        else yield* walk(slot, lo, hi, depth + 1);
      }
      if (hi >= max) break;
      lo = hi + 1n;
    }
  }
  yield* walk(root, 0n, MAX, 0);
}

/**
 * Each CPU's copy of per-CPU variable `name`, CPU 0 first.
 * @example for (const [cpu, rq] of perCpuEach(k, "runqueues")) rq.member("nr_running").value()
 */
export function* perCpuEach(k: Kernel, name: string, type?: string): Generator<[number, KernelObject]> {
  for (let cpu = 0, n = k.nrCpus; cpu < n; cpu++) yield [cpu, k.perCpu(name, cpu, type)];
}

/** The entry of `type` embedding the list_head `node` as `member`. */
export function listEntry(node: KernelObject, type: string, member: string): KernelObject {
  return containerOf(node, typeOf(node, type), member);
}

/** Parsed types by BTF and spelling: iterators are called per list head, often thousands of times. */
const TYPES = new WeakMap<object, Map<string, KernelType>>();

/** The type spelled `name` in the BTF of `o`'s kernel. */
function typeOf(o: KernelObject, name: string): KernelType {
  let m = TYPES.get(o.type.btf);
  if (!m) TYPES.set(o.type.btf, (m = new Map()));
  let t = m.get(name);
  if (!t) m.set(name, (t = parseType(o.type.btf, name)));
  return t;
}
