import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it, expect } from 'vitest';
import { markdownTable, renderHtmlReport, writeReport, type Report } from '../../../bench/report/html-report.js';

const SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><defs><clipPath id="clip1"><rect width="5" height="5"/></clipPath></defs>' +
  '<g clip-path="url(#clip1)"><text>chart text id="kept"</text></g></svg>';

const HOSTILE = '<script>alert("x")</script> & \'quoted\'';

function report(overrides: Partial<Report> = {}): Report {
  return {
    title: 'Failover',
    subtitle: 'three backends, one killed',
    facts: [
      ['command', 'node dist/bench/failover.js --repeat 3'],
      ['machine', '2 cores'],
    ],
    sections: [
      {
        heading: 'Results',
        paragraphs: ['Every request succeeded.'],
        tables: [
          {
            caption: 'per scenario',
            columns: ['scenario', 'p99 ms', 'failed'],
            rows: [
              ['kill', 12.5, 0],
              ['drain', '9.1', null],
            ],
          },
        ],
        charts: [{ title: 'Dispatch rate', svg: SVG, file: 'dispatch.svg' }],
      },
    ],
    ...overrides,
  };
}

describe('renderHtmlReport', () => {
  it('escapes every caller text, so nothing hostile becomes markup', () => {
    const html = renderHtmlReport({
      title: HOSTILE,
      subtitle: HOSTILE,
      facts: [[HOSTILE, HOSTILE]],
      sections: [
        {
          heading: HOSTILE,
          paragraphs: [HOSTILE],
          tables: [{ caption: HOSTILE, columns: [HOSTILE], rows: [[HOSTILE]] }],
          charts: [{ title: HOSTILE, svg: SVG }],
        },
      ],
    });
    expect(html).not.toContain('<script');
    expect(html).not.toContain('"x")');
    const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;';
    // title element, h1, subtitle, fact key and value, heading, paragraph, caption, header, cell, figure caption
    expect(html.split(escaped)).toHaveLength(12);
  });

  it('is one self-contained page: inline style, no script, nothing fetched', () => {
    const html = renderHtmlReport(report());
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toMatch(/<style>[^<]+<\/style>/);
    expect(html).not.toMatch(/<script|<link|<img|@import|src=/i);
    expect(html).toContain('<h1>Failover</h1>');
    expect(html).toContain('<p class="subtitle">three backends, one killed</p>');
    expect(html).toContain('<dt>command</dt><dd>node dist/bench/failover.js --repeat 3</dd>');
    expect(html).toContain('<p>Every request succeeded.</p>');
  });

  it('inlines each chart SVG, with its ids scoped to the chart and its text untouched', () => {
    const html = renderHtmlReport({
      title: 't',
      sections: [{ heading: 'h', charts: [{ title: 'one', svg: SVG }, { title: 'two', svg: `<?xml version="1.0"?>\n${SVG}` }] }],
    });
    expect(html).not.toContain('<?xml');
    expect(html.match(/<svg xmlns/g)).toHaveLength(2);
    expect(html).toContain('<clipPath id="chart1-clip1">');
    expect(html).toContain('clip-path="url(#chart1-clip1)"');
    expect(html).toContain('<clipPath id="chart2-clip1">');
    expect(html).toContain('clip-path="url(#chart2-clip1)"');
    expect(html.match(/<text>chart text id="kept"<\/text>/g)).toHaveLength(2);
    expect(html).toContain('<figcaption>one</figcaption>');
  });

  it('links a chart to its SVG file', () => {
    expect(renderHtmlReport(report())).toContain('<figcaption>Dispatch rate <a href="dispatch.svg">dispatch.svg</a></figcaption>');
  });

  it('refuses a chart that is not SVG', () => {
    expect(() => renderHtmlReport({ title: 't', sections: [{ heading: 'h', charts: [{ title: 'c', svg: '<div>no</div>' }] }] })).toThrow(
      /expected SVG/,
    );
  });

  it('renders tables with numeric columns right-aligned and missing values shown', () => {
    const html = renderHtmlReport(report());
    expect(html).toContain('<caption>per scenario</caption>');
    expect(html).toContain('<tr><th scope="col">scenario</th><th scope="col" class="num">p99 ms</th><th scope="col" class="num">failed</th></tr>');
    expect(html).toContain('<tr><td>kill</td><td class="num">12.5</td><td class="num">0</td></tr>');
    expect(html).toContain('<tr><td>drain</td><td class="num">9.1</td><td class="num">–</td></tr>');
  });

  it('adds a table of contents from three sections on', () => {
    const sections = ['a', 'b', 'c'].map((heading) => ({ heading }));
    expect(renderHtmlReport({ title: 't', sections: sections.slice(0, 2) })).not.toContain('<nav>');
    const html = renderHtmlReport({ title: 't', sections });
    expect(html).toContain('<nav><ol><li><a href="#section-1">a</a></li><li><a href="#section-2">b</a></li><li><a href="#section-3">c</a></li></ol></nav>');
    expect(html).toContain('<section id="section-3">');
  });

  it('rejects a row whose length does not match the columns', () => {
    const bad = report({ sections: [{ heading: 'h', tables: [{ columns: ['a', 'b'], rows: [['only one']] }] }] });
    expect(() => renderHtmlReport(bad)).toThrow(/row 0 has 1 cells, expected 2/);
  });
});

describe('writeReport', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('creates the folder and writes the page and every chart that names a file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'infergate-report-'));
    const out = join(dir, 'nested', 'out');
    const base = report();
    const withUnfiled = report({
      sections: [...base.sections, { heading: 'more', charts: [{ title: 'inline only', svg: SVG }, { title: 'b', svg: SVG, file: 'b.svg' }] }],
    });
    const written = await writeReport(out, 'failover', withUnfiled);
    expect(written).toEqual([join(out, 'failover.html'), join(out, 'dispatch.svg'), join(out, 'b.svg')]);
    expect((await readdir(out)).sort()).toEqual(['b.svg', 'dispatch.svg', 'failover.html']);
    expect(await readFile(join(out, 'failover.html'), 'utf8')).toBe(renderHtmlReport(withUnfiled));
    expect(await readFile(join(out, 'dispatch.svg'), 'utf8')).toBe(`${SVG}\n`);
  });

  it('writes nothing when a chart file would leave the folder or two outputs share a name', async () => {
    dir = await mkdtemp(join(tmpdir(), 'infergate-report-'));
    const chart = (file: string) => report({ sections: [{ heading: 'h', charts: [{ title: 'c', svg: SVG, file }] }] });
    await expect(writeReport(dir, 'r', chart('../escape.svg'))).rejects.toThrow(/not a plain file name/);
    await expect(writeReport(dir, 'r', chart('r.html'))).rejects.toThrow(/two outputs named "r.html"/);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('markdownTable', () => {
  it('writes a table with numeric columns right-aligned', () => {
    const table = {
      caption: 'Kill scenario',
      columns: ['target', 'c', 'p50 µs', 'note'],
      rows: [
        ['ORT | in-process', 1, 14.2, null],
        ['gateway', 16, 0.1 + 0.2, 'a\nb'],
        ['echo', 1, '1.00×', '(same process)'],
      ],
    };
    expect(markdownTable(table)).toBe(
      [
        'Kill scenario',
        '',
        '| target | c | p50 µs | note |',
        '|---|---:|---:|---|',
        '| ORT \\| in-process | 1 | 14.2 | – |',
        '| gateway | 16 | 0.3 | a b |',
        '| echo | 1 | 1.00× | (same process) |',
        '',
      ].join('\n'),
    );
  });

  it('keeps a mostly numeric column right-aligned despite a stray text cell', () => {
    const table = { columns: ['client CPU µs/req'], rows: [[148], ['(same process)'], ['149']] };
    expect(markdownTable(table)).toBe('| client CPU µs/req |\n|---:|\n| 148 |\n| (same process) |\n| 149 |\n');
  });
});
