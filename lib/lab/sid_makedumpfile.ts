// sid's makedumpfile (1.7.8, with zstd and lzo) for a lab guest's root: the program, sid's dynamic loader and every
// library it links (DT_NEEDED, recursively), flattened into one folder, run through that loader with --library-path
// so it needs nothing of the guest's own libc. x86_64 guests; the binary comes from the sid root (sid_root.ts).
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { elfNeeds } from "../initramfs/binaries.ts";
import { MissingDataError } from "../errors.ts";
import { sidRoot } from "./sid_root.ts";

/** Where the guest gets it, and the command that runs it. */
export interface GuestMakedumpfile {
  /** Guest path → host file, for RootfsOptions.files. */
  files: Record<string, string>;
  /** The shell words that run makedumpfile in the guest (loader, --library-path, program). */
  command: string;
}

/**
 * sid's makedumpfile as guest files under `prefix`.
 * @example const m = await sidMakedumpfile(); rehearse({ ..., files: m.files, crash: `${m.command} -v` })
 */
export async function sidMakedumpfile(prefix = "/opt/makedumpfile-sid"): Promise<GuestMakedumpfile> {
  const { dir } = await sidRoot();
  const dirs = ["usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib64", "lib64", "usr/lib"].map((d) => join(dir, d));
  const program = join(dir, "usr/bin/makedumpfile");
  const files: Record<string, string> = { [`${prefix}/makedumpfile`]: realpathSync(program) };
  const visit = (path: string) => {
    const { interp, needed } = elfNeeds(readFileSync(path));
    if (interp) files[`${prefix}/lib/${interp.split("/").pop()}`] = realpathSync(join(dir, interp));
    for (const lib of needed) {
      if (files[`${prefix}/lib/${lib}`]) continue;
      const found = dirs.map((d) => join(d, lib)).find((p) => existsSync(p));
      if (!found) throw new MissingDataError(`sid's makedumpfile needs ${lib}, which the sid root lacks`, { hint: `remove ${dir} so sidRoot() builds it again` });
      files[`${prefix}/lib/${lib}`] = realpathSync(found);
      visit(found);
    }
  };
  visit(program);
  // glibc loads libgcc_s with dlopen (no DT_NEEDED) to unwind a thread in pthread_exit: without it
  // `makedumpfile --num-threads 2` aborted at 100% with "libgcc_s.so.1 must be installed for pthread_exit to work"
  const gcc = dirs.map((d) => join(d, "libgcc_s.so.1")).find((p) => existsSync(p));
  if (!gcc) throw new MissingDataError("sid's root lacks libgcc_s.so.1, which makedumpfile --num-threads needs", { hint: `remove ${dir} so sidRoot() builds it again` });
  files[`${prefix}/lib/libgcc_s.so.1`] = realpathSync(gcc);
  return { files, command: `${prefix}/lib/ld-linux-x86-64.so.2 --library-path ${prefix}/lib ${prefix}/makedumpfile` };
}
