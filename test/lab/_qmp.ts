// QMP, QEMU's machine protocol, for lab tests that change a running guest's hardware (`-qmp unix:PATH,server=on,wait=off`):
// commands sent one at a time over the socket, each reply awaited; a step can also wait for an event.
import { createConnection } from "node:net";

/** A command (`{ execute, arguments }`), or `{ event: NAME }`: wait until QEMU has sent that event on this connection. */
export type QmpStep = { execute: string; arguments?: object } | { event: string };

/** One step's outcome: `return` on success (an event's `data`), `error` ({ class, desc }) on failure. */
export interface QmpReply {
  return?: unknown;
  error?: { class: string; desc: string };
}

/**
 * Runs `steps` in order after the capabilities handshake and returns their replies (a step starts when the one
 * before it is done). Rejects when the socket fails or `timeoutMs` passes first.
 * @example await qmp(sock, [{ execute: "device_del", arguments: { id: "d0" } }, { event: "DEVICE_DELETED" }])
 */
export function qmp(path: string, steps: QmpStep[], timeoutMs = 10_000): Promise<QmpReply[]> {
  return new Promise((resolve, reject) => {
    const replies: QmpReply[] = [];
    const events: { event: string; data?: unknown }[] = [];
    let buf = "";
    let at = -1; // the step in progress; -1: the handshake
    const s = createConnection(path);
    const timer = setTimeout(() => (s.destroy(), reject(new Error(`QMP ${path}: step ${at} not done within ${timeoutMs} ms (${JSON.stringify(replies)})`))), timeoutMs);
    const done = () => (clearTimeout(timer), s.end(), resolve(replies));
    /** Starts the next step, or finishes the events a step waits for as they arrive. */
    const advance = () => {
      for (;;) {
        const step = steps[at];
        if (step && "event" in step) {
          const i = events.findIndex((e) => e.event === step.event);
          if (i < 0) return;
          replies.push({ return: events.splice(i, 1)[0]!.data ?? {} });
        }
        if (++at >= steps.length) return done();
        const next = steps[at]!;
        if ("execute" in next) return void s.write(JSON.stringify(next) + "\n");
      }
    };
    s.on("data", (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const msg = JSON.parse(buf.slice(0, nl)) as QmpReply & { QMP?: unknown; event?: string; data?: unknown };
        buf = buf.slice(nl + 1);
        if (msg.QMP) s.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
        else if (msg.event) {
          events.push({ event: msg.event, data: msg.data });
          const step = steps[at];
          if (step && "event" in step) advance(); // a command in flight waits for its own reply
        } else if ("return" in msg || "error" in msg) {
          if (at >= 0) replies.push("return" in msg ? { return: msg.return } : { error: msg.error });
          advance();
        }
      }
    });
    s.on("error", (e) => (clearTimeout(timer), reject(e)));
  });
}
