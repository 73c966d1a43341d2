/** A bug guard: a state validation should have made impossible. */
import { BootforgeError } from "../errors/index.js";

/** An `internal` BootforgeError for states that validation should have ruled out. */
export function internalError(message: string): BootforgeError {
  return new BootforgeError("internal", message);
}
