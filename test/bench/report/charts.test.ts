import { describe, it, expect } from 'vitest';
import { barChartSvg, lineChartSvg, type ChartPoint } from '../../../bench/report/charts.js';

/** The visible texts of an SVG (not its aria-labels), entities decoded. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => decode(m[1] as string));
}

function decode(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** Stroke colours of the drawn lines, one per series path. */
function lineStrokes(svg: string): string[] {
  return [...svg.matchAll(/<g class="mark-line role-mark[^>]*><path [^>]*stroke="([^"]+)"/g)].map((m) => m[1] as string);
}

function expectStandalone(svg: string): void {
  expect(svg.startsWith('<svg')).toBe(true);
  const open = svg.slice(0, svg.indexOf('>') + 1);
  expect(open).toContain('xmlns="http://www.w3.org/2000/svg"');
  expect(open).toMatch(/ width="\d+(\.\d+)?"/);
  expect(open).toMatch(/ height="\d+(\.\d+)?"/);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  // Drawing attributes only: Vega's aria-labels describe an empty axis as "from NaN to NaN".
  expect(svg.replace(/aria-label="[^"]*"/g, '')).not.toMatch(/NaN|Infinity/);
}

function ramp(series: string, slope: number, facet?: string): ChartPoint[] {
  return [0, 1, 2, 3, 4, 5].map((x) => ({ x, y: 10 + slope * x, series, ...(facet ? { facet } : {}) }));
}

describe('lineChartSvg', () => {
  it('draws a standalone SVG with the title, axis titles, a legend entry and a line per series', async () => {
    const svg = await lineChartSvg({
      title: 'Throughput over time',
      xTitle: 'elapsed (s)',
      yTitle: 'requests per second',
      points: [...ramp('gateway-a', 1), ...ramp('gateway-b', 2), ...ramp('p99 & <tail>', 3)],
    });
    expectStandalone(svg);
    const shown = texts(svg);
    for (const text of ['Throughput over time', 'elapsed (s)', 'requests per second', 'gateway-a', 'gateway-b', 'p99 & <tail>']) {
      expect(shown).toContain(text);
    }
    // Hostile series names reach the SVG escaped, never as markup.
    expect(svg).not.toContain('<tail>');
    const strokes = lineStrokes(svg);
    expect(strokes).toHaveLength(3);
    expect(new Set(strokes).size).toBe(3);
  });

  it('gives 16 series 16 distinct colours', async () => {
    const points = Array.from({ length: 16 }, (_, i) => ramp(`series ${i}`, i)).flat();
    const svg = await lineChartSvg({ title: 'many', xTitle: 'x', yTitle: 'y', points });
    expect(new Set(lineStrokes(svg)).size).toBe(16);
    for (let i = 0; i < 16; i++) expect(texts(svg)).toContain(`series ${i}`);
  });

  it('lays out one titled panel per facet, in facetOrder, with the x axis shared', async () => {
    const facets = ['kill', 'drain', 'stop']; // not alphabetical, so the order is the caller's
    const points = facets.flatMap((f) => [...ramp('b1', 1, f), ...ramp('b2', 2, f)]);
    const svg = await lineChartSvg({ title: 'Failover', xTitle: 'time (s)', yTitle: 'req/s', points, facetOrder: facets });
    expectStandalone(svg);
    const shown = texts(svg);
    for (const facet of facets) expect(shown.filter((t) => t === facet)).toHaveLength(1);
    expect(shown.filter((t) => facets.includes(t))).toEqual(facets);
    expect(lineStrokes(svg)).toHaveLength(6); // two series in each of three panels
    expect(shown.filter((t) => t === 'time (s)')).toHaveLength(1); // one shared x axis
  });

  it('sorts facets naturally when no order is given', async () => {
    const points = ['node10', 'node2', 'node1'].flatMap((f) => ramp('s', 1, f));
    const shown = texts(await lineChartSvg({ title: 't', xTitle: 'x', yTitle: 'y', points }));
    expect(shown.filter((t) => t.startsWith('node'))).toEqual(['node1', 'node2', 'node10']);
  });

  it('draws labelled rules, once per panel when faceted', async () => {
    const rules = [
      { x: 2, label: 'node 3 slowed' },
      { x: 4, label: 'node 3 back' },
    ];
    const plain = texts(await lineChartSvg({ title: 't', xTitle: 'x', yTitle: 'y', points: ramp('s', 1), rules }));
    expect(plain).toContain('node 3 slowed');
    expect(plain).toContain('node 3 back');
    const points = [...ramp('s', 1, 'left'), ...ramp('s', 1, 'right')];
    const faceted = texts(await lineChartSvg({ title: 't', xTitle: 'x', yTitle: 'y', points, rules }));
    expect(faceted.filter((t) => t === 'node 3 slowed')).toHaveLength(2);
  });

  it('renders log scales over data with zeros, leaving them out and saying so', async () => {
    const points: ChartPoint[] = [
      { x: 0, y: 5, series: 'p50' }, // x = 0 has no place on a log axis
      { x: 1, y: 0, series: 'p50' }, // nor has y = 0
      { x: 2, y: 0.4, series: 'p50' },
      { x: 4, y: 3, series: 'p50' },
      { x: 256, y: 900, series: 'p50' },
      { x: 1, y: 2, series: 'p99' },
      { x: 256, y: 4000, series: 'p99' },
    ];
    const svg = await lineChartSvg({
      title: 'Latency sweep',
      xTitle: 'concurrency',
      yTitle: 'latency (ms)',
      points,
      xScale: 'log',
      yScale: 'log',
      pointMarks: true,
      rules: [{ x: 0, label: 'never drawn' }],
    });
    expectStandalone(svg);
    const shown = texts(svg);
    expect(shown).toContain('2 points not drawn (≤ 0 on a log axis, or not finite); 1 marker not drawn (≤ 0 on a log axis, or not finite)');
    expect(shown).not.toContain('never drawn');
    // A sparse sweep is labelled at its own concurrencies, in plain numbers.
    for (const tick of ['1', '2', '4', '256']) expect(shown).toContain(tick);
    expect(shown).toContain('1,000');
    expect(lineStrokes(svg)).toHaveLength(2);
  });

  it('still renders when every point is filtered out', async () => {
    const svg = await lineChartSvg({ title: 'empty', xTitle: 'x', yTitle: 'y', points: [{ x: 1, y: 0, series: 's' }], yScale: 'log' });
    expectStandalone(svg);
    expect(texts(svg)).toContain('empty');
  });

  it('draws each panel at the size it is given', async () => {
    const frame = (svg: string) => svg.match(/class="background" aria-hidden="true" d="M0\.5,0\.5h(\d+)v(\d+)h/)?.slice(1).map(Number);
    const sized = await lineChartSvg({ title: 't', xTitle: 'x', yTitle: 'y', points: ramp('s', 1), width: 300, height: 120 });
    expect(frame(sized)).toEqual([300, 120]);
    const plain = await lineChartSvg({ title: 't', xTitle: 'x', yTitle: 'y', points: ramp('s', 1) });
    expect(frame(plain)).toEqual([560, 260]);
  });
});

describe('barChartSvg', () => {
  const bars = ['b1', 'b2', 'b3'].flatMap((node, i) => [
    { category: node, series: 'dispatch share', value: [0.5, 0.3, 0.2][i]! },
    { category: node, series: 'capacity share', value: [0.4, 0.4, 0.2][i]! },
  ]);

  it('draws one bar per datum, every category and series named', async () => {
    const svg = await barChartSvg({ title: 'Shares per node', xTitle: 'node', yTitle: 'share', bars });
    expectStandalone(svg);
    const shown = texts(svg);
    for (const text of ['Shares per node', 'node', 'share', 'b1', 'b2', 'b3', 'dispatch share', 'capacity share']) {
      expect(shown).toContain(text);
    }
    const drawn = [...svg.matchAll(/aria-roledescription="bar" d="[^"]+" fill="([^"]+)"/g)].map((m) => m[1]);
    expect(drawn).toHaveLength(6);
    expect(new Set(drawn).size).toBe(2); // one colour per series
  });

  it('follows categoryOrder and seriesOrder', async () => {
    const svg = await barChartSvg({
      title: 't',
      xTitle: 'node',
      yTitle: 'share',
      bars,
      categoryOrder: ['b3', 'b1', 'b2'],
      seriesOrder: ['capacity share', 'dispatch share'],
    });
    const shown = texts(svg);
    expect(shown.filter((t) => /^b\d$/.test(t))).toEqual(['b3', 'b1', 'b2']);
    expect(shown.filter((t) => t.endsWith(' share'))).toEqual(['capacity share', 'dispatch share']);
  });
});
