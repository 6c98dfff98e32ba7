// Test helper: the ConfigError a call throws (any other outcome fails the test).
import { ConfigError } from "../../lib/config/origin.ts";

export function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("no error thrown");
}
