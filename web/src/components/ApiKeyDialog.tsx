import { useRef, useState, type FormEvent } from 'react';
import { useModal } from './useModal';
import { apiKey } from '../api/client';
import { useAuth } from '../auth';
import { useI18n } from '../i18n';

export function ApiKeyDialog() {
  const { asking } = useAuth();
  return asking ? <KeyPrompt /> : null;
}
/**
 * The key prompt checks the key before keeping it: a key the API refuses (401) is said to be
 * wrong here, not when a later call fails. A 403 means the key is known but lacks a role a
 * screen needs, which that screen explains.
 */
function KeyPrompt() {
  const { t } = useI18n();
  const { setKey, closeAsk } = useAuth();
  const [value, setValue] = useState(() => apiKey.get() ?? '');
  const [checking, setChecking] = useState(false);
  const [refused, setRefused] = useState<string | null>(null);
  const dialog = useRef<HTMLFormElement>(null);
  const input = useRef<HTMLInputElement>(null);
  useModal(dialog, closeAsk, { initial: input });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const key = value.trim();
    if (!key || checking) return;
    setChecking(true);
    setRefused(null);
    const verdict = await checkKey(key);
    setChecking(false);
    if (verdict === 'refused') {
      setRefused(t('key.refused'));
      input.current?.focus();
    } else if (verdict === 'unreachable') {
      setRefused(t('err.network'));
    } else {
      setKey(key);
    }
  };
  return (
    <div className="overlay" role="presentation">
      <form ref={dialog} className="dialog key-dialog" role="dialog" aria-modal="true" aria-labelledby="key-title" onSubmit={submit} tabIndex={-1}>
        <h2 id="key-title">{t('key.title')}</h2>
        <p id="key-prompt">{t('key.prompt')}</p>
        <input
          ref={input} type="password" autoComplete="off" name="api-key" data-testid="api-key-input"
          aria-label={t('key.placeholder')} aria-describedby={refused ? 'key-refused' : 'key-prompt'} aria-invalid={!!refused}
          placeholder={t('key.placeholder')} value={value} onChange={e => { setValue(e.target.value); setRefused(null); }}
        />
        {refused && <p id="key-refused" className="field-error" role="alert" data-testid="api-key-refused">{refused}</p>}
        <div className="dialog-actions">
          <button type="button" className="secondary" onClick={closeAsk} data-testid="api-key-cancel">{t('key.cancel')}</button>
          <button type="submit" data-testid="api-key-save" disabled={!value.trim() || checking}>{checking ? t('key.checking') : t('key.save')}</button>
        </div>
      </form>
    </div>
  );
}

/** Asks the API whether it knows the key: /api/v1/stats answers 401 to an unknown one. */
async function checkKey(key: string): Promise<'ok' | 'refused' | 'unreachable'> {
  try {
    const res = await fetch('/api/v1/stats', { headers: { 'X-Api-Key': key, Accept: 'application/json' } });
    return res.status === 401 ? 'refused' : 'ok';
  } catch {
    return 'unreachable';
  }
}
