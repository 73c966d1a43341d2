/** The result page: schematic ID and YAML, boot asset links, installer references, commands. */
import type { AssetLink, FinalContent } from "../final-content.js";

function Copyable(props: { id: string; text: string; label: string; block?: boolean }) {
  return (
    <div class="copyable">
      {props.block === true ? (
        <pre id={props.id} tabindex={0}>
          {props.text}
        </pre>
      ) : (
        <code id={props.id}>{props.text}</code>
      )}
      {/* Shown by wizard.js: copying needs JavaScript. */}
      <button type="button" class="button copy" data-copy={`#${props.id}`} aria-label={props.label} hidden>
        Copy
      </button>
    </div>
  );
}

function LinkList(props: { links: readonly AssetLink[] }) {
  return (
    <ul class="links">
      {props.links.map((l) =>
        l.method === "GET" ? (
          <li data-link={l.id}>
            <span class="label">{l.label}</span>
            <Copyable id={`link-${l.id}`} text={l.url} label={`Copy the ${l.label} URL`} />
          </li>
        ) : (
          <li data-link={l.id}>
            <a href={l.url} download hx-boost="false">
              {l.label}
            </a>
            <code class="url">{l.url}</code>
          </li>
        ),
      )}
    </ul>
  );
}

/** Body of the final step. */
export function FinalStep(props: { id: string; yaml: string; content: FinalContent; version: string }) {
  const c = props.content;
  return (
    <>
      <p>Your image schematic ID is:</p>
      <Copyable id="schematic-id" text={props.id} label="Copy the schematic ID" />
      <details open>
        <summary>Schematic</summary>
        <Copyable id="schematic-yaml" text={props.yaml} label="Copy the schematic YAML" block />
      </details>

      <h2>First Boot</h2>
      <LinkList links={c.firstBoot} />

      {c.extraAssets.length > 0 && (
        <>
          <h2>Extra Assets</h2>
          <LinkList links={c.extraAssets} />
        </>
      )}

      {c.showInstall && (
        <>
          <h2>Initial Installation</h2>
          <p>Use this installer image in the machine configuration (<code>machine.install.image</code>):</p>
          <Copyable id="installer-image" text={c.installerImage} label="Copy the installer image reference" />
        </>
      )}

      <h2>Upgrading Talos Linux</h2>
      <p>To upgrade a running machine to this image:</p>
      <Copyable id="upgrade-command" text={c.upgradeCommand} label="Copy the upgrade command" />

      {c.localClusterCommand !== undefined && (
        <>
          <h2>Local Test Cluster</h2>
          <Copyable id="local-cluster-command" text={c.localClusterCommand} label="Copy the local cluster command" />
        </>
      )}

      <h2>Equivalent Commands</h2>
      <p>Create the same schematic through the API (the ID is the SHA-256 of the canonical YAML):</p>
      <Copyable id="curl-command" text={c.curlCommand} label="Copy the curl command" block />
      <p>
        Build the first boot asset locally with <code>imager</code>, Talos {props.version}:
      </p>
      <Copyable id="imager-command" text={c.imagerCommand} label="Copy the imager command" block />
    </>
  );
}
