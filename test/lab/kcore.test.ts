// Lab: `kdump analyze /proc/kcore CMD` inside a running guest (read-only; nothing crashes): sys names the running
// kernel, ps lists the guest's own processes with a sleeping `sleep` in state IN, bt PID unwinds that sleep into
// do_nanosleep, log ends with a line just written to /dev/kmsg, dis decodes live kernel text. The default npm
// test boots 6.12; the matrix adds 6.1.
import { describe, expect, test } from "bun:test";
import { fetchKernel } from "../../lib/lab/kernels.ts";
import { runGuest } from "../../lib/lab/qemu.ts";
import { MATRIX } from "../_matrix.ts";

const JOB = `
sleep 600 & SL=$!
sleep 1
echo "<6>kdump-kcore-test: marker $SL" > /dev/kmsg
echo "PIDS $(cd /proc && ls -d [0-9]* | sort -n | tr '\\n' ' ')"
echo "SLEEP $SL UNAME $(uname -r)"
for c in sys ps "bt $SL" "log" "dis do_nanosleep 4"; do
  echo "BEGIN $c"; kdump analyze /proc/kcore $c > /tmp/out 2>&1; rc=$?; tail -n 400 /tmp/out; echo "END $rc"
done
echo "AFTER $(cd /proc && ls -d [0-9]* | sort -n | tr '\n' ' ')"
`;

/** The output between "BEGIN cmd" and "END rc" with the kernel's own console lines left out. */
function section(console: string, cmd: string): { text: string; rc: number } {
  const at = console.indexOf(`BEGIN ${cmd}\n`);
  expect(at).toBeGreaterThanOrEqual(0);
  const m = /\nEND (\d+)/.exec(console.slice(at));
  expect(m).not.toBeNull();
  const body = console.slice(at + `BEGIN ${cmd}\n`.length, at + m!.index + 1);
  return { text: body.split("\n").filter((l) => !/^\[\s*\d+\.\d+\] (?!kdump-kcore)/.test(l)).join("\n"), rc: Number(m![1]) };
}

describe.each(MATRIX ? ["6.1", "6.12"] : ["6.12"])("kdump analyze /proc/kcore in a running %s guest", (line) => {
  test(
    "sys, ps, bt, log and dis read the live kernel",
    async () => {
      const kernel = await fetchKernel(line);
      const r = await runGuest({ kernel, cpus: 2, job: JOB, timeoutSeconds: 600 });
      try {
        expect(r.timedOut).toBe(false);
        const c = r.console.replace(/\r/g, "");
        const sleep = Number(/SLEEP (\d+) UNAME (\S+)/.exec(c)![1]);
        const pids = /PIDS ([\d ]+)/.exec(c)![1]!.trim().split(" ").map(Number);

        const sys = section(c, "sys");
        expect(sys).toMatchObject({ rc: 0 });
        expect(sys.text).toContain(`RELEASE: ${kernel.release}`);

        const ps = section(c, "ps");
        expect(ps).toMatchObject({ rc: 0 });
        const tasks = [...ps.text.matchAll(/^[ >] *(\d+) +\d+ +\d+ +[0-9a-f]{16} +(\w\w) +\[?([^\]\n]+)\]?$/gm)].map((m) => ({ pid: Number(m[1]), state: m[2], comm: m[3] }));
        const listed = new Set(tasks.map((t) => t.pid));
        // every process that lived from before ps to after it is in ps (the listings' own pipelines come and go)
        const after = new Set(/AFTER ([\d ]+)/.exec(c)![1]!.trim().split(" ").map(Number));
        const stable = pids.filter((p) => after.has(p));
        expect(stable.length).toBeGreaterThan(40);
        expect(stable.filter((p) => !listed.has(p))).toEqual([]);
        expect(tasks.find((t) => t.pid === sleep)).toMatchObject({ comm: "sleep", state: "IN" });
        expect(tasks.find((t) => t.pid === 1)).toBeDefined();

        const bt = section(c, `bt ${sleep}`);
        expect(bt).toMatchObject({ rc: 0 });
        expect(bt.text).toMatch(new RegExp(`^PID: ${sleep} +TASK: [0-9a-f]{16}  CPU: \\d+ +COMMAND: "sleep"`, "m"));
        expect(bt.text).toMatch(/\] do_nanosleep at /);
        expect(bt.text).toMatch(/\] entry_SYSCALL_64\S* at /);

        const log = section(c, "log");
        expect(log).toMatchObject({ rc: 0 });
        expect(log.text).toContain(`kdump-kcore-test: marker ${sleep}`);

        const dis = section(c, "dis do_nanosleep 4");
        expect(dis).toMatchObject({ rc: 0 });
        expect(dis.text.split("\n").filter((l) => /^0x[0-9a-f]{16} <do_nanosleep(\+\d+)?>:\t\S/.test(l))).toHaveLength(4);
      } finally {
        r.cleanup();
      }
    },
    1_200_000,
  );
});
