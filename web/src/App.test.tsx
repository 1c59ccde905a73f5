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
    render(<App />);
    expect(screen.getByRole('dialog', { name: 'Khóa API' })).toBeTruthy();
    fireEvent.change(screen.getByTestId('api-key-input'), { target: { value: 'k1' } });
    await act(async () => { fireEvent.click(screen.getByTestId('api-key-save')); });
    expect(screen.queryByTestId('api-key-input')).toBeNull();
    expect(apiKey.get()).toBe('k1');
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
    expect(text('c360-priority')).toBe('HIGH');
    expect(text('c360-priority-score')).toBe('63');
    expect(text('c360-growth')).toBe('-56,7%');
    expect(text('c360-trend')).toBe('Giảm');
    expect(text('c360-call-pct')).toBe('45,5%');
    expect(text('c360-risk-level')).toBe('LOW');
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

  it('pages a risk list forward with the cursor and back again', async () => {
    apiKey.set('k1');
    window.location.hash = '#/lists';
    const rec = (i: number) => ({ ...recommendation, isdn: `isdn-${i}` });
    const fetch = serve(url => {
      if (url.startsWith('/api/v1/analytics/clusters')) return json([]);
      if (url.startsWith('/api/v1/services/')) return json({ service_type: 'EasyCredit', total: 0, offset: 0, limit: 50, items: [] });
      const cursor = new URL(url, 'http://x').searchParams.get('cursor');
      return cursor === ''
        ? json({ risk_level: 'LOW', total: 3, next_cursor: 'c2', items: [rec(1), rec(2)] })
        : json({ risk_level: 'LOW', total: 3, next_cursor: null, items: [rec(3)] });
    });
    render(<App />);
    await act(async () => { fireEvent.click(screen.getByTestId('lists-mode-risk')); });
    await vi.waitFor(() => expect(screen.getAllByTestId('row')).toHaveLength(2));
    await act(async () => { fireEvent.click(screen.getByTestId('page-next')); });
    await vi.waitFor(() => expect(screen.getAllByTestId('row').map(r => r.dataset.isdn)).toEqual(['isdn-3']));
    expect(screen.getByTestId('page-info').dataset.page).toBe('2');
    expect((screen.getByTestId('page-next') as HTMLButtonElement).disabled).toBe(true);
    expect(fetch.mock.calls.some(c => String(c[0]).includes('/risk/LOW/subscribers?cursor=c2&limit=50&details=true'))).toBe(true);
    await act(async () => { fireEvent.click(screen.getByTestId('page-prev')); });
    await vi.waitFor(() => expect(screen.getAllByTestId('row').map(r => r.dataset.isdn)).toEqual(['isdn-1', 'isdn-2']));
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
