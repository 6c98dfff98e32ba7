// The service verbs of the CLI (start, stop, restart, reload, rebuild, enable, disable, test, propagate, hotplug) as yargs
// command modules; kdump.ts registers them with its own run() and emit().
import type { Argv, CommandModule } from "yargs";
import { UsageError } from "../errors.ts";
import { json } from "../verb_kit.ts";

/** kdump.ts's verb runner and printer. */
export interface CliKit {
  run(body: () => Promise<number | void> | number | void): Promise<void>;
  emit(json: boolean, data: unknown, text: () => string): void;
}

type Args = { json: boolean; [k: string]: unknown };
const bySvc = (y: Argv) => y.option("by-service", { type: "boolean", default: false, hidden: true, describe: "called by the unit or a hook" });
const cache = (y: Argv) => y.option("cache-dir", { type: "string", describe: "where capture images are kept (default /var/lib/kdump)" });

/** The service verbs. */
export function serviceCommands(k: CliKit): CommandModule<object, Args>[] {
  const arm = (verb: "start" | "reload" | "restart", describe: string): CommandModule<object, Args> => ({
    command: verb,
    describe,
    builder: (y) => cache(bySvc(json(y))) as unknown as Argv<Args>,
    handler: (a) =>
      k.run(async () => {
        const m = await import("./arm.ts");
        const r = m[verb]({ by: a.byService ? "service" : "hand", cacheDir: a.cacheDir as string | undefined });
        k.emit(a.json, r, () =>
          [
            ...r.warnings.map((w) => `warning: ${w}`),
            ...(r.rawSaved ? [`saved the dump the last capture left on the raw partition as ${r.rawSaved}`] : []),
            r.action === "disabled"
              ? `not armed: ${r.reason}`
              : r.action === "unchanged"
                ? `armed already: ${r.release} with ${r.initrd} (no input changed)`
                : `armed: ${r.release} with ${r.initrd} (${r.built ? "built now" : r.reused ? "prepared image, inputs unchanged" : "cached image"}); dumps go to ${r.target}`,
          ].join("\n"),
        );
      }),
  });
  return [
    arm("start", "arm the box: check prerequisites and config, build the capture initramfs only when an input changed, load it"),
    {
      command: "stop",
      describe: "unload the capture kernel (the service's ExecStop)",
      builder: (y) => json(y) as unknown as Argv<Args>,
      handler: (a) =>
        k.run(async () => {
          (await import("./arm.ts")).stop();
          k.emit(a.json, { unloaded: true }, () => "stopped: the capture kernel is unloaded; a crash now is not captured");
        }),
    },
    arm("restart", "check everything as start does, then unload and load again even when nothing changed"),
    arm("reload", "read the config again and load again when an input changed"),
    {
      command: "rebuild",
      describe: "build the capture initramfs again (or prepare it for an installed kernel with --release); loads nothing",
      builder: (y) =>
        cache(json(y))
          .option("release", { type: "string", describe: "a kernel installed under /boot and /lib/modules (the kernel hooks pass it)" })
          .option("remove", { type: "boolean", default: false, describe: "with --release: forget and delete that kernel's image (postrm)" }) as unknown as Argv<Args>,
      handler: (a) =>
        k.run(async () => {
          if (a.remove && !a.release) throw new UsageError("--remove needs --release", { hint: "name the removed kernel's release" });
          const r = (await import("./arm.ts")).rebuild({ release: a.release as string | undefined, remove: a.remove as boolean, cacheDir: a.cacheDir as string | undefined });
          k.emit(a.json, r, () => (r.action === "removed" ? `removed: the capture image of ${r.release}` : `prepared: ${r.release}: ${r.initrd}`));
        }),
    },
    {
      command: "enable",
      describe: "arm the box at every boot: a systemd unit (after local-fs.target), kernel install hooks and a hotplug rule",
      builder: (y) =>
        json(y)
          .option("takeover", { type: "boolean", default: false, describe: "disable an enabled kdump-tools or kdump-utils service and keep reading its config files" })
          .option("now", { type: "boolean", default: false, describe: "also start it now" }) as unknown as Argv<Args>,
      handler: (a) =>
        k.run(async () => {
          const r = (await import("./enable.ts")).enable({ takeover: a.takeover as boolean });
          const started = r.systemd && a.now ? (await import("./arm.ts")).start({ by: "service" }) : null;
          // the image the first boot will load as it is (a boot then only loads: no build on the boot path)
          const prepared = r.systemd && !started ? (await import("./arm.ts")).prepareRunning() : null;
          k.emit(a.json, { ...r, started, prepared }, () =>
            r.systemd
              ? [
                  ...r.tookOver.map((s) => `disabled: ${s.unit} (${s.package}); its config stays in use: ${s.config.join(", ")}`),
                  ...r.installed.map((p) => `installed: ${p}`),
                  ...(prepared ? [`prepared: ${prepared.release}: ${prepared.initrd} (the next boot loads it as it is)`] : []),
                  `enabled: the box arms itself at every boot${started ? `; armed now with ${started.initrd}` : " (start it now with `kdump start`)"}`,
                ].join("\n")
              : `not enabled: ${r.instructions}`,
          );
          return r.systemd ? 0 : 1;
        }),
    },
    {
      command: "disable",
      describe: "stop arming at boot: remove the unit, hooks and rule (the loaded capture kernel stays until `kdump stop`)",
      builder: (y) => json(y) as unknown as Argv<Args>,
      handler: (a) =>
        k.run(async () => {
          const r = (await import("./enable.ts")).disable();
          k.emit(a.json, r, () => [...r.removed.map((p) => `removed: ${p}`), "disabled: the box is no longer armed at boot"].join("\n"));
        }),
    },
    {
      command: "test",
      describe: "crash this machine to test the capture (asks first); `kdump status` shows the outcome after the reboot",
      builder: (y) => y.option("yes", { type: "boolean", default: false, describe: "do not ask for the host name" }) as unknown as Argv<Args>,
      handler: (a) =>
        k.run(async () => {
          await (await import("./test_crash.ts")).testCrash({ yes: a.yes as boolean }, (id) => console.log(`test ${id}: crashing now; after the reboot \`kdump status\` shows the outcome`));
        }),
    },
    {
      command: "propagate",
      describe: "for an ssh target: create the dump key, install it on the target host and record its host key",
      builder: (y) => json(y).option("target", { type: "string", describe: "ssh://user@host[:port]/path instead of the config's target" }) as unknown as Argv<Args>,
      handler: (a) =>
        k.run(async () => {
          const m = await import("./propagate.ts");
          const r = m.propagate({ target: a.target as string | undefined });
          k.emit(a.json, r, () => m.formatPropagate(r));
        }),
    },
    {
      command: "hotplug",
      describe: "re-arm after CPU or memory hotplug unless the kernel updates the image itself (run by the udev rule)",
      builder: (y) => json(y) as unknown as Argv<Args>,
      handler: (a) =>
        k.run(async () => {
          const r = (await import("./hotplug.ts")).onHotplug((await import("./host.ts")).realServiceHost);
          k.emit(a.json, r, () => `${r.action === "none" ? "nothing to do" : "re-arming"}: ${r.reason}`);
        }),
    },
  ];
}
