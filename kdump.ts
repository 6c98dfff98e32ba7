#!/usr/bin/env bun
// kdump: the single-file entry. Run as a CLI (`kdump status`, `kdump analyze VMCORE`, `kdump recipes/load.ts`)
// or import it as the library (`import { readStatus } from "kdump"`). Importing runs nothing.
import yargs, { type Argv, type CommandModule } from "yargs";
import { hideBin } from "yargs/helpers";
import { emit, json, run, usageLine } from "./lib/verb_kit.ts";
import { resolve } from "node:path";
import { existsSync } from "node:fs";
import { UsageError } from "./lib/errors.ts";
import { formatStatus, readStatus } from "./lib/boot/status.ts";
import { estimate, formatRecommendation, parseSizeOption, printSetup, runPrinted, setup } from "./lib/boot/setup.ts";
import { shrinkReservation } from "./lib/boot/shrink.ts";
import { SIZE_TABLES } from "./lib/boot/sizing.ts";
import { analyze, analyzeCommands, printOutput } from "./lib/analyze/command.ts";
import { runSession } from "./lib/analyze/session.ts";
import { COLLECT_DESCRIBE, collectOptions, collectVerb } from "./lib/collect/collect_verb.ts";
import { serviceCommands } from "./lib/service/commands.ts";
import pkg from "./package.json" with { type: "json" };

export * from "./lib/mod.ts";

/** The toolkit's version, from package.json. */
export const VERSION: string = pkg.version;

export { emit };

/** Runs a recipe file the way zx runs a script: $, argv, question, spinner in scope, `kdump` importable. */
export async function runRecipe(file: string, args: string[]): Promise<void> {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`recipe ${file} not found`, { hint: "give the path of a .ts recipe, e.g. recipes/load.ts" });
  await import("zx/globals");
  const zx = await import("zx");
  zx.updateArgv(args);
  zx.$.verbose = true; // a runbook prints each command before it runs
  zx.$.quote ??= zx.quote; // zx picks a quote function only for bash; busybox sh (a capture kernel, a lab guest) needs one too
  await import(path);
}


/**
 * yargs renders the whole help text each time a verb starts, in case the verb fails later (~40 ms of every run,
 * a sixth of `analyze VMCORE bt`). Our verbs print their own one-line errors, so that text is never shown: skip it.
 */
function withoutHelpCache(y: Argv): Argv {
  type Internals = { getInternalMethods?(): { getUsageInstance?(): { cacheHelpMessage?: () => void } } };
  const usage = (y as unknown as Internals).getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => {};
  return y;
}

/** The CLI. Verbs live in lib/; each is a thin wrapper here. */
export function cli(argv: string[]): Argv {
  return withoutHelpCache(yargs(argv))
    .scriptName("kdump")
    .usage("$0 <verb> [options]\n$0 RECIPE.ts [args]   run a recipe (zx script) with the library in scope")
    .version(VERSION)
    .strict()
    .command(
      "status",
      "show the crashkernel reservation, the loaded capture kernel and a verdict",
      (y) => json(y),
      (a) =>
        run(async () => {
          const s = readStatus();
          const { readServiceStatus, formatServiceStatus } = await import("./lib/service/service_status.ts");
          const service = readServiceStatus();
          emit(a.json, { ...s, service }, () => {
            const lines = formatStatus(s).split("\n");
            return [...lines.slice(0, -1), formatServiceStatus(service), ...lines.slice(-1)].join("\n");
          });
          return s.ready ? 0 : 1;
        }),
    )
    .command(
      "analyze <vmcore> [command] [args..]",
      "read a crash dump without debuginfo: report (default; on a terminal, a kdump> session), log [-T] [-m], sys, bt [-a|-f|PID…], ps, mod, dis; `-` runs the commands piped on stdin",
      (y) =>
        json(y)
          .positional("vmcore", { type: "string", describe: "the dump: ELF vmcore, makedumpfile -c/-l/-p/-z or flattened (-F) output, or /proc/kcore (the running kernel, as root)" })
          .positional("command", { type: "string", choices: [...Object.keys(analyzeCommands), "-"], describe: "what to print (crash's command names); - reads commands from stdin, one a line" })
          .coerce("command", (c: string | undefined) => (c === "" ? "-" : c)) // yargs reads a lone "-" as ""
          .parserConfiguration({ "unknown-options-as-args": true })
          .positional("args", { type: "string", array: true, describe: "the command's arguments, as crash takes them: bt -f PID…, log -T -m, dis [-r|-f] FUNC|ADDR [COUNT]" })
          .option("a", { type: "boolean", default: false, describe: "bt: every CPU's task" })
          .option("format", { choices: ["text", "json", "msgpack"] as const, describe: "output format; msgpack writes the whole report (sys, log, bt -a, ps, mod)" })
          .option("system-map", { type: "string", describe: "the kernel's System.map, for kernels whose VMCOREINFO does not locate kallsyms (checked against the dump)" }),
      (a) =>
        run(async () => {
          const opts = { json: a.json, format: a.format, args: [...(a.a ? ["-a"] : []), ...(a.args ?? []).map(String)], systemMap: a.systemMap };
          if (a.command === "-" || (a.command === undefined && process.stdin.isTTY && process.stdout.isTTY && !a.json && !a.format))
            return runSession(a.vmcore!, opts, a.command === "-" ? "stdin" : "tty");
          await analyzeCommands[a.command ?? "report"]?.prepare?.();
          await printOutput(analyze(a.vmcore!, a.command, opts));
        }),
    )
    .command(
      "estimate",
      "how much crash memory to reserve: distro table, estimate from the capture kernel + initramfs, rehearsal minimum",
      (y) =>
        json(y)
          .option("kernel", { type: "string", describe: "capture kernel image to estimate from" })
          .option("initrd", { type: "string", describe: "capture initramfs to estimate from" })
          .option("table", { type: "string", choices: SIZE_TABLES.map((t) => t.name), describe: "distro table (default: kdump-utils for this CPU)" })
          .option("rehearsal", { type: "string", describe: "rehearsal result JSON (default: .lab/rehearse-min.json, else .lab/rehearse-min-RELEASE.json for this kernel, else the newest; applied only for the same kernel release and RAM, captured by the collector)" })
          .option("root", { type: "string", default: "", describe: "read /proc/iomem of the system at DIR" }),
      (a) =>
        run(() => {
          const r = estimate(a);
          emit(a.json, r, () => formatRecommendation(r));
          return r.value ? 0 : 1;
        }),
    )
    .command(
      "setup",
      "reserve crash memory: put crashkernel= in the boot loader (GRUB, GRUB+BLS/grubby, systemd-boot), regenerate, say when to reboot",
      (y) =>
        json(y)
          .option("dry-run", { type: "boolean", default: false, describe: "print the diff and the commands; write and run nothing" })
          .option("remove", { type: "boolean", default: false, describe: "take crashkernel= out of the boot loader" })
          .option("size", { type: "string", describe: "crashkernel= value(s) instead of the estimate, e.g. 256M, 2G-:256M, '1G,high 256M,low'" })
          .option("root", { type: "string", default: "", describe: "edit the system installed at DIR (commands run under chroot DIR)" })
          .option("kernel", { type: "string", describe: "capture kernel image, for the estimate" })
          .option("initrd", { type: "string", describe: "capture initramfs, for the estimate" })
          .option("table", { type: "string", choices: SIZE_TABLES.map((t) => t.name), describe: "distro table for the estimate" })
          .option("rehearsal", { type: "string", describe: "rehearsal result JSON (default: .lab/rehearse-min.json, else .lab/rehearse-min-RELEASE.json for this kernel, else the newest; applied only for the same kernel release and RAM, captured by the collector)" }),
      (a) =>
        run(async () => {
          if (a.remove && a.size) throw new UsageError("--remove and --size do not go together", { hint: "give one" });
          const r = await setup({ ...a, dryRun: a.dryRun }, (cmd) => runPrinted(cmd, a.json ? console.error : console.log));
          printSetup(r, a.json);
        }),
    )
    .command(
      "shrink <size>",
      "give reserved crash memory back without a reboot (/sys/kernel/kexec_crash_size); needs --yes",
      (y) =>
        json(y)
          .positional("size", { type: "string", describe: "new reservation size, e.g. 256M" })
          .option("yes", { type: "boolean", default: false, describe: "really shrink (it cannot grow again until the next boot)" })
          .option("root", { type: "string", default: "", describe: "act on the system at DIR (tests)" }),
      (a) =>
        run(() => {
          const [arg] = parseSizeOption(a.size!);
          if (arg?.kind !== "size") throw new UsageError(`shrink takes one size like 256M, not ${a.size}`);
          const r = shrinkReservation(arg.size, a);
          emit(a.json, r, () => `crash reservation: ${r.before} -> ${r.after} bytes`);
        }),
    )
    .command(
      "rehearse",
      "rehearse the whole pipeline in a throwaway QEMU guest: load, crash, capture, analyze; --find-min bisects crashkernel=",
      (y) =>
        json(y)
          .option("kernel", { type: "string", default: "6.1", describe: "a Debian cloud kernel line (6.1, 6.12) or a vmlinuz path" })
          .option("modules", { type: "string", describe: "with a vmlinuz path: its /lib/modules/RELEASE folder" })
          .option("crashkernel", { type: "string", default: "256M", describe: "the reservation to boot the guest with" })
          .option("cpus", { type: "number", default: 2 })
          .option("memory", { type: "number", default: 1024, describe: "guest memory in MiB" })
          .option("find-min", { type: "boolean", default: false, describe: "bisect the smallest crashkernel= that still captures (16M steps)" })
          .option("verbose", { type: "boolean", default: false, describe: "show the guest console" }),
      (a) =>
        run(async () => {
          const { rehearseMain } = await import("./lib/lab/rehearse_cli.ts");
          return rehearseMain(a);
        }),
    )
    .command("lab <action>", "the QEMU lab: `lab setup` installs QEMU and the peer tools (root) and fetches Debian kernels", (y) =>
      json(y).positional("action", { choices: ["setup"] as const, describe: "what to do" }),
      (a) =>
        run(async () => {
          const { labSetup } = await import("./lib/lab/setup.ts");
          const kernels = await labSetup();
          emit(a.json, kernels, () => kernels.map((k) => `ready: ${k.line} ${k.release} (${k.vmlinuz})`).join("\n"));
        }),
    )
    .command(
      "load",
      "load the capture kernel (our initramfs, built and cached) into the crashkernel= reservation; --kexec stages a kernel for `kdump exec`",
      (y) =>
        json(y)
          .option("dry-run", { type: "boolean", default: false, describe: "print kernel, initramfs, command line and memory needed vs reserved; load nothing" })
          .option("kexec", { type: "boolean", default: false, describe: "stage for a fast reboot (`kdump exec`) instead of a crash" })
          .option("kernel", { type: "string", describe: "kernel image (default /boot/vmlinuz-$(uname -r))" })
          .option("initrd", { type: "string", describe: "initramfs to load instead of building ours (--kexec: default /boot/initrd.img-RELEASE)" })
          .option("cmdline", { type: "string", describe: "the whole command line (default: derived from /proc/cmdline)" })
          .option("append", { type: "string", array: true, describe: "parameters to append, e.g. --append nr_cpus=2" })
          .option("remove", { type: "string", array: true, describe: "parameter names to remove, e.g. --remove nokaslr" })
          .option("target", { type: "string", describe: "directory on the root filesystem for dumps (default /var/crash)" })
          .option("modules", { type: "string", array: true, describe: "more modules for the capture initramfs" })
          .option("modules-dir", { type: "string", describe: "/lib/modules/RELEASE of the kernel to load" })
          .option("cache-dir", { type: "string", describe: "where built initramfs images are kept (default /var/lib/kdump)" })
          .option("syscall", { choices: ["file", "load", "auto"] as const, describe: "kexec_file_load (the default on x86_64; KEXEC_ARGS of /etc/sysconfig/kdump may say), our kexec_load (segments, elfcorehdr, purgatory; x86_64 and arm64), or file then load on ENOSYS/ENOEXEC (the default on arm64)" }),
      (a) =>
        run(async () => {
          const { load, formatLoad } = await import("./lib/load/load.ts");
          const r = load(a);
          emit(a.json, r, () => formatLoad(r));
        }),
    )
    .command(
      "unload",
      "unload the capture kernel (--kexec: the staged kernel)",
      (y) => y.option("kexec", { type: "boolean", default: false, describe: "unload the kernel staged for `kdump exec`" }),
      (a) =>
        run(async () => {
          (await import("./lib/load/load.ts")).unload(a);
          console.log(a.kexec ? "unloaded: no kernel is staged" : "unloaded: a crash now is not captured");
        }),
    )
    .command(
      "trigger",
      "crash this machine now with sysrq 'c' to test the capture; refuses unless a capture kernel is loaded; asks first",
      (y) => y.option("yes", { type: "boolean", default: false, describe: "do not ask for the host name" }),
      (a) => run(async () => (await import("./lib/load/trigger.ts")).trigger(a)),
    )
    .command(
      "exec",
      "reboot into the kernel staged with `kdump load --kexec`, skipping the firmware (like kexec -e); asks first",
      (y) => y.option("yes", { type: "boolean", default: false, describe: "do not ask for the host name" }),
      (a) => run(async () => (await import("./lib/load/trigger.ts")).execStaged(a)),
    )
    .command(
      "config",
      "the effective configuration (/etc/kdump.conf, /etc/sysconfig/kdump, /etc/default/kdump-tools): each setting with its file and line, conflicts and their winners",
      (y) => json(y).option("root", { type: "string", default: "", describe: "read the config of the system installed at DIR" }),
      (a) =>
        run(async () => {
          const { loadConfig, rootFs } = await import("./lib/config/load.ts");
          const { configReport, formatConfigReport } = await import("./lib/config/format.ts");
          const { mountOf, parseMountinfo } = await import("./lib/initramfs/modules.ts");
          // on this box, a target directory must be on the root filesystem; under --root that cannot be told
          const mounts = a.root ? [] : parseMountinfo(await Bun.file("/proc/self/mountinfo").text().catch(() => ""));
          const onRoot = mounts.length ? (p: string) => mountOf(mounts, p)?.mountpoint === mountOf(mounts, "/")?.mountpoint : undefined;
          const r = configReport(loadConfig(rootFs(a.root)), onRoot);
          emit(a.json, r, () => formatConfigReport(r));
        }),
    )
    .command("collect", COLLECT_DESCRIBE, (y) => collectOptions(y), (a) => collectVerb({ run, emit }, a))
    .command(serviceCommands({ run, emit }) as unknown as CommandModule[])
    .demandCommand(1, "name a verb or a recipe file; see --help")
    .recommendCommands()
    .fail((msg, err, y) => {
      if (err) throw err;
      console.error(usageLine(msg));
      console.error("(try: kdump --help)");
      process.exit(2);
    })
    .help()
    .alias("h", "help")
    .wrap(Math.min(110, process.stdout.columns || 110));
}

/** Analyze commands with an -h option of their own. */
const OWN_H = new Set(["list"]);

/**
 * `analyze VMCORE COMMAND [ARGS]` with nothing but --json and -a among the options, which is how scripts and the
 * session's users run it most: parsed here without yargs, whose loading and setup are a third of a host `analyze bt`
 * (~60 ms of ~0.2 s). Anything else (another option, -h, a missing or unknown command) returns undefined and goes
 * through yargs as before, so the two paths cannot disagree on what they accept.
 */
export function fastAnalyzeArgs(args: string[]): { vmcore: string; command: string; json: boolean; args: string[] } | undefined {
  const [verb, vmcore, command, ...rest] = args;
  if (verb !== "analyze" || !vmcore || vmcore.startsWith("-") || !command || !Object.hasOwn(analyzeCommands, command)) return undefined;
  const own = rest.filter((x) => x !== "-a" && x !== "--json");
  // another long option, or a short one yargs knows (-a, -h) folded into a group like -ah: let yargs decide. The
  // exception is a command whose own syntax has -h (crash's `list -h ADDR`): there it is not a request for help.
  const help = OWN_H.has(command) ? /a/ : /[ah]/;
  if (own.some((x) => x.startsWith("--") || (/^-[^-]/.test(x) && help.test(x)) || x === "-")) return undefined;
  return { vmcore, command, json: rest.includes("--json"), args: [...(rest.includes("-a") ? ["-a"] : []), ...own] };
}

if (import.meta.main) {
  const args = hideBin(process.argv);
  const fast = fastAnalyzeArgs(args);
  if (args[0] && /\.(ts|js|mjs|mts)$/.test(args[0])) {
    await run(() => runRecipe(args[0]!, args.slice(1)));
  } else if (fast) {
    await run(async () => {
      await analyzeCommands[fast.command]?.prepare?.();
      await printOutput(analyze(fast.vmcore, fast.command, { json: fast.json, args: fast.args }));
    });
  } else {
    await cli(args).parseAsync();
  }
}
