// The capture path's costs on Debian 6.1 and 6.12: our initramfs build time and size (host), the load time of
// `kdump load` against kexec-tools' `kexec -s -p` of the same files (in a 1 GiB TCG guest), and the smallest
// crashkernel= that still saved a dump (descending probes; each is a crash, a capture and a reboot).
// Run: bun bench/load.ts [--lines 6.1,6.12] [--sizes 256,192,160,128,112,96,80,72,64]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildInitramfs, initramfsCodec } from "../lib/initramfs/initramfs.ts";
import { moduleIndex, resolveModules } from "../lib/initramfs/modules.ts";
import { fetchKernel, type LabKernel } from "../lib/lab/kernels.ts";
import { runGuest } from "../lib/lab/qemu.ts";

const { values } = parseArgs({ options: { lines: { type: "string", default: "6.1,6.12" }, sizes: { type: "string", default: "256,192,160,128,112,96,80,72,64" } } });
const MiB = 1048576;
const mib = (n: number) => `${(n / MiB).toFixed(2)} MiB`;

/** Cold and cached build of the capture initramfs for a virtio/ext4 root, on this host. */
function buildCost(k: LabKernel): string {
  const dir = mkdtempSync(join(tmpdir(), "kdump-bench-"));
  try {
    const opts = {
      release: k.release,
      modules: resolveModules(["virtio_blk", "virtio_pci", "ext4"], moduleIndex(k.modulesDir)),
      codec: initramfsCodec(readFileSync(k.config!, "utf8")),
      cacheDir: dir,
      init: { target: "/var/crash", bun: "/usr/local/bin/bun", kdump: "/opt/kdump/kdump.ts", rootWaitSeconds: 30 },
    };
    const t0 = performance.now();
    const cold = buildInitramfs(opts);
    const resolveAndBuild = (performance.now() - t0) / 1000;
    const warm = buildInitramfs(opts);
    return `initramfs: ${mib(cold.bytes)} ${cold.codec} (${mib(cold.cpioBytes)} unpacked, ${opts.modules.length} modules); build ${cold.seconds.toFixed(3)} s (with module resolution ${resolveAndBuild.toFixed(3)} s), cached ${warm.seconds.toFixed(3)} s`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Load time in a guest: ours (kexec_file_load via bun:ffi, initramfs cached) and kexec-tools' on the same files. */
async function loadCost(k: LabKernel): Promise<string> {
  const job = `
kdump load --dry-run > /dev/null   # builds and caches the initramfs
cat > /tmp/time.ts <<'EOS'
const timed = (cmd: string[]) => { const t0 = performance.now(); const p = Bun.spawnSync(cmd); return { s: (performance.now() - t0) / 1000, p }; };
const ours = timed(["kdump", "load", "--json"]);
const r = JSON.parse(ours.p.stdout.toString());
Bun.spawnSync(["kdump", "unload"]);
const peer = timed(["/opt/peer/kexec", "-s", "-p", r.plan.kernel, "--initrd=" + r.plan.initrd, "--append=" + r.plan.cmdline]);
console.log(\`TIMES=\${r.loadSeconds} \${ours.s} \${peer.s} \${peer.p.exitCode}\`);
EOS
bun /tmp/time.ts
`;
  const r = await runGuest({ kernel: k, job, cmdline: "crashkernel=256M", timeoutSeconds: 300 });
  r.cleanup();
  const m = /^TIMES=([\d.]+) ([\d.]+) ([\d.]+) 0$/m.exec(r.console);
  if (!m) return `load: not measured (${r.console.split("\n").filter((l) => !l.startsWith("[")).slice(-3).join(" | ")})`;
  const [syscall, wall, peer] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return `load (TCG guest, initramfs cached): ours ${wall.toFixed(2)} s (kexec_file_load ${syscall.toFixed(2)} s), kexec -s -p ${peer.toFixed(2)} s, ratio ${(wall / peer).toFixed(2)}`;
}

/** One capture at crashkernel=`size`M: how it went. */
async function probe(k: LabKernel, size: number): Promise<{ saved: "collector" | "busybox dd" | null; avail: number | null; seconds: number; why: string }> {
  const job = `
if [ "$LAB_BOOT" = 1 ]; then kdump load > /dev/null || exit 10; sync; kdump trigger --yes; exit 98; fi
for f in /var/crash/*/vmcore; do [ -s "$f" ] && echo "SAVED=$f"; done
`;
  const r = await runGuest({ kernel: k, job, cmdline: `crashkernel=${size}M`, boots: 2, timeoutSeconds: 1200 });
  r.cleanup();
  const seen = /^SAVED=/m.test(r.console);
  const saved = !seen ? null : /kdump-capture: saved by the collector/.test(r.console) ? "collector" : "busybox dd";
  const avail = /kdump-capture: capture kernel .* (\d+) kB available/.exec(r.console);
  const clean = r.console.replace(/\x1b\[[0-9;]*m/g, "");
  const why = /^kdump: .*/m.exec(clean)?.[0] ?? /(Initramfs unpacking failed.*|Kernel panic - not syncing: (?!sysrq).*|Out of memory.*)/.exec(clean)?.[0] ?? (r.timedOut ? "timed out" : "no capture kernel output");
  return { saved, avail: avail ? Number(avail[1]) : null, seconds: r.seconds, why };
}

for (const line of values.lines!.split(",")) {
  const k = await fetchKernel(line);
  console.log(`== Debian ${line} (${k.release})`);
  console.log(buildCost(k));
  console.log(await loadCost(k));
  let smallest: number | null = null;
  let smallestCollector: number | null = null;
  for (const size of values.sizes!.split(",").map(Number)) {
    const p = await probe(k, size);
    const how = p.saved ? `saved by ${p.saved}; capture kernel had ${p.avail} kB available` : `no dump: ${p.why}`;
    console.log(`crashkernel=${size}M: ${how}; run ${p.seconds.toFixed(0)} s`);
    if (!p.saved) break;
    smallest = size;
    if (p.saved === "collector") smallestCollector = size;
  }
  const size = (n: number | null) => (n === null ? "none of those probed" : `${n}M`);
  console.log(`smallest crashkernel= that captured: ${size(smallest)} (with the Bun collector: ${size(smallestCollector)})`);
}
