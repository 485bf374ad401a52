/**
 * Tables for the bench's output: the same rows as aligned plain text for the terminal and as a
 * Markdown table for docs/performance.md. The first column is left-aligned, the others right-aligned.
 */

/** `rows` (arrays of cells, `headers` first) as aligned text lines. */
export function textTable(headers, rows) {
  const all = [headers, ...rows].map((r) => r.map(String));
  const widths = headers.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return all
    .map((r) =>
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The same as a Markdown table. */
export function markdownTable(headers, rows) {
  const line = (cells) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(headers), `|${headers.map((_, c) => (c === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map(line)].join('\n');
}

/** A number with `digits` decimals, or '-' when it is not a finite number. */
export function fmt(value, digits = 0) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** `a / b` with 2 decimals, or '-' when either is missing. */
export function ratio(a, b) {
  return typeof a === 'number' && typeof b === 'number' && b > 0 && Number.isFinite(a) ? (a / b).toFixed(2) : '-';
}
