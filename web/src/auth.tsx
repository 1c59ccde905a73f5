import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { apiKey } from './api/client';

interface Auth {
  hasKey: boolean;
  /** Changes whenever the key does, so screens fetch again with the new one. */
  version: number;
  setKey: (key: string) => void;
  askForKey: () => void;
  asking: boolean;
  closeAsk: () => void;
}

const AuthContext = createContext<Auth>({
  hasKey: false, version: 0, setKey: () => {}, askForKey: () => {}, asking: false, closeAsk: () => {},
});

export function AuthProvider({ children }: { children: ReactNode }) {
  const [version, setVersion] = useState(0);
  const [asking, setAsking] = useState(() => !apiKey.get());
  const setKey = useCallback((key: string) => {
    apiKey.set(key);
    setAsking(false);
    setVersion(v => v + 1);
  }, []);
  const askForKey = useCallback(() => setAsking(true), []);
  const closeAsk = useCallback(() => setAsking(false), []);
  const value = useMemo<Auth>(() => ({ hasKey: !!apiKey.get(), version, setKey, askForKey, asking, closeAsk }),
    [version, asking]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  return useContext(AuthContext);
}
