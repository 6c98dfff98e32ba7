// Writes a lockless printk ring buffer (5.10+) into a FakeKernel the way kernel/printk/printk_ringbuffer.c lays it
// out: descriptors with state_var = state << 62 | id, data blocks {unsigned long id; text} 8-byte aligned, a block
// that would cross the ring's end stored at its start. Offsets use the 6.1 layout and go into VMCOREINFO.
import { FakeKernel, PAGE } from "./_fakekernel.ts";

/** A record to write. */
export interface FakeRecord {
  text: string | Uint8Array;
  tsNsec: bigint;
  level?: number;
  facility?: number;
  callerId?: number;
  /** Descriptor state: 1 committed, 2 finalized (default), 0 reserved, 3 reusable. */
  state?: number;
  /** Store this id in state_var instead of the record's own (a stale slot). */
  staleId?: bigint;
  /** text_len larger than the data block holds (a truncated record). */
  textLen?: number;
}

export interface RingShape {
  countBits: number;
  sizeBits: number;
  /** Id of the first record (ids are 62-bit and wrap). */
  firstId?: bigint;
  /** Logical position of the first data block, to make blocks wrap. */
  firstLpos?: number;
}

const ID_MASK = (1n << 62n) - 1n;
const NO_LPOS = 0x3n;

/** Writes the ring and its VMCOREINFO keys; returns the image offset used for the prb pointer. */
export function writePrb(k: FakeKernel, records: FakeRecord[], shape: RingShape, imageOffset = 0x8000): void {
  const count = 2 ** shape.countBits;
  const size = 2 ** shape.sizeBits;
  const descs = k.allocPage(Math.ceil((count * 24) / PAGE));
  const infos = k.allocPage(Math.ceil((count * 88) / PAGE));
  const data = k.allocPage(Math.ceil(size / PAGE));
  const v = new DataView(k.phys.buffer);
  const firstId = shape.firstId ?? 0n;
  let lpos = BigInt(shape.firstLpos ?? 0);
  const S = BigInt(size);
  records.forEach((r, i) => {
    const id = (firstId + BigInt(i)) & ID_MASK;
    const slot = Number(id % BigInt(count));
    const text = typeof r.text === "string" ? new TextEncoder().encode(r.text) : r.text;
    let begin = NO_LPOS;
    let next = NO_LPOS;
    if (text.length) {
      const blk = BigInt(Math.ceil((8 + text.length) / 8) * 8);
      begin = lpos;
      next = lpos + blk;
      let at = Number(begin % S);
      if (begin / S !== next / S) {
        next = (next / S) * S + blk; // wraps: data at the ring's start
        at = 0;
      }
      v.setBigUint64(data + at, id, true);
      k.phys.set(text, data + at + 8);
      lpos = next;
    }
    const d = descs + slot * 24;
    v.setBigUint64(d, (BigInt(r.state ?? 2) << 62n) | (r.staleId ?? id), true); // state_var (8)
    v.setBigUint64(d + 8, begin, true); // text_blk_lpos.begin (8)
    v.setBigUint64(d + 16, next, true); // text_blk_lpos.next (8)
    const f = infos + slot * 88;
    v.setBigUint64(f, BigInt(i) + 100n, true); // seq (8)
    v.setBigUint64(f + 8, r.tsNsec, true); // ts_nsec (8)
    v.setUint16(f + 16, r.textLen ?? text.length, true); // text_len (2)
    v.setUint8(f + 18, r.facility ?? 0); // facility (1)
    v.setUint8(f + 19, (r.level ?? 6) << 5); // flags:5, level:3 (1)
    v.setUint32(f + 20, r.callerId ?? 1, true); // caller_id (4)
  });
  // struct printk_ringbuffer in the image, and `prb` pointing at it
  const rb = k.imagePhys + imageOffset + 64;
  v.setBigUint64(k.imagePhys + imageOffset, k.imageVaddr + BigInt(imageOffset + 64), true); // prb (8)
  v.setUint32(rb, shape.countBits, true); // desc_ring.count_bits (4)
  v.setBigUint64(rb + 8, k.va(descs), true); // desc_ring.descs (8)
  v.setBigUint64(rb + 16, k.va(infos), true); // desc_ring.infos (8)
  v.setBigUint64(rb + 24, (firstId + BigInt(records.length - 1)) & ID_MASK, true); // desc_ring.head_id (8)
  v.setBigUint64(rb + 32, firstId, true); // desc_ring.tail_id (8)
  v.setUint32(rb + 48, shape.sizeBits, true); // text_data_ring.size_bits (4)
  v.setBigUint64(rb + 56, k.va(data), true); // text_data_ring.data (8)
  for (const line of [
    `SYMBOL(prb)=${(k.imageVaddr + BigInt(imageOffset)).toString(16)}`,
    "SIZE(printk_ringbuffer)=88",
    "OFFSET(printk_ringbuffer.desc_ring)=0",
    "OFFSET(printk_ringbuffer.text_data_ring)=48",
    "OFFSET(prb_desc_ring.count_bits)=0",
    "OFFSET(prb_desc_ring.descs)=8",
    "OFFSET(prb_desc_ring.infos)=16",
    "OFFSET(prb_desc_ring.head_id)=24",
    "OFFSET(prb_desc_ring.tail_id)=32",
    "SIZE(prb_desc)=24",
    "OFFSET(prb_desc.state_var)=0",
    "OFFSET(prb_desc.text_blk_lpos)=8",
    "OFFSET(prb_data_blk_lpos.begin)=0",
    "OFFSET(prb_data_blk_lpos.next)=8",
    "SIZE(printk_info)=88",
    "OFFSET(printk_info.seq)=0",
    "OFFSET(printk_info.ts_nsec)=8",
    "OFFSET(printk_info.text_len)=16",
    "OFFSET(printk_info.caller_id)=20",
    "OFFSET(prb_data_ring.size_bits)=0",
    "OFFSET(prb_data_ring.data)=8",
    "OFFSET(atomic_long_t.counter)=0",
  ])
    k.info(line);
}
