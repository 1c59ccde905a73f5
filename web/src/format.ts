// Numbers and money are always shown the Vietnamese way (vi-VN), whatever the UI language:
// the figures are the operator's, and agents compare them with other vi-VN systems.

const LOCALE = 'vi-VN';
export const DASH = '—';

const moneyFmt = new Intl.NumberFormat(LOCALE, { style: 'currency', currency: 'VND', maximumFractionDigits: 0 });
const intFmt = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const numFmt = new Map<number, Intl.NumberFormat>();
const pctFmt = new Intl.NumberFormat(LOCALE, { style: 'percent', maximumFractionDigits: 1 });
// A hit ratio moves in hundredths of a percent once it is high: two decimals (0.99537 → "99,54%").
const ratioFmt = new Intl.NumberFormat(LOCALE, { style: 'percent', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const growthFmt = new Intl.NumberFormat(LOCALE, { style: 'percent', maximumFractionDigits: 1, signDisplay: 'exceptZero' });

function missing(n: number | null | undefined): n is null | undefined {
  return n === null || n === undefined || Number.isNaN(n);
}

/** 25000 → "25.000 ₫" */
export function money(n: number | null | undefined): string {
  return missing(n) ? DASH : moneyFmt.format(n);
}

/** 214504 → "214.504"; 2757.5 with digits 2 → "2.757,5" */
export function num(n: number | null | undefined, maxDigits = 0): string {
  if (missing(n)) return DASH;
  if (maxDigits === 0) return intFmt.format(n);
  let f = numFmt.get(maxDigits);
  if (!f) {
    f = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: maxDigits });
    numFmt.set(maxDigits, f);
  }
  return f.format(n);
}

/** A share already in percent (45.3) → "45,3%" */
export function pct(n: number | null | undefined): string {
  return missing(n) ? DASH : pctFmt.format(n / 100);
}

/** A growth rate in percent (-56.7) → "-56,7%", with a plus sign when it grew */
export function growth(n: number | null | undefined): string {
  return missing(n) ? DASH : growthFmt.format(n / 100);
}

/** A 0–1 ratio (0.873) → "87,3%" */
export function ratio(n: number | null | undefined): string {
  return missing(n) ? DASH : ratioFmt.format(n);
}

/** "202503" → "03/2025" */
export function month(yyyymm: string): string {
  return /^\d{6}$/.test(yyyymm) ? `${yyyymm.slice(4)}/${yyyymm.slice(0, 4)}` : yyyymm;
}

function parseDate(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  // A bare date ("2025-10-22") is a calendar day, not UTC midnight.
  const d = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? new Date(`${iso}T00:00:00`) : new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "2025-10-22" → "22/10/2025" */
export function date(iso: string | null | undefined): string {
  const d = parseDate(iso);
  return d ? d.toLocaleDateString(LOCALE, { day: '2-digit', month: '2-digit', year: 'numeric' }) : DASH;
}

/** "2025-10-22T10:30:00Z" → "10:30 22/10/2025" (local time) */
export function dateTime(iso: string | null | undefined): string {
  const d = parseDate(iso);
  return d
    ? d.toLocaleString(LOCALE, { hour: '2-digit', minute: '2-digit', day: '2-digit', month: '2-digit', year: 'numeric' })
    : DASH;
}

/** How long ago, in the UI language: "3 giờ trước" / "3 hours ago". */
export function age(iso: string | null | undefined, lang: 'vi' | 'en', now: Date = new Date()): string {
  const d = parseDate(iso);
  if (!d) return DASH;
  const rtf = new Intl.RelativeTimeFormat(lang === 'vi' ? 'vi-VN' : 'en', { numeric: 'auto' });
  const seconds = Math.round((d.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return rtf.format(seconds, 'second');
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), 'hour');
  return rtf.format(Math.round(seconds / 86400), 'day');
}

/** Milliseconds → "850 ms" / "12,4 s" */
export function duration(ms: number | null | undefined): string {
  if (missing(ms)) return DASH;
  return ms < 1000 ? `${intFmt.format(ms)} ms` : `${num(ms / 1000, 1)} s`;
}

/** Whitespace in Intl output differs between engines (U+00A0, U+202F); compare with this. */
export function normalizeSpaces(s: string): string {
  return s.replace(/[\s\u00a0\u202f]+/g, ' ').trim();
}
