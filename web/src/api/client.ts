import type {
  BulkResult, CacheStats, ClusterAnalytics, Profile, Recommendation, RiskAnalytics, SegmentFilter, SegmentPage,
  ServiceAnalytics, ServicePage, Stats, SyncRun,
} from './types';

/** The query string of a segment's filters (absent ones left out). */
export function segmentQuery(f: SegmentFilter): string {
  const q = new URLSearchParams();
  for (const k of ['service', 'risk', 'cluster', 'min_priority'] as const) {
    const v = f[k];
    if (v !== undefined && v !== '') q.set(k, v);
  }
  return q.toString();
}

/** What went wrong, in the terms the screens explain to the user. */
export type ApiErrorKind =
  | 'unauthorized' // 401: no key or an unknown one → ask for a key
  | 'forbidden' // 403: the key lacks the role
  | 'notFound' // 404
  | 'invalid' // 400 / 413: the request names a bad field
  | 'rateLimited' // 429
  | 'conflict' // 409 (a sync already runs)
  | 'unavailable' // 503 / 502 / 504: the data is briefly unavailable
  | 'network' // no answer at all
  | 'server'; // anything else

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  readonly status: number;
  readonly detail?: string;
  readonly fields?: Record<string, string[]>;
  readonly retryAfter?: number;

  constructor(kind: ApiErrorKind, status: number, message: string,
    extra: { detail?: string; fields?: Record<string, string[]>; retryAfter?: number } = {}) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    this.status = status;
    this.detail = extra.detail;
    this.fields = extra.fields;
    this.retryAfter = extra.retryAfter;
  }
}

export function kindOfStatus(status: number): ApiErrorKind {
  switch (status) {
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 404: return 'notFound';
    case 400: case 413: case 422: return 'invalid';
    case 409: return 'conflict';
    case 429: return 'rateLimited';
    case 502: case 503: case 504: return 'unavailable';
    default: return 'server';
  }
}

/** Turns a failed response (ProblemDetails or not) into an ApiError. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let title = res.statusText || `HTTP ${res.status}`;
  let detail: string | undefined;
  let fields: Record<string, string[]> | undefined;
  try {
    const text = await res.text();
    if (text) {
      const body = JSON.parse(text) as { title?: string; detail?: string; errors?: Record<string, string[]> };
      if (body.title) title = body.title;
      detail = body.detail;
      fields = body.errors;
    }
  } catch {
    // not JSON: the status says enough
  }
  const ra = Number(res.headers.get('Retry-After'));
  return new ApiError(kindOfStatus(res.status), res.status, title,
    { detail, fields, retryAfter: Number.isFinite(ra) && ra > 0 ? ra : undefined });
}

const KEY_STORAGE = 'ut360.apiKey';

/** The API key lives for the browser session only (sessionStorage), never in localStorage. */
export const apiKey = {
  get(): string | null {
    try { return sessionStorage.getItem(KEY_STORAGE); } catch { return null; }
  },
  set(key: string) { sessionStorage.setItem(KEY_STORAGE, key.trim()); },
  clear() { sessionStorage.removeItem(KEY_STORAGE); },
};

export interface RequestOptions {
  method?: string;
  body?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export async function send(path: string, opts: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  const key = apiKey.get();
  if (key) headers['X-Api-Key'] = key;
  let res: Response;
  try {
    res = await fetch(path, { method: opts.method ?? 'GET', body: opts.body, headers, signal: opts.signal });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError('network', 0, e instanceof Error ? e.message : String(e));
  }
  if (!res.ok) throw await errorFromResponse(res);
  return res;
}

export async function getJson<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(path, opts);
  return (await res.json()) as T;
}

const enc = encodeURIComponent;
const V1 = '/api/v1';

/** True when the text is an encrypted ISDN (24 base64 characters ending in "=="). */
export function looksLikeIsdn(value: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(value.trim());
}

export const api = {
  recommendation: (isdn: string, signal?: AbortSignal) =>
    getJson<Recommendation>(`${V1}/recommendations/${enc(isdn)}`, { signal }),
  recommendationByMsisdn: (msisdn: string, signal?: AbortSignal) =>
    getJson<Recommendation>(`${V1}/recommendations/by-msisdn/${enc(msisdn)}`, { signal }),
  profile: (isdn: string, signal?: AbortSignal) => getJson<Profile>(`${V1}/profiles/${enc(isdn)}`, { signal }),
  profileByMsisdn: (msisdn: string, signal?: AbortSignal) =>
    getJson<Profile>(`${V1}/profiles/by-msisdn/${enc(msisdn)}`, { signal }),
  serviceList: (type: string, offset: number, limit: number, signal?: AbortSignal) =>
    getJson<ServicePage>(`${V1}/services/${enc(type)}/recommendations?offset=${offset}&limit=${limit}`, { signal }),
  segment: (f: SegmentFilter, offset: number, limit: number, signal?: AbortSignal) =>
    getJson<SegmentPage>(`${V1}/segments?${segmentQuery(f)}&offset=${offset}&limit=${limit}`, { signal }),
  /** The whole segment with the recommendation's columns (CSV, UTF-8 BOM, streamed by the API). */
  segmentExport: (f: SegmentFilter, signal?: AbortSignal) =>
    send(`${V1}/segments/export?${segmentQuery(f)}`, { headers: { Accept: 'text/csv' }, signal }),
  /** UC6 with a pasted list or an uploaded CSV as it is: the API reads its isdn column and reports bad lines. */
  bulkCsv: (csv: string, signal?: AbortSignal) =>
    getJson<BulkResult>(`${V1}/recommendations/bulk`, {
      method: 'POST', body: csv, headers: { 'Content-Type': 'text/csv; charset=utf-8' }, signal,
    }),
  bulk: (isdns: string[], signal?: AbortSignal) =>
    getJson<BulkResult>(`${V1}/recommendations/bulk`, {
      method: 'POST', body: JSON.stringify({ isdns }), headers: { 'Content-Type': 'application/json' }, signal,
    }),
  analyticsServices: (signal?: AbortSignal) => getJson<ServiceAnalytics[]>(`${V1}/analytics/services`, { signal }),
  analyticsRisk: (signal?: AbortSignal) => getJson<RiskAnalytics[]>(`${V1}/analytics/risk`, { signal }),
  analyticsClusters: (signal?: AbortSignal) => getJson<ClusterAnalytics[]>(`${V1}/analytics/clusters`, { signal }),
  stats: (signal?: AbortSignal) => getJson<Stats>(`${V1}/stats`, { signal }),
  startSync: () => getJson<Record<string, unknown>>(`${V1}/admin/sync`, { method: 'POST' }),
  syncHistory: (limit = 20, signal?: AbortSignal) =>
    getJson<SyncRun[]>(`${V1}/admin/sync/history?limit=${limit}`, { signal }),
  cache: (signal?: AbortSignal) => getJson<CacheStats>(`${V1}/admin/cache`, { signal }),
};

/**
 * A Vietnamese phone number as people write it → the MSISDN the API looks up (84 + 9 digits):
 * spaces, dots, dashes and parentheses are dropped; +84, 0084 and 84 are the country code and
 * a trunk 0 written after it ("+84 0986…") is dropped too; a leading 0 alone is the trunk prefix.
 */
export function normaliseMsisdn(input: string): string | null {
  let digits = input.trim().replace(/[\s.()\-]/g, '');
  if (digits.startsWith('+')) digits = digits.slice(1);
  else if (digits.startsWith('00')) digits = digits.slice(2);
  if (!/^\d+$/.test(digits)) return null;
  if (digits.startsWith('84') && digits.length >= 11) {
    digits = digits.slice(2);
    if (digits.startsWith('0')) digits = digits.slice(1);
  } else if (digits.startsWith('0')) {
    digits = digits.slice(1);
  } else {
    return null;
  }
  // 9 digits today; 10 for numbers from before the 2018 renumbering, which the API maps.
  return digits.length === 9 || digits.length === 10 ? `84${digits}` : null;
}

/** What a search box holds: an ISDN, a phone number, or neither. */
export function parseSubscriberQuery(input: string): { isdn: string } | { msisdn: string } | null {
  const q = input.trim();
  if (looksLikeIsdn(q)) return { isdn: q };
  const msisdn = normaliseMsisdn(q);
  return msisdn ? { msisdn } : null;
}
