/** Shared pieces: loading, empty and error states, prices in the chosen unit, form fields. */
import { useId, type ReactNode } from 'react';
import { errorText } from './api';
import { formatPrice } from './format';
import { useI18n } from './i18n';
import { useCatalog } from './session';

export function Loading({ label }: { label?: string }) {
  const { t } = useI18n();
  return (
    <p className="state loading" role="status" aria-live="polite">
      {label ?? t('loading')}
    </p>
  );
}

export function Empty({ children }: { children?: ReactNode }) {
  const { t } = useI18n();
  return <p className="state empty">{children ?? t('empty')}</p>;
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t, lang } = useI18n();
  if (error === undefined || error === null) return null;
  return (
    <div className="state error" role="alert">
      <span>{errorText(error, lang)}</span>
      {onRetry ? (
        <button type="button" className="link" onClick={onRetry}>
          {t('retry')}
        </button>
      ) : null}
    </div>
  );
}

export function Notice({ children }: { children: ReactNode }) {
  return (
    <div className="state ok" role="status">
      {children}
    </div>
  );
}

/** A price in fen per GPU-hour shown in the chosen unit (P-year needs the accelerator). */
export function Price({ fen, acceleratorId }: { fen: number | null | undefined; acceleratorId?: string }) {
  const { lang, unit } = useI18n();
  const { accelerators } = useCatalog();
  const tflops = acceleratorId ? accelerators.get(acceleratorId)?.fp16Tflops : undefined;
  return <span className="num">{formatPrice(fen, unit, lang, tflops)}</span>;
}

export function Field({ label, hint, children }: { label: string; hint?: string; children: (id: string) => ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        {hint ? <small> ({hint})</small> : null}
      </label>
      {children(id)}
    </div>
  );
}

export function Section({ title, children, actions, id }: { title: string; children: ReactNode; actions?: ReactNode; id?: string }) {
  const hid = useId();
  return (
    <section className="card" aria-labelledby={hid} id={id}>
      <header className="card-head">
        <h2 id={hid}>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** Standard wrapper: loading, error (with retry) or the content. */
export function Loaded<T>({ state, children, empty }: { state: { data: T | undefined; error: unknown; loading: boolean; reload: () => void }; children: (d: T) => ReactNode; empty?: (d: T) => boolean }) {
  if (state.data === undefined) {
    if (state.error !== undefined) return <ErrorBox error={state.error} onRetry={state.reload} />;
    return <Loading />;
  }
  return (
    <>
      {state.error !== undefined ? <ErrorBox error={state.error} onRetry={state.reload} /> : null}
      {empty?.(state.data) ? <Empty /> : children(state.data)}
    </>
  );
}

/**
 * The app's data table: `<table className="data">` with one header row and the body rows, inside
 * the scrolling `.table-wrap` (`short` caps its height; `none` leaves the table unwrapped).
 */
export function DataTable({ testId, head, children, wrap = 'tall', caption }: { testId: string; head: ReactNode; children: ReactNode; wrap?: 'tall' | 'short' | 'none'; caption?: string }) {
  const table = (
    <table className="data" data-testid={testId}>
      {caption === undefined ? null : <caption className="sr-only">{caption}</caption>}
      <thead>
        <tr>{head}</tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
  if (wrap === 'none') return table;
  return <div className={wrap === 'short' ? 'table-wrap short' : 'table-wrap'}>{table}</div>;
}
