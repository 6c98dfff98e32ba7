// An oops in a module on arm64 (the test module, cross-built for each line by test/arch/arm64/_oops.ts, writes through
// NULL in its init), through our whole pipeline in a guest and checked against the peers: test/arch/arm64/_our_capture.ts.
import { describe } from "bun:test";
import { MATRIX } from "../../_matrix.ts";
import { ourCaptureSuite } from "./_our_capture.ts";

describe.if(MATRIX).each(["newest", "6.12", "6.1"])("an oops in a module on arm64 %s, captured and analyzed by our pipeline (matrix)", (line) => ourCaptureSuite(line, "oops"));
