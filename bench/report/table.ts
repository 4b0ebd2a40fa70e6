/**
 * Report tables: the data type, how a cell reads, which columns are numeric, and the markdown form.
 * The HTML form lives in html-report.ts and uses the same cell text and alignment, so a table reads
 * the same in RESULTS.md and in the page.
 */

export interface ReportTable {
  caption?: string;
  columns: string[];
  rows: (string | number | null)[][];
}

export type Cell = string | number | null;
export type Alignment = 'left' | 'right';

/** What an absent value shows: visible, unlike an empty cell that reads as a rendering slip. */
export const MISSING_CELL_TEXT = '–';

/**
 * A number as text: integers in full, others to 4 significant digits (0.3 rather than
 * 0.30000000000000004). A caller who wants another format passes a string.
 */
export function cellText(cell: Cell): string {
  if (cell === null) return MISSING_CELL_TEXT;
  if (typeof cell === 'string') return cell;
  if (!Number.isFinite(cell) || Number.isInteger(cell)) return String(cell);
  const magnitude = Math.abs(cell);
  if (magnitude >= 1000) return cell.toFixed(0);
  return String(Number(cell.toPrecision(magnitude >= 1 ? 4 : 3)));
}

/** Strings that start with a number ("1.5 ms", "±21 %", "−3", "0.93×", "1343 (a + b)") read as numbers. */
const NUMERIC_TEXT = /^[-+±~≈<>−]?\s*\.?\d/;

export function isNumericCell(cell: Cell): boolean {
  return typeof cell === 'number' || (typeof cell === 'string' && NUMERIC_TEXT.test(cell.trim()));
}

/**
 * Right-align a column when at least half of its present cells are numeric, so a stray
 * "(same process)" or "n/a" does not push a column of figures to the left.
 */
export function columnAlignments(table: ReportTable): Alignment[] {
  return table.columns.map((_, column) => {
    const present = table.rows.map((row) => row[column] ?? null).filter((cell) => cell !== null && cell !== '');
    const numeric = present.filter(isNumericCell).length;
    return numeric > 0 && numeric * 2 >= present.length ? 'right' : 'left';
  });
}

/** A row with more or fewer cells than columns is a caller's bug; showing it shifted would hide it. */
export function checkTableShape(table: ReportTable): void {
  table.rows.forEach((row, index) => {
    if (row.length !== table.columns.length) {
      throw new Error(
        `report table${table.caption ? ` "${table.caption}"` : ''}: row ${index} has ${row.length} cells, expected ${table.columns.length}`,
      );
    }
  });
}

/** A markdown table of a ReportTable (for README/RESULTS.md), numbers right-aligned. */
export function markdownTable(table: ReportTable): string {
  checkTableShape(table);
  const line = (cells: string[]): string => `| ${cells.map(markdownCell).join(' | ')} |`;
  const lines = [
    line(table.columns),
    `|${columnAlignments(table).map((a) => (a === 'right' ? '---:' : '---')).join('|')}|`,
    ...table.rows.map((row) => line(row.map(cellText))),
  ];
  const caption = table.caption ? `${table.caption}\n\n` : '';
  return `${caption}${lines.join('\n')}\n`;
}

/** A pipe would end the cell and a line break the row. */
function markdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}
