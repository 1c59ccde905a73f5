import { useCallback, useEffect, useRef, useState, type DependencyList } from 'react';
import { useAuth } from './auth';

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs an API call when its inputs (or the API key) change; a newer call aborts the older one,
 * so a slow answer never overwrites a newer one.
 */
export function useAsync<T>(fn: (signal: AbortSignal) => Promise<T>, deps: DependencyList, enabled = true): AsyncState<T> {
  const { version } = useAuth();
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: enabled });
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;

  useEffect(() => {
    if (!enabled) {
      setState({ loading: false });
      return;
    }
    const ctl = new AbortController();
    setState(s => ({ data: s.data, loading: true }));
    fnRef.current(ctl.signal).then(
      data => { if (!ctl.signal.aborted) setState({ data, loading: false }); },
      error => { if (!ctl.signal.aborted) setState({ error, loading: false }); },
    );
    return () => ctl.abort();
  }, [...deps, version, tick, enabled]);

  const reload = useCallback(() => setTick(t => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}
