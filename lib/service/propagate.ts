// `kdump propagate`, as kdumpctl's: for an ssh dump target, create the dump key (sshkey / SSH_KEY) when missing,
// install its public half in the target user's authorized_keys (ssh-copy-id's logic, over the user's own ssh
// credentials), record the target's host key beside the key (KEY.known_hosts, which the capture checks strictly),
// then prove that the key alone logs in and the dump folder is writable. Uses the system's OpenSSH tools.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { UsageError } from "../errors.ts";
import { loadConfig, rootFs } from "../config/load.ts";
import { formatTarget, parseTarget, type Target } from "../config/target.ts";
import { knownHostsFor } from "../initramfs/ssh_client.ts";
import { realServiceHost, type ServiceHost } from "./host.ts";

/** What propagate did. */
export interface PropagateResult {
  /** The ssh target, in the --out grammar. */
  target: string;
  /** The private key. */
  key: string;
  /** True when the key was created now. */
  created: boolean;
  /** The known_hosts file the capture uses. */
  knownHosts: string;
  /** The recorded host keys' fingerprints (ssh-keygen -l). */
  hostKeys: string[];
  /** Free bytes in the dump folder on the target host. */
  freeBytes: number | null;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The ssh options for `t`: port, and the recorded known_hosts only. */
function base(t: Extract<Target, { kind: "ssh" }>, known: string): string[] {
  return ["ssh", "-F", "/dev/null", "-o", `UserKnownHostsFile=${known}`, "-o", "GlobalKnownHostsFile=/dev/null", ...(t.port ? ["-p", String(t.port)] : [])];
}

/** The first line of ssh's complaint, without its banner of @ signs. */
function reason(output: string): string {
  return output.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("@") && !l.startsWith("Warning: Permanently")).slice(0, 2).join(" ") || "no message";
}

/**
 * Sets up the ssh target of the config (or `target`, in the --out grammar ssh://user@host[:port]/path).
 * @example propagate({}).hostKeys  // ["256 SHA256:… 10.0.0.1 (ED25519)"]
 */
export function propagate(o: { target?: string } = {}, h: ServiceHost = realServiceHost): PropagateResult {
  const config = loadConfig(rootFs(h.root));
  const t = o.target ? parseTarget(o.target) : config.settings.target;
  if (t.kind !== "ssh") throw new UsageError(`the dump target ${formatTarget(t)} is not an ssh target: nothing to propagate`, { hint: "set `ssh user@host` (kdump.conf) or SSH= (kdump-tools), or give --target ssh://user@host/path" });
  const key = h.root + config.settings.sshKey;
  const known = knownHostsFor(key);
  let created = false;
  if (!existsSync(key)) {
    mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
    const r = h.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", `kdump@${hostname()}`, "-f", key]);
    if (r.code !== 0) throw new UsageError(`ssh-keygen could not create ${key}: ${reason(r.output)}`, { hint: r.code === 127 ? "install the OpenSSH client (apt-get install openssh-client)" : "check the folder's permissions" });
    created = true;
  }
  if (!existsSync(`${key}.pub`)) throw new UsageError(`${key}.pub is missing`, { hint: `recreate it: ssh-keygen -y -f ${key} > ${key}.pub` });
  const pub = readFileSync(`${key}.pub`, "utf8").trim();
  if (!/^[\w@.-]+ [A-Za-z0-9+/=]+( [^'\n]*)?$/.test(pub)) throw new UsageError(`${key}.pub is not a public key line`, { hint: `recreate it: ssh-keygen -y -f ${key} > ${key}.pub` });
  // install the key with the user's own credentials; the host key is recorded by this first connection
  const install = `umask 077 && mkdir -p ~/.ssh && touch ~/.ssh/authorized_keys && (grep -qxF ${q(pub)} ~/.ssh/authorized_keys || echo ${q(pub)} >> ~/.ssh/authorized_keys)`;
  const i = h.run([...base(t, known), "-o", "StrictHostKeyChecking=accept-new", "-o", "ConnectTimeout=30", t.dest, install]);
  if (i.code !== 0) throw new UsageError(`cannot install the key on ${t.dest}: ${reason(i.output)}`, { hint: /IDENTIFICATION HAS CHANGED|verification failed/.test(i.output) ? `the host key differs from the one recorded in ${known}: if the host was reinstalled, remove its line there and run propagate again` : "log in to it once by hand (ssh-copy-id works too), then run propagate again" });
  // now the key alone, strictly checked, as the capture will log in; and the folder must take a dump
  const path = t.path.replace(/\/+$/, "") || "/";
  const check = h.run([...base(t, known), "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=30", t.dest, `umask 077 && mkdir -p ${q(path)} && test -w ${q(path)} && df -Pk ${q(path)} | tail -n 1`]);
  if (check.code !== 0) throw new UsageError(`the dump key does not log in to ${t.dest}, or ${path} is not writable there: ${reason(check.output)}`, { hint: "check the target user's authorized_keys and the folder's owner" });
  const kb = /^\S+\s+\d+\s+\d+\s+(\d+)/m.exec(check.output)?.[1];
  const fp = h.run(["ssh-keygen", "-l", "-f", known]);
  return { target: formatTarget(t), key, created, knownHosts: known, hostKeys: fp.code === 0 ? fp.output.split("\n").filter(Boolean) : [], freeBytes: kb ? Number(kb) * 1024 : null };
}

/** The result as a person reads it. */
export function formatPropagate(r: PropagateResult): string {
  return [
    `${r.created ? "created" : "kept"}: the dump key ${r.key}`,
    `installed: its public key on ${r.target}`,
    ...r.hostKeys.map((k) => `recorded: host key ${k} in ${r.knownHosts}`),
    `checked: the key alone logs in with strict host key checking${r.freeBytes !== null ? `; ${(r.freeBytes / 1048576).toFixed(0)} MiB free in the dump folder` : ""}`,
    "run `kdump restart` (or start) to put the key into the capture initramfs",
  ].join("\n");
}
