import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalSchematic, parseSchematic, schematicId } from "../../schematic/index.js";
import { BOARDS } from "./boards.js";
import { checkKernelArgs } from "./kernel-args.js";
import { fieldsFromSchematic, schematicDocument, toSchematic } from "./to-schematic.js";
import { defaultVersion, groupVersions } from "./version-groups.js";
import { finalUrl, readParams, stepUrl, type WizardParams } from "./wizard-params.js";

const base: WizardParams = {
  secureboot: false,
  cmdline: "",
  bootloader: "auto",
  overlayOptions: "",
  embeddedConfig: "",
};

test("URL round trip: a step URL reads back to the same choices (embedded config never in URLs)", () => {
  const p: WizardParams = {
    ...base,
    target: "cloud",
    version: "1.12.4",
    platform: "nocloud",
    arch: "arm64",
    secureboot: true,
    extensions: ["siderolabs/gvisor", "siderolabs/amd-ucode"],
    embeddedConfig: "secret: x",
  };
  const url = stepUrl(p, "customization");
  assert.equal(
    url,
    "/?target=cloud&version=1.12.4&platform=nocloud&arch=arm64&secureboot=true&extensions=siderolabs%2Fgvisor&extensions=siderolabs%2Famd-ucode",
  );
  const back = readParams(new URLSearchParams(url.slice(2)));
  assert.deepEqual(back, { ...p, embeddedConfig: "" });
  assert.equal(stepUrl(p, "version"), "/?target=cloud");
  assert.match(finalUrl(p, "a".repeat(64)), /secureboot=true&schematic-id=a{64}$/);
  // "-" means "no extensions chosen" and survives the trip.
  const none = readParams(new URLSearchParams("extensions=-"));
  assert.deepEqual(none.extensions, []);
  assert.match(stepUrl({ ...p, extensions: [] }, "customization"), /extensions=-$/);
  assert.equal(readParams(new URLSearchParams("version=v1.11.0")).version, "1.11.0");
});

test("ToSchematic: args split on spaces, extensions sorted and deduplicated, bootloader unless auto", () => {
  const s = toSchematic(
    {
      ...base,
      cmdline: " -console  console=ttyS1 ",
      extensions: ["siderolabs/util-linux-tools", "siderolabs/iscsi-tools"],
      bootloader: "sd-boot",
    },
    undefined,
  );
  const parsed = parseSchematic(schematicDocument(s));
  assert.equal(
    canonicalSchematic(parsed),
    "customization:\n    extraKernelArgs:\n        - -console\n        - console=ttyS1\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/iscsi-tools\n            - siderolabs/util-linux-tools\n    bootloader: sd-boot\n",
  );
  // Nothing chosen is the empty schematic (upstream's well-known ID).
  assert.equal(
    schematicId(parseSchematic(schematicDocument(toSchematic({ ...base, extensions: [] }, undefined)))),
    "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba",
  );
});

test("ToSchematic ⇄ fields: an SBC schematic with overlay options and embedded config reads back to the same schematic", () => {
  const rpi = BOARDS.find((b) => b.name === "rpi_generic");
  const input: WizardParams = {
    ...base,
    target: "sbc",
    version: "1.12.0",
    board: "rpi_generic",
    overlayOptions: "configTxtAppend: dtparam=audio=on",
    cmdline: "console=tty0 earlyprintk=serial",
    extensions: ["siderolabs/util-linux-tools", "siderolabs/iscsi-tools"],
    bootloader: "grub",
    embeddedConfig: "apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: my-host\n",
  };
  const s = parseSchematic(schematicDocument(toSchematic(input, rpi)));
  const yaml = canonicalSchematic(s);
  assert.match(
    yaml,
    /^overlay:\n {4}image: siderolabs\/sbc-raspberrypi\n {4}name: rpi_generic\n {4}options:\n {8}configTxtAppend: dtparam=audio=on\n/,
  );
  const f = fieldsFromSchematic(yaml);
  assert.deepEqual(f.extensions, ["siderolabs/iscsi-tools", "siderolabs/util-linux-tools"]);
  const again = parseSchematic(schematicDocument(toSchematic({ ...input, ...f }, rpi)));
  assert.equal(schematicId(again), schematicId(s));
});

test("ToSchematic rejects overlay options that are not a mapping", () => {
  const rpi = BOARDS[0];
  assert.throws(() => toSchematic({ ...base, overlayOptions: "- a\n- b" }, rpi), /must be a YAML mapping/);
  assert.throws(() => toSchematic({ ...base, overlayOptions: "a: [" }, rpi), /not valid YAML/);
});

test("kernel args: removals and additions, and what is refused", () => {
  const ok = checkKernelArgs("-console console=ttyS1,115200 nolapic -ima_hash=sha512");
  assert.ok(ok.ok);
  assert.deepEqual(ok.removes, ["console", "ima_hash=sha512"]);
  assert.deepEqual(ok.adds, ["console=ttyS1,115200", "nolapic"]);
  for (const bad of ["-", "=x", "--console", 'quote="open', "a\u0001b", "x".repeat(2049)]) {
    assert.equal(checkKernelArgs(bad).ok, false, JSON.stringify(bad.slice(0, 20)));
  }
  assert.deepEqual(checkKernelArgs("").ok, true);
});

test("versions: grouped by minor, newest first, prereleases apart, stable default, SBC floor", () => {
  const tags = ["v1.5.5", "v1.7.7", "v1.12.3", "v1.12.4", "v1.13.0", "v1.14.0-alpha.1"];
  assert.deepEqual(groupVersions(tags), [
    { label: "1.14-pre", versions: ["1.14.0-alpha.1"] },
    { label: "1.13", versions: ["1.13.0"] },
    { label: "1.12", versions: ["1.12.4", "1.12.3"] },
    { label: "1.7", versions: ["1.7.7"] },
    { label: "1.5", versions: ["1.5.5"] },
  ]);
  assert.equal(defaultVersion(tags), "1.13.0");
  assert.equal(defaultVersion(["v1.14.0-alpha.1"]), "1.14.0-alpha.1");
  assert.ok(!groupVersions(tags, "1.7.0").some((g) => g.label === "1.5"));
});
