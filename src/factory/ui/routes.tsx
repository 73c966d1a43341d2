/**
 * The UI's routes: `GET /` renders the step the URL describes, `POST /ui/wizard` takes a step's
 * form (plain post → 303 to the next step's URL; htmx follows the redirect and pushes that URL),
 * `/ui/version-doc` and `/ui/extensions-list` serve the fragments htmx swaps in.
 */
import type { Context } from "hono";
import type { RouteModule, FactoryEnv } from "../app.js";
import { isBootforgeError } from "../../errors/index.js";
import type { UiBackend } from "./backend.js";
import { finalContent } from "./final-content.js";
import { previousStep, resolveStep, secureBootOffered, type Resolved } from "./flow.js";
import { Layout } from "./pages/layout.js";
import { FinalStep } from "./pages/final.js";
import { StepFrame, stepTitle } from "./pages/step-frame.js";
import { ArchStep, CustomizationStep, ExtensionList, ExtensionsStep, PlatformStep, TargetStep, VersionDoc, VersionStep } from "./pages/steps.js";
import { schematicDocument, toSchematic } from "./to-schematic.js";
import { finalUrl, readParams, STEPS, stepUrl, type Step } from "./wizard-params.js";
import { checkKernelArgs } from "./kernel-args.js";
import { registerStaticAssets } from "./static-assets.js";

type Ctx = Context<FactoryEnv>;

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Steps the user never sees for these choices (decided automatically). */
function skippedSteps(r: Resolved): Step[] {
  const s: Step[] = [];
  if (r.params.target === "metal") s.push("platform");
  if (r.params.target === "sbc" || (r.platform?.architectures.length === 1 && !secureBootOffered(r.params, r.platform))) s.push("arch");
  return s;
}

async function stepBody(backend: UiBackend, r: Resolved, q: string) {
  const p = r.params;
  switch (r.step) {
    case "target":
      return <TargetStep params={p} />;
    case "version":
      return <VersionStep params={p} versions={r.versions} />;
    case "platform":
      return <PlatformStep params={p} overlays={p.target === "sbc" && p.version !== undefined ? await backend.overlays(`v${p.version}`) : []} />;
    case "arch":
      return r.platform === undefined ? <></> : <ArchStep params={p} platform={r.platform} />;
    case "extensions":
      return <ExtensionsStep params={p} catalog={r.catalog} q={q} />;
    case "customization":
      return <CustomizationStep params={p} sbc={r.board !== undefined} cmdlineInvalid={!checkKernelArgs(p.cmdline).ok} />;
    case "final": {
      if (r.schematic === undefined || r.platform === undefined || p.version === undefined || p.arch === undefined) return <></>;
      const content = finalContent({
        externalURL: backend.externalURL,
        externalPXEURL: backend.externalPXEURL,
        schematicId: r.schematic.id,
        schematicYaml: r.schematic.yaml,
        version: p.version,
        platform: r.platform,
        arch: p.arch,
        secureboot: p.secureboot,
        board: r.board,
        overlay: r.overlay,
        catalog: r.catalog,
        extensions: p.extensions ?? [],
        cmdline: p.cmdline,
        overlayOptions: p.overlayOptions,
        embeddedConfig: p.embeddedConfig,
      });
      return <FinalStep id={r.schematic.id} yaml={r.schematic.yaml} content={content} version={`v${p.version}`} />;
    }
  }
}

async function renderPage(c: Ctx, backend: UiBackend, r: Resolved, opts: { q?: string; pushUrl?: string } = {}) {
  const p = r.params;
  let back: string | undefined;
  if (r.step === "final") {
    back = r.schematic === undefined ? "/" : stepUrl(p, "customization", [["prefill", r.schematic.id]]);
  } else {
    const prev = previousStep(r, r.step);
    back = prev === undefined ? undefined : stepUrl(p, prev);
  }
  const body = await stepBody(backend, r, opts.q ?? "");
  const page = (
    <Layout title={stepTitle(r.step, p.target)} serverVersion={backend.serverVersion}>
      <StepFrame
        step={r.step}
        params={p}
        errors={r.errors}
        back={back}
        skipped={skippedSteps(r)}
        form={r.step !== "final"}
        submitLabel={r.step === "customization" ? "Create schematic" : "Next"}
      >
        {body}
      </StepFrame>
    </Layout>
  );
  const headers: Record<string, string> = { "Content-Security-Policy": CSP, "Cache-Control": "no-store" };
  // htmx requests: say which URL the swapped page stands for ("false" keeps the address bar).
  if (c.req.header("HX-Request") === "true") headers["HX-Push-Url"] = opts.pushUrl ?? "false";
  return c.html(`<!DOCTYPE html>${(await page.toString()) as string}`, r.status as 200, headers);
}

function pathAndQuery(c: Ctx): string {
  const u = new URL(c.req.url);
  return `${u.pathname}${u.search}`;
}

/** The UI as a route module over the given backend. */
export function uiRoutes(backend: UiBackend): RouteModule {
  return (app) => {
    registerStaticAssets(app);

    app.get("/", async (c) => {
      const q = new URL(c.req.url).searchParams;
      const r = await resolveStep(backend, readParams(q));
      return renderPage(c, backend, r, { pushUrl: pathAndQuery(c) });
    });

    app.post("/ui/wizard", async (c) => {
      const form = new URLSearchParams(await c.req.text());
      const stepText = form.get("step") ?? "";
      const submitted = (STEPS as readonly string[]).includes(stepText) ? (stepText as Step) : undefined;
      const params = readParams(form);
      const q = form.get("q") ?? "";

      if (submitted === "extensions" && form.get("action") === "filter") {
        // The no-JS search: show the same step filtered, selections kept.
        const r = await resolveStep(backend, { ...params, extensions: undefined });
        r.params.extensions = params.extensions ?? [];
        return renderPage(c, backend, r, { q });
      }

      const r = await resolveStep(backend, params, submitted);
      if (r.ready) {
        try {
          const board = r.board;
          const doc = schematicDocument(toSchematic(r.params, board, r.overlay?.image));
          const created = await backend.createSchematic(doc);
          return c.redirect(finalUrl(r.params, created.id), 303);
        } catch (e) {
          if (!isBootforgeError(e)) throw e;
          r.errors.push(`The factory rejected the schematic: ${e.message}`);
          r.status = 400;
          return renderPage(c, backend, r);
        }
      }
      const advanced = submitted !== undefined && STEPS.indexOf(r.step) > STEPS.indexOf(submitted);
      if (r.errors.length > 0 || !advanced) return renderPage(c, backend, r, { q });
      return c.redirect(stepUrl(r.params, r.step), 303);
    });

    app.get("/ui/wizard", (c) => c.redirect("/", 303));

    app.get("/ui/version-doc", (c) => {
      const v = c.req.query("version");
      return c.html(<VersionDoc version={v === undefined || v === "" ? undefined : v} />);
    });

    app.post("/ui/extensions-list", async (c) => {
      const form = new URLSearchParams(await c.req.text());
      const params = readParams(form);
      const r = await resolveStep(backend, { ...params, extensions: undefined });
      if (r.step !== "extensions") return c.html(<div id="extension-list" />, 400);
      return c.html(<ExtensionList catalog={r.catalog} selected={params.extensions ?? []} q={form.get("q") ?? ""} />);
    });
  };
}
