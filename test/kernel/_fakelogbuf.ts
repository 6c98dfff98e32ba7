// Writes the structured log_buf of kernels 3.5–5.9 into a FakeKernel as kernel/printk/printk.c did: records
// {u64 ts_nsec; u16 len; u16 text_len; u16 dict_len; u8 facility; u8 flags:5, level:3} + text, 8-byte aligned,
// and a zeroed header (len 0) where a record no longer fits before the end, the next one starting at 0.
import { FakeKernel, PAGE } from "./_fakekernel.ts";

/** A record to write. */
export interface FakeLogRecord {
  text: string;
  tsNsec: bigint;
  level?: number;
  facility?: number;
}

const HDR = 16; // sizeof(struct printk_log) without CONFIG_PRINTK_CALLER

/** Writes `records` into a `bufLen`-byte log_buf starting at `firstIdx`, and the VMCOREINFO keys. */
export function writeLogBuf(k: FakeKernel, records: FakeLogRecord[], bufLen: number, firstIdx: number, imageOffset = 0x9000): void {
  const buf = k.allocPage(Math.ceil(bufLen / PAGE));
  const v = new DataView(k.phys.buffer);
  let idx = firstIdx;
  for (const r of records) {
    const text = new TextEncoder().encode(r.text);
    const len = Math.ceil((HDR + text.length) / 8) * 8;
    if (idx + len + HDR > bufLen) {
      k.phys.fill(0, buf + idx, buf + idx + HDR); // the wrap marker: a header of zeros
      idx = 0;
    }
    v.setBigUint64(buf + idx, r.tsNsec, true); // ts_nsec (8)
    v.setUint16(buf + idx + 8, len, true); // len (2)
    v.setUint16(buf + idx + 10, text.length, true); // text_len (2)
    v.setUint16(buf + idx + 12, 0, true); // dict_len (2)
    v.setUint8(buf + idx + 14, r.facility ?? 0); // facility (1)
    v.setUint8(buf + idx + 15, (r.level ?? 6) << 5); // flags:5, level:3 (1)
    k.phys.set(text, buf + idx + HDR);
    idx += len;
  }
  const img = k.imagePhys + imageOffset;
  v.setBigUint64(img, k.va(buf), true); // log_buf (8)
  v.setUint32(img + 8, bufLen, true); // log_buf_len (4)
  v.setUint32(img + 12, firstIdx, true); // log_first_idx (4)
  v.setUint32(img + 16, idx, true); // log_next_idx (4)
  const sym = (name: string, off: number) => `SYMBOL(${name})=${(k.imageVaddr + BigInt(imageOffset + off)).toString(16)}`;
  for (const line of [
    sym("log_buf", 0),
    sym("log_buf_len", 8),
    sym("log_first_idx", 12),
    sym("log_next_idx", 16),
    `SIZE(printk_log)=${HDR}`,
    "OFFSET(printk_log.ts_nsec)=0",
    "OFFSET(printk_log.len)=8",
    "OFFSET(printk_log.text_len)=10",
  ])
    k.info(line);
}
