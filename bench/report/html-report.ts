/**
 * A benchmark report as one self-contained HTML page: inline CSS, charts inlined as SVG, no script
 * and nothing fetched, so the file can be mailed, archived or opened offline and read the same.
 * Every piece of caller text is escaped; only chart SVGs (made by charts.ts) go in as markup.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ReportTable, cellText, checkTableShape, columnAlignments } from './table.js';

export { markdownTable, type ReportTable } from './table.js';

export interface ReportChart {
  title: string;
  svg: string;
  /** name of the .svg file written beside the report */
  file?: string;
}

export interface ReportSection {
  heading: string;
  paragraphs?: string[];
  tables?: ReportTable[];
  charts?: ReportChart[];
}

export interface Report {
  title: string;
  subtitle?: string;
  /** e.g. command, machine, date */
  facts?: [string, string][];
  sections: ReportSection[];
}

/** A table of contents helps from this many sections on; below it, it is just clutter. */
const MIN_SECTIONS_FOR_CONTENTS = 3;

const STYLE = `
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
  background: #fff; max-width: 1120px; margin: 0 auto; padding: 24px 20px 64px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 40px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
.subtitle { color: #555; margin: 0 0 12px; font-size: 1.05em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0;
  font-size: 0.93em; }
dl.facts dt { color: #666; }
dl.facts dd { margin: 0; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  overflow-wrap: anywhere; }
nav ol { margin: 8px 0; padding-left: 20px; }
.table-wrap { overflow-x: auto; margin: 12px 0 20px; }
table { border-collapse: collapse; font-size: 0.93em; }
caption { caption-side: top; text-align: left; color: #444; padding: 0 0 6px; font-style: italic; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e3e3; text-align: left; vertical-align: top; }
th { border-bottom: 2px solid #bbb; background: #f6f6f6; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafa; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 16px 0 28px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-weight: 600; margin-bottom: 6px; }
figcaption a { font-weight: normal; font-size: 0.85em; margin-left: 8px; color: #36c; }
@media print { h2 { break-after: avoid; } figure, .table-wrap { break-inside: avoid; } }
`;

/** One self-contained HTML page (inline CSS, SVGs inlined, no external fetch, no script needed), every text HTML-escaped. */
export function renderHtmlReport(report: Report): string {
  const contents =
    report.sections.length >= MIN_SECTIONS_FOR_CONTENTS
      ? `<nav><ol>${report.sections.map((s, i) => `<li><a href="#${sectionId(i)}">${escapeHtml(s.heading)}</a></li>`).join('')}</ol></nav>\n`
      : '';
  let chartIndex = 0;
  const sections = report.sections.map((section, i) => {
    const parts = [`<section id="${sectionId(i)}">`, `<h2>${escapeHtml(section.heading)}</h2>`];
    for (const paragraph of section.paragraphs ?? []) parts.push(`<p>${escapeHtml(paragraph)}</p>`);
    for (const table of section.tables ?? []) parts.push(tableHtml(table));
    for (const chart of section.charts ?? []) parts.push(chartHtml(chart, ++chartIndex));
    parts.push('</section>');
    return parts.join('\n');
  });
  const header = [`<h1>${escapeHtml(report.title)}</h1>`];
  if (report.subtitle) header.push(`<p class="subtitle">${escapeHtml(report.subtitle)}</p>`);
  if (report.facts && report.facts.length > 0) header.push(factsHtml(report.facts));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(report.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
${header.join('\n')}
</header>
<main>
${contents}${sections.join('\n')}
</main>
</body>
</html>
`;
}

/** Writes `<dir>/<name>.html` and every chart that has `file` as `<dir>/<file>` (SVG); creates dir; returns the paths written. */
export async function writeReport(dir: string, name: string, report: Report): Promise<string[]> {
  checkFileName(`${name}.html`);
  const charts = report.sections.flatMap((s) => s.charts ?? []).filter((c) => c.file !== undefined);
  const files = new Set<string>([`${name}.html`]);
  for (const chart of charts) {
    const file = chart.file as string;
    checkFileName(file);
    if (files.has(file)) throw new Error(`report "${report.title}": two outputs named "${file}"`);
    files.add(file);
  }
  // Render before touching the disk, so a bad table leaves no half-written report behind.
  const html = renderHtmlReport(report);
  await mkdir(dir, { recursive: true });
  const htmlPath = join(dir, `${name}.html`);
  await writeFile(htmlPath, html);
  const written = [htmlPath];
  for (const chart of charts) {
    const path = join(dir, chart.file as string);
    await writeFile(path, `${svgMarkup(chart.svg)}\n`);
    written.push(path);
  }
  return written;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ENTITIES[ch] as string);
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function sectionId(index: number): string {
  return `section-${index + 1}`;
}

function factsHtml(facts: [string, string][]): string {
  const items = facts.map(([key, value]) => `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(value)}</dd>`);
  return `<dl class="facts">${items.join('')}</dl>`;
}

function tableHtml(table: ReportTable): string {
  checkTableShape(table);
  const align = columnAlignments(table);
  // A number-typed cell is right-aligned even in a mostly-text column.
  const cls = (column: number, numberCell: boolean): string =>
    align[column] === 'right' || numberCell ? ' class="num"' : '';
  const head = table.columns.map((c, i) => `<th scope="col"${cls(i, false)}>${escapeHtml(c)}</th>`).join('');
  const body = table.rows
    .map((row) => `<tr>${row.map((cell, i) => `<td${cls(i, typeof cell === 'number')}>${escapeHtml(cellText(cell))}</td>`).join('')}</tr>`)
    .join('\n');
  const caption = table.caption ? `<caption>${escapeHtml(table.caption)}</caption>` : '';
  return `<div class="table-wrap"><table>${caption}\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table></div>`;
}

function chartHtml(chart: ReportChart, index: number): string {
  const link = chart.file ? ` <a href="${escapeHtml(encodeURIComponent(chart.file))}">${escapeHtml(chart.file)}</a>` : '';
  const svg = scopeSvgIds(svgMarkup(chart.svg), `chart${index}-`);
  return `<figure>\n<figcaption>${escapeHtml(chart.title)}${link}</figcaption>\n${svg}\n</figure>`;
}

/** The SVG element alone: an XML declaration or doctype is not allowed inside an HTML page. */
function svgMarkup(svg: string): string {
  const markup = svg.trim().replace(/^<\?xml[^>]*\?>\s*/, '').replace(/^<!DOCTYPE[^>]*>\s*/i, '');
  if (!markup.startsWith('<svg')) throw new Error(`report chart: expected SVG markup, got "${markup.slice(0, 40)}"`);
  return markup;
}

/**
 * Inline SVGs share the page's id space, and Vega numbers its clip paths and gradients from 1 in
 * each process, so two charts made in different processes can both say "clip1" and one would clip
 * by the other's rectangle. Prefixing every id (and every reference to one) per chart keeps them
 * apart. Only tags are rewritten, never text between them.
 */
function scopeSvgIds(svg: string, prefix: string): string {
  return svg.replace(/<[^>]+>/g, (tag) =>
    tag
      .replace(/(\s)id="([^"]+)"/g, `$1id="${prefix}$2"`)
      .replace(/url\(#([^)]+)\)/g, `url(#${prefix}$1)`)
      .replace(/\bhref="#([^"]+)"/g, `href="#${prefix}$1"`),
  );
}

/** A plain file name inside the report's folder: nothing that climbs out of it or into a subfolder. */
function checkFileName(file: string): void {
  if (file === '' || file === '.' || file === '..' || /[/\\\0]/.test(file)) {
    throw new Error(`report: "${file}" is not a plain file name`);
  }
}
