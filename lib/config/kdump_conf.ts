// Fedora/RHEL /etc/kdump.conf (kdump-utils, formerly kexec-tools): "directive value" lines and # comments, every
// directive of kdump.conf(5). Each becomes settings with its line; one with no equivalent here is refused by name
// with the reason, and an unknown directive is an error (kdump-utils refuses to start on one too).
import { FAILURE_ACTIONS, FINAL_ACTIONS, isFailureAction, isFinalAction } from "./actions.ts";
import { makedumpfileArgs } from "./makedumpfile_args.ts";
import { ConfigError, type Note, type Origin } from "./origin.ts";
import { assign, type SettingAssignment, type FileSettings } from "./settings.ts";
import type { Target } from "./target.ts";

/** The file kdump-utils reads. */
export const KDUMP_CONF = "/etc/kdump.conf";

/** Filesystem directives ("ext4 UUID=…"): the dump goes to that filesystem, `path` inside it. */
const FS_TYPES = new Set(["ext2", "ext3", "ext4", "xfs", "btrfs", "minix", "virtiofs"]);
/** Directives refused by name, with the reason. */
const REFUSED: Record<string, string> = {
  dracut_args: "the toolkit builds its own capture initramfs without dracut; name drivers with extra_modules, programs with extra_bins",
  fence_kdump_args: "fence_kdump (telling a cluster's fencing agent the node is dumping) is not implemented by this toolkit",
  fence_kdump_nodes: "fence_kdump (telling a cluster's fencing agent the node is dumping) is not implemented by this toolkit",
};

/**
 * Reads /etc/kdump.conf text. Throws ConfigError (file:line, what to do) for an unknown or refused directive, a bad
 * value, or two targets.
 * @example readKdumpConf("path /var/crash/x\ncore_collector makedumpfile -c -d 1\n").assignments
 */
export function readKdumpConf(text: string, file = KDUMP_CONF): FileSettings {
  const assignments: SettingAssignment[] = [];
  const notes: Note[] = [];
  let path: { value: string; at: Origin } | null = null;
  let target: { make: (path: string) => Target; at: Origin; directive: string } | null = null;
  let rebuild: { value: "always" | "never"; at: Origin; directive: string } | null = null;
  text.split("\n").forEach((full, i) => {
    const at: Origin = { file, line: i + 1 };
    const words = full.replace(/\r$/, "").replace(/(^|\s)#.*$/, "").trim().split(/\s+/).filter(Boolean);
    if (!words.length) return;
    const [d, ...args] = words as [string, ...string[]];
    const value = args.join(" ");
    const fail = (what: string, hint: string): never => {
      throw new ConfigError(at, `${d}${value ? ` ${value}` : ""}: ${what}`, hint);
    };
    const need = (hint: string) => (value ? value : fail("a value is expected", hint));
    const absolute = (hint: string) => (need(hint).startsWith("/") && args.length === 1 ? value : fail("an absolute path is expected", hint));
    const setTarget = (make: (path: string) => Target) => {
      if (target) fail(`a second dump target (the first is ${target.directive} at line ${target.at.line})`, "keep one of path's companions: ext4/xfs/btrfs, raw, nfs or ssh");
      target = { make, at, directive: d };
    };
    const yesNo = (hint: string) => (/^(1|yes|true)$/.test(need(hint)) ? true : /^(0|no|false)$/.test(value) ? false : fail("yes or no is expected", hint));
    if (FS_TYPES.has(d)) {
      const dev = need(`e.g. ${d} UUID=…, ${d} LABEL=… or ${d} /dev/…`);
      if (!/^(UUID=|LABEL=|\/dev\/)\S+$/.test(dev)) fail("a device is expected: /dev/…, UUID=… or LABEL=…", `e.g. ${d} LABEL=crash`);
      setTarget((p) => ({ kind: "device", spec: dev, sub: p, fstype: d }));
      return;
    }
    if (REFUSED[d]) fail("not supported", REFUSED[d]!);
    if (d.startsWith("fence_kdump")) fail("not supported", REFUSED.fence_kdump_args!);
    switch (d) {
      case "path":
        path = { value: absolute("e.g. path /var/crash"), at };
        return;
      case "raw": {
        const dev = absolute("e.g. raw /dev/vdb2");
        if (!dev.startsWith("/dev/")) fail("a block device under /dev is expected", "e.g. raw /dev/vdb2");
        setTarget(() => ({ kind: "raw", device: dev }));
        return;
      }
      case "nfs": {
        const m = /^([^:\s]+):(\/\S*)$/.exec(need("e.g. nfs server.example:/export/crash"));
        if (!m) fail("server:/export is expected", "e.g. nfs server.example:/export/crash");
        setTarget((p) => ({ kind: "nfs", server: m![1]!, export: m![2]!, sub: p }));
        return;
      }
      case "ssh": {
        if (!/^\S+@\S+$/.test(need("e.g. ssh kdump@vault.example"))) fail("user@host is expected", "e.g. ssh kdump@vault.example");
        setTarget((p) => ({ kind: "ssh", dest: value, port: null, path: p }));
        return;
      }
      case "sshkey":
        assignments.push(assign("sshKey", absolute("e.g. sshkey /root/.ssh/kdump_id_rsa"), at));
        return;
      case "core_collector": {
        const [prog, ...opts] = args;
        if (!prog) fail("a collector command is expected", "e.g. core_collector makedumpfile -l --message-level 7 -d 31");
        if (prog !== "makedumpfile")
          fail(`${prog} is not supported as the collector`, "the toolkit's own collector replaces makedumpfile and reads its options: write core_collector makedumpfile [options]");
        const r = makedumpfileArgs(opts, at, "core_collector");
        assignments.push(...r.assignments);
        notes.push(...r.notes);
        return;
      }
      case "kdump_pre":
      case "kdump_post":
        assignments.push(assign(d === "kdump_pre" ? "kdumpPre" : "kdumpPost", absolute(`e.g. ${d} /usr/local/sbin/${d}.sh (it runs in the capture, on the crashed root filesystem)`), at));
        return;
      case "extra_bins":
        need("e.g. extra_bins /usr/bin/lsblk");
        assignments.push(assign("extraBins", args, at));
        notes.push({ ...at, text: "extra_bins: the capture runs programs from the crashed system's root filesystem, where these are: nothing is packed" });
        return;
      case "extra_modules":
        assignments.push(assign("extraModules", need("e.g. extra_modules nvme mlx5_core").split(/\s+/), at));
        return;
      case "default":
      case "failure_action":
        if (!isFailureAction(need(`one of ${FAILURE_ACTIONS.join(", ")}`)) || args.length !== 1) fail(`expected one of ${FAILURE_ACTIONS.join(", ")}`, "e.g. failure_action shell");
        if (d === "default") notes.push({ ...at, text: "default is the old name of failure_action: read as failure_action" });
        assignments.push(assign("failureAction", value as (typeof FAILURE_ACTIONS)[number], at));
        return;
      case "final_action":
        if (!isFinalAction(need(`one of ${FINAL_ACTIONS.join(", ")}`)) || args.length !== 1) fail(`expected one of ${FINAL_ACTIONS.join(", ")}`, "e.g. final_action poweroff");
        assignments.push(assign("finalAction", value as (typeof FINAL_ACTIONS)[number], at));
        return;
      case "force_rebuild":
      case "force_no_rebuild": {
        if (!yesNo(`${d} 1 or ${d} 0`)) return;
        const v = d === "force_rebuild" ? "always" : "never";
        if (rebuild && rebuild.value !== v) fail(`contradicts ${rebuild.directive} at line ${rebuild.at.line}`, "keep one of force_rebuild and force_no_rebuild");
        rebuild = { value: v, at, directive: d };
        assignments.push(assign("rebuild", v, at));
        return;
      }
      case "net_timeout": {
        const n = Number(need("e.g. net_timeout 90"));
        if (!Number.isInteger(n) || n < 5 || n > 3600 || args.length !== 1) fail("seconds from 5 to 3600 are expected", "e.g. net_timeout 90");
        assignments.push(assign("netTimeout", n, at));
        return;
      }
      case "auto_reset_crashkernel":
        assignments.push(assign("autoResetCrashkernel", yesNo("auto_reset_crashkernel yes or no"), at));
        return;
      default:
        fail("unknown directive", "see kdump.conf(5); `kdump config` lists what this toolkit reads");
    }
  });
  const t = target as { make: (path: string) => Target; at: Origin } | null;
  const p = path as { value: string; at: Origin } | null;
  if (t) assignments.push(assign("target", t.make(p?.value ?? "/var/crash"), t.at));
  else if (p) assignments.push(assign("target", { kind: "dir", path: p.value }, p.at));
  return { file, assignments, notes };
}
