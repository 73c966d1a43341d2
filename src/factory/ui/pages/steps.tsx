/** The bodies of the choice steps (hardware type to customization). */
import type { ExtensionEntry } from "../../../release/catalogs.js";
import { cloudPlatformsFor, type PlatformInfo } from "../../../profile/platforms.js";
import type { OverlayEntry } from "../../../release/catalogs.js";
import { availableBoards, BOOTLOADERS, features, SBC_MIN_VERSION, secureBootOffered, TARGETS } from "../flow.js";
import { defaultVersion, groupVersions } from "../version-groups.js";
import type { WizardParams } from "../wizard-params.js";
import { docsUrl, legacyDocsUrl, versionDocs } from "./docs.js";

/** Hardware type: metal, cloud or SBC. */
export function TargetStep(props: { params: WizardParams }) {
  const chosen = props.params.target ?? "metal";
  return (
    <fieldset>
      <legend>What will Talos Linux run on?</legend>
      {TARGETS.map((t) => (
        <label class="choice">
          <input type="radio" name="target" value={t.value} checked={chosen === t.value} />
          <span>{t.label}</span>
        </label>
      ))}
    </fieldset>
  );
}

/** The version-doc fragment (also served alone at `/ui/version-doc`). */
export function VersionDoc(props: { version: string | undefined }) {
  return (
    <div id="version-doc" class="hint" aria-live="polite">
      {props.version !== undefined && (
        <ul class="inline">
          {versionDocs(props.version).map((d) => (
            <li>
              <a href={d.url} rel="noopener" target="_blank">
                {d.label}
              </a>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Version select grouped by minor line, newest first, newest stable preselected. */
export function VersionStep(props: { params: WizardParams; versions: string[] }) {
  const min = props.params.target === "sbc" ? SBC_MIN_VERSION : undefined;
  const groups = groupVersions(props.versions, min);
  const current = props.params.version;
  const selected = current !== undefined && groups.some((g) => g.versions.includes(current)) ? current : defaultVersion(props.versions, min);
  return (
    <>
      {min !== undefined && <p class="notice">Single board computers are supported from Talos {min}; older versions are not listed.</p>}
      <label for="version">Talos Linux version</label>
      <select
        id="version"
        name="version"
        hx-get="/ui/version-doc"
        hx-trigger="change"
        hx-target="#version-doc"
        hx-select="#version-doc"
        hx-swap="outerHTML"
        hx-push-url="false"
      >
        {groups.map((g) => (
          <optgroup label={g.label}>
            {g.versions.map((v) => (
              <option value={v} selected={v === selected}>
                {v}
              </option>
            ))}
          </optgroup>
        ))}
      </select>
      <VersionDoc version={selected} />
    </>
  );
}

function PlatformChoice(props: { p: PlatformInfo; version: string; checked: boolean }) {
  const { p } = props;
  const id = `platform-${p.name}`;
  return (
    <div class="choice described">
      <input type="radio" id={id} name="platform" value={p.name} checked={props.checked} aria-describedby={`${id}-desc`} />
      <label for={id}>{p.label}</label>
      <p id={`${id}-desc`} class="hint">
        {p.description}
        {p.documentation !== undefined && (
          <>
            {" "}
            <a href={docsUrl(props.version, p.documentation)} rel="noopener" target="_blank">
              Guide
            </a>
          </>
        )}
      </p>
    </div>
  );
}

/** Cloud platform or board, by target. */
export function PlatformStep(props: { params: WizardParams; overlays: OverlayEntry[] }) {
  const version = props.params.version ?? "";
  if (props.params.target === "sbc") {
    const boards = availableBoards(`v${version}`, props.overlays);
    const chosen = props.params.board ?? "rpi_generic";
    if (boards.length === 0) return <p class="notice">This factory serves no board overlays for Talos {version}.</p>;
    return (
      <fieldset>
        <legend>Which board?</legend>
        {boards.map((b) => (
          <div class="choice described">
            <input type="radio" id={`board-${b.name}`} name="board" value={b.name} checked={chosen === b.name} />
            <label for={`board-${b.name}`}>{b.label}</label>
            {b.documentation !== undefined && (
              <p class="hint">
                <a href={legacyDocsUrl(version, b.documentation)} rel="noopener" target="_blank">
                  Guide
                </a>
              </p>
            )}
          </div>
        ))}
      </fieldset>
    );
  }
  const chosen = props.params.platform ?? "aws";
  return (
    <fieldset>
      <legend>Which cloud or hypervisor?</legend>
      {cloudPlatformsFor(`v${version}`).map((p) => (
        <PlatformChoice p={p} version={version} checked={chosen === p.name} />
      ))}
    </fieldset>
  );
}

/** Architecture and, where the platform and version allow it, SecureBoot. */
export function ArchStep(props: { params: WizardParams; platform: PlatformInfo }) {
  const chosen = props.params.arch ?? "amd64";
  return (
    <>
      <fieldset>
        <legend>Machine architecture</legend>
        {props.platform.architectures.map((a) => (
          <label class="choice">
            <input type="radio" name="arch" value={a} checked={chosen === a} />
            <span>{a === "amd64" ? "amd64 (x86-64)" : "arm64 (AArch64)"}</span>
          </label>
        ))}
      </fieldset>
      {secureBootOffered(props.params, props.platform) && (
        <fieldset>
          <legend>SecureBoot</legend>
          <label class="choice">
            <input type="checkbox" name="secureboot" value="true" checked={props.params.secureboot} aria-describedby="sb-desc" />
            <span>SecureBoot</span>
          </label>
          <p id="sb-desc" class="hint">
            Boot assets are signed UKIs; the machine must enroll the factory's SecureBoot keys.
          </p>
        </fieldset>
      )}
    </>
  );
}

function matches(e: ExtensionEntry, q: string): boolean {
  const needle = q.trim().toLowerCase();
  return needle === "" || e.ref.toLowerCase().includes(needle) || e.description.toLowerCase().includes(needle);
}

/** The extension checkboxes: entries matching `q`, plus every checked one (never hidden). */
export function ExtensionList(props: { catalog: readonly ExtensionEntry[]; selected: readonly string[]; q: string }) {
  const shown = props.catalog.filter((e) => props.selected.includes(e.name) || matches(e, props.q));
  return (
    <div id="extension-list" aria-live="polite">
      <p class="hint">
        {shown.length} of {props.catalog.length} extensions shown; {props.selected.length} selected.
      </p>
      {shown.length === 0 && <p class="notice">No extension matches “{props.q}”.</p>}
      <ul class="extensions">
        {shown.map((e) => {
          const id = `ext-${e.name.replace(/[^A-Za-z0-9_-]/g, "-")}`;
          return (
            <li>
              <input type="checkbox" id={id} name="extensions" value={e.name} checked={props.selected.includes(e.name)} aria-describedby={`${id}-desc`} />
              <label for={id}>
                {e.name} <span class="tag">({e.tag})</span>
              </label>
              <p id={`${id}-desc`} class="hint">
                {e.description.trim() === "" ? "No description." : e.description.trim()}
              </p>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

/** Extension step: search box (htmx live filter, or a Filter button without JS) and the list. */
export function ExtensionsStep(props: { params: WizardParams; catalog: readonly ExtensionEntry[]; q: string }) {
  return (
    <>
      {/* The sentinel makes "no extensions" an explicit choice (upstream's `-`). */}
      <input type="hidden" name="extensions" value="-" />
      <div class="search">
        <label for="extension-search">Search extensions</label>
        <input
          type="search"
          id="extension-search"
          name="q"
          value={props.q}
          autocomplete="off"
          placeholder="name or description"
          hx-post="/ui/extensions-list"
          hx-trigger="input changed delay:300ms, search"
          hx-target="#extension-list"
          hx-select="#extension-list"
          hx-swap="outerHTML"
          hx-include="closest form"
          hx-push-url="false"
        />
        <button type="submit" class="button secondary" name="action" value="filter">
          Filter
        </button>
      </div>
      <ExtensionList catalog={props.catalog} selected={props.params.extensions ?? []} q={props.q} />
    </>
  );
}

/** Customization: kernel args, bootloader, embedded config and overlay options by version. */
export function CustomizationStep(props: { params: WizardParams; sbc: boolean; cmdlineInvalid: boolean }) {
  const p = props.params;
  const f = features(p.version ?? "");
  return (
    <>
      <label for="cmdline">Extra kernel command line arguments</label>
      <input
        type="text"
        id="cmdline"
        name="cmdline"
        value={p.cmdline}
        placeholder="-console console=tty0"
        autocomplete="off"
        spellcheck={false}
        aria-describedby="cmdline-hint"
        aria-invalid={props.cmdlineInvalid ? "true" : undefined}
      />
      <div id="cmdline-hint" class="hint">
        <p>
          Separate arguments with spaces. Prefix an argument with <code>-</code> to remove it from the defaults:{" "}
          <code>-console</code> removes every <code>console=</code>, <code>-console=ttyS0</code> only that value.
        </p>
        {!f.unifiedInstaller && !p.secureboot && (
          <p>Before Talos 1.10 these arguments reach boot media only; installs and upgrades take them from the machine configuration.</p>
        )}
      </div>
      {f.bootloader && (
        <fieldset>
          <legend>Bootloader</legend>
          {BOOTLOADERS.filter((b) => !(b.value === "grub" && p.secureboot)).map((b) => (
            <label class="choice">
              <input type="radio" name="bootloader" value={b.value} checked={p.bootloader === b.value} />
              <span>
                {b.label} <span class="hint">({b.hint})</span>
              </span>
            </label>
          ))}
        </fieldset>
      )}
      {f.embeddedConfig && (
        <>
          <label for="embedded-config">Embedded machine configuration (optional)</label>
          <textarea id="embedded-config" name="embedded-config" rows={6} spellcheck={false} aria-describedby="embedded-hint">
            {p.embeddedConfig}
          </textarea>
          <p id="embedded-hint" class="hint">
            YAML documents baked into the image and applied on first boot. Not put into URLs, but stored in the schematic: anyone with its ID can read it.
          </p>
        </>
      )}
      {props.sbc && (
        <>
          <label for="overlay-options">Overlay options (YAML)</label>
          <textarea id="overlay-options" name="overlay-options" rows={4} spellcheck={false} placeholder="configTxtAppend: 'dtoverlay=vc4-fkms-v3d'">
            {p.overlayOptions}
          </textarea>
        </>
      )}
    </>
  );
}
