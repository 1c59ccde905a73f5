import { describe, expect, it } from 'vitest';
import { age, date, DASH, duration, growth, money, month, normalizeSpaces, num, pct, ratio } from './format';

const n = (s: string) => normalizeSpaces(s);

describe('vi-VN formatting', () => {
  it('writes money in dong with dots between thousands', () => {
    expect(n(money(25000))).toBe('25.000 ₫');
    expect(n(money(1260000000))).toBe('1.260.000.000 ₫');
    expect(n(money(7500.4))).toBe('7.500 ₫');
  });

  it('writes decimals with a comma', () => {
    expect(num(2757.5, 2)).toBe('2.757,5');
    expect(num(214504)).toBe('214.504');
    expect(num(0.1234, 4)).toBe('0,1234');
  });

  it('writes shares and growth rates as percentages, growth with its sign', () => {
    expect(pct(45.3)).toBe('45,3%');
    expect(growth(-56.7)).toBe('-56,7%');
    expect(growth(12)).toBe('+12%');
    expect(growth(0)).toBe('0%');
    expect(ratio(0.873)).toBe('87,30%');
    expect(ratio(0.99537)).toBe('99,54%');
  });

  it('shows a dash for missing values instead of 0 or NaN', () => {
    expect(money(null)).toBe(DASH);
    expect(num(undefined)).toBe(DASH);
    expect(pct(Number.NaN)).toBe(DASH);
    expect(date(null)).toBe(DASH);
    expect(age('not a date', 'vi')).toBe(DASH);
  });

  it('turns YYYYMM into MM/YYYY and dates into dd/mm/yyyy', () => {
    expect(month('202503')).toBe('03/2025');
    expect(month('2025-3')).toBe('2025-3');
    expect(date('2025-10-22')).toBe('22/10/2025');
  });

  it('says how old data is in the UI language', () => {
    const now = new Date('2025-10-22T13:30:00Z');
    expect(age('2025-10-22T10:30:00Z', 'vi', now)).toBe('3 giờ trước');
    expect(age('2025-10-22T10:30:00Z', 'en', now)).toBe('3 hours ago');
    expect(age('2025-10-20T13:30:00Z', 'en', now)).toBe('2 days ago');
  });

  it('writes durations in ms below a second and in seconds above', () => {
    expect(duration(850)).toBe('850 ms');
    expect(duration(12400)).toBe('12,4 s');
  });
});
