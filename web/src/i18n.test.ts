import { describe, expect, it } from 'vitest';
import { dictionaries, translate, type MessageKey } from './i18n';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map(m => m[1]).sort();

describe('i18n dictionaries', () => {
  it('has every Vietnamese key in English, non-empty and different from the key', () => {
    const vi = Object.keys(dictionaries.vi);
    expect(Object.keys(dictionaries.en).sort()).toEqual([...vi].sort());
    for (const k of vi as MessageKey[]) {
      expect(dictionaries.en[k].trim(), k).not.toBe('');
      expect(dictionaries.vi[k].trim(), k).not.toBe('');
    }
  });

  it('uses the same placeholders in both languages', () => {
    for (const k of Object.keys(dictionaries.vi) as MessageKey[]) {
      expect(placeholders(dictionaries.en[k]), k).toEqual(placeholders(dictionaries.vi[k]));
    }
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(translate('vi', 'common.page', { n: 3 })).toBe('Trang 3');
    expect(translate('en', 'common.page', { n: 3 })).toBe('Page 3');
    expect(translate('en', 'common.rows', { from: 1 })).toBe('1–{to} of {total}');
  });

  it('speaks Vietnamese by default', () => {
    expect(translate('vi', 'nav.c360')).toBe('Khách hàng 360');
    expect(translate('vi', 'err.unavailable', { retry: '' })).toContain('tạm thời không truy cập được');
  });
});
