import type { BulkResult } from './api/types';

export const MAX_BULK = 10_000;

/**
 * ISDNs from pasted text or an uploaded file: one per line, or separated by commas, semicolons
 * or blanks; a CSV's first column; a header line ("isdn") and quotes are dropped.
 * Base64 ISDNs contain no commas, so splitting on them is safe.
 */
export function parseIsdnList(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    for (const cell of line.split(/[,;\t ]+/)) {
      const v = cell.trim().replace(/^"(.*)"$/, '$1').trim();
      if (v && v.toLowerCase() !== 'isdn') out.push(v);
    }
  }
  return out;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
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
