// `net`: the network devices of the initial network namespace (init_net.dev_base_head) with their IPv4
// addresses (in_device's ifa_list), as crash lists them.
import type { Kernel } from "../kernel/kernel.ts";
import { listForEachEntry } from "../kernel/iterators.ts";
import type { AnalyzeCommand } from "./command.ts";
import { hex16, hexJson, typedKernel } from "./_typed.ts";

/** One network device. */
export interface NetDevice {
  /** Address of its struct net_device. */
  device: bigint;
  name: string;
  /** Its IPv4 addresses, dotted. */
  addresses: string[];
}

/**
 * The network devices of init_net.
 * @example readNetDevices(k).map((d) => d.name) // ["lo", "eth0"]
 */
export function readNetDevices(k: Kernel): NetDevice[] {
  const out: NetDevice[] = [];
  for (const d of listForEachEntry(k.var("init_net").member("dev_base_head"), "struct net_device", "dev_list")) {
    const addresses: string[] = [];
    const ip = d.member("ip_ptr");
    if (!ip.isNull()) {
      for (let ifa = ip.member("ifa_list"), n = 0; !ifa.isNull() && n < 256; ifa = ifa.member("ifa_next"), n++) {
        const a = ifa.member("ifa_address").number() >>> 0;
        addresses.push([a & 0xff, (a >>> 8) & 0xff, (a >>> 16) & 0xff, a >>> 24].join("."));
      }
    }
    out.push({ device: d.address!, name: d.member("name").string(), addresses });
  }
  return out;
}

/** `kdump analyze VMCORE net`. */
export const netCommand: AnalyzeCommand = {
  describe: "net: the network devices and their IPv4 addresses",
  run: (ctx) => {
    const devs = readNetDevices(typedKernel(ctx));
    const text = ["   NET_DEVICE     NAME   IP ADDRESS(ES)", ...devs.map((d) => `${hex16(d.device)}  ${d.name.padEnd(6)} ${d.addresses.join(", ")}`)].join("\n") + "\n";
    return { data: devs.map((d) => ({ ...d, device: hexJson(d.device) })), text };
  },
};
