import { act, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { apiKey } from '../api/client';
import { AuthProvider } from '../auth';
import { recommendation } from '../fixtures';
import { I18nProvider } from '../i18n';
import { BulkScreen } from './Bulk';
import { OperationsScreen } from './Operations';

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

function wrap(ui: React.ReactNode) {
  return render(<I18nProvider lang="vi"><AuthProvider>{ui}</AuthProvider></I18nProvider>);
}

afterEach(() => vi.unstubAllGlobals());

const isdn = (i: number) => `${String(i).padStart(22, 'A')}==`;

describe('bulk lookup screen', () => {
  it('counts the pasted ISDNs, posts them and shows found and not found', async () => {
    apiKey.set('k1');
    const fetch = vi.fn(async (_url: string, init: RequestInit) => {
      expect(init.headers).toMatchObject({ 'Content-Type': 'text/csv; charset=utf-8' });
      const isdns = String(init.body).split('\n');
      return json({
        requested: isdns.length, found: 2, not_found: isdns.length - 2, cached: false, rejected_count: 0, rejected: [],
        results: isdns.map((x, i) => (i < 2 ? { isdn: x, found: true, recommendation: { ...recommendation, isdn: x } } : { isdn: x, found: false })),
      });
    });
    vi.stubGlobal('fetch', fetch);
    wrap(<BulkScreen />);
    fireEvent.change(screen.getByTestId('bulk-input'), { target: { value: [1, 2, 3].map(isdn).join('\n') } });
    expect(screen.getByTestId('bulk-count').textContent).toBe('3 dòng');
    await act(async () => { fireEvent.click(screen.getByTestId('bulk-run')); });
    await screen.findByTestId('bulk-result');
    expect(screen.getByTestId('bulk-found').textContent).toBe('2');
    expect(screen.getByTestId('bulk-not-found').textContent).toBe('1');
    expect(screen.getAllByTestId('row')).toHaveLength(3);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('refuses more than 10,000 ISDNs before calling the API', () => {
    const fetch = vi.fn();
    vi.stubGlobal('fetch', fetch);
    wrap(<BulkScreen />);
    const many = Array.from({ length: 10_001 }, (_, i) => isdn(i)).join('\n');
    fireEvent.change(screen.getByTestId('bulk-input'), { target: { value: many } });
    expect(screen.getByTestId('bulk-count').textContent).toContain('Tối đa 10.000 ISDN');
    expect((screen.getByTestId('bulk-run') as HTMLButtonElement).disabled).toBe(true);
    expect(fetch).not.toHaveBeenCalled();
  });
});

describe('operations screen', () => {
  it('shows the hit ratio and the history, and says when a sync already runs', async () => {
    apiKey.set('k1');
    vi.stubGlobal('fetch', vi.fn(async (url: string, init: RequestInit) => {
      if (url.endsWith('/admin/cache')) return json({ hits: 90, misses: 10, fallbacks: 0, hit_ratio: 0.9 });
      if (url.includes('/admin/sync/history')) {
        return json([{ id: 7, kind: 'full', trigger: 'cli', started_at: '2025-10-22T10:30:00Z', finished_at: '2025-10-22T10:31:00Z',
          duration_ms: 61000, keys_written: 10000, keys_deleted: 0, outcome: 'succeeded', message: null }]);
      }
      if (url.endsWith('/admin/sync') && init.method === 'POST') return json({ title: 'Conflict', status: 409 }, 409);
      return json({}, 404);
    }));
    wrap(<OperationsScreen />);
    expect((await screen.findByTestId('ops-hit-ratio')).textContent).toBe('90,00%');
    const history = await screen.findByTestId('ops-history');
    expect(history.querySelectorAll('tbody tr')).toHaveLength(1);
    expect(history.textContent).toContain('61 s');
    expect(screen.getByTestId('ops-run').textContent).toContain('Toàn bộ');
    expect(screen.getByTestId('ops-run').textContent).toContain('Thành công');
    // Asks first: Cancel starts nothing, the confirmation starts it.
    await act(async () => { fireEvent.click(screen.getByTestId('ops-start-sync')); });
    await act(async () => { fireEvent.click(screen.getByTestId('ops-confirm-cancel')); });
    expect(screen.queryByTestId('ops-confirm')).toBeNull();
    await act(async () => { fireEvent.click(screen.getByTestId('ops-start-sync')); });
    await act(async () => { fireEvent.click(screen.getByTestId('ops-confirm-start')); });
    expect((await screen.findAllByTestId('error')).some(e => e.dataset.kind === 'conflict')).toBe(true);
  });
});
