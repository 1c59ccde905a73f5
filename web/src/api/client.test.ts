import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, apiKey, kindOfStatus, normaliseMsisdn, parseSubscriberQuery } from './client';

function problem(status: number, body: object | string, headers: Record<string, string> = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Response(text, { status, headers: { 'Content-Type': 'application/problem+json', ...headers } });
}

function mockFetch(res: Response | Error) {
  const fn = vi.fn(async () => { if (res instanceof Error) throw res; return res; });
  vi.stubGlobal('fetch', fn);
  return fn;
}

afterEach(() => vi.unstubAllGlobals());

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected a failure');
}

describe('API client', () => {
  it('sends the session key as X-Api-Key and reads JSON', async () => {
    apiKey.set(' secret-key ');
    const fetch = mockFetch(new Response(JSON.stringify({ total_subscribers: 5 }), { status: 200 }));
    expect(await api.stats()).toEqual({ total_subscribers: 5 });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/stats');
    expect((init.headers as Record<string, string>)['X-Api-Key']).toBe('secret-key');
    expect(sessionStorage.getItem('ut360.apiKey')).toBe('secret-key');
    expect(localStorage.length).toBe(0);
  });

  it('sends no key header when none was given', async () => {
    const fetch = mockFetch(new Response('[]', { status: 200 }));
    await api.analyticsRisk();
    const [, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect((init.headers as Record<string, string>)['X-Api-Key']).toBeUndefined();
  });

  it('escapes ISDNs in the path (base64 has / and +)', async () => {
    const fetch = mockFetch(new Response('{}', { status: 200 }));
    await api.profile('++/hZFPrCDRre55vsZqqxQ==');
    expect((fetch.mock.calls[0] as unknown as [string])[0]).toBe('/api/v1/profiles/%2B%2B%2FhZFPrCDRre55vsZqqxQ%3D%3D');
  });

  it('maps 401 to unauthorized with the ProblemDetails title', async () => {
    mockFetch(problem(401, { title: 'Unauthorized', status: 401 }));
    const e = await failure(api.stats());
    expect(e.kind).toBe('unauthorized');
    expect(e.status).toBe(401);
    expect(e.message).toBe('Unauthorized');
  });

  it('maps 403 to forbidden', async () => {
    mockFetch(problem(403, { title: 'Forbidden', detail: 'admin' }));
    const e = await failure(api.cache());
    expect(e.kind).toBe('forbidden');
    expect(e.detail).toBe('admin');
  });

  it('maps 503 to unavailable and keeps Retry-After', async () => {
    mockFetch(problem(503, { title: 'Service Unavailable' }, { 'Retry-After': '5' }));
    const e = await failure(api.recommendation('++/hZFPrCDRre55vsZqqxQ=='));
    expect(e.kind).toBe('unavailable');
    expect(e.retryAfter).toBe(5);
  });

  it('maps a validation problem to invalid with its fields', async () => {
    mockFetch(problem(400, { title: 'One or more validation errors occurred.', errors: { limit: ['must be 1-1000'] } }));
    const e = await failure(api.serviceList('EasyCredit', 0, 5000));
    expect(e.kind).toBe('invalid');
    expect(e.fields).toEqual({ limit: ['must be 1-1000'] });
  });

  it('copes with an error body that is not JSON', async () => {
    mockFetch(new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    const e = await failure(api.stats());
    expect(e.kind).toBe('unavailable');
    expect(e.message).toBe('Bad Gateway');
  });

  it('maps a failed connection to network', async () => {
    mockFetch(new TypeError('Failed to fetch'));
    const e = await failure(api.stats());
    expect(e.kind).toBe('network');
    expect(e.status).toBe(0);
  });

  it('maps the remaining statuses', () => {
    expect(kindOfStatus(404)).toBe('notFound');
    expect(kindOfStatus(413)).toBe('invalid');
    expect(kindOfStatus(409)).toBe('conflict');
    expect(kindOfStatus(429)).toBe('rateLimited');
    expect(kindOfStatus(500)).toBe('server');
  });

  it('posts bulk lookups as JSON', async () => {
    const fetch = mockFetch(new Response(JSON.stringify({ requested: 1, found: 0, not_found: 1, cached: false, results: [] })));
    await api.bulk(['a']);
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/recommendations/bulk');
    expect(init.method).toBe('POST');
    expect(init.body).toBe('{"isdns":["a"]}');
  });
});

describe('search input', () => {
  it('normalises Vietnamese phone numbers as the server does', () => {
    expect(normaliseMsisdn('0912345678')).toBe('84912345678');
    expect(normaliseMsisdn('+84 912 345 678')).toBe('84912345678');
    expect(normaliseMsisdn('84912345678')).toBe('84912345678');
    expect(normaliseMsisdn('+84 0986 123 456')).toBe('84986123456');
    expect(normaliseMsisdn('(+84) 912-345-678')).toBe('84912345678');
    expect(normaliseMsisdn('0084912345678')).toBe('84912345678');
    expect(normaliseMsisdn('+840912345678')).toBe('84912345678');
    expect(normaliseMsisdn('12345')).toBeNull();
    expect(normaliseMsisdn('09123abc')).toBeNull();
  });

  it('tells ISDNs from phone numbers', () => {
    expect(parseSubscriberQuery(' ++/hZFPrCDRre55vsZqqxQ== ')).toEqual({ isdn: '++/hZFPrCDRre55vsZqqxQ==' });
    expect(parseSubscriberQuery('0912345678')).toEqual({ msisdn: '84912345678' });
    expect(parseSubscriberQuery('hello')).toBeNull();
  });
});
