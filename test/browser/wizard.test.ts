/// <reference lib="dom" />
// Callbacks passed to page/locator evaluate run in the browser, so these files see DOM types.
/**
 * The wizard in a real browser (Debian Chromium via playwright-core): a metal amd64 schematic with
 * two extensions and a kernel arg (htmx), a SecureBoot one (keyboard, phone viewport) and an SBC
 * one with JavaScript disabled. IDs are checked against the schematic module.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { canonicalSchematic, parseSchematic, schematicId } from "../../src/schematic/index.js";
import { launchChromium, screenshot } from "./browser.js";
import { collectFactoryLinks } from "./links.js";
import { startUiServer, type UiServer } from "./serve.js";

const EMPTY_ID = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";

let server: UiServer;
let browser: Browser;

before(async () => {
  server = await startUiServer();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function newPage(
  opts: { javaScriptEnabled?: boolean; phone?: boolean } = {},
): Promise<[BrowserContext, Page]> {
  const ctx = await browser.newContext({
    javaScriptEnabled: opts.javaScriptEnabled ?? true,
    viewport: opts.phone === true ? { width: 390, height: 844 } : { width: 1100, height: 900 },
    ...(opts.phone === true ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  ctx.setDefaultTimeout(10_000);
  return [ctx, await ctx.newPage()];
}

/** Waits until the page shows `step` (after a full load or an htmx swap). */
async function onStep(page: Page, step: string): Promise<void> {
  await page.waitForSelector(`section.step[data-step="${step}"]`);
}

async function next(page: Page, step: string): Promise<void> {
  await page.getByRole("button", { name: /^(Next|Create schematic)$/ }).click();
  await onStep(page, step);
}

async function finalIdAndYaml(page: Page): Promise<{ id: string; yaml: string }> {
  const id = ((await page.locator("#schematic-id").textContent()) ?? "").trim();
  const yaml = (await page.locator("#schematic-yaml").textContent()) ?? "";
  return { id, yaml };
}

/** Asserts the shown ID is the schematic module's ID of the shown YAML and of `expected`. */
function assertSchematic(shown: { id: string; yaml: string }, expected: string): void {
  const s = parseSchematic(expected);
  assert.equal(shown.yaml, canonicalSchematic(s));
  assert.equal(shown.id, schematicId(parseSchematic(shown.yaml)));
  assert.equal(shown.id, schematicId(s));
}

describe("wizard in Chromium", () => {
  test("metal amd64, two extensions and a kernel arg (htmx); back, change, reload", async () => {
    const [ctx, page] = await newPage();
    try {
      const consoleErrors: string[] = [];
      page.on("pageerror", (e) => consoleErrors.push(e.message));
      await page.goto(`${server.url}/`);
      await onStep(page, "target");
      await screenshot(page, "metal-01-target");
      assert.equal(await page.getByLabel("Bare-metal Machine").isChecked(), true);
      await next(page, "version");
      assert.match(page.url(), /\?target=metal$/);

      // Grouped, newest first, newest stable preselected (prereleases listed apart).
      assert.equal(await page.locator("#version").inputValue(), "1.13.0");
      const groups = await page
        .locator("#version optgroup")
        .evaluateAll((gs) => gs.map((g) => g.getAttribute("label")));
      assert.deepEqual(groups.slice(0, 3), ["1.14-pre", "1.13", "1.12"]);
      await screenshot(page, "metal-02-version");
      await next(page, "arch");
      assert.match(page.url(), /version=1\.13\.0&platform=metal$/);
      await screenshot(page, "metal-03-arch");
      await page.getByLabel("amd64 (x86-64)").check();
      await next(page, "extensions");

      // Live search (htmx) narrows the list; checked entries stay visible.
      await page.getByLabel("Search extensions").fill("gvisor");
      await page.locator("#ext-siderolabs-amd-ucode").waitFor({ state: "detached" });
      assert.equal(await page.locator("#extension-list li").count(), 1);
      await page.getByLabel(/siderolabs\/gvisor/).check();
      await page.getByLabel("Search extensions").fill("microcode");
      await page.locator("#ext-siderolabs-amd-ucode").waitFor();
      // gvisor (checked) plus the two microcode extensions.
      assert.equal(await page.locator("#extension-list li").count(), 3);
      await page.getByLabel(/siderolabs\/amd-ucode/).check();
      assert.equal(await page.locator("text=metal-agent").count(), 0, "metal-agent is hidden");
      await screenshot(page, "metal-04-extensions");
      await next(page, "customization");
      const customizationUrl = page.url();
      assert.match(customizationUrl, /extensions=siderolabs%2Fgvisor/);
      assert.match(customizationUrl, /extensions=siderolabs%2Famd-ucode/);

      // A bad kernel argument is reported in the page, with the field marked invalid.
      await page.getByLabel("Extra kernel command line arguments").fill("net.ifnames=0 -");
      await page.getByRole("button", { name: "Create schematic" }).click();
      await page.waitForSelector("#errors");
      assert.match((await page.locator("#errors").textContent()) ?? "", /"-" alone removes nothing/);
      assert.equal(await page.locator("#cmdline").getAttribute("aria-invalid"), "true");
      assert.equal(page.url(), customizationUrl, "an error keeps the step URL");
      await screenshot(page, "metal-05-customization-error");
      await page.getByLabel("Extra kernel command line arguments").fill("net.ifnames=0");
      await screenshot(page, "metal-05-customization");
      await next(page, "final");
      assert.match(page.url(), /schematic-id=[0-9a-f]{64}$/);
      assert.equal(
        await page.locator("#step-title").evaluate((el) => el === el.ownerDocument.activeElement),
        true,
        "focus moves to the new step",
      );

      const first = await finalIdAndYaml(page);
      assertSchematic(
        first,
        // Upstream's ToSchematic sorts the extensions, whatever the order they were picked in.
        "customization:\n  extraKernelArgs: [net.ifnames=0]\n  systemExtensions:\n    officialExtensions: [siderolabs/amd-ucode, siderolabs/gvisor]\n",
      );
      await screenshot(page, "metal-06-final");
      const links = await collectFactoryLinks(page);
      const img = `${server.url}/image/${first.id}/v1.13.0`;
      assert.deepEqual(
        links.map((l) => [l.id, l.url, l.method]),
        [
          ["iso", `${img}/metal-amd64.iso`, "HEAD"],
          ["disk-image", `${img}/metal-amd64.raw.zst`, "HEAD"],
          ["disk-image-qcow2", `${img}/metal-amd64.qcow2`, "HEAD"],
          ["pxe", `${server.backend.externalPXEURL}/pxe/${first.id}/v1.13.0/metal-amd64`, "GET"],
          ["kernel", `${img}/kernel-amd64`, "HEAD"],
          ["cmdline", `${img}/cmdline-metal-amd64`, "HEAD"],
          ["initramfs", `${img}/initramfs-amd64.xz`, "HEAD"],
          ["uki", `${img}/metal-amd64-uki.efi`, "HEAD"],
        ],
      );
      const host = new URL(server.url).host;
      assert.equal(
        await page.locator("#installer-image").textContent(),
        `${host}/metal-installer/${first.id}:v1.13.0`,
      );
      assert.equal(
        await page.locator("#upgrade-command").textContent(),
        `talosctl upgrade --image ${host}/metal-installer/${first.id}:v1.13.0`,
      );
      const curl = (await page.locator("#curl-command").textContent()) ?? "";
      assert.ok(
        curl.startsWith(
          `curl -X POST --data-binary @- ${server.url}/schematics <<'SCHEMATIC'\n${first.yaml}`,
        ),
      );
      const imager = (await page.locator("#imager-command").textContent()) ?? "";
      assert.match(
        imager,
        /^imager metal --talos-version v1\.13\.0 --arch amd64 --system-extension-image ghcr\.io\/siderolabs\/amd-ucode:20250311@sha256:[0-9a-f]{64} --system-extension-image ghcr\.io\/siderolabs\/gvisor:\S+ --extra-kernel-arg=net\.ifnames=0$/,
      );
      assert.equal(await page.getByRole("button", { name: "Copy the schematic ID" }).isVisible(), true);

      // Reloading the result URL restores it.
      await page.reload();
      await onStep(page, "final");
      assert.equal((await finalIdAndYaml(page)).id, first.id);

      // The browser's Back button returns to the customization step URL.
      await page.goBack();
      await onStep(page, "customization");
      assert.equal(page.url(), customizationUrl);
      // Reloading a step URL restores the step and the choices before it.
      await page.reload();
      await onStep(page, "customization");
      const hidden = await page
        .locator('#wizard-form input[type=hidden][name="extensions"]')
        .evaluateAll((xs) => xs.map((x) => x.getAttribute("value")));
      assert.deepEqual(hidden.sort(), ["siderolabs/amd-ucode", "siderolabs/gvisor"]);
      await page.goForward();
      await onStep(page, "final");

      // The page's Back pre-fills the customization; changing a choice changes the result.
      await page.getByRole("link", { name: "Back" }).click();
      await onStep(page, "customization");
      assert.equal(await page.locator("#cmdline").inputValue(), "net.ifnames=0");
      await page
        .getByLabel("Extra kernel command line arguments")
        .fill("net.ifnames=0 -console console=ttyS1");
      await next(page, "final");
      const second = await finalIdAndYaml(page);
      assert.notEqual(second.id, first.id);
      assertSchematic(
        second,
        "customization:\n  extraKernelArgs: [net.ifnames=0, -console, console=ttyS1]\n  systemExtensions:\n    officialExtensions: [siderolabs/amd-ucode, siderolabs/gvisor]\n",
      );
      // Going back further (architecture) and switching to arm64 changes the links.
      await page.getByRole("link", { name: "Machine Architecture" }).click();
      await onStep(page, "arch");
      await page.getByLabel("arm64 (AArch64)").check();
      await next(page, "extensions");
      await page.getByLabel(/siderolabs\/gvisor/).check();
      await next(page, "customization");
      await next(page, "final");
      const arm = await finalIdAndYaml(page);
      assert.match(
        (await collectFactoryLinks(page))[0]?.url ?? "",
        new RegExp(`/image/${arm.id}/v1\\.13\\.0/metal-arm64\\.iso$`),
      );
      assert.deepEqual(consoleErrors, []);
    } finally {
      await ctx.close();
    }
  });

  test("SecureBoot on a phone, by keyboard", async () => {
    const [ctx, page] = await newPage({ phone: true });
    try {
      await page.goto(`${server.url}/?target=metal&version=1.12.4`);
      await onStep(page, "arch");
      await page.getByLabel("SecureBoot").focus();
      await page.keyboard.press("Space");
      assert.equal(await page.getByLabel("SecureBoot").isChecked(), true);
      await screenshot(page, "secureboot-03-arch-phone");
      await page.getByRole("button", { name: "Next" }).focus();
      await page.keyboard.press("Enter");
      await onStep(page, "extensions");
      assert.match(page.url(), /secureboot=true/);
      await next(page, "customization");
      // GRUB cannot boot SecureBoot, so it is not offered.
      assert.equal(await page.getByLabel(/^GRUB/).count(), 0);
      await screenshot(page, "secureboot-05-customization-phone");
      await next(page, "final");
      const shown = await finalIdAndYaml(page);
      assert.equal(shown.id, EMPTY_ID);
      assertSchematic(shown, "customization: {}\n");
      await screenshot(page, "secureboot-06-final-phone");
      const links = await collectFactoryLinks(page);
      const img = `${server.url}/image/${EMPTY_ID}/v1.12.4`;
      assert.deepEqual(
        links.map((l) => l.url),
        [
          `${img}/metal-amd64-secureboot.iso`,
          `${img}/metal-amd64-secureboot.raw.zst`,
          `${img}/metal-amd64-secureboot.qcow2`,
          `${server.backend.externalPXEURL}/pxe/${EMPTY_ID}/v1.12.4/metal-amd64-secureboot`,
          `${img}/metal-amd64-secureboot-uki.efi`,
        ],
      );
      assert.match(
        (await page.locator("#installer-image").textContent()) ?? "",
        /\/metal-installer-secureboot\//,
      );
      // Readable on a phone: nothing wider than the screen.
      assert.equal(await page.locator("html").evaluate((el) => el.scrollWidth <= el.clientWidth), true);
    } finally {
      await ctx.close();
    }
  });

  test("SBC walk with JavaScript disabled (plain form posts)", async () => {
    const [ctx, page] = await newPage({ javaScriptEnabled: false });
    try {
      await page.goto(`${server.url}/`);
      await page.getByLabel("Single Board Computer").check();
      await next(page, "version");
      const versions = await page
        .locator("#version option")
        .evaluateAll((os) => os.map((o) => o.getAttribute("value")));
      assert.ok(!versions.includes("1.5.5"), "SBCs start at 1.7");
      assert.ok(versions.includes("1.7.7"));
      await page.locator("#version").selectOption("1.12.4");
      await screenshot(page, "sbc-02-version-nojs");
      await next(page, "platform");
      assert.equal(await page.getByLabel("Raspberry Pi Series").isChecked(), true);
      await screenshot(page, "sbc-03-board-nojs");
      await next(page, "extensions");
      assert.match(page.url(), /board=rpi_generic&arch=arm64$/);
      // Without JavaScript the search is a Filter button.
      await page.getByLabel("Search extensions").fill("iscsi");
      await page.getByRole("button", { name: "Filter" }).click();
      await onStep(page, "extensions");
      assert.equal(await page.locator("#extension-list li").count(), 1);
      await page.getByLabel(/siderolabs\/iscsi-tools/).check();
      await screenshot(page, "sbc-04-extensions-nojs");
      await next(page, "customization");
      await page.getByLabel("Overlay options (YAML)").fill("configTxtAppend: dtoverlay=vc4-fkms-v3d");
      await page.getByLabel(/^GRUB/).check();
      await screenshot(page, "sbc-05-customization-nojs");
      await next(page, "final");
      const shown = await finalIdAndYaml(page);
      assertSchematic(
        shown,
        "overlay:\n  image: siderolabs/sbc-raspberrypi\n  name: rpi_generic\n  options:\n    configTxtAppend: dtoverlay=vc4-fkms-v3d\n" +
          "customization:\n  systemExtensions:\n    officialExtensions: [siderolabs/iscsi-tools]\n  bootloader: grub\n",
      );
      await screenshot(page, "sbc-06-final-nojs");
      const links = await collectFactoryLinks(page);
      assert.deepEqual(
        links.map((l) => l.url),
        [`${server.url}/image/${shown.id}/v1.12.4/metal-arm64.raw.xz`],
      );
      // No copy buttons without JavaScript (they could not work); the text stays selectable.
      assert.equal(await page.getByRole("button", { name: "Copy the schematic ID" }).isVisible(), false);

      // Errors are pages, not raw HTTP errors.
      const res = await page.goto(`${server.url}/?target=metal&version=9.9.9`);
      assert.equal(res?.status(), 404);
      await onStep(page, "version");
      assert.match(
        (await page.locator("#errors").textContent()) ?? "",
        /Talos version 9\.9\.9 is not available/,
      );
      await screenshot(page, "errors-unknown-version-nojs");
    } finally {
      await ctx.close();
    }
  });
});
