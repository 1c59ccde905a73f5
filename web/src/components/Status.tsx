import type { ReactNode } from 'react';
import { ApiError } from '../api/client';
import { useAuth } from '../auth';
import { useI18n, type T } from '../i18n';

/** The sentence a user reads for an error; the roles follow docs/api.md. */
export function errorMessage(t: T, error: unknown, role?: string): string {
  if (error instanceof ApiError) {
    switch (error.kind) {
      case 'unauthorized': return t('err.unauthorized');
      case 'forbidden': return t('err.forbidden', { role: role ?? error.detail ?? '' });
      case 'notFound': return t('err.notFound');
      case 'invalid': {
        const fields = error.fields
          ? Object.entries(error.fields).map(([f, m]) => {
            // A line of an uploaded list ("body:line 3", "file:line 3") in the reader's language.
            const line = /^(?:body|file):line (\d+)$/.exec(f);
            if (line) {
              const reason = m.join(' ').includes('ISDN column') ? 'bulk.reason.missing_column' : 'bulk.reason.not_an_isdn';
              return t('err.line', { n: line[1], reason: t(reason) });
            }
            return `${f}: ${m.join(' ')}`;
          }).join('; ')
          : '';
        return t('err.invalid', { detail: fields || error.detail || error.message });
      }
      case 'rateLimited': return t('err.rateLimited');
      case 'conflict': return t('err.conflict');
      case 'unavailable':
        return t('err.unavailable', { retry: error.retryAfter ? t('err.retryIn', { n: error.retryAfter }) : '' });
      case 'network': return t('err.network');
      default: {
        // The API's ProblemDetails say more than a status code (e.g. "run ./ut360 sync").
        const more = [error.message, error.detail].filter(Boolean).join(': ');
        return `${t('err.server', { status: error.status })}${more ? ` ${more}` : ''}`;
      }
    }
  }
  return error instanceof Error ? error.message : String(error);
}

export function Loading({ label }: { label?: string }) {
  const { t } = useI18n();
  return (
    <div className="loading" role="status" aria-live="polite" data-testid="loading">
      <span className="spinner" aria-hidden="true" /> {label ?? t('common.loading')}
    </div>
  );
}

export function ErrorBox({ error, onRetry, role }: { error: unknown; onRetry?: () => void; role?: string }) {
  const { t } = useI18n();
  const { askForKey } = useAuth();
  const kind = error instanceof ApiError ? error.kind : 'server';
  return (
    <div className={`error error-${kind}`} role="alert" data-testid="error" data-kind={kind}>
      <p>{errorMessage(t, error, role)}</p>
      <div className="error-actions">
        {kind === 'unauthorized' && <button type="button" onClick={askForKey}>{t('err.enterKey')}</button>}
        {/* The same request would be refused again: a retry is offered only where time can help. */}
        {onRetry && kind !== 'unauthorized' && kind !== 'forbidden' && kind !== 'invalid' && kind !== 'notFound' && (
          <button type="button" onClick={onRetry}>{t('common.retry')}</button>
        )}
      </div>
    </div>
  );
}

/** Loading, error or the content: a call never leaves the screen blank. */
export function Async<D>({ state, role, children }: {
  state: { data: D | undefined; error: unknown; loading: boolean; reload: () => void };
  role?: string;
  children: (data: D) => ReactNode;
}) {
  if (state.error !== undefined && !state.loading) return <ErrorBox error={state.error} onRetry={state.reload} role={role} />;
  if (state.data === undefined) return <Loading />;
  return (
    <div className={state.loading ? 'stale' : undefined} aria-busy={state.loading}>
      {children(state.data)}
    </div>
  );
}
