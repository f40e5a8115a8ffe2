/** The shell: header (navigation, language, price unit, account), then the page for the path. */
import { lazy, Suspense, useEffect, type ReactNode } from 'react';
import { PRICE_UNITS, type PriceUnit } from './format';
import { useI18n } from './i18n';
import { useFeedState } from './live';
import { Link, navigate, useLocation } from './router';
import { useSession } from './session';
import { Empty, Loading } from './ui';
import { MarketsPage } from './pages/Markets';

const MarketPage = lazy(() => import('./pages/Market'));
const CapacityPage = lazy(() => import('./pages/Capacity'));
const AuthPage = lazy(() => import('./pages/Auth'));
const AccountPage = lazy(() => import('./pages/Account'));
const LeasePage = lazy(() => import('./pages/Lease'));
const ProviderPage = lazy(() => import('./pages/Provider'));
const AdminPage = lazy(() => import('./pages/Admin'));
const CalculatorsPage = lazy(() => import('./pages/Calculators'));

function route(path: string): ReactNode {
  if (path === '/' || path === '/markets') return <MarketsPage />;
  const m = /^\/markets\/([^/]+)$/.exec(path);
  if (m) return <MarketPage market={decodeURIComponent(m[1]!)} />;
  const l = /^\/leases\/([^/]+)$/.exec(path);
  if (l) return <LeasePage id={decodeURIComponent(l[1]!)} />;
  switch (path) {
    case '/capacity':
      return <CapacityPage />;
    case '/login':
      return <AuthPage mode="login" />;
    case '/signup':
      return <AuthPage mode="signup" />;
    case '/account':
      return <AccountPage />;
    case '/provider':
      return <ProviderPage />;
    case '/admin':
      return <AdminPage />;
    case '/calculators':
      return <CalculatorsPage />;
    default:
      return <NotFound />;
  }
}

function NotFound() {
  const { t } = useI18n();
  return (
    <Empty>
      {t('notFound')} <Link to="/">{t('home')}</Link>
    </Empty>
  );
}

function Header() {
  const { t, lang, setLang, unit, setUnit } = useI18n();
  const { user, logout } = useSession();
  const { path } = useLocation();
  const feedState = useFeedState();
  const nav: [string, string][] = [
    ['/', t('navMarkets')],
    ['/capacity', t('navCapacity')],
    ['/calculators', t('navCalc')],
  ];
  if (user?.role === 'buyer') nav.push(['/account', t('navAccount')]);
  if (user?.role === 'provider') nav.push(['/provider', t('navProvider')], ['/account', t('navAccount')]);
  if (user?.role === 'admin') nav.push(['/admin', t('navAdmin')]);
  const current = (to: string) => (to === '/' ? path === '/' || path.startsWith('/markets') : path.startsWith(to));
  return (
    <header className="top">
      <a className="skip" href="#main">
        {t('skipToContent')}
      </a>
      <Link to="/" className="brand" aria-label={t('appName')}>
        <span className="logo" aria-hidden="true">
          算
        </span>
        <span>{t('appName')}</span>
      </Link>
      <nav aria-label="main">
        <ul>
          {nav.map(([to, label]) => (
            <li key={to}>
              <Link to={to} aria-current={current(to) ? 'page' : undefined}>
                {label}
              </Link>
            </li>
          ))}
          <li>
            <a href="/docs">{t('navApi')}</a>
          </li>
        </ul>
      </nav>
      <div className="controls">
        {/* The live feed's state, where the page shows live data (none on a page that needs none). */}
        {feedState === 'idle' ? null : (
          <span className={`dot ${feedState === 'live' ? 'up' : 'down'}`} title={feedState === 'live' ? t('live') : t('offline')} aria-hidden="true" />
        )}
        <label className="inline">
          <span className="sr-only">{t('priceUnit')}</span>
          <select value={unit} onChange={(e) => setUnit(e.target.value as PriceUnit)} aria-label={t('priceUnit')} data-testid="unit-switch">
            {PRICE_UNITS.map((u) => (
              <option key={u} value={u}>
                {t(`unit_${u}`)}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="lang" onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')} aria-label={t('language')} data-testid="lang-switch">
          {lang === 'zh' ? 'English' : '中文'}
        </button>
        {user === undefined ? null : user ? (
          <>
            <span className="who" data-testid="who">
              {user.displayName} · {t(`role_${user.role}`)}
            </span>
            <button
              type="button"
              onClick={() => {
                void logout().then(() => navigate('/'));
              }}
            >
              {t('logout')}
            </button>
          </>
        ) : (
          <>
            <Link to="/login">{t('login')}</Link>
            <Link to="/signup" className="button">
              {t('signup')}
            </Link>
          </>
        )}
      </div>
    </header>
  );
}

export function App() {
  const { path } = useLocation();
  const { t } = useI18n();
  useEffect(() => {
    document.title = t('appName');
  }, [t]);
  return (
    <>
      <Header />
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>{route(path)}</Suspense>
      </main>
    </>
  );
}
