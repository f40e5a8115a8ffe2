/**
 * Journey 2: the buyer's account — balances (live), orders, leases (end early → refund),
 * statement and vouchers. Providers see their balances and earnings here too.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { api, type Balances, type Lease } from '../api';
import { formatFen, formatNumber, formatTime, yuanOfFen } from '../format';
import { useAsync } from '../hooks';
import { useI18n, type Key } from '../i18n';
import { useChannel } from '../live';
import { Link } from '../router';
import { useSession } from '../session';
import { DataTable, Empty, ErrorBox, Loaded, Loading, Notice, Price, Section } from '../ui';

export function RequireUser({ roles, children }: { roles?: readonly string[]; children: ReactNode }) {
  const { t } = useI18n();
  const { user } = useSession();
  if (user === undefined) return <Loading />;
  if (user === null || (roles && !roles.includes(user.role))) {
    return (
      <div className="state empty">
        <Link to={`/login?next=${encodeURIComponent(location.pathname)}`}>{t('login')}</Link> · <Link to="/signup">{t('signup')}</Link>
      </div>
    );
  }
  return <>{children}</>;
}

/** Calls `f` at most once per `ms` after bursts of user-channel events. */
function useDebounced(f: () => void, ms: number): () => void {
  const timer = useRef<number | null>(null);
  const fn = useRef(f);
  fn.current = f;
  useEffect(() => () => {
    if (timer.current !== null) window.clearTimeout(timer.current);
  }, []);
  return () => {
    if (timer.current !== null) return;
    timer.current = window.setTimeout(() => {
      timer.current = null;
      fn.current();
    }, ms);
  };
}

const BALANCE_ROWS: [keyof Balances, Key][] = [
  ['cashFen', 'cash'],
  ['availableFen', 'available'],
  ['heldFen', 'held'],
  ['escrowFen', 'escrow'],
  ['voucherFen', 'voucher'],
  ['earningsFen', 'earnings'],
];

export function BalancesCard({ balances }: { balances: Balances }) {
  const { t } = useI18n();
  return (
    <dl className="stats" data-testid="balances">
      {BALANCE_ROWS.map(([k, label]) => (
        <div key={k} data-balance={k}>
          <dt>{t(label)}</dt>
          <dd className="num">{formatFen(balances[k])}</dd>
        </div>
      ))}
    </dl>
  );
}

export function StatementTable({ account }: { account: string }) {
  const { t, lang } = useI18n();
  const st = useAsync(() => api.statement(account), [account]);
  return (
    <Loaded state={st}>
      {(s) =>
        s.items.length === 0 ? (
          <Empty>{t('noLines')}</Empty>
        ) : (
          <>
            <p className="muted small">
              {t('opening')} {formatFen(s.openingBalanceFen)} · {t('closing')} <span data-testid="statement-closing">{formatFen(s.closingBalanceFen)}</span>
            </p>
            <DataTable
              testId={`statement-${account}`}
              wrap="short"
              head={
                <>
                  <th scope="col">{t('time')}</th>
                  <th scope="col">{t('code')}</th>
                  <th scope="col">{t('counterparty')}</th>
                  <th scope="col" className="r">{t('credit')}</th>
                  <th scope="col" className="r">{t('debit')}</th>
                  <th scope="col" className="r">{t('balance')}</th>
                </>
              }
            >
              {[...s.items].reverse().map((l) => (
                <tr key={`${l.seq}-${l.transferId}`} data-code={l.code}>
                  <td>{formatTime(l.at, lang)}</td>
                  <td>{l.code}</td>
                  <td><small>{l.counterparty}</small></td>
                  <td className="r">{l.creditFen === '0' ? '' : formatFen(l.creditFen)}</td>
                  <td className="r">{l.debitFen === '0' ? '' : formatFen(l.debitFen)}</td>
                  <td className="r">{formatFen(l.balanceFen)}</td>
                </tr>
              ))}
            </DataTable>
          </>
        )
      }
    </Loaded>
  );
}

export function LeasesTable({ leases, onEnded }: { leases: Lease[]; onEnded?: () => void }) {
  const { t, lang } = useI18n();
  const [error, setError] = useState<unknown>(undefined);
  const [ended, setEnded] = useState<{ id: string; refundFen: string; slaCreditFen: string } | null>(null);
  const end = async (l: Lease) => {
    if (!window.confirm(t('confirmEnd'))) return;
    setError(undefined);
    try {
      const r = await api.endLease(l.id);
      setEnded({ id: l.id, refundFen: r.refundFen, slaCreditFen: r.slaCreditFen });
      onEnded?.();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <ErrorBox error={error} />
      {ended ? (
        <Notice>
          <span data-testid="lease-ended" data-lease={ended.id} data-refund={ended.refundFen}>
            {t('ended')} {ended.id}: {t('refund')} {formatFen(ended.refundFen)}
            {ended.slaCreditFen !== '0' ? ` · ${t('slaCredit')} ${formatFen(ended.slaCreditFen)}` : ''}
          </span>
        </Notice>
      ) : null}
      {leases.length === 0 ? (
        <Empty>{t('noLeases')}</Empty>
      ) : (
        <DataTable
          testId="leases-table"
          head={
            <>
              <th scope="col">{t('leaseTitle')}</th>
              <th scope="col">{t('colModel')}</th>
              <th scope="col" className="r">{t('gpus')}</th>
              <th scope="col" className="r">{t('price')}</th>
              <th scope="col">{t('start')}</th>
              <th scope="col">{t('end')}</th>
              <th scope="col">{t('state')}</th>
              <th scope="col" className="r">{t('charged')}</th>
              <th scope="col"><span className="sr-only">{t('endEarly')}</span></th>
            </>
          }
        >
          {leases.map((l) => (
            <tr key={l.id} data-lease={l.id} data-state={l.state}>
              <th scope="row"><Link to={`/leases/${encodeURIComponent(l.id)}`}>{l.id}</Link></th>
              <td>{l.market}</td>
              <td className="r">{l.gpuIndices.length}</td>
              <td className="r"><Price fen={l.priceFenPerGpuHour} acceleratorId={l.market.split('@')[0]} /></td>
              <td>{formatTime(l.startAt, lang)}</td>
              <td>{formatTime(l.endedAt ?? l.endAt, lang)}</td>
              <td>{l.state}{l.endReason ? ` (${l.endReason})` : ''}</td>
              <td className="r">{formatFen(l.billing?.accruedFen ?? null)}</td>
              <td>
                {l.state === 'active' || l.state === 'pending' || l.state === 'provisioning' ? (
                  <button type="button" onClick={() => void end(l)} aria-label={`${t('endEarly')} ${l.id}`}>
                    {t('endEarly')}
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}

function AccountBody() {
  const { t, lang } = useI18n();
  const { user } = useSession();
  const role = user?.role === 'provider' ? 'provider' : 'buyer';
  const balances = useAsync(() => api.balances(), []);
  const orders = useAsync(() => api.orders({ limit: 50 }), []);
  const leases = useAsync(() => api.leases({ role, limit: 50 }), [role]);
  const vouchers = useAsync(() => api.vouchers(), []);
  const [account, setAccount] = useState(role === 'provider' ? 'earnings' : 'cash');
  const [stTick, setStTick] = useState(0);
  const [cancelError, setCancelError] = useState<unknown>(undefined);
  const refresh = useDebounced(() => {
    orders.reload();
    leases.reload();
    setStTick((n) => n + 1);
  }, 300);
  useChannel('user', (m) => {
    const d = m.data as { type?: string; balances?: Balances } & Partial<Balances>;
    if (m.type === 'snapshot' && d.balances) balances.set(() => ({ ...d.balances!, display: {} }));
    else if (d.type === 'balance') balances.set(() => ({ ...(d as Balances), display: {} }));
    else refresh();
  });
  const cancel = async (id: string) => {
    setCancelError(undefined);
    try {
      await api.cancelOrder(id);
      orders.reload();
      balances.reload();
    } catch (e) {
      setCancelError(e);
    }
  };
  return (
    <>
      <h1>{t('accountTitle')}</h1>
      <Section title={t('balances')}>
        <Loaded state={balances}>{(b) => <BalancesCard balances={b} />}</Loaded>
      </Section>
      <Section title={t('orders')}>
        <ErrorBox error={cancelError} />
        <Loaded state={orders}>
          {(p) =>
            p.items.length === 0 ? (
              <Empty>{t('noOrders')}</Empty>
            ) : (
              <DataTable
                testId="orders-table"
                wrap="short"
                head={
                  <>
                    <th scope="col">{t('orders')}</th>
                    <th scope="col">{t('colModel')}</th>
                    <th scope="col" className="r">{t('limit')}</th>
                    <th scope="col" className="r">{t('remaining')}</th>
                    <th scope="col">{t('status')}</th>
                    <th scope="col" className="r">{t('holdActual')}</th>
                    <th scope="col">{t('time')}</th>
                    <th scope="col"><span className="sr-only">{t('cancel')}</span></th>
                  </>
                }
              >
                {p.items.map((o) => (
                  <tr key={o.id} data-order={o.id} data-status={o.status}>
                    <th scope="row">{o.id} <small className="muted">{o.side}</small></th>
                    <td><small>{o.markets.join(', ')}</small></td>
                    <td className="r">{o.priceUnit === 'fen_per_p_hour' ? `¥${yuanOfFen(o.priceFen)}/P·h` : <Price fen={o.priceFen} acceleratorId={o.markets[0]?.split('@')[0]} />}</td>
                    <td className="r">{o.remainingUnit === 'deci_tflops' ? `${formatNumber(o.remaining / 10_000, 4)} P` : o.remaining}</td>
                    <td>{o.status}</td>
                    <td className="r">{formatFen(o.holdFen)}</td>
                    <td>{formatTime(o.createdAt, lang)}</td>
                    <td>
                      {o.status === 'active' ? (
                        <button type="button" onClick={() => void cancel(o.id)} aria-label={`${t('cancel')} ${o.id}`}>
                          {t('cancel')}
                        </button>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </DataTable>
            )
          }
        </Loaded>
      </Section>
      <Section title={t('leases')}>
        <Loaded state={leases}>{(p) => <LeasesTable leases={p.items} onEnded={() => { leases.reload(); balances.reload(); setStTick((n) => n + 1); }} />}</Loaded>
      </Section>
      <Section
        title={t('statement')}
        actions={
          <label className="inline">
            {t('account')}{' '}
            <select value={account} onChange={(e) => setAccount(e.target.value)} data-testid="statement-account">
              <option value="cash">{t('cash')}</option>
              <option value="escrow">{t('escrow')}</option>
              <option value="earnings">{t('earnings')}</option>
              <option value="voucher_escrow">{t('voucher')}</option>
            </select>
          </label>
        }
      >
        <StatementTable key={`${account}-${stTick}`} account={account} />
      </Section>
      <Section title={t('vouchers')}>
        <Loaded state={vouchers}>
          {(v) =>
            v.items.length === 0 ? (
              <Empty>{t('noVouchers')}</Empty>
            ) : (
              <DataTable
                testId="vouchers-table"
                wrap="none"
                head={
                  <>
                    <th scope="col">{t('programme')}</th>
                    <th scope="col" className="r">{t('amount')}</th>
                    <th scope="col" className="r">{t('balance')}</th>
                    <th scope="col">{t('expires')}</th>
                    <th scope="col">{t('scope')}</th>
                  </>
                }
              >
                {v.items.map((g) => (
                  <tr key={g.grantId} data-grant={g.grantId}>
                    <th scope="row">{g.programmeId}</th>
                    <td className="r">{formatFen(g.amountFen)}</td>
                    <td className="r">{formatFen(g.balanceFen)}</td>
                    <td>{formatTime(g.expiresAt, lang)}{g.expired ? ` (${t('expired')})` : ''}</td>
                    <td><small>{[...(g.scope.acceleratorIds ?? []), ...(g.scope.regionIds ?? [])].join(', ') || t('any')}</small></td>
                  </tr>
                ))}
              </DataTable>
            )
          }
        </Loaded>
      </Section>
    </>
  );
}

export default function AccountPage() {
  return (
    <RequireUser roles={['buyer', 'provider']}>
      <AccountBody />
    </RequireUser>
  );
}
