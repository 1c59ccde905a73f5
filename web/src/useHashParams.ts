import { useCallback, useEffect, useState } from 'react';

/** The query part of the location hash (#/lists?service=MBFG&page=3). */
function read(): URLSearchParams {
  const hash = window.location.hash;
  const q = hash.indexOf('?');
  return new URLSearchParams(q >= 0 ? hash.slice(q + 1) : '');
}

/**
 * A screen's state kept in the URL, so a reload shows the same list and page and Back returns
 * to the previous one. Setting values pushes a history entry (replace: true does not); a value
 * of null or '' removes it.
 */
export function useHashParams(): [URLSearchParams, (patch: Record<string, string | number | null>, opts?: { replace?: boolean }) => void] {
  const [params, setParams] = useState(read);
  useEffect(() => {
    const onHash = () => setParams(read());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const update = useCallback((patch: Record<string, string | number | null>, opts?: { replace?: boolean }) => {
    const next = read();
    for (const [k, v] of Object.entries(patch)) {
      if (v === null || v === '') next.delete(k);
      else next.set(k, String(v));
    }
    const hash = window.location.hash;
    const path = hash.includes('?') ? hash.slice(0, hash.indexOf('?')) : hash || '#/';
    const query = next.toString();
    const url = `${path}${query ? `?${query}` : ''}`;
    if (url === hash) return;
    if (opts?.replace) {
      history.replaceState(history.state, '', url);
      setParams(read());
    } else {
      window.location.hash = url.slice(1);
    }
  }, []);
  return [params, update];
}
