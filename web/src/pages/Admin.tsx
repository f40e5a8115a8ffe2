/**
 * Journey 4: the operator — credit cash, fund a sponsor programme and grant vouchers, set the
 * platform fee, halt and resume markets, users and system health.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, type User } from '../api';
import { formatTime, parseYuanToFen } from '../format';
import { useAsync } from '../hooks';
import { useI18n, type Key } from '../i18n';
import { DataTable, ErrorBox, Field, Loaded, Notice, Section } from '../ui';
import { RequireUser } from './Account';
import { useMarkets } from './Markets';

/** A form that runs `action` and shows its outcome in words. */
function ActionForm({ label, submitKey, action, children, testId }: { label: string; submitKey: Key; action: () => Promise<string>; children: ReactNode; testId: string }) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setDone(null);
    try {
      setDone(await action());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="form" onSubmit={submit} aria-label={label} data-testid={testId}>
      <div className="grid">{children}</div>
      <ErrorBox error={error} />
      <button type="submit" className="primary" disabled={busy}>
        {t(submitKey)}
      </button>
      {done ? (
        <Notice>
          <span data-testid={`${testId}-done`}>{done}</span>
        </Notice>
      ) : null}
    </form>
  );
}

function UserSelect({ id, users, value, onChange }: { id: string; users: User[]; value: string; onChange: (v: string) => void }) {
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)} name="user">
      <option value="" />
      {users.map((u) => (
        <option key={u.id} value={u.id}>{`${u.email} (${u.role})`}</option>
      ))}
    </select>
  );
}

function AdminBody() {
  const { t, lang } = useI18n();
  const users = useAsync(() => api.users().then((r) => r.items), []);
  const markets = useMarkets();
  const health = useAsync(() => api.readyz(), []);
  const [depUser, setDepUser] = useState('');
  const [depAmount, setDepAmount] = useState('1000');
  const [programmeId, setProgrammeId] = useState('shanghai-sme-2026');
  const [progAmount, setProgAmount] = useState('100000');
  const [vUser, setVUser] = useState('');
  const [vAmount, setVAmount] = useState('500');
  const [vDays, setVDays] = useState('30');
  const [feeBps, setFeeBps] = useState('500');
  const feeNow = useAsync(() => api.fee(), []);
  const [haltError, setHaltError] = useState<unknown>(undefined);
  const fen = (yuan: string): string => {
    const f = parseYuanToFen(yuan);
    if (f === null) throw new Error(lang === 'zh' ? '金额无效' : 'invalid amount');
    return String(f);
  };
  const u = users.data ?? [];
  const [userError, setUserError] = useState<unknown>(undefined);
  const toggleUser = async (x: User): Promise<void> => {
    setUserError(undefined);
    try {
      await api.setUserDisabled(x.id, !x.disabledAt);
      users.reload();
    } catch (e) {
      setUserError(e);
    }
  };
  return (
    <>
      <h1>{t('adminTitle')}</h1>
      <div className="cols">
        <Section title={t('creditCash')}>
          <ActionForm
            label={t('creditCash')}
            submitKey="credit_"
            testId="deposit"
            action={async () => {
              const r = await api.deposit(depUser, fen(depAmount));
              return `${t('credited')} ¥${depAmount} → ${u.find((x) => x.id === depUser)?.email ?? depUser} (${r.transferId})`;
            }}
          >
            <Field label={t('user')}>{(id) => <UserSelect id={id} users={u} value={depUser} onChange={setDepUser} />}</Field>
            <Field label={t('amountYuan')}>{(id) => <input id={id} name="amount" inputMode="decimal" value={depAmount} onChange={(e) => setDepAmount(e.target.value)} />}</Field>
          </ActionForm>
        </Section>
        <Section title={t('fee')}>
          <ActionForm
            label={t('fee')}
            submitKey="setFee"
            testId="fee"
            action={async () => {
              const r = await api.setFee(Number(feeBps));
              feeNow.reload();
              return `${t('feeSet')}: ${r.feeBps} bps (${(r.feeBps / 100).toFixed(2)}%)`;
            }}
          >
            <Field label={t('feeBps')}>{(id) => <input id={id} name="feeBps" inputMode="numeric" value={feeBps} onChange={(e) => setFeeBps(e.target.value)} />}</Field>
          </ActionForm>
          <p className="muted small" data-testid="fee-now">
            {t('feeNow')}: {feeNow.data ? `${feeNow.data.feeBps} bps (${(feeNow.data.feeBps / 100).toFixed(2)}%)` : '—'}
          </p>
        </Section>
      </div>
      <Section title={t('sponsor')}>
        <div className="cols">
          <ActionForm
            label={t('fund')}
            submitKey="fund"
            testId="programme"
            action={async () => {
              await api.fundProgramme(programmeId, fen(progAmount));
              return `${t('funded')}: ${programmeId} ¥${progAmount}`;
            }}
          >
            <Field label={t('programmeId')}>{(id) => <input id={id} name="programmeId" value={programmeId} onChange={(e) => setProgrammeId(e.target.value)} />}</Field>
            <Field label={t('amountYuan')}>{(id) => <input id={id} name="amount" inputMode="decimal" value={progAmount} onChange={(e) => setProgAmount(e.target.value)} />}</Field>
          </ActionForm>
          <ActionForm
            label={t('grant')}
            submitKey="grant"
            testId="voucher"
            action={async () => {
              const expiresAt = new Date(Date.now() + Number(vDays) * 86_400_000).toISOString();
              const r = await api.grantVoucher({ programmeId, userId: vUser, amountFen: fen(vAmount), expiresAt });
              return `${t('granted')}: ${r.grantId} ¥${vAmount} → ${u.find((x) => x.id === vUser)?.email ?? vUser}`;
            }}
          >
            <Field label={t('user')}>{(id) => <UserSelect id={id} users={u} value={vUser} onChange={setVUser} />}</Field>
            <Field label={t('amountYuan')}>{(id) => <input id={id} name="amount" inputMode="decimal" value={vAmount} onChange={(e) => setVAmount(e.target.value)} />}</Field>
            <Field label={t('expiresDays')}>{(id) => <input id={id} name="days" inputMode="numeric" value={vDays} onChange={(e) => setVDays(e.target.value)} />}</Field>
          </ActionForm>
        </div>
      </Section>
      <Section title={t('halts')}>
        <ErrorBox error={haltError} />
        <Loaded state={markets}>
          {(ms) => (
            <table className="data" data-testid="halts-table">
              <tbody>
                {ms.map((m) => (
                  <tr key={m.market} data-market={m.market} data-halted={String(m.halted)}>
                    <th scope="row">{m.market}</th>
                    <td>{m.halted ? <span className="badge warn">{t('halted')}</span> : '—'}</td>
                    <td>
                      <button
                        type="button"
                        aria-label={`${m.halted ? t('resume') : t('halt')} ${m.market}`}
                        onClick={() => {
                          setHaltError(undefined);
                          api.halt(m.market, !m.halted).then(markets.reload, setHaltError);
                        }}
                      >
                        {m.halted ? t('resume') : t('halt')}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Loaded>
      </Section>
      <div className="cols">
        <Section title={t('users')}>
          <ErrorBox error={userError} />
          <Loaded state={users}>
            {(items) => (
              <DataTable
                testId="users-table"
                wrap="short"
                head={
                  <>
                    <th scope="col">{t('email')}</th>
                    <th scope="col">{t('role')}</th>
                    <th scope="col">{t('created')}</th>
                    <th scope="col">{t('accountState')}</th>
                  </>
                }
              >
                {items.map((x) => (
                  <tr key={x.id} data-user={x.id}>
                    <th scope="row">{x.email}</th>
                    <td>{t(`role_${x.role}`)}</td>
                    <td>{formatTime(x.createdAt, lang)}</td>
                    <td data-disabled={x.disabledAt ? 'true' : 'false'}>
                      {x.disabledAt ? t('disabledState') : t('active')}{' '}
                      {x.role === 'admin' ? null : (
                        <button type="button" className="small" aria-label={`${x.disabledAt ? t('enable') : t('disable')} ${x.email}`} onClick={() => void toggleUser(x)}>
                          {x.disabledAt ? t('enable') : t('disable')}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </DataTable>
            )}
          </Loaded>
        </Section>
        <Section title={t('systemHealth')} actions={<button type="button" onClick={health.reload}>{t('retry')}</button>}>
          <Loaded state={health}>
            {(h) => (
              <dl className="kv" data-testid="health">
                <div><dt>/readyz</dt><dd className={h.status === 'ready' ? 'good-text' : 'bad-text'}>{h.status === 'ready' ? t('ready') : `${t('notReady')} ${h.reason ?? ''}`}</dd></div>
                <div><dt>{t('journalSeq')}</dt><dd>{h.journalSeq}</dd></div>
                <div><dt>/metrics</dt><dd><a href="/metrics">Prometheus</a></dd></div>
              </dl>
            )}
          </Loaded>
        </Section>
      </div>
    </>
  );
}

export default function AdminPage() {
  return (
    <RequireUser roles={['admin']}>
      <AdminBody />
    </RequireUser>
  );
}
