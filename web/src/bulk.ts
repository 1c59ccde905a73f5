import type { BulkResult } from './api/types';

export const MAX_BULK = 10_000;

/**
 * How many ISDNs a pasted list or an uploaded CSV holds, as the API will read it: one per
 * non-blank line, less a header line that names an "isdn" column. The API parses the CSV
 * (the isdn column by its header, else the first) and reports the lines that hold no ISDN.
 */
export function countListLines(text: string): number {
  const lines = text.replace(/^\ufeff/, '').split(/\r?\n/).filter(l => l.trim() !== '');
  if (lines.length && lines[0].split(/[,;\t|]/).some(c => c.trim().replace(/^"(.*)"$/, '$1').trim().toLowerCase() === 'isdn')) {
    return lines.length - 1;
  }
  return lines.length;
}

/**
 * A cell as RFC 4180 writes it, and as a spreadsheet reads it as text: a text cell starting
 * with = + - @ (or a tab or carriage return) gets a leading apostrophe (OWASP "CSV injection").
 * Numbers are written as they are, so -56.7 stays a number.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return String(v);
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n']/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const COLUMNS = [
  'subscriber_type', 'service_type', 'advance_amount', 'revenue_per_advance', 'cluster_group', 'bad_debt_risk',
  'arpu_avg_6m', 'arpu_growth_rate', 'arpu_trend', 'customer_value_score', 'advance_readiness_score',
  'recommendation_date', 'priority', 'priority_score',
] as const;

/** The bulk answer as CSV (RFC 4180, UTF-8 with a BOM so spreadsheet tools read Vietnamese right). */
export function bulkToCsv(result: BulkResult): string {
  const lines = [['isdn', 'found', ...COLUMNS].join(',')];
  for (const r of result.results) {
    const rec = r.found ? r.recommendation as unknown as Record<string, unknown> : null;
    lines.push([csvCell(r.isdn), r.found ? 'true' : 'false', ...COLUMNS.map(c => csvCell(rec?.[c]))].join(','));
  }
  return `\ufeff${lines.join('\r\n')}\r\n`;
}
