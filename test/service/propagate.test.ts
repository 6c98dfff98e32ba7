// kdump propagate against a scratch root and a recording command runner: the key is made once, installed with the
// user's credentials (accept-new records the host key), then checked alone with strict checking; failures are one
// line that says what to do. The real OpenSSH path is proven in test/lab/network.test.ts.
import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { propagate } from "../../lib/service/propagate.ts";
import type { RunResult, ServiceHost } from "../../lib/service/host.ts";
import { realHost } from "../../lib/load/host.ts";
import { errorLine } from "../../lib/errors.ts";

let root = "";
afterEach(() => rmSync(root, { recursive: true, force: true }));

function box(conf: string, answer: (argv: string[]) => RunResult): { h: ServiceHost; calls: string[][] } {
  root = mkdtempSync(join(tmpdir(), "kdump-propagate-"));
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc/kdump.conf"), conf);
  const calls: string[][] = [];
  const h: ServiceHost = {
    sys: realHost,
    root,
    run(argv) {
      calls.push(argv);
      if (argv[0] === "ssh-keygen" && argv.includes("-f") && !argv.includes("-l")) {
        const f = argv[argv.indexOf("-f") + 1]!;
        mkdirSync(dirname(f), { recursive: true });
        writeFileSync(f, "PRIVATE\n", { mode: 0o600 });
        writeFileSync(`${f}.pub`, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB kdump@lab\n");
      }
      return answer(argv);
    },
    now: () => 0,
  };
  return { h, calls };
}

test("propagate() creates the key, installs it with accept-new into KEY.known_hosts, then logs in with the key alone and strict checking", () => {
  const { h, calls } = box("ssh root@10.0.0.1\npath /srv/crash\nsshkey /root/.ssh/kdump_id\n", (argv) =>
    argv[0] === "ssh" && argv.includes("BatchMode=yes") ? { code: 0, output: "/dev/vda 1000 10 4096 1% /srv" } : argv.includes("-l") ? { code: 0, output: "256 SHA256:x 10.0.0.1 (ED25519)" } : { code: 0, output: "" },
  );
  const r = propagate({}, h);
  expect(r).toMatchObject({ target: "ssh://root@10.0.0.1/srv/crash", created: true, knownHosts: `${root}/root/.ssh/kdump_id.known_hosts`, hostKeys: ["256 SHA256:x 10.0.0.1 (ED25519)"], freeBytes: 4096 * 1024 });
  const [keygen, install, check] = calls;
  expect(keygen!.slice(0, 4)).toEqual(["ssh-keygen", "-q", "-t", "ed25519"]);
  expect(install).toContain("StrictHostKeyChecking=accept-new");
  expect(install).toContain(`UserKnownHostsFile=${root}/root/.ssh/kdump_id.known_hosts`);
  expect(install!.at(-1)).toContain("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB kdump@lab");
  expect(check).toContain("StrictHostKeyChecking=yes");
  expect(check).toContain("IdentitiesOnly=yes");
  // a second run keeps the key
  expect(propagate({}, h).created).toBe(false);
});

test("propagate() says the host key changed, and what to do, when ssh refuses the recorded one", () => {
  const { h } = box("ssh root@10.0.0.1\nsshkey /root/.ssh/kdump_id\n", (argv) =>
    argv[0] === "ssh" ? { code: 255, output: "@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@\nHost key verification failed." } : { code: 0, output: "" },
  );
  let line = "";
  try {
    propagate({}, h);
  } catch (e) {
    line = errorLine(e);
  }
  expect(line).toStartWith("cannot install the key on root@10.0.0.1: Host key verification failed.");
  expect(line).toContain("the host key differs from the one recorded in");
});

test("propagate() refuses a target that is not ssh", () => {
  const { h } = box("path /var/crash\n", () => ({ code: 0, output: "" }));
  expect(() => propagate({}, h)).toThrow("the dump target /var/crash is not an ssh target: nothing to propagate");
});
