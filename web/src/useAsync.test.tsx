import { act, render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { useAsync } from './useAsync';

function Probe({ n, answers }: { n: number; answers: Map<number, Promise<string>> }) {
  const state = useAsync(() => answers.get(n)!, [n]);
  return <p data-testid="shown">{state.data ?? ''}</p>;
}

describe('useAsync', () => {
  it('ignores an answer that arrives after a newer request was made', async () => {
    let releaseFirst: (v: string) => void = () => {};
    const answers = new Map<number, Promise<string>>([
      [1, new Promise(r => { releaseFirst = r; })],
      [2, Promise.resolve('second')],
    ]);
    const { rerender } = render(<Probe n={1} answers={answers} />);
    rerender(<Probe n={2} answers={answers} />);
    await screen.findByText('second');
    await act(async () => { releaseFirst('first'); });
    expect(screen.getByTestId('shown').textContent).toBe('second');
  });
});
