// `kdump setup` and `kdump estimate` as library calls: gather the sizing evidence of a box (RAM, capture kernel
// and initramfs, rehearsal result), choose a crashkernel= value, plan the boot loader edit and apply it.
import { installedKernel, kernelFileCandidates } from "./kernel_files.ts";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { release as osRelease } from "node:os";
import { join } from "node:path";
import { KdumpError, UsageError } from "../errors.ts";
import { applyBootPlan, type BootPlan, commandFor, detectBootloader, planBoot, planDiff, planSummary } from "./bootloader.ts";
import { displayText, textToBytes, utf8Bytes } from "./box_file.ts";
import { BACKUP_SUFFIX, type FileChange } from "./file_change.ts";
import { type CrashkernelArg, crashkernelWords, formatCrashkernel, parseCrashkernel, resolveCrashkernel } from "./crashkernel.ts";
import { type BoxIdentity, defaultTable, estimateCapture, readRehearsal, type Recommendation, recommend, sizeTable, systemRam } from "./sizing.ts";

/** The lab directory, where `kdump rehearse --find-min` leaves rehearse-min-RELEASE.json. */
const LAB = process.env.KDUMP_LAB_DIR ?? join(import.meta.dir, "..", "..", ".lab");
/** A rehearsal result that applies to any kernel, read first when present (the hook for a result made elsewhere). */
export const REHEARSAL_RESULT = join(LAB, "rehearse-min.json");

/**
 * The rehearsal result to read: REHEARSAL_RESULT, else the one for `release`, else the newest; null when none.
 * Whether its minimum applies to the box is recommend()'s decision (same kernel and RAM, collector path).
 */
export function findRehearsal(release = ""): string | null {
  if (existsSync(REHEARSAL_RESULT)) return REHEARSAL_RESULT;
  if (release && existsSync(join(LAB, `rehearse-min-${release}.json`))) return join(LAB, `rehearse-min-${release}.json`);
  const all = existsSync(LAB) ? readdirSync(LAB).filter((f) => /^rehearse-min-.+\.json$/.test(f)).map((f) => join(LAB, f)) : [];
  return all.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0] ?? null;
}

/** Options shared by estimate and setup. */
export interface SizingOptions {
  /** The box's root ("" for this one). */
  root?: string;
  /** A table name from SIZE_TABLES instead of the architecture's kdump-utils table. */
  table?: string;
  /** Capture kernel image to estimate from; with only `initrd` given, the running kernel's image in either layout. */
  kernel?: string;
  /** Capture initramfs to estimate from. */
  initrd?: string;
  /** Rehearsal result file (default: findRehearsal()). */
  rehearsal?: string;
}

/** RAM of the box: System RAM in its /proc/iomem (this box's when the root has none), else MemTotal. */
export function readRam(root = ""): number {
  const at = (p: string) => (existsSync(join(root, p)) ? join(root, p) : p);
  const iomem = existsSync(at("/proc/iomem")) ? systemRam(readFileSync(at("/proc/iomem"), "utf8")) : 0;
  if (iomem > 0) return iomem;
  const m = existsSync(at("/proc/meminfo")) ? /^MemTotal:\s+(\d+) kB/m.exec(readFileSync(at("/proc/meminfo"), "utf8")) : null;
  return m ? Number(m[1]) * 1024 : 0;
}

/** The kernel release and RAM of the box under `root` (this box's when the root has no /proc). */
export function boxIdentity(root = ""): BoxIdentity {
  const p = existsSync(join(root, "/proc/sys/kernel/osrelease")) ? join(root, "/proc/sys/kernel/osrelease") : "/proc/sys/kernel/osrelease";
  const release = existsSync(p) ? readFileSync(p, "utf8").trim() : osRelease();
  return { release, ram: readRam(root) };
}

/** The running kernel's image in either layout (/boot/vmlinuz-R or /usr/lib/modules/R/vmlinuz), for --initrd alone. */
function runningKernelImage(root: string): string {
  const osrelease = join(root, "/proc/sys/kernel/osrelease");
  const release = existsSync(osrelease) ? readFileSync(osrelease, "utf8").trim() : "";
  const { vmlinuz } = installedKernel(release, root);
  if (!release || !vmlinuz) throw new UsageError(`cannot find the running kernel's image (${kernelFileCandidates(release || "RELEASE").vmlinuz.join(", ")})`, { hint: "give it with --kernel" });
  return root + vmlinuz;
}

/** Gathers the evidence and recommends a value (what `kdump estimate` prints). */
export function estimate(o: SizingOptions = {}): Recommendation {
  const table = o.table ? sizeTable(o.table) : defaultTable();
  if (!table) throw new UsageError(`unknown table ${o.table}`, { hint: "see `kdump estimate --help` for the table names" });
  if (o.kernel && !o.initrd) throw new UsageError("--kernel needs --initrd", { hint: "give the capture kernel image and its initramfs" });
  if (o.initrd && !o.kernel) o = { ...o, kernel: runningKernelImage(o.root ?? "") };
  for (const f of [o.kernel, o.initrd]) if (f && !existsSync(f)) throw new UsageError(`${f} not found`, { hint: "give the path of the capture kernel image or initramfs" });
  const box = boxIdentity(o.root);
  const est = o.kernel && o.initrd ? estimateCapture(readFileSync(o.kernel), readFileSync(o.initrd), box.ram || undefined) : null;
  const rehearsal = o.rehearsal ?? findRehearsal(box.release);
  return recommend({ ram: box.ram, release: box.release, table, estimate: est, measured: rehearsal ? readRehearsal(rehearsal) : null });
}

/** Options of `kdump setup`. */
export interface SetupOptions extends SizingOptions {
  /** The crashkernel= value(s) to use instead of the recommendation ("256M", "2G-:256M", "1G,high 256M,low"). */
  size?: string;
  /** Take the reservation out instead. */
  remove?: boolean;
  /** Plan and show the diff; write and run nothing. */
  dryRun?: boolean;
}

/** What setup did or would do. */
export interface SetupResult {
  /** The plan (boot loader, file changes, commands). */
  plan: BootPlan;
  /** Unified diff of every file change. */
  diff: string;
  /** The sizing evidence, when the value was not given with --size or --remove. */
  recommendation: Recommendation | null;
  /** The crashkernel= words the boot loader passes afterwards. */
  value: string[];
  /** Whether files were written and commands run. */
  applied: boolean;
  /** True when the running kernel's /proc/cmdline differs from what the boot loader will pass. */
  rebootNeeded: boolean;
}

/** The crashkernel= words of a --size value (several for size,high + size,low). */
export function parseSizeOption(size: string): CrashkernelArg[] {
  return size.trim().split(/\s+/).map((w) => parseCrashkernel(w.replace(/^crashkernel=/, ""), { source: "--size", line: 1, column: 1 }));
}

/**
 * Plans (and unless dryRun, applies) the boot loader change. `run` prints and runs each command (the CLI and
 * the recipe pass their own). Throws before changing anything when the value reserves nothing on this RAM.
 */
export async function setup(o: SetupOptions, run: (cmd: string[]) => Promise<void>): Promise<SetupResult> {
  const root = o.root ?? "";
  let recommendation: Recommendation | null = null;
  let args: CrashkernelArg[] = [];
  if (!o.remove) {
    if (o.size) args = parseSizeOption(o.size);
    else {
      recommendation = estimate(o);
      if (!recommendation.value) throw new UsageError("no crashkernel= size for this box", { hint: recommendation.reasoning.at(-1)! });
      args = [recommendation.value];
    }
    const ram = readRam(root);
    const r = ram > 0 ? resolveCrashkernel(args, ram) : null;
    if (r?.problem) throw new UsageError(`crashkernel=${args.map(formatCrashkernel).join(" crashkernel=")} reserves nothing on this box: ${r.problem}`, { hint: "choose a size below the RAM that a range covers" });
  }
  const plan = planBoot(args, root, detectBootloader(root));
  const auto = plan.preview.filter((c) => c.before !== null && /(^|[ \t\n"'])crashkernel=auto([ \t\r\n"']|$)/.test(c.before)).map((c) => c.path);
  if (auto.length)
    plan.notes.push(`crashkernel=auto in ${auto.join(", ")} is RHEL 7/8's legacy value (RHEL 9 and upstream kernels reserve nothing for it): ${o.remove ? "removed" : "replaced"}`);
  const value = args.map((a) => formatCrashkernel(a));
  const proc = join(root, "/proc/cmdline");
  const active = existsSync(proc) ? crashkernelWords(readFileSync(proc, "utf8")).map((w) => formatCrashkernel(w.arg)) : [];
  const result: SetupResult = { plan, diff: planDiff(plan), recommendation, value, applied: false, rebootNeeded: active.join(" ") !== value.join(" ") };
  if (!o.dryRun) {
    await applyBootPlan(plan, run);
    result.applied = true;
  }
  return result;
}

/** The closing advice: reboot or not, in one line. */
export function setupAdvice(r: SetupResult): string {
  const v = r.value.length ? r.value.map((x) => `crashkernel=${x}`).join(" ") : "no crashkernel=";
  if (!r.applied) return r.plan.preview.length ? `dry run: nothing written; without --dry-run the boot loader would pass ${v}` : `nothing to do: the boot loader already passes ${v}`;
  if (!r.rebootNeeded) return `the running kernel already booted with ${v}: no reboot needed`;
  return `reboot needed: the boot loader now passes ${v}; the reservation takes effect at the next boot (then check with \`kdump status\`)`;
}

/** The estimate as text: the three kinds of evidence, then the reasoning. */
export function formatRecommendation(r: Recommendation): string {
  const size = (b: number | undefined) => (b ? formatCrashkernel({ kind: "size", size: b, offset: null }) : "—");
  return [
    `table:     ${size(r.table.bytes)}   (${r.table.name}: crashkernel=${r.table.value})`,
    `estimate:  ${size(r.estimate?.bytes)}${r.estimate ? "" : "   (give --kernel and --initrd of the capture kernel)"}`,
    `measured:  ${size(r.measured?.minimum)}${r.measured ? (r.measuredApplies ? "" : "   (not applied to this box: see below)") : "   (no rehearsal result: run `kdump rehearse --find-min`)"}`,
    `chosen:    ${r.value ? `crashkernel=${formatCrashkernel(r.value)}` : "none"}${r.from ? ` (from the ${r.from === "measured" ? "measurement" : r.from})` : ""}`,
    "",
    ...r.reasoning.map((l) => `- ${l}`),
  ].join("\n");
}

/** Shell-quotes a command for printing, as a runbook shows it. */
export function commandLine(cmd: string[]): string {
  return cmd.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`)).join(" ");
}

/** Prints `+ command` through `print`, runs it with inherited output, and throws when it fails. */
export async function runPrinted(cmd: string[], print: (line: string) => void = console.log): Promise<void> {
  print(`+ ${commandLine(cmd)}`);
  const p = Bun.spawn(cmd, { stdout: "inherit", stderr: "inherit", stdin: "ignore" });
  const code = await p.exited;
  if (code !== 0) throw new KdumpError(`${commandLine(cmd)} failed with exit code ${code}`, { hint: `the files were changed (backups: FILE${BACKUP_SUFFIX}); fix the error above and run the command again` });
}

/**
 * What setup did, as a byte string (see box_file.ts): the plan, the diff with the files' own bytes (non-UTF-8
 * ones included, so it applies with patch), the notes, the advice. Print it with printSetup().
 */
export function formatSetup(r: SetupResult): string {
  const text = (lines: string[]) => utf8Bytes(lines.join("\n"));
  const head = text([
    `boot loader: ${r.plan.bootloader.kind} (${r.plan.bootloader.evidence})`,
    planSummary(r.plan),
    ...(r.recommendation ? ["", formatRecommendation(r.recommendation), ""] : []),
  ]);
  const tail = text([
    ...r.plan.commands.map((c) => `${r.applied ? "ran" : "would run"}: ${commandLine(commandFor(r.plan, c))}`),
    ...r.plan.notes.map((n) => `note: ${n}`),
    setupAdvice(r),
  ]);
  return `${head}\n${r.diff}${tail}`;
}

/** A file change as JSON shows it: the texts as UTF-8 when they are, else latin1 with `encoding` saying so. */
function changeJson(c: FileChange) {
  const before = c.before === null ? null : displayText(c.before);
  const after = displayText(c.after);
  return { path: c.path, before: before?.text ?? null, after: after.text, encoding: before?.encoding === "latin1" || after.encoding === "latin1" ? "latin1" : "utf-8" };
}

/** Prints what setup did: the exact bytes of formatSetup(), or with `json` the result with texts made readable. */
export function printSetup(r: SetupResult, json = false): void {
  if (!json) {
    process.stdout.write(textToBytes(`${formatSetup(r)}\n`));
    return;
  }
  const diff = displayText(r.diff);
  const plan = { ...r.plan, changes: r.plan.changes.map(changeJson), preview: r.plan.preview.map(changeJson) };
  console.log(JSON.stringify({ ...r, plan, diff: diff.text, diffEncoding: diff.encoding }, (_k, v) => (typeof v === "bigint" ? "0x" + v.toString(16) : v), 2));
}
