/**
 * OVA as upstream's imager makes it (`pkg/imager/ova`): a tar of `disk.ovf` (the OVF descriptor,
 * same document as upstream's), `disk.mf` (SHA-256 manifest) and `disk.vmdk` (streamOptimized).
 * The VMDK comes from `qemu-img convert` (upstream: open-vmdk's vmdk-convert); its random content
 * ID is replaced by a fixed one, and the tar has fixed owners, modes and mtimes, so OVAs are
 * reproducible.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, open, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { ioError } from "../../errors/index.js";
import { run } from "../tools/run.js";
import { guidFromLabel } from "../../formats/guid.js";

/** Options of `writeOva`. */
export interface OvaOptions {
  /** Disk size in bytes (the OVF capacity is given in MiB). */
  diskSize: number;
  /** SOURCE_DATE_EPOCH for the tar headers (default 0). */
  epoch?: number;
  scratchDir?: string;
  signal?: AbortSignal;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

type Xml = string | [tag: string, attrs: Record<string, string>, children?: Xml[] | string];

function render(node: Xml, indent: string): string[] {
  if (typeof node === "string") return [indent + node];
  const [tag, attrs, children] = node;
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${esc(v)}"`)
    .join("");
  if (children === undefined) return [`${indent}<${tag}${a}/>`];
  if (typeof children === "string") return [`${indent}<${tag}${a}>${esc(children)}</${tag}>`];
  return [
    `${indent}<${tag}${a}>`,
    ...children.flatMap((c) => render(c, `${indent}  `)),
    `${indent}</${tag}>`,
  ];
}

const rasd = (fields: [string, string][], attrs: Record<string, string> = {}, extra: Xml[] = []): Xml => [
  "Item",
  attrs,
  [...fields.map(([k, v]): Xml => [`rasd:${k}`, {}, v]), ...extra],
];
const vmwConfig = (key: string, value: string, tag = "vmw:Config"): Xml => [
  tag,
  { "ovf:required": "false", "vmw:key": key, "vmw:value": value },
];

/** The OVF descriptor for a streamOptimized `disk.vmdk` of `vmdkSize` bytes and a `diskSize`-byte disk. */
export function renderOvf(vmdkSize: number, diskSize: number): string {
  const envelope = {
    "vmw:buildId": "build-7948156",
    xmlns: "http://schemas.dmtf.org/ovf/envelope/1",
    "xmlns:cim": "http://schemas.dmtf.org/wbem/wscim/1/common",
    "xmlns:ovf": "http://schemas.dmtf.org/ovf/envelope/1",
    "xmlns:rasd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData",
    "xmlns:vmw": "http://www.vmware.com/schema/ovf",
    "xmlns:vssd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData",
    "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
  };
  // The talos.config property is written across three lines upstream; kept as upstream has it.
  const property = [
    `<Property ovf:userConfigurable="true" ovf:type="string"`,
    `          ovf:key="talos.config" ovf:value="">`,
    `  <Label>Talos config data</Label>`,
    `  <Description>Inline Talos config</Description>`,
    `</Property>`,
  ];
  const hardware: Xml[] = [
    ["Info", {}, "Virtual hardware requirements"],
    ["System", {}, [
      ["vssd:ElementName", {}, "Virtual Hardware Family"],
      ["vssd:InstanceID", {}, "0"],
      ["vssd:VirtualSystemIdentifier", {}, "talos"],
      ["vssd:VirtualSystemType", {}, "vmx-15"],
    ]],
    rasd([["AllocationUnits", "hertz * 10^6"], ["Description", "Number of Virtual CPUs"], ["ElementName", "2 virtual CPU(s)"], ["InstanceID", "1"], ["ResourceType", "3"], ["VirtualQuantity", "2"]]),
    rasd([["AllocationUnits", "byte * 2^20"], ["Description", "Memory Size"], ["ElementName", "2048MB of memory"], ["InstanceID", "2"], ["ResourceType", "4"], ["VirtualQuantity", "2048"]]),
    rasd([["Address", "0"], ["Description", "SCSI Controller"], ["ElementName", "scsiController0"], ["InstanceID", "3"], ["ResourceSubType", "VirtualSCSI"], ["ResourceType", "6"]]),
    rasd([["AddressOnParent", "0"], ["ElementName", "disk0"], ["HostResource", "ovf:/disk/vmdisk1"], ["InstanceID", "4"], ["Parent", "3"], ["ResourceType", "17"]]),
    rasd(
      [["AddressOnParent", "2"], ["AutomaticAllocation", "true"], ["Connection", "VM Network"], ["Description", 'VmxNet3 ethernet adapter on "VM Network"'], ["ElementName", "ethernet0"], ["InstanceID", "5"], ["ResourceSubType", "VmxNet3"], ["ResourceType", "10"]],
      {},
      [vmwConfig("slotInfo.pciSlotNumber", "32"), vmwConfig("wakeOnLanEnabled", "false"), vmwConfig("connectable.allowGuestControl", "false")],
    ),
    rasd([["AutomaticAllocation", "false"], ["ElementName", "video"], ["InstanceID", "6"], ["ResourceType", "24"]], { "ovf:required": "false" }),
    rasd([["AutomaticAllocation", "false"], ["ElementName", "vmci"], ["InstanceID", "7"], ["ResourceSubType", "vmware.vmci"], ["ResourceType", "1"]], { "ovf:required": "false" }),
    vmwConfig("tools.syncTimeWithHost", "false"),
    vmwConfig("tools.afterPowerOn", "true"),
    vmwConfig("tools.afterResume", "true"),
    vmwConfig("tools.beforeGuestShutdown", "true"),
    vmwConfig("tools.beforeGuestStandby", "true"),
    vmwConfig("tools.toolsUpgradePolicy", "manual"),
    vmwConfig("powerOpInfo.suspendType", "soft"),
    vmwConfig("nvram", "talos.nvram", "vmw:ExtraConfig"),
    vmwConfig("disk.EnableUUID", "true", "vmw:ExtraConfig"),
  ]; // prettier-ignore
  const doc: Xml = ["Envelope", envelope, [
    ["References", {}, [["File", { "ovf:href": "disk.vmdk", "ovf:id": "file1", "ovf:size": String(vmdkSize) }]]],
    ["DiskSection", {}, [
      ["Info", {}, "Virtual disk information"],
      ["Disk", {
        "ovf:capacity": String(Math.floor(diskSize / 2 ** 20)),
        "ovf:capacityAllocationUnits": "byte * 2^20",
        "ovf:diskId": "vmdisk1",
        "ovf:fileRef": "file1",
        "ovf:format": "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized",
      }],
    ]],
    ["NetworkSection", {}, [
      ["Info", {}, "The list of logical networks"],
      ["Network", { "ovf:name": "VM Network" }, [["Description", {}, "The VM Network network"]]],
    ]],
    ["VirtualSystem", { "ovf:id": "vm" }, [
      ["Info", {}, "A virtual machine"],
      ["Name", {}, "talos"],
      ["ProductSection", { "ovf:required": "false" }, [["Info", {}, "Talos Virtual Appliance"], ...property]],
      ["OperatingSystemSection", { "ovf:id": "101", "vmw:osType": "other3xLinux64Guest" }, [
        ["Info", {}, "The kind of installed guest operating system"],
      ]],
      ["VirtualHardwareSection", { "ovf:transport": "com.vmware.guestInfo" }, hardware],
    ]],
  ]]; // prettier-ignore
  const header = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<!--Generated by VMware ovftool 4.3.0 (build-7948156), UTC time: 2019-10-31T01:41:10.540841Z-->`,
    `<!-- Edited by Talos -->`,
  ];
  return `${[...header, ...render(doc, "")].join("\n")}\n`;
}

/** The `disk.mf` manifest for the given SHA-256 hex digests. */
export function renderManifest(vmdkSha256: string, ovfSha256: string): string {
  return `SHA256(disk.vmdk)= ${vmdkSha256}\nSHA256(disk.ovf)= ${ovfSha256}\n`;
}

/** The content ID written into every OVA's VMDK descriptor (qemu-img picks a random one). */
export const OVA_VMDK_CID = guidFromLabel("talos-image-vmdk").replace(/-/g, "").slice(0, 8);

/**
 * Replaces the random `CID=` of a streamOptimized VMDK's embedded descriptor with `cid`. qemu-img
 * prints the CID without zero padding (`CID=%x`), so one build in sixteen has a shorter one: the
 * descriptor text is rewritten inside its area (sparse header: descriptorOffset/descriptorSize,
 * in sectors), zero-filled to the end, rather than patched in place.
 */
export async function fixVmdkCid(path: string, cid = OVA_VMDK_CID): Promise<void> {
  const f = await open(path, "r+");
  try {
    const header = Buffer.alloc(512);
    await f.read(header, 0, header.length, 0);
    if (header.toString("latin1", 0, 4) !== "KDMV") throw ioError(`${path}: not a sparse VMDK`);
    const start = Number(header.readBigUInt64LE(28)) * 512;
    const size = Number(header.readBigUInt64LE(36)) * 512;
    if (start === 0 || size === 0 || size > 1024 * 1024)
      throw ioError(`${path}: no embedded VMDK descriptor`);
    const area = Buffer.alloc(size);
    await f.read(area, 0, size, start);
    const end = area.indexOf(0);
    const text = area.toString("latin1", 0, end < 0 ? size : end);
    const m = /\nCID=([0-9a-f]{1,8})\n/.exec(text);
    if (!m) throw ioError(`${path}: no VMDK descriptor CID found`);
    const fixed = Buffer.from(text.replace(m[0], `\nCID=${cid}\n`), "latin1");
    if (fixed.length >= size) throw ioError(`${path}: VMDK descriptor area too small`);
    const out = Buffer.alloc(size);
    fixed.copy(out);
    await f.write(out, 0, size, start);
  } finally {
    await f.close();
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(path), h);
  return h.digest("hex");
}

/** Writes the OVA for the raw disk `raw` to `output` (streamed; `raw` is kept). */
export async function writeOva(raw: string, output: string, o: OvaOptions): Promise<void> {
  const sig = o.signal ? { signal: o.signal } : {};
  const dir = await mkdtemp(join(o.scratchDir ?? tmpdir(), "bootforge-ova-"));
  const partial = join(dirname(output), `.${Date.now()}-${process.pid}.ova.partial`);
  try {
    const vmdk = join(dir, "disk.vmdk");
    await run(
      "qemu-img",
      [
        "convert",
        "-f",
        "raw",
        "-O",
        "vmdk",
        "-o",
        "subformat=streamOptimized,adapter_type=lsilogic",
        raw,
        vmdk,
      ],
      sig,
    );
    await fixVmdkCid(vmdk);
    const ovf = renderOvf((await stat(vmdk)).size, o.diskSize);
    const mf = renderManifest(await sha256File(vmdk), createHash("sha256").update(ovf).digest("hex"));
    await writeFile(join(dir, "disk.mf"), mf);
    await writeFile(join(dir, "disk.ovf"), ovf);
    await run(
      "tar",
      [
        "-cf", partial, "-C", dir,
        "--owner=0", "--group=0", "--numeric-owner", "--mode=0644", `--mtime=@${o.epoch ?? 0}`,
        "disk.ovf", "disk.mf", "disk.vmdk",
      ], // prettier-ignore
      sig,
    );
    await rename(partial, output);
  } finally {
    await rm(partial, { force: true });
    await rm(dir, { recursive: true, force: true });
  }
}
