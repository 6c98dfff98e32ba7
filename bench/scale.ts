// How the capture grows with the guest's RAM, against makedumpfile 1.7.8: a lab rehearsal (load → crash → capture →
// reboot → analyze) of a 6.1 guest of each size, whose crash leaves memory in use (anonymous memory held by a
// process, page cache, dentries). In the one capture kernel, a pre hook (/etc/kdump/pre.d) first runs sid's
// makedumpfile 1.7.8 at -d 31 for each codec (and our collector for codecs other than zstd), each alone, timed from
// /proc/uptime around the process, its end taken from wait (until 2026-12-03 from a 1 s poll: every wall time rounded up to the next second), its RssAnon and VmHWM sampled every 1 s from /proc/PID/status by a loop beside it (0.2 s until 2026-12-02: the shell loop and its sleep took a share of the one CPU); then the
// capture init runs our collector at its defaults (-d 31, zstd), timed between that hook's end and a post hook's
// start. After the reboot, `kdump analyze DUMP bt` is timed on every dump. The first boot prints `kdump estimate`
// for the guest, so a run at exactly the recommended crashkernel= (--at-estimate) proves both collectors fit it.
// Rows are cached in .lab/scale-rows.json with the date they were measured; --fresh measures again.
// --profile adds a run of our collector under Bun's CPU profiler and prints the top of its profile.
// --cpus 2 gives the capture kernel two CPUs (load --append nr_cpus=2; the guest gets three, its boot CPU being left
// out of the capture): our collector compresses on one worker per CPU, makedumpfile runs with --num-threads 2.
// Run: bun bench/scale.ts [MiB…] [--crashkernel 256M | --at-estimate] [--codecs zstd,lzo] [--cpus 1|2] [--profile] [--same-zstd] [--in-hook]
//   [--threads-variants 0,1] [--no-mdf-threads] [--pairs N] [--probe-disk] [--mdf-non-mmap] [--ours-non-mmap] [--ours-env A=1,B=2] [--fresh]
//   (default sizes 1024 16384 65536, crashkernel=256M, codecs zstd; above 16 GiB QEMU gets a reserve=off RAM backend)
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fetchKernel } from "../lib/lab/kernels.ts";
import { labDir } from "../lib/lab/labdir.ts";
import { rehearse } from "../lib/lab/rehearse.ts";
import { sidMakedumpfile } from "../lib/lab/sid_makedumpfile.ts";

/** One measured capture. */
interface Row {
  kernel: string;
  ramMiB: number;
  /** CPUs of the capture kernel (rows before 2026-12-02 05:00 had 1 and no field). */
  cpus?: number;
  /** The reservation the guest booted with (rows before 2026-12-01 19:00 had 256M and no field). */
  crashkernel?: string;
  /** What `kdump estimate` recommended in that guest, in MiB. */
  estimateMiB?: number | null;
  /** ours+sid-libzstd: ours with the libzstd makedumpfile runs with (--same-zstd). */
  /** ours:hook: ours run by the pre hook like makedumpfile (--in-hook); ours: the capture init's own run. */
  /** makedumpfile-1.7.8:1-thread: without --num-threads in a capture kernel of several CPUs (--cpus 2 and up). */
  collector: "ours" | "ours:hook" | "ours+sid-libzstd" | "makedumpfile-1.7.8" | "makedumpfile-1.7.8:1-thread" | `ours:threads=${number}` | "makedumpfile-1.7.8:1-thread:non-mmap" | "ours:non-mmap" | `ours:${string}=${string}`;
  level: number;
  codec: string;
  /** The run's number among repeated pairs in one capture kernel (--pairs), from 2; the first has none. */
  rep?: number;
  passed: boolean;
  reason?: string;
  /** Capture-kernel wall time of the collector process, measured outside it. */
  wallSeconds?: number | null;
  /** What our collector reported for itself (its own timer, after Bun started). */
  captureSeconds: number | null;
  peakAnon: string | null;
  peakResident: string | null;
  dumpBytes: number;
  pagesWritten: string | null;
  /** `kdump analyze DUMP bt` in the guest after the reboot. */
  btSeconds?: number | null;
  analyzeSeconds: number | null;
  measured: string;
}

const args = process.argv.slice(2);
const fresh = args.includes("--fresh");
/** Also run our collector (zstd) under Bun's CPU profiler in the capture kernel and print the profile's top. */
const profile = args.includes("--profile");
/**
 * Also run our collector (zstd) with the libzstd makedumpfile runs with (sid's, LD_LIBRARY_PATH), before the init's
 * own run with the guest's: zstd releases differ in speed (1.5.7 compresses lab pages 1.3x faster than 1.5.4 on the
 * host, 1.5x under TCG), and a box's makedumpfile and our collector load the same system library.
 */
const sameZstd = args.includes("--same-zstd");
/**
 * Also run our collector (zstd) in the pre hook, timed and sampled exactly as makedumpfile is (the init's own run has
 * no sampler beside it): the like-for-like wall time.
 */
const inHook = args.includes("--in-hook");
/**
 * --threads-variants 0,1: also run our collector in the pre hook with --threads N for each N and codec (rows
 * "ours:threads=N"), to see how it scales with the capture kernel's CPUs in one capture kernel.
 */
const threadVariants = (args.includes("--threads-variants") ? args[args.indexOf("--threads-variants") + 1] ?? "" : "").split(",").filter(Boolean).map(Number);
if (threadVariants.some((n) => !Number.isInteger(n) || n < 0 || n > 8)) throw new Error(`--threads-variants ${threadVariants.join(",")}: each must be 0–8`);
/** --no-mdf-threads: skip makedumpfile --num-threads, every codec (it took 1.3–1.6x its one-thread time in every two-CPU capture). */
const noMdfThreads = args.includes("--no-mdf-threads");
/** --mdf-non-mmap: also run makedumpfile (one thread) with --non-mmap, reading /proc/vmcore by read(2) as ours does. */
const mdfNonMmap = args.includes("--mdf-non-mmap");
/** --ours-non-mmap: also run our collector with KDUMP_NO_MMAP=1, reading /proc/vmcore by read(2) (before 2026-12-02). */
const oursNonMmap = args.includes("--ours-non-mmap");
/** --probe-disk: before the runs, time writing 100 MiB of zeros to the dump disk (buffered, then synced; and O_DIRECT). */
const probeDisk = args.includes("--probe-disk");
/**
 * --pairs N: after the other runs, N - 1 more alternating pairs of makedumpfile without threads and ours in the hook,
 * with the first of --codecs (rows numbered #2…#N): in this lab one collector's run moves by ±30% from one run to the
 * next.
 */
const pairs = Number(args.includes("--pairs") ? args[args.indexOf("--pairs") + 1] : 1);
if (!Number.isInteger(pairs) || pairs < 1 || pairs > 9) throw new Error(`--pairs ${pairs} is not 1–9`);
/**
 * --ours-env A=1,B=2: also run our collector (each codec) with these variables set (engine options such as
 * BUN_JSC_useFTLJIT=0; `GLIBC_TUNABLES=` runs it without the tunables the capture init sets, glibc_tunables.ts).
 */
const oursEnv = args.includes("--ours-env") ? (args[args.indexOf("--ours-env") + 1] ?? "").split(",").filter((v) => /^\w+=[\w.-]*$/.test(v)) : [];
const atEstimate = args.includes("--at-estimate");
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const codecs = (option("--codecs") ?? "zstd").split(",");
const fixedCrashkernel = option("--crashkernel") ?? "256M";
const cpus = Number(option("--cpus") ?? 1);
if (!Number.isInteger(cpus) || cpus < 1 || cpus > 8) throw new Error(`--cpus ${option("--cpus")} is not 1–8`);
const sizes = args.filter((a, i) => /^\d+$/.test(a) && !["--crashkernel", "--codecs", "--cpus", "--threads-variants", "--pairs", "--ours-env"].includes(args[i - 1] ?? "")).map(Number);
const cacheFile = join(labDir(), "scale-rows.json");
const cache: Row[] = existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, "utf8")) : [];
const kernel = await fetchKernel("6.1");
const MDF = "makedumpfile-1.7.8" as const;
const MDF1 = "makedumpfile-1.7.8:1-thread" as const;

/** The pre hook: every "<tool> <codec>" line of /var/lib/kdump-bench/runs, one at a time, timed and sampled. */
function preHook(makedumpfile: string): string {
  const threads = cpus > 1 ? ` --num-threads ${cpus}` : "";
  return `#!/bin/sh
# lab bench (bench/scale.ts): other collectors on /proc/vmcore before ours, each timed and its memory sampled
runs=/var/lib/kdump-bench/runs
[ -f $runs ] || exit 0
if [ "${probeDisk ? 1 : 0}" = 1 ]; then
  read a _ < /proc/uptime; dd if=/dev/zero of=/var/crash/bench-dd bs=1M count=100 2>/dev/null; read b _ < /proc/uptime; sync; read c _ < /proc/uptime
  rm -f /var/crash/bench-dd; sync
  read d _ < /proc/uptime; dd if=/dev/zero of=/var/crash/bench-dd bs=1M count=100 oflag=direct 2>/dev/null; read e _ < /proc/uptime
  rm -f /var/crash/bench-dd; sync
  echo "SCALE-DISK buffered=$a..$b sync-end=$c direct=$d..$e"
fi
# our collector prints its CPU time by thread (the engine's JIT and GC helpers, the workers, the main thread)
export KDUMP_THREAD_CPU=1
# the capture kernel starts with a cold page cache: read every collector's files once, so no run pays for the disk
cat /usr/local/bin/bun > /dev/null 2>&1
find /opt/kdump /opt/zstd-sid /opt/makedumpfile-sid -type f -exec cat {} + > /dev/null 2>&1
while read tool codec rep; do
  out=/var/crash/bench-$tool-$codec\${rep:+-$rep}
  rm -rf $out; mkdir -p $out
  case "$tool.$codec" in
    makedumpfile.zstd) set -- ${makedumpfile}${threads} -z -d 31 /proc/vmcore $out/vmcore ;;
    makedumpfile-1thread.zstd) set -- ${makedumpfile} -z -d 31 /proc/vmcore $out/vmcore ;;
    makedumpfile-1thread.lzo) set -- ${makedumpfile} -l -d 31 /proc/vmcore $out/vmcore ;;
    makedumpfile-1thread.zlib) set -- ${makedumpfile} -c -d 31 /proc/vmcore $out/vmcore ;;
    makedumpfile-nonmmap.zstd) set -- ${makedumpfile} --non-mmap -z -d 31 /proc/vmcore $out/vmcore ;;
    makedumpfile.lzo) set -- ${makedumpfile}${threads} -l -d 31 /proc/vmcore $out/vmcore ;;
    makedumpfile.zlib) set -- ${makedumpfile}${threads} -c -d 31 /proc/vmcore $out/vmcore ;;
    ours-samezstd.*) set -- env LD_LIBRARY_PATH=/opt/zstd-sid /usr/local/bin/bun /opt/kdump/lib/collect/main.ts collect --from /proc/vmcore --out $out --compress $codec ;;
    ours-env.*) set -- env ${oursEnv.join(" ")} /usr/local/bin/bun /opt/kdump/lib/collect/main.ts collect --from /proc/vmcore --out $out --compress $codec ;;
    ours-nonmmap.*) set -- env KDUMP_NO_MMAP=1 /usr/local/bin/bun /opt/kdump/lib/collect/main.ts collect --from /proc/vmcore --out $out --compress $codec ;;
    ours-t*.*) set -- /usr/local/bin/bun /opt/kdump/lib/collect/main.ts collect --from /proc/vmcore --out $out --compress $codec --threads \${tool#ours-t} ;;
    ours-prof.*) set -- /usr/local/bin/bun --cpu-prof-md --cpu-prof-interval=10000 --cpu-prof-dir=$out/prof /opt/kdump/lib/collect/main.ts collect --from /proc/vmcore --out $out --compress $codec ;;
    *) set -- /usr/local/bin/bun /opt/kdump/lib/collect/main.ts collect --from /proc/vmcore --out $out --compress $codec ;;
  esac
  # every run starts alike: the dumps before it written back and out of the page cache (the capture kernel has
  # ~470 MB and each dump is ~100 MB; the init's run, last, was the slowest), the collectors' own files read in
  sync; echo 3 > /proc/sys/vm/drop_caches
  cat /usr/local/bin/bun > /dev/null 2>&1
  find /opt/kdump /opt/zstd-sid /opt/makedumpfile-sid -type f -exec cat {} + > /dev/null 2>&1
  read t0 _ < /proc/uptime
  "$@" > $out/log 2>&1 &
  pid=$!
  # memory is sampled once a second by a loop beside the run (until 2026-12-03 the same loop also told when the run
  # ended, so every wall time was rounded up to the next second: 1 s in a 10 s lzo run); the end is wait's
  ( anon=0; hwm=0
    while [ -e /proc/$pid/status ]; do
      while read k v _; do
        case $k in
          RssAnon:) [ "$v" -gt $anon ] && anon=$v ;;
          VmHWM:) hwm=$v ;;
        esac
      done < /proc/$pid/status
      echo "$anon $hwm" > $out/mem.tmp && mv $out/mem.tmp $out/mem
      sleep 1
    done ) &
  poller=$!
  wait $pid; rc=$?
  read t1 _ < /proc/uptime
  kill $poller 2>/dev/null; wait $poller 2>/dev/null
  read anon hwm < $out/mem 2>/dev/null || { anon=0; hwm=0; }
  rm -f $out/mem $out/mem.tmp
  f=$(find $out -name vmcore | head -n 1)
  name=$tool\${rep:+#$rep}
  echo "SCALE-RUN $name $codec rc=$rc start=$t0 end=$t1 anonKiB=$anon hwmKiB=$hwm bytes=$(stat -c %s "$f" 2>/dev/null || echo 0) file=$f"
  grep -E 'saved |Completed|rror|CPU by' $out/log | tr '\\r' '\\n' | tail -n 5 | sed "s/^/SCALE-LOG $name $codec /"
  # a failed run's last words (makedumpfile --num-threads 2 ended with SIGABRT, rc 134, on 2026-12-02)
  [ $rc = 0 ] || tr '\\r' '\\n' < $out/log | grep -v '^ *$' | tail -n 6 | sed "s/^/SCALE-FAIL $name $codec /"
done < $runs
sync; echo 3 > /proc/sys/vm/drop_caches
cat /usr/local/bin/bun > /dev/null 2>&1
find /opt/kdump -type f -exec cat {} + > /dev/null 2>&1
read t _ < /proc/uptime; echo $t > /tmp/bench-pre-end
exit 0
`;
}

const POST_HOOK = `#!/bin/sh
# lab bench (bench/scale.ts): when our collector (run by the capture init after the pre hooks) ended
read t _ < /proc/uptime; echo "SCALE-OURS start=$(cat /tmp/bench-pre-end 2>/dev/null) end=$t rc=$1"
`;

/** The pre hook's runs, in order, as "tool codec [rep]" lines. */
function hookRuns(): string[] {
  return [...codecs.filter(() => !(noMdfThreads && cpus > 1)).map((c) => `makedumpfile ${c}`), ...codecs.flatMap((c) => threadVariants.map((n) => `ours-t${n} ${c}`)), ...codecs.filter((c) => c !== "zstd").map((c) => `ours ${c}`), ...(inHook ? ["ours-hook zstd"] : []), ...(cpus > 1 ? codecs.map((c) => `makedumpfile-1thread ${c}`) : []), ...(sameZstd ? ["ours-samezstd zstd"] : []), ...(mdfNonMmap ? ["makedumpfile-nonmmap zstd"] : []), ...(oursNonMmap ? ["ours-nonmmap zstd"] : []), ...(oursEnv.length ? codecs.map((c) => `ours-env ${c}`) : []), ...(profile ? ["ours-prof zstd"] : []), ...Array.from({ length: pairs - 1 }, (_, i) => [`makedumpfile-1thread ${codecs[0]} ${i + 2}`, `ours-hook ${codecs[0]} ${i + 2}`]).flat()];
}

/**
 * The guest's root filesystem in MiB: room for every run's dump, kept for `bt` after the reboot, and the init's
 * own. A 64 GiB -d 31 dump is up to ~300 MiB (lzo); 3 GiB filled up with `--codecs lzo,zlib --pairs 4` (2026-12-03),
 * and the init's run ended in ENOSPC.
 */
function rootfsMiB(ramMiB: number): number {
  const perDump = ramMiB >= 65536 ? 400 : ramMiB >= 16384 ? 150 : 60;
  return 3072 + (hookRuns().length + 1) * perDump;
}

/** The crash: hold a quarter of RAM (at most 3 GiB) of non-zero anonymous memory, read files into the cache, then sysrq-c. */
function crashJob(ramMiB: number): string {
  const anon = Math.min(3072, Math.floor(ramMiB / 4));
  const fill = `const a=[];for(let i=0;i<${anon};i++){const b=new Uint8Array(1<<20);b.fill((i%250)+1);a.push(b)}console.log("SCALE-FILLED ${anon} MiB");setInterval(()=>a.length,1e6)`;
  const runs = hookRuns();
  return [
    `mkdir -p /var/lib/kdump-bench; printf '%s\\n' ${runs.map((r) => `'${r}'`).join(" ")} > /var/lib/kdump-bench/runs`,
    `echo "SCALE-ESTIMATE $(kdump estimate --json --kernel /boot/vmlinuz-$(uname -r) --initrd $(ls -t /var/lib/kdump/initramfs-*.img | head -n 1) | tr -d '\\n')"`,
    `bun -e 'import { haveLiblzo2 } from "/opt/kdump/lib/sys/liblzo2.ts"; console.log("SCALE-LIBLZO2", haveLiblzo2())'`,
    `bun -e 'import { haveLibz } from "/opt/kdump/lib/sys/libz.ts"; console.log("SCALE-LIBZ", haveLibz())'`,
    `bun -e 'import { libzstdVersion } from "/opt/kdump/lib/sys/libzstd.ts"; console.log("SCALE-LIBZSTD guest", libzstdVersion())'`,
    `LD_LIBRARY_PATH=/opt/zstd-sid bun -e 'import { libzstdVersion } from "/opt/kdump/lib/sys/libzstd.ts"; console.log("SCALE-LIBZSTD sid", libzstdVersion())'`,
    `bun -e '${fill}' > /tmp/scale-filled 2>&1 &`,
    `i=0; while ! grep -q SCALE-FILLED /tmp/scale-filled 2>/dev/null && [ $i -lt 900 ]; do sleep 1; i=$((i+1)); done; cat /tmp/scale-filled`,
    `cat "$(command -v bun)" > /dev/null; find / -xdev > /dev/null 2>&1`,
    `grep -E 'MemFree|AnonPages|^Cached|Slab' /proc/meminfo | sed 's/^/SCALE-MEMINFO /'`,
    `sync`,
    `bunx kdump recipes/trigger.ts --yes`,
  ].join("\n  ");
}

/** After the reboot: `kdump analyze DUMP bt` on every dump, timed from /proc/uptime. */
const AFTER = `for f in $(find /var/crash -name vmcore | sort); do
  read a _ < /proc/uptime; kdump analyze "$f" bt > /tmp/bench-bt.txt 2>&1; rc=$?; read b _ < /proc/uptime
  echo "SCALE-BT $f rc=$rc start=$a end=$b lines=$(wc -l < /tmp/bench-bt.txt) sysrq=$(grep -c sysrq /tmp/bench-bt.txt)"
done
for p in $(find /var/crash -path '*/prof/*.md'); do head -n 60 "$p" | sed 's/^/SCALE-PROF /'; done
true`;

/** The guest files: makedumpfile with its libraries, the hooks, and the liblzo2, libzstd and libz a server with makedumpfile has. */
async function benchFiles(): Promise<Record<string, string>> {
  const m = await sidMakedumpfile();
  const dir = join(labDir(), "scale-bench");
  mkdirSync(dir, { recursive: true });
  const hook = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    chmodSync(p, 0o755);
    return p;
  };
  return {
    ...m.files,
    "/etc/kdump/pre.d/50-bench-peers": hook("pre", preHook(m.command)),
    "/etc/kdump/post.d/50-bench-end": hook("post", POST_HOOK),
    "/usr/lib/x86_64-linux-gnu/liblzo2.so.2": "/usr/lib/x86_64-linux-gnu/liblzo2.so.2.0.0",
    "/usr/lib/x86_64-linux-gnu/libzstd.so.1": realpathSync("/usr/lib/x86_64-linux-gnu/libzstd.so.1"),
    "/usr/lib/x86_64-linux-gnu/libz.so.1": realpathSync("/usr/lib/x86_64-linux-gnu/libz.so.1"),
    // sid's libzstd alone in a folder, for --same-zstd (it needs nothing newer than the guest's glibc 2.36)
    "/opt/zstd-sid/libzstd.so.1": m.files["/opt/makedumpfile-sid/lib/libzstd.so.1"]!,
  };
}

const kv = (line: string, key: string) => new RegExp(`\\b${key}=(\\S*)`).exec(line)?.[1];
const kib = (v: string | undefined) => (v ? `${(Number(v) / 1024).toFixed(1)} MiB` : null);

async function measure(ramMiB: number, crashkernel: string): Promise<Row[]> {
  const lines: string[] = [];
  const r = await rehearse({
    kernel,
    memoryMiB: ramMiB,
    // the capture kernel leaves out the first kernel's boot CPU (disable_cpu_apicid, as kdump-utils does) and boots
    // on the CPU that crashed: N capture CPUs need N + 1 in the guest (with 2, the capture kernel brought up 1)
    cpus: cpus > 1 ? cpus + 1 : 1,
    loadArgs: cpus > 1 ? ["--append", `nr_cpus=${cpus}`] : [],
    crashkernel,
    crash: crashJob(ramMiB),
    after: AFTER,
    files: await benchFiles(),
    rootfsMiB: rootfsMiB(ramMiB),
    timeoutSeconds: 5400,
    onLine: (l) => {
      if (/SCALE-|kdump-capture:|kdump: |saved \S+ \(kdump/.test(l)) {
        lines.push(l.trim());
        console.error(`  [${ramMiB} MiB] ${l.trim()}`);
      }
    },
  });
  const est = lines.find((l) => l.startsWith("SCALE-ESTIMATE "));
  let estimateMiB: number | null = null;
  try {
    estimateMiB = est ? (JSON.parse(est.slice(15)).value?.size ?? null) / 1048576 : null;
  } catch {
    estimateMiB = null;
  }
  const bt = (file: string | null | undefined) => {
    const l = file ? lines.find((x) => x.startsWith(`SCALE-BT ${file} `)) : undefined;
    return l && kv(l, "rc") === "0" && kv(l, "sysrq") !== "0" ? Math.round((Number(kv(l, "end")) - Number(kv(l, "start"))) * 100) / 100 : null;
  };
  const base = { kernel: r.kernel, ramMiB, cpus, crashkernel, estimateMiB, level: 31, measured: new Date().toISOString() };
  const rows: Row[] = [];
  for (const l of lines.filter((x) => x.startsWith("SCALE-RUN "))) {
    const [, name, codec] = l.split(" ");
    const [tool, repText] = name!.split("#");
    if (tool === "ours-prof") continue; // its time includes the profiler's
    const ok = r.passed && kv(l, "rc") === "0" && Number(kv(l, "bytes")) > 0;
    const ourTool = tool!.startsWith("ours");
    const self = ourTool ? lines.find((x) => x.startsWith(`SCALE-LOG ${name} ${codec} `) && /saved /.test(x)) : undefined;
    const m = self ? /: (\d+) of \d+ pages, .* in ([\d.]+) s;.*peak memory ([\d.]+ \w+) anonymous, ([\d.]+ \w+) resident/.exec(self) : null;
    rows.push({
      ...base,
      collector: tool!.startsWith("ours-t") ? `ours:threads=${Number(tool!.slice(6))}` : tool === "ours" ? "ours" : tool === "ours-samezstd" ? "ours+sid-libzstd" : tool === "ours-hook" ? "ours:hook" : tool === "makedumpfile-1thread" ? MDF1 : tool === "makedumpfile-nonmmap" ? `${MDF1}:non-mmap` : tool === "ours-nonmmap" ? "ours:non-mmap" : tool === "ours-env" ? (`ours:${oursEnv.join(",")}` as `ours:${string}=${string}`) : MDF,
      codec: codec!,
      ...(repText && { rep: Number(repText) }),
      passed: ok,
      ...(!ok && { reason: [r.reason ?? `rc=${kv(l, "rc")}`, ...lines.filter((x) => x.startsWith(`SCALE-FAIL ${name} ${codec} `)).slice(-2).map((x) => x.split(" ").slice(3).join(" "))].join(": ") }),
      wallSeconds: Math.round((Number(kv(l, "end")) - Number(kv(l, "start"))) * 100) / 100,
      captureSeconds: m ? Number(m[2]) : null,
      peakAnon: m?.[3] ?? kib(kv(l, "anonKiB")),
      peakResident: m?.[4] ?? kib(kv(l, "hwmKiB")),
      dumpBytes: Number(kv(l, "bytes")),
      pagesWritten: m?.[1] ?? null,
      btSeconds: bt(kv(l, "file")),
      analyzeSeconds: null,
    });
  }
  const saved = lines.find((l) => /saved \S+ \(kdump/.test(l) && !l.startsWith("SCALE-"));
  const m = saved ? /: (\d+) of \d+ pages, .* in ([\d.]+) s;.*peak memory ([\d.]+ \w+) anonymous, ([\d.]+ \w+) resident/.exec(saved) : null;
  const ours = lines.find((l) => l.startsWith("SCALE-OURS "));
  rows.push({
    ...base,
    collector: "ours",
    codec: "zstd",
    passed: r.passed && r.savedBy === "collector",
    // the collector's own last words when it failed (e.g. "kdump: collect failed: no space left on the device: …")
    ...(!(r.passed && r.savedBy === "collector") && {
      reason: r.reason ?? lines.filter((l) => /kdump: .*failed/.test(l)).pop()?.replace(/\x1b\[[0-9;]*m/g, "") ?? `saved by ${r.savedBy}`,
    }),
    wallSeconds: ours && kv(ours, "start") ? Math.round((Number(kv(ours, "end")) - Number(kv(ours, "start"))) * 100) / 100 : null,
    captureSeconds: m ? Number(m[2]) : null,
    peakAnon: m?.[3] ?? null,
    peakResident: m?.[4] ?? null,
    dumpBytes: r.dumpBytes,
    pagesWritten: m?.[1] ?? null,
    btSeconds: bt(r.dumpPath),
    analyzeSeconds: r.phases.find((p) => p.name === "analyze")?.seconds ?? null,
  });
  if (!r.passed) console.error(`  [${ramMiB} MiB] rehearsal failed: ${r.reason}`);
  return rows;
}

const ck = (x: Row) => x.crashkernel ?? "256M";
const cpusOf = (x: Row) => x.cpus ?? 1;
for (const ramMiB of sizes.length ? sizes : [1024, 16384, 65536]) {
  let crashkernel = fixedCrashkernel;
  if (atEstimate) {
    const known = cache.find((x) => x.kernel === kernel.release && x.ramMiB === ramMiB && typeof x.estimateMiB === "number");
    if (!known) {
      console.error(`no estimate known for ${ramMiB} MiB yet: run once with --crashkernel first`);
      continue;
    }
    crashkernel = `${known.estimateMiB}M`;
  }
  const same = (x: Row) => x.kernel === kernel.release && x.ramMiB === ramMiB && ck(x) === crashkernel && cpusOf(x) === cpus;
  const wanted = (x: Row) => same(x) && (x.collector === MDF || x.codec !== "zstd" ? codecs.includes(x.codec) : true);
  if (!fresh && cache.filter(wanted).length >= codecs.length * 2) continue;
  console.error(`measuring ${ramMiB} MiB at crashkernel=${crashkernel}, codecs ${codecs.join(",")}…`);
  const rows = await measure(ramMiB, crashkernel);
  const replaced = (x: Row) => rows.some((y) => same(x) && x.collector === y.collector && x.codec === y.codec && x.rep === y.rep);
  cache.splice(0, cache.length, ...cache.filter((x) => !replaced(x)), ...rows);
  writeFileSync(cacheFile, JSON.stringify(cache, null, 2) + "\n");
}

const cell = (v: unknown, w: number) => String(v ?? "-").padStart(w);
console.log(
  `${"RAM".padStart(6)} ${"crashk".padStart(6)} ${"cpus".padStart(4)} ${"collector".padEnd(18)} ${"codec".padEnd(5)} ${cell("wall s", 8)} ${cell("own s", 7)} ${cell("peak anon", 10)} ${cell("peak RSS", 10)} ${cell("dump MiB", 9)} ${cell("bt s", 6)}  measured`,
);
const rows = cache.filter((x) => x.kernel === kernel.release).sort((a, b) => a.ramMiB - b.ramMiB || ck(a).localeCompare(ck(b)) || cpusOf(a) - cpusOf(b) || a.codec.localeCompare(b.codec) || a.collector.localeCompare(b.collector));
for (const x of rows) {
  const atEst = typeof x.estimateMiB === "number" && ck(x) === `${x.estimateMiB}M` ? "=est" : "";
  console.log(
    `${cell(`${x.ramMiB / 1024}G`, 6)} ${cell(ck(x) + atEst, 6)} ${cell(cpusOf(x), 4)} ${(x.collector + (x.rep ? `#${x.rep}` : "")).padEnd(18)} ${x.codec.padEnd(5)} ${cell(x.wallSeconds, 8)} ${cell(x.captureSeconds, 7)} ${cell(x.peakAnon, 10)} ${cell(x.peakResident, 10)} ${cell((x.dumpBytes / 1048576).toFixed(1), 9)} ${cell(x.btSeconds, 6)}  ${x.measured.slice(0, 16)}${x.passed ? "" : ` FAILED: ${x.reason}`}`,
  );
}
// the estimate each guest size got, and whether a capture at exactly that size passed for both collectors
for (const ram of [...new Set(rows.map((x) => x.ramMiB))]) {
  const est = rows.find((x) => x.ramMiB === ram && typeof x.estimateMiB === "number")?.estimateMiB;
  if (est === undefined) continue;
  const at = rows.filter((x) => x.ramMiB === ram && ck(x) === `${est}M`);
  // makedumpfile with threads (MDF) or without (MDF1, --no-mdf-threads or the 1-thread runs beside it)
  const fits = (...cs: Row["collector"][]) => {
    const mine = at.filter((x) => cs.includes(x.collector));
    return mine.length ? (mine.every((x) => x.passed) ? "captured" : "FAILED") : "not run";
  };
  console.log(`${ram / 1024} GiB: kdump estimate recommends crashkernel=${est}M; at exactly that size ours ${fits("ours")}, makedumpfile 1.7.8 ${fits(MDF, MDF1)}`);
}
// issue 17: at 64 GiB, -d 31, same codec: ours faster than makedumpfile and no larger
const peers: Row["collector"][] = [MDF, MDF1];
for (const x of rows.filter((x) => x.ramMiB === 65536 && !peers.includes(x.collector) && x.passed)) {
  for (const peer of peers) {
    // the same capture kernel only (its rows share one timestamp): from run to run the figures move by ±30% here
    // a repeated pair (#2…) is compared within itself; the first runs, with the first makedumpfile run
    const p = rows.find((y) => y.measured === x.measured && y.ramMiB === 65536 && y.collector === peer && y.codec === x.codec && y.passed && y.rep === (x.collector === "ours:hook" ? x.rep : undefined));
    if (p && x.wallSeconds && p.wallSeconds)
      console.log(`64 GiB ${x.codec} crashkernel=${ck(x)} on ${cpusOf(x)} CPU(s): ${x.collector}${x.rep ? `#${x.rep}` : ""} ${x.wallSeconds} s, ${peer} ${p.wallSeconds} s, ratio ${(x.wallSeconds / p.wallSeconds).toFixed(2)}; dump ${(x.dumpBytes / 1048576).toFixed(1)} vs ${(p.dumpBytes / 1048576).toFixed(1)} MiB`);
  }
}
// the alternating pairs of the newest 64 GiB capture kernel: how many ours won, and the median ratio
{
  const newest = rows.filter((x) => x.ramMiB === 65536).map((x) => x.measured).sort().pop();
  // ours in the pre hook: "ours:hook" (zstd, and every repeated pair), and "ours" with another codec (the hook runs
  // those; the capture init's own run is zstd)
  const inHookRow = (x: Row) => x.collector === "ours:hook" || (x.collector === "ours" && x.codec !== "zstd");
  const hook = rows.filter((x) => x.measured === newest && inHookRow(x) && x.passed && x.wallSeconds);
  const ratios = hook.flatMap((x) => {
    const p = rows.find((y) => y.measured === newest && y.collector === MDF1 && y.codec === x.codec && y.rep === x.rep && y.passed && y.wallSeconds);
    return p ? [{ codec: x.codec, ratio: x.wallSeconds! / p.wallSeconds! }] : [];
  });
  // per codec: a pair is the same codec's makedumpfile run and ours, in the order they ran
  for (const codec of [...new Set(ratios.map((r) => r.codec))]) {
    const rs = ratios.filter((r) => r.codec === codec).map((r) => r.ratio);
    const sorted = [...rs].sort((a, b) => a - b);
    const median = sorted.length % 2 ? sorted[sorted.length >> 1]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
    console.log(`64 GiB ${codec} pairs (${newest?.slice(0, 16)}): ours in the hook took less wall time than makedumpfile without threads in ${rs.filter((r) => r < 1).length} of ${rs.length}; ratios ${rs.map((r) => r.toFixed(2)).join(", ")}, median ${median.toFixed(2)}`);
  }
}
// issue 17's bound: the collector's anonymous memory grows by at most 16 MB from the 1 GiB capture to the 64 GiB one
const mib = (x?: Row) => (x?.passed && x.peakAnon ? Number(/^[\d.]+/.exec(x.peakAnon)![0]) * (x.peakAnon.endsWith("GiB") ? 1024 : 1) : null);
// per capture-kernel CPU count: the newest 1 GiB and 64 GiB runs of each codec, and every run of ours in the newest
// 64 GiB capture kernel (the hook's and the init's), against the newest 1 GiB run of the same codec
for (const cpus of [...new Set(rows.map(cpusOf))].sort()) {
  for (const codec of [...new Set(rows.map((x) => x.codec))]) {
    const ours = rows.filter((x) => x.collector.startsWith("ours") && !x.collector.includes("=") && x.codec === codec && cpusOf(x) === cpus && x.passed).sort((a, b) => b.measured.localeCompare(a.measured));
    const small = mib(ours.find((x) => x.ramMiB === 1024));
    const newest = ours.find((x) => x.ramMiB === 65536)?.measured;
    const bigs = ours.filter((x) => x.ramMiB === 65536 && x.measured === newest).map(mib).filter((m): m is number => m !== null);
    if (small === null || !bigs.length) continue;
    const worst = Math.max(...bigs) - small;
    console.log(`peak anonymous growth 1 -> 64 GiB, ${codec}, ${cpus} CPU(s): ${bigs.map((b) => `+${(b - small).toFixed(1)}`).join(", ")} MiB (worst ${(worst * 1.048576).toFixed(1)} MB; bound 16 MB; 1 GiB ${small} MiB, 64 GiB kernel ${newest?.slice(0, 16)})`);
  }
}
