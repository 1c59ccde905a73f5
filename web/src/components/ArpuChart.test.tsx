import { render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { profile } from '../fixtures';
import { ArpuChart, niceTicks } from './ArpuChart';

describe('ARPU chart', () => {
  it('picks round axis steps that reach the maximum', () => {
    expect(niceTicks(5000)).toEqual([0, 2000, 4000, 6000]);
    expect(niceTicks(2757.5)).toEqual([0, 1000, 2000, 3000]);
    expect(niceTicks(0)).toEqual([0]);
  });

  it('draws a stacked bar per month, call / SMS / data from the bottom, and the total line', () => {
    const { container } = render(<ArpuChart months={profile.monthly_arpu} labels={{ call: 'C', sms: 'S', data: 'D', total: 'T' }} />);
    const bars = container.querySelectorAll('.arpu-bar');
    expect(bars).toHaveLength(2);
    const rects = [...bars[0].querySelectorAll('rect')].map(r => ({ y: Number(r.getAttribute('y')), h: Number(r.getAttribute('height')) }));
    // 2000 / 500 / 2500 of a 5000 axis: heights in that ratio, stacked without gaps.
    expect(rects[0].h / rects[2].h).toBeCloseTo(2000 / 2500, 5);
    expect(rects[1].y + rects[1].h).toBeCloseTo(rects[0].y, 5);
    expect(rects[2].y + rects[2].h).toBeCloseTo(rects[1].y, 5);
    expect(container.querySelectorAll('circle')).toHaveLength(2);
    expect(bars[1].querySelector('title')?.textContent).toContain('04/2025');
  });
});
