// A sysrq crash on arm64 (`kdump trigger --yes`), through our whole pipeline in a guest and checked against the
// peers (log = vmcore-dmesg, bt = the printed Call trace, ps = drgn 0.3.0): test/arch/arm64/_our_capture.ts.
import { describe } from "bun:test";
import { MATRIX } from "../../_matrix.ts";
import { ourCaptureSuite } from "./_our_capture.ts";

describe.if(MATRIX).each(["newest", "6.12", "6.1"])("a sysrq crash on arm64 %s, captured and analyzed by our pipeline (matrix)", (line) => ourCaptureSuite(line, "sysrq"));
