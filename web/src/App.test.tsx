import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { apiKey } from './api/client';
import { App } from './App';
import { Totals } from './screens/Analytics';
import { ISDN, profile, recommendation } from './fixtures';
import { normalizeSpaces } from './format';
import { I18nProvider } from './i18n';

type Route = (url: string, init: RequestInit) => Response | Promise<Response>;

function json(body: unknown, status = 200, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

function serve(route: Route) {
  const fn = vi.fn(async (url: string, init: RequestInit) => route(url, init));
  vi.stubGlobal('fetch', fn);
  return fn;
}

afterEach(() => {
  vi.unstubAllGlobals();
  window.location.hash = '';
});

function text(testid: string) {
  return normalizeSpaces(screen.getByTestId(testid).textContent ?? '');
}

async function search(q: string) {
  fireEvent.change(screen.getByTestId('c360-query'), { target: { value: q } });
  await act(async () => { fireEvent.click(screen.getByTestId('c360-search')); });
}

describe('the app', () => {
  it('asks for an API key first and keeps it for the session', async () => {
    const fetch = serve((_url, init) => {
      const key = (init.headers as Record<string, string>)['X-Api-Key'];
      return key === 'k1' ? json({ total_subscribers: 1 }) : json({ title: 'Unauthorized', status: 401 }, 401);
    });
    render(<App />);
    expect(screen.getByRole('dialog', { name: 'Khóa API' })).toBeTruthy();
    // A wrong key is refused in the prompt itself, which stays open.
    fireEvent.change(screen.getByTestId('api-key-input'), { target: { value: 'wrong' } });
    await act(async () => { fireEvent.click(screen.getByTestId('api-key-save')); });
    await screen.findByTestId('api-key-refused');
    expect(apiKey.get()).toBeNull();
    fireEvent.change(screen.getByTestId('api-key-input'), { target: { value: 'k1' } });
    await act(async () => { fireEvent.click(screen.getByTestId('api-key-save')); });
    await vi.waitFor(() => expect(screen.queryByTestId('api-key-input')).toBeNull());
    expect(apiKey.get()).toBe('k1');
    expect(fetch.mock.calls.every(c => String(c[0]) === '/api/v1/stats')).toBe(true);
  });

  it('closes the key prompt with Esc and keeps Tab inside it', async () => {
    render(<App />);
    const input = screen.getByTestId('api-key-input');
    expect(document.activeElement).toBe(input);
    fireEvent.keyDown(document.activeElement!, { key: 'Tab', shiftKey: true });
    expect(screen.getByRole('dialog', { name: 'Khóa API' }).contains(document.activeElement)).toBe(true);
    fireEvent.keyDown(document.activeElement!, { key: 'Escape' });
    expect(screen.queryByTestId('api-key-input')).toBeNull();
  });

  it('opens the 360 modal with the values of the API, formatted for vi-VN', async () => {
    apiKey.set('k1');
    const fetch = serve(url => {
      if (url.startsWith('/api/v1/profiles/')) return json(profile);
      if (url.startsWith('/api/v1/recommendations/')) return json(recommendation);
      return json({}, 404);
    });
    render(<App />);
    await search(ISDN);
    const modal = await screen.findByTestId('c360-modal');
    await vi.waitFor(() => expect(modal.dataset.state).toBe('ready'));
    expect(text('c360-service')).toBe('EasyCredit');
    expect(text('c360-advance')).toBe('25.000 ₫');
    expect(text('c360-revenue')).toBe('7.500 ₫');
    expect(text('c360-priority')).toBe('Cao HIGH');
    expect(text('c360-priority-score')).toBe('63');
    expect(text('c360-growth')).toBe('-56,7%');
    expect(text('c360-trend')).toBe('Giảm');
    expect(text('c360-call-pct')).toBe('45,5%');
    expect(text('c360-risk-level')).toBe('Thấp LOW');
    expect(within(screen.getByTestId('c360-risk-factors')).getAllByRole('listitem').map(li => li.textContent)).toEqual(['ARPU giảm mạnh']);
    expect(text('c360-cluster')).toBe('1 Khách hàng ổn định');
    expect(text('c360-source')).toBe('Redis');
    expect(screen.getAllByTestId('c360-month-row').map(r => r.dataset.month)).toEqual(['202503', '202504']);
    const urls = fetch.mock.calls.map(c => c[0]).sort();
    expect(urls).toEqual(['/api/v1/profiles/%2B%2B%2FhZFPrCDRre55vsZqqxQ%3D%3D', '/api/v1/recommendations/%2B%2B%2FhZFPrCDRre55vsZqqxQ%3D%3D']);
  });

  it('looks phone numbers up by MSISDN', async () => {
    apiKey.set('k1');
    const fetch = serve(url => (url.includes('/profiles/') ? json(profile) : json(recommendation)));
    render(<App />);
    await search('0912 345 678');
    await screen.findByTestId('c360-modal');
    await vi.waitFor(() => expect(screen.getByTestId('c360-modal').dataset.state).toBe('ready'));
    expect(fetch.mock.calls.map(c => c[0]).sort()).toEqual([
      '/api/v1/profiles/by-msisdn/84912345678', '/api/v1/recommendations/by-msisdn/84912345678']);
  });

  it('refuses a search that is neither an ISDN nor a phone number, without calling the API', async () => {
    apiKey.set('k1');
    const fetch = serve(() => json({}));
    render(<App />);
    await search('xyz');
    expect(screen.getByRole('alert').textContent).toContain('Không phải ISDN');
    expect(fetch).not.toHaveBeenCalled();
  });

  it('says the subscriber is unknown on 404', async () => {
    apiKey.set('k1');
    serve(() => json({ title: 'Not Found', status: 404 }, 404));
    render(<App />);
    await search(ISDN);
    const err = await screen.findByTestId('error');
    expect(err.dataset.kind).toBe('notFound');
    expect(err.textContent).toContain('Không tìm thấy thuê bao');
  });

  it('on 401 says the key was refused and offers to enter another', async () => {
    apiKey.set('wrong');
    serve(() => json({ title: 'Unauthorized', status: 401 }, 401));
    render(<App />);
    await search(ISDN);
    const err = await screen.findByTestId('error');
    expect(err.dataset.kind).toBe('unauthorized');
    expect(err.textContent).toContain('Cần khóa API hợp lệ');
    await act(async () => { fireEvent.click(within(err).getByRole('button', { name: 'Nhập khóa API' })); });
    expect(screen.getByTestId('api-key-input')).toBeTruthy();
  });

  it('on 503 says the data is briefly unavailable, and retries', async () => {
    apiKey.set('k1');
    let calls = 0;
    serve(url => {
      calls++;
      if (calls <= 2) return json({ title: 'Service Unavailable', status: 503 }, 503, { 'Retry-After': '2' });
      return url.includes('/profiles/') ? json(profile) : json(recommendation);
    });
    render(<App />);
    await search(ISDN);
    const err = await screen.findByTestId('error');
    expect(err.dataset.kind).toBe('unavailable');
    expect(err.textContent).toContain('tạm thời không truy cập được');
    expect(err.textContent).toContain('2 giây');
    await act(async () => { fireEvent.click(within(err).getByRole('button', { name: 'Thử lại' })); });
    await vi.waitFor(() => expect(screen.getByTestId('c360-modal').dataset.state).toBe('ready'));
  });

  it('on 403 names the missing role', async () => {
    apiKey.set('k1');
    window.location.hash = '#/ops';
    serve(() => json({ title: 'Forbidden', status: 403 }, 403));
    render(<App />);
    const errs = await screen.findAllByTestId('error');
    expect(errs[0].dataset.kind).toBe('forbidden');
    expect(errs[0].textContent).toContain('(admin)');
  });

  it('switches to English and back', async () => {
    apiKey.set('k1');
    serve(() => json({}));
    render(<App />);
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Tra cứu khách hàng 360');
    await act(async () => { fireEvent.click(screen.getByTestId('lang-switch')); });
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Customer 360 lookup');
    expect(document.documentElement.lang).toBe('en');
    await act(async () => { fireEvent.click(screen.getByTestId('lang-switch')); });
    expect(screen.getByTestId('nav-360').textContent).toBe('Khách hàng 360');
  });

  it('keeps the segment filters and page in the URL, jumps to a page, and ignores an answer a newer request overtook', async () => {
    apiKey.set('k1');
    window.location.hash = '#/lists?risk=LOW&size=25';
    const rec = (i: number) => ({ ...recommendation, isdn: `isdn-${i}`, bad_debt_risk: 'LOW' });
    let releaseSlow: () => void = () => {};
    const fetch = serve(async url => {
      if (url.startsWith('/api/v1/analytics/clusters')) return json([]);
      const q = new URL(url, 'http://x').searchParams;
      const offset = Number(q.get('offset'));
      const limit = Number(q.get('limit'));
      // Page 2 answers late, after page 3 has answered.
      if (offset === 25) await new Promise<void>(r => { releaseSlow = r; });
      return json({ risk_level: 'LOW', total: 75, offset, limit, source: 'postgres',
        items: Array.from({ length: limit }, (_, i) => rec(offset + i + 1)) });
    });
    render(<App />);
    await vi.waitFor(() => expect(screen.getAllByTestId('row')).toHaveLength(25));
    expect(fetch.mock.calls.some(c => String(c[0]).startsWith('/api/v1/segments?risk=LOW&offset=0&limit=25'))).toBe(true);
    expect((screen.getByTestId('seg-risk') as HTMLSelectElement).value).toBe('LOW');

    await act(async () => { fireEvent.click(screen.getByTestId('page-next')); });
    await vi.waitFor(() => expect(window.location.hash).toBe('#/lists?risk=LOW&size=25&page=2'));
    await vi.waitFor(() => expect(screen.getByTestId('page-info').dataset.target).toBe('2'));
    // Page 2 is still loading: the rows shown are page 1's, and so is their label.
    expect(screen.getByTestId('page-info').dataset.page).toBe('1');
    await act(async () => { fireEvent.click(screen.getByTestId('page-next')); });
    await vi.waitFor(() => expect(screen.getByTestId('page-info').dataset.page).toBe('3'));
    await vi.waitFor(() => expect(screen.getAllByTestId('row')[0].dataset.isdn).toBe('isdn-51'));
    await act(async () => { releaseSlow(); });
    // The late page 2 does not replace page 3, and the label matches the rows.
    expect(screen.getAllByTestId('row')[0].dataset.isdn).toBe('isdn-51');
    expect(normalizeSpaces(screen.getByTestId('page-info').textContent ?? '')).toContain('51–75 / 75');

    fireEvent.change(screen.getByTestId('page-jump'), { target: { value: '1' } });
    await act(async () => { fireEvent.click(screen.getByTestId('page-go')); });
    await vi.waitFor(() => expect(screen.getAllByTestId('row')[0].dataset.isdn).toBe('isdn-1'));
    expect(window.location.hash).toBe('#/lists?risk=LOW&size=25');
  });
});

describe('dashboard totals', () => {
  it('shows the stats as vi-VN numbers and keeps the raw value', () => {
    render(
      <I18nProvider lang="vi">
        <Totals stats={{ total_subscribers: 214504, total_easycredit: 142000, total_mbfg: 45000, total_ungsanluong: 27504,
          total_low_risk: 180000, total_medium_risk: 34504, avg_advance_amount: 28500, total_revenue_potential: 1260000000,
          last_updated: '2025-10-22T10:30:00', data_version: 'v1.0' }} />
      </I18nProvider>,
    );
    expect(text('stat-total_subscribers')).toBe('214.504');
    expect(screen.getByTestId('stat-total_subscribers').dataset.raw).toBe('214504');
    expect(text('stat-total_revenue_potential')).toBe('1.260.000.000 ₫');
    expect(text('stat-data_version')).toBe('v1.0');
    expect(screen.queryByTestId('stat-total_high_risk')).toBeNull();
  });
});
