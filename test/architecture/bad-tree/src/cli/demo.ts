// Library code importing the fixture builder (see ../../README.md).
import { FIXTURE } from "../../fixtures/builder.js";

export const DEMO = FIXTURE;
