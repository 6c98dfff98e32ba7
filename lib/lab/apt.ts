// A private apt configuration per Debian suite (bullseye, sid) under the lab directory: its own sources list,
// package lists and download cache, passed as -o options, so the lab reads other suites' packages without
// touching the system's /etc/apt. "bookworm" (the host's suite) uses the system's configuration as before.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { LabError } from "../errors.ts";
import { labDir } from "./labdir.ts";
import { buildOnce } from "./lock.ts";

/** The suites the lab takes from a private configuration, and their sources lines. */
export const SUITES: Record<string, string[]> = {
  bullseye: [
    "deb [signed-by=/usr/share/keyrings/debian-archive-bullseye-stable.gpg] http://deb.debian.org/debian bullseye main",
    "deb [signed-by=/usr/share/keyrings/debian-archive-bullseye-security-automatic.gpg] http://deb.debian.org/debian-security bullseye-security main",
  ],
  sid: ["deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main"],
  "sid-arm64": ["deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main"],
  "bookworm-arm64": [
    "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main",
    "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main",
    "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main",
  ],
};

/** The architecture a suite's private configuration lists packages for, when it is not the host's. */
const SUITE_ARCH: Record<string, string> = { "sid-arm64": "arm64", "bookworm-arm64": "arm64" };

/** Package lists older than this are refreshed (sid moves daily; "newest" is resolved from them). */
const LISTS_MAX_AGE_MS = 24 * 3600_000;

/** The -o options that point apt at `suite`'s private folder; [] for the host's own suite ("bookworm"). */
export function aptOptions(suite: string): string[] {
  if (suite === "bookworm") return [];
  if (!SUITES[suite]) throw new LabError(`no apt configuration for the suite ${suite}`, { hint: `choose one of bookworm, ${Object.keys(SUITES).join(", ")}` });
  const d = join(labDir(), "apt", suite);
  return [
    `-o`, `Dir::Etc::SourceList=${join(d, "sources.list")}`,
    `-o`, `Dir::Etc::SourceParts=${join(d, "sources.list.d")}`, // empty: the system's sources.list.d stays out
    `-o`, `Dir::State::Lists=${join(d, "lists")}`,
    `-o`, `Dir::Cache=${join(d, "cache")}`,
    `-o`, `Acquire::Languages=none`,
    ...(SUITE_ARCH[suite] ? [`-o`, `APT::Architecture=${SUITE_ARCH[suite]}`, `-o`, `APT::Architectures::=${SUITE_ARCH[suite]}`] : []),
  ];
}

/**
 * `suite`'s private apt folder with fresh package lists (apt-get update when missing or a day old); returns the
 * -o options for apt-get and apt-cache.
 * @example await $`apt-cache policy ${await aptSuite("sid")} crash`
 */
export async function aptSuite(suite: string): Promise<string[]> {
  const opts = aptOptions(suite);
  if (!opts.length) return opts;
  const d = join(labDir(), "apt", suite);
  const stamp = join(d, "updated");
  const fresh = () => (existsSync(stamp) && Date.now() - Bun.file(stamp).lastModified < LISTS_MAX_AGE_MS ? opts : undefined);
  return buildOnce(d, fresh, async () => {
    for (const sub of ["sources.list.d", "lists/partial", "cache/archives/partial"]) mkdirSync(join(d, sub), { recursive: true });
    writeFileSync(join(d, "sources.list"), SUITES[suite]!.join("\n") + "\n");
    const r = await $`apt-get ${opts} update -qq`.quiet().nothrow();
    if (r.exitCode !== 0) throw new LabError(`apt-get update of the lab's ${suite} lists failed`, { hint: r.stderr.toString().trim().split("\n").pop() });
    writeFileSync(stamp, new Date().toISOString() + "\n");
    return opts;
  });
}
