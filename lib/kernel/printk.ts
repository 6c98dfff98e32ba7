// The kernel log from a dump: the lockless ring buffer (5.10+) and the structured log_buf (3.5–5.9). Offsets
// come from VMCOREINFO only; records are walked the way kexec-tools' vmcore-dmesg walks them.
import { BadDataError, MissingDataError } from "../errors.ts";
import type { KernelView } from "./view.ts";

/** One log record. */
export interface PrintkRecord {
  /** Sequence number (printk_info.seq); null for log_buf, which does not store it. */
  seq: bigint | null;
  /** Timestamp, nanoseconds since boot (local_clock). */
  tsNsec: bigint;
  /** Syslog level 0 (emerg) – 7 (debug). */
  level: number;
  /** Syslog facility (0 for the kernel's own messages). */
  facility: number;
  /** printk_info.caller_id: bit 31 set means CPU (low bits), else a task id; null when not recorded. */
  callerId: number | null;
  /** The text bytes as stored (no trailing newline; multi-line records keep their inner newlines). */
  text: Uint8Array;
}

/**
 * Every record of the kernel log, oldest first.
 * @example for (const r of readPrintk(openKernel(openDump(path)))) console.log(new TextDecoder().decode(r.text))
 */
export function readPrintk(k: KernelView): PrintkRecord[] {
  if (k.info.symbols.has("prb")) return readLockless(k);
  if (k.info.symbols.has("log_first_idx")) return readLogBuf(k);
  throw new MissingDataError("VMCOREINFO has neither SYMBOL(prb) nor SYMBOL(log_first_idx)", { hint: "kernels before 3.5 keep an unstructured log that is not read" });
}

const ID_MASK = (1n << 62n) - 1n; // DESC_ID_MASK: state_var bits 0–61 hold the id, bits 62–63 the state
const DESC_COMMITTED = 1n;
const DESC_FINALIZED = 2n;

// Linux kernel commit 896fbe20b4e2 ("printk: use the lockless ringbuffer") (in v5.10).
function readLockless(k: KernelView): PrintkRecord[] {
  const vi = k.info;
  const off = (n: string) => vi.offset(n);
  const counter = off("atomic_long_t.counter");
  const prbAddr = k.u64(vi.symbol("prb"));
  const prb = dv(k.read(prbAddr, vi.size("printk_ringbuffer")));
  const dr = off("printk_ringbuffer.desc_ring");
  const tdr = off("printk_ringbuffer.text_data_ring");
  const countBits = prb.getUint32(dr + off("prb_desc_ring.count_bits"), true);
  const sizeBits = prb.getUint32(tdr + off("prb_data_ring.size_bits"), true);
  if (countBits > 24 || sizeBits > 31) throw new BadDataError(`printk ring sizes 2^${countBits} records / 2^${sizeBits} bytes make no sense`, { hint: "the dump's printk_ringbuffer is corrupted" });
  const count = 2 ** countBits;
  const dataSize = 2 ** sizeBits;
  const descSize = vi.size("prb_desc");
  const infoSize = vi.size("printk_info");
  const descs = dv(k.read(prb.getBigUint64(dr + off("prb_desc_ring.descs"), true), count * descSize));
  const infos = dv(k.read(prb.getBigUint64(dr + off("prb_desc_ring.infos"), true), count * infoSize));
  const data = k.read(prb.getBigUint64(tdr + off("prb_data_ring.data"), true), dataSize);
  const tail = prb.getBigUint64(dr + off("prb_desc_ring.tail_id") + counter, true);
  const head = prb.getBigUint64(dr + off("prb_desc_ring.head_id") + counter, true);
  if (((head - tail) & ID_MASK) >= BigInt(count)) throw new BadDataError(`printk ring ids tail ${tail} to head ${head} exceed its ${count} records`, { hint: "the dump's printk_ringbuffer is corrupted" });

  const stateAt = off("prb_desc.state_var") + counter;
  const beginAt = off("prb_desc.text_blk_lpos") + off("prb_data_blk_lpos.begin");
  const nextAt = off("prb_desc.text_blk_lpos") + off("prb_data_blk_lpos.next");
  const seqAt = off("printk_info.seq");
  const tsAt = off("printk_info.ts_nsec");
  const lenAt = off("printk_info.text_len");
  const callerAt = off("printk_info.caller_id");
  // struct printk_info { …; u16 text_len; u8 facility; u8 flags:5; u8 level:3; u32 caller_id; … }: facility and
  // level are not in VMCOREINFO, so they are read beside text_len when caller_id sits where that layout puts it.
  const levelKnown = callerAt === lenAt + 4;

  const out: PrintkRecord[] = [];
  const size = BigInt(dataSize);
  for (let id = tail; ; id = (id + 1n) & ID_MASK) {
    const slot = Number(id % BigInt(count));
    const d = slot * descSize;
    const state = descs.getBigUint64(d + stateAt, true);
    const st = state >> 62n;
    if ((state & ID_MASK) === id && (st === DESC_COMMITTED || st === DESC_FINALIZED)) {
      const i = slot * infoSize;
      let begin = Number(descs.getBigUint64(d + beginAt, true) % size);
      const next = Number(descs.getBigUint64(d + nextAt, true) % size);
      let text = new Uint8Array(0);
      if (begin !== next) {
        let len = infos.getUint16(i + lenAt, true);
        if (begin > next) begin = 0; // the block wrapped: its data is at the start of the ring
        begin += 8; // skip the block's id (unsigned long)
        if (next >= begin && next - begin < len) len = next - begin; // truncated record
        text = data.slice(begin, Math.min(begin + len, dataSize));
      }
      const byte3 = infos.getUint8(i + lenAt + 3);
      out.push({
        seq: infos.getBigUint64(i + seqAt, true),
        tsNsec: infos.getBigUint64(i + tsAt, true),
        facility: levelKnown ? infos.getUint8(i + lenAt + 2) : 0,
        level: levelKnown ? byte3 >> 5 : 4,
        callerId: infos.getUint32(i + callerAt, true),
        text,
      });
    }
    if (id === head) break;
  }
  return out;
}

// Linux kernel commit 7ff9554bb578 ("printk: convert byte-buffer to variable-length record buffer") (in v3.5);
// the struct was named `log` until v3.11.
function readLogBuf(k: KernelView): PrintkRecord[] {
  const vi = k.info;
  const name = vi.sizes.has("printk_log") ? "printk_log" : "log";
  const recSize = vi.size(name);
  const tsAt = vi.offset(`${name}.ts_nsec`);
  const lenAt = vi.offset(`${name}.len`);
  const textLenAt = vi.offset(`${name}.text_len`);
  const callerAt = vi.offsets.get(`${name}.caller_id`);
  const bufLen = k.u32(vi.symbol("log_buf_len"));
  if (bufLen === 0 || bufLen > 1 << 30) throw new BadDataError(`log_buf_len ${bufLen} makes no sense`, { hint: "the dump's log_buf is corrupted" });
  const buf = k.read(k.u64(vi.symbol("log_buf")), bufLen);
  const b = dv(buf);
  const first = k.u32(vi.symbol("log_first_idx"));
  const nextIdx = k.u32(vi.symbol("log_next_idx"));
  const out: PrintkRecord[] = [];
  let wrapped = false;
  for (let idx = first; idx !== nextIdx; ) {
    if (idx + recSize > bufLen) throw new BadDataError(`log record index 0x${idx.toString(16)} is outside log_buf`, { hint: "the dump's log_buf is corrupted" });
    const len = b.getUint16(idx + lenAt, true);
    if (len === 0) {
      // the end-of-buffer marker: the next record is at the start
      if (wrapped) throw new BadDataError("log_buf records form a cycle", { hint: "the dump's log_buf is corrupted" });
      wrapped = true;
      idx = 0;
      continue;
    }
    const textLen = b.getUint16(idx + textLenAt, true);
    const flags = b.getUint8(idx + textLenAt + 5);
    out.push({
      seq: null,
      tsNsec: b.getBigUint64(idx + tsAt, true),
      facility: b.getUint8(idx + textLenAt + 4),
      level: flags >> 5,
      callerId: callerAt === undefined ? null : b.getUint32(idx + callerAt, true),
      text: buf.slice(idx + recSize, Math.min(idx + recSize + textLen, bufLen)),
    });
    idx += len;
  }
  return out;
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
