/**
 * A small Prometheus registry (text exposition format 0.0.4): counters, gauges read at scrape
 * time, and histograms, with labels. Enough for the factory's metrics without a dependency.
 */

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`,
  );
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/**
 * The series key of a label set: names and values joined with control characters. Cheaper than
 * the escaped exposition text (this runs on every request); the text is built when scraped.
 */
function seriesKey(labels: Labels): string {
  let key = "";
  for (const k in labels) key += `${k}\u0001${labels[k]}\u0002`;
  return key;
}

interface Metric {
  render(): string;
}

/** A monotonically increasing counter per label set. */
export class Counter implements Metric {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** Adds `n` (default 1) to the series with `labels`. */
  inc(labels: Labels = {}, n = 1): void {
    const key = seriesKey(labels);
    const cur = this.#values.get(key);
    if (cur) cur.value += n;
    else this.#values.set(key, { labels, value: n });
  }

  /** Current value of a series (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.#values.get(seriesKey(labels))?.value ?? 0;
  }

  /** Sum over every series. */
  total(): number {
    let t = 0;
    for (const v of this.#values.values()) t += v.value;
    return t;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const v of this.#values.values()) lines.push(`${this.name}${labelText(v.labels)} ${v.value}`);
    return lines.join("\n");
  }
}

/** A gauge whose value is read when scraped. */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly read: () => number,
  ) {}

  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      `${this.name} ${this.read()}`,
    ].join("\n");
  }
}

interface HistogramSeries {
  labels: Labels;
  counts: number[];
  sum: number;
  count: number;
  observe: (value: number) => void;
}

/** A cumulative histogram per label set. */
export class Histogram implements Metric {
  readonly #series = new Map<string, HistogramSeries>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  /** Records one observation (seconds, bytes, ...). */
  observe(value: number, labels: Labels = {}): void {
    this.series(labels)(value);
  }

  /** The observer of one label set (one per set): callers that observe the same labels often keep it. */
  series(labels: Labels): (value: number) => void {
    const key = seriesKey(labels);
    let s = this.#series.get(key);
    if (!s) {
      const counts = this.buckets.map(() => 0);
      const buckets = this.buckets;
      const created: HistogramSeries = {
        labels,
        counts,
        sum: 0,
        count: 0,
        observe: (value) => {
          for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]!) counts[i]!++;
          created.sum += value;
          created.count++;
        },
      };
      this.#series.set(key, (s = created));
    }
    return s.observe;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.#series.values()) {
      this.buckets.forEach((b, i) =>
        lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: String(b) })} ${s.counts[i]}`),
      );
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${s.sum}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/** The factory's metrics, named after upstream's where one exists. */
export class FactoryMetrics {
  readonly requests = new Histogram(
    "bootforge_http_request_duration_seconds",
    "HTTP request durations by route and status.",
    [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
  );
  readonly schematicCreate = new Counter("image_factory_schematic_create_total", "Schematics created.");
  readonly schematicDuplicate = new Counter(
    "image_factory_schematic_duplicate_create_total",
    "Schematic creations that were already stored.",
  );
  readonly schematicGet = new Counter("image_factory_schematic_get_total", "Schematic reads.");
  readonly assetsCached = new Counter(
    "image_factory_assets_delivered_cached_total",
    "Assets served from the cache, by output kind.",
  );
  readonly assetsBuilt = new Counter("image_factory_assets_built_total", "Assets built, by output kind.");
  readonly buildErrors = new Counter(
    "bootforge_asset_build_errors_total",
    "Failed asset builds, by output kind.",
  );
  readonly buildSeconds = new Histogram(
    "image_factory_assets_build_latency_seconds",
    "Asset build durations by output kind.",
    [1, 10, 60, 180, 600],
  );
  readonly extensionHits = new Counter(
    "image_factory_profile_system_extension_hits_total",
    "Extension and overlay uses in built assets.",
  );
  readonly layers = new Counter(
    "bootforge_layer_cache_total",
    "Intermediate build layers (the initramfs with extensions) by layer and hit or miss.",
  );
  readonly #gauges: Gauge[] = [];

  /** Adds a gauge read at scrape time (queue depth, running builds). */
  gauge(name: string, help: string, read: () => number): void {
    this.#gauges.push(new Gauge(name, help, read));
  }

  /** The exposition text. */
  render(): string {
    const all: Metric[] = [
      this.requests,
      this.schematicCreate,
      this.schematicDuplicate,
      this.schematicGet,
      this.assetsCached,
      this.assetsBuilt,
      this.buildErrors,
      this.buildSeconds,
      this.extensionHits,
      this.layers,
      ...this.#gauges,
    ];
    return all.map((m) => m.render()).join("\n") + "\n";
  }
}
