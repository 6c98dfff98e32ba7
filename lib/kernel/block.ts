// The block layer of the crashed kernel (block/genhd.c, block/blk-mq-tag.c): every whole disk on the block class's
// device list and its requests in flight, read the way the kernel's /sys/block/DISK/inflight counts them.
// Disks: the klist of the block class's subsys_private (block_class.p up to 6.3; since 6.4, "driver core: class:
// remove subsystem private pointer from struct class", found by name on class_kset), devices whose type is &disk_type;
// a device is embedded in its block_device since 5.11 (bd_device → bd_disk), in hd_struct before.
// In flight: blk-mq queues count requests in MQ_RQ_IN_FLIGHT state found through the tag bitmaps (tags->rqs[tag]);
// bio-based queues sum the per-CPU disk_stats.in_flight[2] of the disk's part0.
import { BadDataError } from "../errors.ts";
import type { Kernel } from "./kernel.ts";
import { listForEach, xarrayForEach } from "./iterators.ts";
import type { KernelObject } from "./object.ts";
import { perCpuOffset } from "./percpu.ts";

/** One whole disk (struct gendisk) and its requests in flight. */
export interface DiskIo {
  /** Its major device number. */
  major: number;
  /** Address of its struct gendisk. */
  gendisk: bigint;
  /** gendisk.disk_name ("vda", "sda"). */
  name: string;
  /** Address of its struct request_queue. */
  queue: bigint;
  /** True for a blk-mq queue (requests counted through the tags), false for a bio-based one (disk_stats). */
  mq: boolean;
  /** Read requests in flight. */
  read: number;
  /** Write requests in flight. */
  write: number;
}

/** enum mq_rq_state's MQ_RQ_IN_FLIGHT (include/linux/blk-mq.h, 4.18+). */
const MQ_RQ_IN_FLIGHT = 1;
/** REQ_OP_MASK of cmd_flags; an odd operation writes (op_is_write()). */
const REQ_OP_MASK = 0xff;
/** klist_node.n_klist's low bit marks a node being deleted (lib/klist.c KNODE_DEAD). */
const KNODE_DEAD = 1n;

/**
 * The whole disks of the block class in list order, with their requests in flight.
 * @example readDisks(k).filter((d) => d.read + d.write > 0).map((d) => d.name)
 */
export function readDisks(k: Kernel): DiskIo[] {
  const sp = blockSubsysPrivate(k);
  const diskType = k.symbol("disk_type");
  const out: DiskIo[] = [];
  const nodeOff = BigInt(k.type("struct klist_node").member("n_node").offset);
  for (const n of listForEach(sp.member("klist_devices.k_list"))) {
    const node = k.object(n - nodeOff, "struct klist_node");
    if (node.member("n_klist").integer() & KNODE_DEAD) continue;
    const dev = k.containerOf(node.address!, "struct device_private", "knode_class").member("device").deref();
    if (dev.member("type").integer() !== diskType) continue;
    const disk = gendiskOf(k, dev);
    const queue = disk.member("queue");
    const mq = !queue.member("mq_ops").isNull();
    const { read, write } = mq ? mqInFlight(k, queue.deref()) : statsInFlight(k, disk);
    out.push({ major: disk.member("major").number(), gendisk: disk.address!, name: disk.member("disk_name").string(32), queue: queue.integer(), mq, read, write });
  }
  return out;
}

/** The block class's struct subsys_private. */
function blockSubsysPrivate(k: Kernel): KernelObject {
  if (k.type("struct class").has("p")) return k.var("block_class", "struct class").member("p").deref();
  const kset = k.var("class_kset", "struct kset *").deref();
  const kobjOff = BigInt(k.type("struct subsys_private").member("subsys").offset + k.type("struct kset").member("kobj").offset);
  const entryOff = BigInt(k.type("struct kobject").member("entry").offset);
  for (const e of listForEach(kset.member("list"))) {
    const kobj = k.object(e - entryOff, "struct kobject");
    if (kobj.member("name").string(32) === "block") return k.object(kobj.address! - kobjOff, "struct subsys_private");
  }
  throw new BadDataError("no \"block\" class on class_kset", { hint: "the kernel's device model lists no block class: the dump is corrupted or filtered too much" });
}

/** The gendisk of a disk's struct device: through its block_device (5.11+) or its hd_struct part0 (older). */
function gendiskOf(k: Kernel, dev: KernelObject): KernelObject {
  if (k.type("struct block_device").has("bd_device")) return k.containerOf(dev.address!, "struct block_device", "bd_device").member("bd_disk").deref();
  const off = k.type("struct gendisk").member("part0").offset + k.type("struct hd_struct").member("__dev").offset;
  return k.object(dev.address! - BigInt(off), "struct gendisk");
}

/** The sum over CPUs of the per-CPU disk_stats.in_flight of the disk's part0 (bio-based queues). */
function statsInFlight(k: Kernel, disk: KernelObject): { read: number; write: number } {
  const part0 = disk.member("part0");
  const stats = (part0.type.kind === "pointer" ? part0.member("bd_stats") : part0.member("dkstats")).integer();
  let read = 0;
  let write = 0;
  for (let cpu = 0; cpu < k.nrCpus; cpu++) {
    const s = k.object((stats + perCpuOffset(k.program, cpu)) & 0xffffffffffffffffn, "struct disk_stats").member("in_flight");
    read += s.index(0).number();
    write += s.index(1).number();
  }
  return { read, write };
}

/**
 * The requests of blk-mq queue `q` in flight, as blk_mq_in_flight() counts them: every busy tag of each hardware
 * queue's tags (or of the tag set's shared tags), reserved tags first, whose request belongs to `q`.
 */
function mqInFlight(k: Kernel, q: KernelObject): { read: number; write: number } {
  const count = { read: 0, write: 0 };
  const set = q.member("tag_set").deref();
  const shared = k.program.btf.enumValue("BLK_MQ_F_TAG_HCTX_SHARED");
  const tagsList: bigint[] =
    shared !== undefined && set.has("shared_tags") && set.member("flags").number() & Number(shared)
      ? [set.member("shared_tags").integer()]
      : hardwareQueues(q).map((h) => k.object(h, "struct blk_mq_hw_ctx").member("tags").integer());
  for (const t of tagsList) {
    if (t === 0n) continue;
    const tags = k.object(t, "struct blk_mq_tags");
    const reserved = tags.member("nr_reserved_tags").number();
    const rqs = tags.member("rqs").integer();
    const queue = (name: string) => {
      const m = tags.member(name);
      return m.type.kind === "pointer" ? m.deref() : m;
    };
    const check = (tag: number) => {
      const rq = k.view.u64(rqs + BigInt(tag * 8));
      if (rq === 0n) return;
      const r = k.object(rq, "struct request");
      if (r.member("q").integer() !== q.address || r.member("state").number() !== MQ_RQ_IN_FLIGHT) return;
      if (r.member("cmd_flags").number() & REQ_OP_MASK & 1) count.write++;
      else count.read++;
    };
    if (reserved) for (const bit of sbitmapSetBits(k, queue("breserved_tags").member("sb"))) check(bit);
    for (const bit of sbitmapSetBits(k, queue("bitmap_tags").member("sb"))) check(bit + reserved);
  }
  return count;
}

/** The hardware contexts of `q`: the hctx_table XArray (6.0+) or the queue_hw_ctx array. */
function hardwareQueues(q: KernelObject): bigint[] {
  if (q.has("hctx_table")) return [...xarrayForEach(q.member("hctx_table"))].map((e) => e.entry);
  const n = q.member("nr_hw_queues").number();
  const arr = q.member("queue_hw_ctx").integer();
  return Array.from({ length: n }, (_, i) => q.view.u64(arr + BigInt(i * 8)));
}

/** The set bits of a struct sbitmap: each word's `word & ~cleared` (cleared since 5.0), up to depth. */
function sbitmapSetBits(k: Kernel, sb: KernelObject): number[] {
  const depth = sb.member("depth").number();
  const shift = sb.member("shift").number();
  const mapNr = sb.member("map_nr").number();
  const map = sb.member("map").integer();
  const wordType = k.type("struct sbitmap_word");
  const hasCleared = wordType.has("cleared");
  const bits: number[] = [];
  for (let i = 0; i < mapNr; i++) {
    const w = k.object(map + BigInt(i * wordType.size), wordType);
    const word = w.member("word").integer() & ~(hasCleared ? w.member("cleared").integer() : 0n);
    const width = i === mapNr - 1 ? depth - (i << shift) : 1 << shift;
    for (let b = 0; b < width && b < 64; b++) if ((word >> BigInt(b)) & 1n) bits.push((i << shift) + b);
  }
  return bits;
}
