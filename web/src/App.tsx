import { lazy, Suspense, useEffect, useState, type ReactElement } from 'react';
import { AuthProvider, useAuth } from './auth';
import { ApiKeyDialog } from './components/ApiKeyDialog';
import { I18nProvider, useI18n, type MessageKey } from './i18n';
import { BulkScreen } from './screens/Bulk';
import { Customer360Screen } from './screens/Customer360';
import { ListsScreen } from './screens/Lists';
import { OperationsScreen } from './screens/Operations';
import { Loading } from './components/Status';

// The dashboard carries the chart library; the other screens load without it.
const AnalyticsScreen = lazy(() => import('./screens/Analytics').then(m => ({ default: m.AnalyticsScreen })));

const SCREENS = [
  { path: '360', label: 'nav.c360', Screen: Customer360Screen },
  { path: 'lists', label: 'nav.lists', Screen: ListsScreen },
  { path: 'analytics', label: 'nav.analytics', Screen: AnalyticsScreen },
  { path: 'bulk', label: 'nav.bulk', Screen: BulkScreen },
  { path: 'ops', label: 'nav.ops', Screen: OperationsScreen },
] as const satisfies readonly { path: string; label: MessageKey; Screen: (() => ReactElement) | typeof AnalyticsScreen }[];

type Path = (typeof SCREENS)[number]['path'];

function currentPath(): Path {
  const p = window.location.hash.replace(/^#\/?/, '').split('?')[0];
  return SCREENS.find(s => s.path === p)?.path ?? '360';
}

function Shell() {
  const { t, lang, setLang } = useI18n();
  const { askForKey, hasKey } = useAuth();
  const [path, setPath] = useState<Path>(currentPath);
  useEffect(() => {
    const onHash = () => setPath(currentPath());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => { document.documentElement.lang = lang; }, [lang]);
  const { Screen } = SCREENS.find(s => s.path === path) ?? SCREENS[0];
  return (
    <>
      <header className="topbar">
        <a className="brand" href="#/360">UT360</a>
        <nav className="nav" aria-label="main">
          {SCREENS.map(s => (
            <a key={s.path} href={`#/${s.path}`} data-testid={`nav-${s.path}`} aria-current={s.path === path ? 'page' : undefined}>
              {t(s.label)}
            </a>
          ))}
        </nav>
        <div className="topbar-actions">
          <button type="button" className="secondary" onClick={askForKey} data-testid="key-button">
            {hasKey ? t('key.change') : t('key.none')}
          </button>
          <button type="button" className="secondary" onClick={() => setLang(lang === 'vi' ? 'en' : 'vi')} data-testid="lang-switch">
            {t('lang.switch')}
          </button>
        </div>
      </header>
      <main>
        <Suspense fallback={<Loading />}>
          <Screen key={path} />
        </Suspense>
      </main>
      <ApiKeyDialog />
    </>
  );
}

export function App() {
  return (
    <I18nProvider>
      <AuthProvider>
        <Shell />
      </AuthProvider>
    </I18nProvider>
  );
}
