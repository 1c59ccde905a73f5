import { useState, type FormEvent } from 'react';
import { apiKey } from '../api/client';
import { useAuth } from '../auth';
import { useI18n } from '../i18n';

export function ApiKeyDialog() {
  const { t } = useI18n();
  const { asking, setKey, closeAsk } = useAuth();
  const [value, setValue] = useState(() => apiKey.get() ?? '');
  if (!asking) return null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim()) setKey(value);
  };
  return (
    <div className="overlay" role="presentation">
      <form className="dialog key-dialog" role="dialog" aria-modal="true" aria-labelledby="key-title" onSubmit={submit}>
        <h2 id="key-title">{t('key.title')}</h2>
        <p>{t('key.prompt')}</p>
        <input
          type="password" autoFocus autoComplete="off" name="api-key" data-testid="api-key-input"
          placeholder={t('key.placeholder')} value={value} onChange={e => setValue(e.target.value)}
        />
        <div className="dialog-actions">
          <button type="button" className="secondary" onClick={closeAsk}>{t('key.cancel')}</button>
          <button type="submit" data-testid="api-key-save" disabled={!value.trim()}>{t('key.save')}</button>
        </div>
      </form>
    </div>
  );
}
