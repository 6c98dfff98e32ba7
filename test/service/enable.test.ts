import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { errorLine, RefusedError } from "../../lib/errors.ts";
import { disable, enable } from "../../lib/service/enable.ts";
import { POSTINST_HOOK, POSTRM_HOOK, UDEV_RULE, UNIT_NAME, UNIT_PATH } from "../../lib/service/unit.ts";
import { fakeBox, installKdumpTools, thrown, type FakeBox } from "./_fakebox.ts";

const cmd = { bun: "/usr/local/bin/bun", kdump: "/opt/kdump/kdump.ts" };
let box: FakeBox;
afterEach(() => box?.remove());

describe("enable()", () => {
  test("enable() installs the unit after local-fs.target, the kernel hooks and the udev rule, and enables the unit", () => {
    box = fakeBox();
    const r = enable({}, box, cmd);
    expect(r.systemd).toBe(true);
    expect(r.installed).toEqual(expect.arrayContaining([UNIT_PATH, POSTINST_HOOK, POSTRM_HOOK, UDEV_RULE]));
    const unit = readFileSync(join(box.root, UNIT_PATH), "utf8");
    expect(unit).toContain("After=local-fs.target");
    expect(unit).toContain(`ExecStart="${cmd.bun}" "/opt/kdump/lib/service/main.ts" start --by-service`);
    expect(unit).toContain("DefaultDependencies=no");
    expect(unit).toContain("Before=multi-user.target");
    expect(unit).toContain("WantedBy=multi-user.target");
    expect(statSync(join(box.root, POSTINST_HOOK)).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(box.root, POSTINST_HOOK), "utf8")).toContain(`rebuild --release "$version"`);
    expect(readFileSync(join(box.root, POSTRM_HOOK), "utf8")).toContain(`rebuild --release "$version" --remove`);
    expect(box.commands).toContain("systemctl daemon-reload");
    expect(box.commands).toContain(`systemctl enable ${UNIT_NAME}`);
  });

  test("enable() refuses while kdump-tools' service is enabled, and says why and what to do", () => {
    box = fakeBox();
    installKdumpTools(box, true);
    let e: unknown;
    try {
      enable({}, box, cmd);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(RefusedError);
    expect(errorLine(e)).toBe(
      "refusing to enable: kdump-tools's kdump-tools.service is enabled (/etc/systemd/system/multi-user.target.wants/kdump-tools.service); two kdump services would fight over the one crash reservation: run `kdump enable --takeover` to disable kdump-tools.service and keep reading /etc/default/kdump-tools, or `systemctl disable kdump-tools.service` yourself",
    );
    expect(box.commands).toEqual([]);
    expect(existsSync(join(box.root, UNIT_PATH))).toBe(false);
  });

  test("enable() does not mind kdump-tools installed but disabled", () => {
    box = fakeBox();
    installKdumpTools(box, false);
    expect(enable({}, box, cmd).tookOver).toEqual([]);
  });

  test("enable({ takeover }) disables kdump-tools' service first and keeps its config file as ours", () => {
    box = fakeBox();
    installKdumpTools(box, true);
    const r = enable({ takeover: true }, box, cmd);
    expect(r.tookOver.map((s) => s.unit)).toEqual(["kdump-tools.service"]);
    expect(box.commands[0]).toBe("systemctl disable --now kdump-tools.service");
    expect(r.configFiles).toEqual(["/etc/default/kdump-tools"]);
    expect(box.commands).toContain(`systemctl enable ${UNIT_NAME}`);
  });

  test("enable() refuses kdump-utils' kdump.service the same way", () => {
    box = fakeBox();
    box.file("/usr/lib/systemd/system/kdump.service", "[Unit]\n");
    box.file("/etc/systemd/system/multi-user.target.wants/kdump.service", "[Unit]\n");
    expect(thrown(() => enable({}, box, cmd))).toMatch(/kdump-utils's kdump.service is enabled/);
  });

  test("enable() without systemd says so and prints what to add to the init system", () => {
    box = fakeBox({ systemd: false });
    const r = enable({}, box, cmd);
    expect(r.systemd).toBe(false);
    expect(r.instructions).toContain("does not run systemd");
    expect(r.instructions).toContain(`"${cmd.bun}" "/opt/kdump/lib/service/main.ts" start --by-service`);
    expect(r.instructions).toContain("/etc/rc.local");
    expect(box.commands).toEqual([]);
  });

  test("enable() checks prerequisites before it writes anything", () => {
    box = fakeBox({ busybox: false });
    expect(thrown(() => enable({}, box, cmd))).toMatch(/static busybox.*apt-get install -y busybox-static/);
    expect(existsSync(join(box.root, UNIT_PATH))).toBe(false);
    expect(box.commands).toEqual([]);
  });

  test("disable() removes what enable() installed and disables the unit", () => {
    box = fakeBox();
    enable({}, box, cmd);
    box.commands.length = 0;
    const r = disable(box);
    expect(r.removed).toEqual(expect.arrayContaining([UNIT_PATH, POSTINST_HOOK, POSTRM_HOOK, UDEV_RULE]));
    expect(box.commands[0]).toBe(`systemctl disable ${UNIT_NAME}`);
    expect(existsSync(join(box.root, UNIT_PATH))).toBe(false);
  });
});
