/** Log in or sign up (buyer or provider); the session is an http-only cookie. */
import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { useI18n } from '../i18n';
import { Link, navigate, useLocation } from '../router';
import { useSession } from '../session';
import { ErrorBox, Field } from '../ui';

const HOME = { buyer: '/capacity', provider: '/provider', admin: '/admin' } as const;

export default function AuthPage({ mode }: { mode: 'login' | 'signup' }) {
  const { t } = useI18n();
  const { setUser } = useSession();
  const { search } = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [role, setRole] = useState<'buyer' | 'provider'>(search.get('role') === 'provider' ? 'provider' : 'buyer');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const { user } = mode === 'login' ? await api.login(email, password) : await api.signup({ email, password, role, displayName });
      setUser(user);
      const next = search.get('next');
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : HOME[user.role]);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="narrow">
      <h1>{mode === 'login' ? t('login') : t('signup')}</h1>
      <form className="form card" onSubmit={submit} aria-label={mode === 'login' ? t('login') : t('signup')}>
        <Field label={t('email')}>{(id) => <input id={id} name="email" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} required />}</Field>
        <Field label={t('password')} hint={mode === 'signup' ? t('passwordHint') : undefined}>
          {(id) => (
            <input id={id} name="password" type="password" autoComplete={mode === 'login' ? 'current-password' : 'new-password'} minLength={mode === 'signup' ? 10 : 1} value={password} onChange={(e) => setPassword(e.target.value)} required />
          )}
        </Field>
        {mode === 'signup' ? (
          <>
            <Field label={t('displayName')}>{(id) => <input id={id} name="displayName" autoComplete="nickname" value={displayName} onChange={(e) => setDisplayName(e.target.value)} required />}</Field>
            <fieldset className="row">
              <legend>{t('role')}</legend>
              <label className="inline">
                <input type="radio" name="role" value="buyer" checked={role === 'buyer'} onChange={() => setRole('buyer')} /> {t('role_buyer')}
              </label>
              <label className="inline">
                <input type="radio" name="role" value="provider" checked={role === 'provider'} onChange={() => setRole('provider')} /> {t('role_provider')}
              </label>
            </fieldset>
          </>
        ) : null}
        <ErrorBox error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {mode === 'login' ? t('login') : t('signup')}
        </button>
        <p>{mode === 'login' ? <Link to="/signup">{t('noAccount')}</Link> : <Link to="/login">{t('haveAccount')}</Link>}</p>
      </form>
    </div>
  );
}
