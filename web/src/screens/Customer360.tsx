import { useRef, useState, type FormEvent } from 'react';
import { parseSubscriberQuery } from '../api/client';
import { Customer360Modal, type SubscriberRef } from '../components/Customer360Modal';
import { useI18n } from '../i18n';

export function Customer360Screen() {
  const { t } = useI18n();
  const [query, setQuery] = useState('');
  const [invalid, setInvalid] = useState(false);
  const [open, setOpen] = useState<{ ref: SubscriberRef; at: number; typed: string } | null>(null);
  const input = useRef<HTMLInputElement>(null);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const ref = parseSubscriberQuery(query);
    setInvalid(!ref);
    if (ref) setOpen({ ref, at: performance.now(), typed: query });
  };

  return (
    <section className="screen" aria-labelledby="c360-h">
      <h1 id="c360-h">{t('c360.title')}</h1>
      <form className="search" onSubmit={submit} role="search">
        <input
          ref={input} type="search" name="q" data-testid="c360-query" value={query} autoFocus
          placeholder={t('c360.placeholder')} aria-label={t('c360.placeholder')} aria-invalid={invalid}
          onChange={e => { setQuery(e.target.value); setInvalid(false); }}
        />
        <button type="submit" data-testid="c360-search">{t('c360.search')}</button>
      </form>
      <p className={invalid ? 'field-error' : 'muted'} role={invalid ? 'alert' : undefined}>
        {invalid ? t('c360.invalid') : t('c360.hint')}
      </p>
      {open && <Customer360Modal subscriber={open.ref} startedAt={open.at} onClose={() => setOpen(null)} returnFocusTo={input} typed={open.typed} />}
    </section>
  );
}
