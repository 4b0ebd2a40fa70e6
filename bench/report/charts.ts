/**
 * Benchmark charts as standalone SVG: a small, typed front over Vega-Lite, rendered headless by
 * Vega (`renderer: 'none'` + `toSVG()`), so no canvas, browser or native package is needed.
 * Callers describe points or bars; the Vega-Lite spec stays an implementation detail.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface ChartPoint {
  x: number;
  y: number;
  series: string;
  facet?: string;
}

export interface LineChartSpec {
  title: string;
  xTitle: string;
  yTitle: string;
  points: ChartPoint[];
  yScale?: 'linear' | 'log'; // log for latency percentiles spanning decades
  xScale?: 'linear' | 'log'; // log for concurrency sweeps 1..256
  width?: number;
  height?: number; // per facet panel; defaults ~560x260
  /** vertical rules at these x values with labels, e.g. phase changes ("node 3 slowed") */
  rules?: { x: number; label: string }[];
  /** when points carry `facet`, one panel per facet value, in this order (else sorted) */
  facetOrder?: string[];
  /** draw points as well as lines (sparse data such as a sweep) */
  pointMarks?: boolean;
}

export interface BarDatum {
  category: string;
  series: string;
  value: number;
}

export interface BarChartSpec {
  title: string;
  xTitle: string;
  yTitle: string;
  bars: BarDatum[];
  width?: number;
  height?: number;
  categoryOrder?: string[];
  seriesOrder?: string[];
}

const DEFAULT_PANEL_WIDTH_PX = 560;
const DEFAULT_PANEL_HEIGHT_PX = 260;
/** tableau10's hues are all distinct; tableau20 adds a light twin of each, needed past 10 series. */
const MAX_SERIES_FOR_TABLEAU10 = 10;
/** A sparse log-x sweep (1, 2, 4 … 256) is labelled at its own x values rather than at 1, 10, 100. */
const MAX_OWN_TICKS = 12;
const RULE_COLOR = '#555';
/** The panel for points without a facet when others have one: shown, not silently dropped. */
const NO_FACET = '(no facet)';
/**
 * Log axes label 1, 2, 5, 10 … 10,000 as plain numbers (Vega's own choice can be 1e+4). Linear
 * axes keep Vega's tick-step format, which already reads "1,200" or "0.25".
 */
const LOG_AXIS_FORMAT = ',~g';
/** Shared look: one sans-serif family, quiet grid and frame, a grey subtitle for notes. */
const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  title: { fontSize: 15, subtitleFontSize: 11, subtitleColor: '#666' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11 },
  view: { stroke: '#ccc' },
};

const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

/** `preferred` first (those present), then whatever else is present, in natural order ("n2" < "n10"). */
function orderOf(present: Iterable<string>, preferred: string[] = []): string[] {
  const seen = new Set(present);
  const first = preferred.filter((value, i) => seen.has(value) && preferred.indexOf(value) === i);
  const rest = [...seen].filter((value) => !first.includes(value)).sort(naturalOrder);
  return [...first, ...rest];
}

function sizeOr(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

function colorScheme(seriesCount: number): string {
  return seriesCount <= MAX_SERIES_FOR_TABLEAU10 ? 'tableau10' : 'tableau20';
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** One row of the single data set a line chart draws from: facets need every layer in one data set. */
type LineRow =
  | { kind: 'point'; x: number; y: number; series: string; facet?: string }
  | { kind: 'rule'; x: number; label: string; facet?: string };

export async function lineChartSvg(spec: LineChartSpec): Promise<string> {
  const xLog = spec.xScale === 'log';
  const yLog = spec.yScale === 'log';
  // A log axis has no place for 0 or a negative value, and clamping would draw a value nobody
  // measured, so such points (and non-finite ones) are left out and the subtitle says how many.
  const drawable = (value: number, log: boolean): boolean => Number.isFinite(value) && (!log || value > 0);
  const points = spec.points.filter((p) => drawable(p.x, xLog) && drawable(p.y, yLog));
  const rules = (spec.rules ?? []).filter((r) => drawable(r.x, xLog));
  const notes: string[] = [];
  const droppedPoints = spec.points.length - points.length;
  if (droppedPoints > 0) notes.push(`${plural(droppedPoints, 'point')} not drawn (≤ 0 on a log axis, or not finite)`);
  const droppedRules = (spec.rules?.length ?? 0) - rules.length;
  if (droppedRules > 0) notes.push(`${plural(droppedRules, 'marker')} not drawn (≤ 0 on a log axis, or not finite)`);

  const faceted = points.some((p) => p.facet !== undefined);
  const facetOf = (p: ChartPoint): string | undefined => (faceted ? (p.facet ?? NO_FACET) : undefined);
  const facets = faceted ? orderOf(points.map((p) => facetOf(p) as string), spec.facetOrder) : [];
  const series = orderOf(points.map((p) => p.series));
  const rows: LineRow[] = points.map((p) => ({ kind: 'point', x: p.x, y: p.y, series: p.series, facet: facetOf(p) }));
  // Rules belong to the whole chart, so every panel gets a copy.
  for (const rule of rules) {
    if (faceted) for (const facet of facets) rows.push({ kind: 'rule', x: rule.x, label: rule.label, facet });
    else rows.push({ kind: 'rule', x: rule.x, label: rule.label });
  }

  const xValues = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  const ownTicks = xLog && xValues.length > 0 && xValues.length <= MAX_OWN_TICKS;
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    title: spec.xTitle,
    // A sweep's own ticks end at its last point; a "nice" domain would pad 256 out to 1000.
    scale: xLog ? { type: 'log' as const, nice: !ownTicks } : { zero: false },
    axis: xLog ? { format: LOG_AXIS_FORMAT, ...(ownTicks ? { values: xValues } : {}) } : {},
  };
  const y = {
    field: 'y',
    type: 'quantitative' as const,
    title: spec.yTitle,
    scale: yLog ? { type: 'log' as const } : {},
    axis: yLog ? { format: LOG_AXIS_FORMAT } : {},
  };
  const layers: unknown[] = [
    {
      transform: [{ filter: "datum.kind === 'point'" }],
      mark: { type: 'line', point: spec.pointMarks === true, strokeWidth: 1.75 },
      encoding: {
        x,
        y,
        color: {
          field: 'series',
          type: 'nominal',
          sort: series,
          scale: { scheme: colorScheme(series.length) },
          legend: { title: null, labelLimit: 0, symbolStrokeWidth: 3 },
        },
      },
    },
  ];
  if (rules.length > 0) {
    layers.push(
      {
        transform: [{ filter: "datum.kind === 'rule'" }],
        mark: { type: 'rule', color: RULE_COLOR, strokeDash: [4, 3] },
        encoding: { x: { field: 'x', type: 'quantitative' } },
      },
      {
        transform: [{ filter: "datum.kind === 'rule'" }],
        mark: { type: 'text', color: RULE_COLOR, align: 'left', baseline: 'top', dx: 3, dy: 3, fontSize: 10 },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
      },
    );
  }

  const panel = {
    width: sizeOr(spec.width, DEFAULT_PANEL_WIDTH_PX),
    height: sizeOr(spec.height, DEFAULT_PANEL_HEIGHT_PX),
    layer: layers,
  };
  const top = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: spec.title, anchor: 'start', ...(notes.length > 0 ? { subtitle: notes.join('; ') } : {}) },
    data: { values: rows },
    config: CONFIG,
  };
  const vl = faceted
    ? {
        ...top,
        facet: {
          row: {
            field: 'facet',
            type: 'nominal',
            sort: facets,
            header: { title: null, labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelFontSize: 12, labelFontWeight: 'bold' },
          },
        },
        spec: panel,
        // Panels share x (one time or concurrency axis, read down the column); each keeps its own y
        // so one panel's spike does not flatten the others.
        resolve: { scale: { y: 'independent' } },
      }
    : { ...top, ...panel };
  return renderSvg(vl as TopLevelSpec);
}

/** grouped bars: one group per category, one bar per series (e.g. node → "dispatch share" vs "capacity share") */
export async function barChartSvg(spec: BarChartSpec): Promise<string> {
  const bars = spec.bars.filter((b) => Number.isFinite(b.value));
  const dropped = spec.bars.length - bars.length;
  const categories = orderOf(bars.map((b) => b.category), spec.categoryOrder);
  const series = orderOf(bars.map((b) => b.series), spec.seriesOrder);
  const shortLabels = categories.every((c) => c.length <= 12) && categories.length <= 12;
  const vl = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: spec.title,
      anchor: 'start',
      ...(dropped > 0 ? { subtitle: `${plural(dropped, 'bar')} not drawn (value not finite)` } : {}),
    },
    data: { values: bars },
    width: sizeOr(spec.width, DEFAULT_PANEL_WIDTH_PX),
    height: sizeOr(spec.height, DEFAULT_PANEL_HEIGHT_PX),
    config: CONFIG,
    mark: { type: 'bar' },
    encoding: {
      x: {
        field: 'category',
        type: 'nominal',
        sort: categories,
        title: spec.xTitle,
        axis: { labelAngle: shortLabels ? 0 : -35, labelLimit: 240 },
      },
      xOffset: { field: 'series', type: 'nominal', sort: series },
      y: { field: 'value', type: 'quantitative', title: spec.yTitle },
      color: {
        field: 'series',
        type: 'nominal',
        sort: series,
        scale: { scheme: colorScheme(series.length) },
        legend: { title: null, labelLimit: 0 },
      },
    },
  };
  return renderSvg(vl as TopLevelSpec);
}

async function renderSvg(vl: TopLevelSpec): Promise<string> {
  useProportionalTextEstimate();
  const view = new vega.View(vega.parse(compile(vl).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Without a canvas Vega guesses every text as 0.8 em per character. That is too wide for digits
 * and lowercase, yet too narrow for "m" or "<", and a text wider than its guess runs off the SVG's
 * edge. Vega lets a caller replace the guess (vl-convert does); this one uses per-character widths
 * of DejaVu Sans, the widest common fallback for "sans-serif", so a viewer with Helvetica or Arial
 * sees a little spare room rather than clipped legend labels. It only steps in where Vega itself
 * is guessing, never over a canvas.
 */
function useProportionalTextEstimate(): void {
  // Exported by vega at run time (from vega-scenegraph) but missing from its type declarations.
  const metrics = (vega as unknown as { textMetrics: TextMetrics }).textMetrics;
  if (metrics.width !== metrics.estimateWidth) return;
  metrics.width = (item, text) => {
    const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
    const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600 ? BOLD_WIDTH_FACTOR : 1;
    const width = emWidth(String(text ?? '').trim()) * size * bold;
    // Vega calls this both for whole texts and, while truncating, for prefixes of them; capping at
    // the mark's limit keeps both right (a truncated text is never wider than its limit).
    const limit = Number(item.limit) || 0;
    return limit > 0 ? Math.min(width, limit) : width;
  };
}

interface TextMetrics {
  width: (item: { fontSize?: unknown; fontWeight?: unknown; limit?: unknown }, text: unknown) => number;
  estimateWidth: unknown;
}

const BOLD_WIDTH_FACTOR = 1.12;
const WIDTHS_EM = new Map<string, number>();
for (const [chars, em] of [
  [".,:;|!'`ijlI", 0.3],
  [' ()[]{}frt/\\-', 0.4],
  ['mwMW@%—&<>=+~#', 0.9],
] as const) {
  for (const ch of chars) WIDTHS_EM.set(ch, em);
}

/** Approximate width of a text in em: DejaVu Sans advance widths grouped into a few classes. */
function emWidth(text: string): number {
  let em = 0;
  for (const ch of text) {
    const known = WIDTHS_EM.get(ch);
    if (known !== undefined) em += known;
    else if (ch >= 'A' && ch <= 'Z') em += 0.72;
    else if (ch.codePointAt(0)! > 0x2e80) em += 1; // CJK and other full-width text
    else em += 0.63; // digits, most lowercase letters, everything else
  }
  return em;
}
