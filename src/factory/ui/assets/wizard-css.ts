/** The wizard's stylesheet: small, no framework, readable from 320 px phones to desktops. */
export const WIZARD_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #57606a; --line: #d0d7de;
  --accent: #0b5cad; --accent-fg: #fff; --err: #b42318; --err-bg: #fef3f2; --card: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1;
  --line: #30363d; --accent: #4493f8; --accent-fg: #0d1117; --err: #ff7b72; --err-bg: #2d1214; --card: #161b22; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .5rem; z-index: 1; }
header.site, footer.site { display: flex; gap: 1rem; align-items: baseline; justify-content: space-between;
  padding: .75rem 1rem; border-bottom: 1px solid var(--line); }
footer.site { border-top: 1px solid var(--line); border-bottom: 0; color: var(--muted); font-size: .875rem; }
.brand { font-weight: 700; text-decoration: none; color: var(--fg); }
.server-version { color: var(--muted); font-size: .875rem; }
main { max-width: 52rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.progress { display: flex; flex-wrap: wrap; gap: .25rem .5rem; list-style: none; padding: 0; margin: 0; font-size: .875rem; color: var(--muted); }
.progress li + li::before { content: "›"; margin-right: .5rem; }
.progress [aria-current] { color: var(--fg); font-weight: 600; }
fieldset { border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; margin: 0 0 1rem; }
legend { font-weight: 600; padding: 0 .25rem; }
label { font-weight: 600; display: block; margin: .75rem 0 .25rem; }
.choice { display: flex; gap: .5rem; align-items: baseline; font-weight: 400; margin: .35rem 0; }
.choice.described { flex-wrap: wrap; } .choice.described label { margin: 0; font-weight: 500; }
.choice.described .hint { flex-basis: 100%; margin: 0 0 .25rem 1.6rem; }
input[type=radio], input[type=checkbox] { width: 1.1rem; height: 1.1rem; accent-color: var(--accent); }
input[type=text], input[type=search], select, textarea { width: 100%; font: inherit; padding: .5rem .6rem; color: var(--fg);
  background: var(--bg); border: 1px solid var(--line); border-radius: 6px; }
textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .875rem; }
[aria-invalid=true] { border-color: var(--err); border-width: 2px; }
.hint { color: var(--muted); font-size: .875rem; margin: .25rem 0; }
.notice { background: var(--card); border-left: 4px solid var(--accent); padding: .5rem .75rem; }
.errors { background: var(--err-bg); color: var(--err); border: 1px solid var(--err); border-radius: 8px; padding: .5rem 1rem; margin-bottom: 1rem; }
.errors p { margin: .25rem 0; } .errors ul { margin: .25rem 0; padding-left: 1.25rem; }
.inline { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 1rem; }
.search { display: flex; gap: .5rem; align-items: end; flex-wrap: wrap; } .search label { flex-basis: 100%; margin-bottom: 0; }
.search input { flex: 1 1 12rem; }
.extensions { list-style: none; padding: 0; margin: 0; }
.extensions li { display: grid; grid-template-columns: 1.6rem 1fr; padding: .4rem 0; border-bottom: 1px solid var(--line); }
.extensions label { margin: 0; font-weight: 500; word-break: break-word; } .extensions .hint { grid-column: 2; white-space: pre-line; }
.tag { color: var(--muted); font-weight: 400; }
.actions { display: flex; gap: .75rem; justify-content: space-between; margin-top: 1.5rem; }
.button { display: inline-block; font: inherit; padding: .55rem 1.1rem; border-radius: 6px; border: 1px solid var(--accent); cursor: pointer; text-decoration: none; }
.button.primary { background: var(--accent); color: var(--accent-fg); margin-left: auto; }
.button.secondary, .button.copy { background: transparent; color: var(--accent); }
.button.copy { padding: .2rem .6rem; font-size: .875rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .875rem; }
.copyable { display: flex; gap: .5rem; align-items: flex-start; margin: .25rem 0 1rem; }
.copyable code, .copyable pre { flex: 1; min-width: 0; background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: .4rem .6rem; margin: 0; overflow-x: auto; word-break: break-all; }
.copyable pre { white-space: pre-wrap; }
#schematic-id { font-size: 1rem; font-weight: 600; }
.links { list-style: none; padding: 0; } .links li { margin: .5rem 0; }
.links a, .links .label { font-weight: 600; display: block; } .links .url { color: var(--muted); word-break: break-all; display: block; }
details summary { cursor: pointer; font-weight: 600; }
@media (max-width: 30rem) { main { padding: .75rem; } h1 { font-size: 1.35rem; } .actions { flex-direction: column-reverse; }
  .button.primary { margin-left: 0; width: 100%; text-align: center; } .actions .secondary { text-align: center; } }
`;
