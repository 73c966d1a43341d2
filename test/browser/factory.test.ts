/// <reference lib="dom" />
// Callbacks passed to page/locator evaluate run in the browser, so these files see DOM types.
/**
 * The wizard served by the real factory (fixture release, real imager pipeline): a metal amd64
 * schematic with two fixture extensions and a kernel arg, picked in Chromium; the final page's ID
 * equals the API's ID for the same schematic, and every link on the page answers 200 (`HEAD` for
 * downloads, `GET` for the PXE URL), which builds each asset for real.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { startFactory, type TestFactory } from "../factory/harness.js";
import { launchChromium, screenshot } from "./browser.js";
import { collectFactoryLinks, probeLinks } from "./links.js";

let f: TestFactory;
let browser: Browser;

before(async () => {
  f = await startFactory();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await f?.stop();
});

describe("wizard on the real factory", () => {
  test("final page ID equals the API's; every link answers 200", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    ctx.setDefaultTimeout(15_000);
    try {
      const page = await ctx.newPage();
      await page.goto(`${f.url}/?target=metal&version=1.11.0&platform=metal&arch=amd64`);
      await page.waitForSelector('section.step[data-step="extensions"]');
      // The fixture release's catalog, filtered to the version, drives the list.
      await page.getByLabel(/siderolabs\/bootforge-hello/).check();
      await page.getByLabel(/siderolabs\/bootforge-dummy-module/).check();
      await screenshot(page, "factory-01-extensions");
      await page.getByRole("button", { name: "Next" }).click();
      await page.waitForSelector('section.step[data-step="customization"]');
      await page.getByLabel("Extra kernel command line arguments").fill("console=ttyS0");
      await page.getByRole("button", { name: "Create schematic" }).click();
      await page.waitForSelector('section.step[data-step="final"]');
      await screenshot(page, "factory-02-final");

      const id = ((await page.locator("#schematic-id").textContent()) ?? "").trim();
      const yaml = (await page.locator("#schematic-yaml").textContent()) ?? "";
      // The same schematic written by hand, posted to the API.
      const api = await fetch(`${f.url}/schematics`, {
        method: "POST",
        body: [
          "customization:",
          "  extraKernelArgs: [console=ttyS0]",
          "  systemExtensions:",
          "    officialExtensions: [siderolabs/bootforge-dummy-module, siderolabs/bootforge-hello]",
          "",
        ].join("\n"),
      });
      assert.equal(api.status, 201);
      const created = (await api.json()) as { id: string; schematic: string };
      assert.equal(id, created.id);
      assert.equal(yaml, created.schematic);

      const links = await collectFactoryLinks(page);
      assert.ok(links.length >= 6, JSON.stringify(links));
      for (const l of links) assert.ok(l.url.includes(`/${id}/v1.11.0/`), l.url);
      assert.deepEqual(await probeLinks(links), []);
    } finally {
      await ctx.close();
    }
  });
});
