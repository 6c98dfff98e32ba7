// The Bun runtime a lab guest runs: this process's own for a guest of the host's architecture, else Bun's build for
// the guest's (npm's @oven/bun-linux-<arch>, the version this process runs), fetched with `npm pack` into
// .lab/pkgs/npm/ once. Never committed: it is ~107 MB.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import type { Arch } from "../arch/arch.ts";
import { LabError } from "../errors.ts";
import { hostMachine } from "../sys/syscall_table.ts";
import { labDir } from "./labdir.ts";
import { buildOnce } from "./lock.ts";

/** npm's names for Bun's Linux builds, by uname -m. */
const NPM_PACKAGE: Record<string, string> = { x86_64: "@oven/bun-linux-x64", aarch64: "@oven/bun-linux-aarch64" };

/**
 * The path of a Bun executable for `arch`, of the version this process runs.
 * @example await guestBun(ARM64) // ".lab/pkgs/npm/bun-linux-aarch64-1.4.5/bin/bun"
 */
export async function guestBun(arch: Arch): Promise<string> {
  if (arch.uname === hostMachine()) return process.execPath;
  const pkg = NPM_PACKAGE[arch.uname];
  if (!pkg) throw new LabError(`no Bun build for ${arch.uname} on npm`, { hint: `Bun publishes ${Object.keys(NPM_PACKAGE).join(" and ")}` });
  const dir = join(labDir(), "pkgs", "npm", `${pkg.replace("@oven/", "")}-${Bun.version}`);
  const bun = join(dir, "bin", "bun");
  return buildOnce(dir, () => (existsSync(bun) ? bun : undefined), async () => {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      const r = await $`npm pack ${`${pkg}@${Bun.version}`}`.cwd(tmp).quiet().nothrow();
      const tgz = readdirSync(tmp).find((f) => f.endsWith(".tgz"));
      if (r.exitCode !== 0 || !tgz) throw new LabError(`npm pack ${pkg}@${Bun.version} failed`, { hint: r.stderr.toString().trim().split("\n").pop() ?? "is the npm registry reachable?" });
      await $`tar -xzf ${tgz} --strip-components=1`.cwd(tmp).quiet();
      rmSync(join(tmp, tgz));
      await $`chmod 0755 ${join(tmp, "bin/bun")}`.quiet();
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
      return bun;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
}
