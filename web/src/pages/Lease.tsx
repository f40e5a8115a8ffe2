/**
 * One lease: terms, billing, access details and live logs. Access and logs come from the
 * provider agent; on an exchange without them the page says so instead of failing.
 */
import { useEffect, useRef, useState } from 'react';
import { api, ApiError } from '../api';
import { formatFen, formatTime } from '../format';
import { useAsync } from '../hooks';
import { useI18n } from '../i18n';
import { useChannel } from '../live';
import { Link } from '../router';
import { Empty, ErrorBox, Loaded, Price, Section } from '../ui';
import { LeasesTable, RequireUser } from './Account';

/** A fallback poll; lines normally arrive at once over the live feed (`lease_log` on `user`). */
const LOG_POLL_MS = 5_000;
const MAX_LINES = 2_000;

interface Shown {
  seq: number;
  text: string;
}

function Logs({ id, live }: { id: string; live: boolean }) {
  const { t } = useI18n();
  const [lines, setLines] = useState<Shown[] | undefined>(undefined);
  const [unsupported, setUnsupported] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const add = (more: Shown[]) =>
    setLines((prev) => {
      const last = prev?.[prev.length - 1]?.seq ?? 0;
      const fresh = more.filter((l) => l.seq > last);
      return fresh.length === 0 && prev ? prev : [...(prev ?? []), ...fresh].slice(-MAX_LINES);
    });
  const lastSeq = useRef(0);
  lastSeq.current = lines?.[lines.length - 1]?.seq ?? 0;
  useChannel(live ? 'user' : null, (m) => {
    const d = m.data as { type?: string; leaseId?: string; stream?: string; firstSeq?: number; lines?: string[] };
    if (m.type !== 'delta' || d.type !== 'lease_log' || d.leaseId !== id || !Array.isArray(d.lines) || typeof d.firstSeq !== 'number') return;
    if (d.firstSeq > lastSeq.current + 1) return; // a gap: the next poll fills it in order
    add(d.lines.map((line, i) => ({ seq: d.firstSeq! + i, text: `${d.stream === 'stdout' ? '' : `[${d.stream}] `}${line}` })));
  });
  useEffect(() => {
    let stop = false;
    let timer = 0;
    const poll = async () => {
      try {
        for (;;) {
          const r = await api.leaseLogs(id, lastSeq.current);
          if (stop) return;
          add(r.items.map((l) => ({ seq: l.seq, text: `${l.stream === 'stdout' ? '' : `[${l.stream}] `}${l.line}` })));
          lastSeq.current = Math.max(lastSeq.current, r.nextAfter);
          if (r.items.length < 500) break;
        }
        setError(undefined);
      } catch (e) {
        if (stop) return;
        if (e instanceof ApiError && e.code === 'NOT_FOUND') {
          setUnsupported(true);
          return;
        }
        setError(e);
      }
      if (live && !stop) timer = window.setTimeout(() => void poll(), LOG_POLL_MS);
    };
    void poll();
    return () => {
      stop = true;
      window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, live]);
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const el = pre.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight; // follow the tail unless scrolled up
  }, [lines]);
  if (unsupported) return <Empty>{t('logsUnsupported')}</Empty>;
  return (
    <>
      <ErrorBox error={error} />
      {lines === undefined ? null : lines.length === 0 ? (
        <Empty>{t('noLogs')}</Empty>
      ) : (
        <pre ref={pre} className="logs" tabIndex={0} aria-label={t('logs')} data-testid="lease-logs" aria-live="off">
          {lines.map((l) => l.text).join('\n')}
        </pre>
      )}
    </>
  );
}

function LeaseBody({ id }: { id: string }) {
  const { t, lang } = useI18n();
  const lease = useAsync(() => api.lease(id).then((r) => r.lease), [id]);
  useChannel('user', (m) => {
    const d = m.data as { leaseId?: string; type?: string };
    if (m.type === 'delta' && d.leaseId === id && d.type !== 'lease_log') lease.reload();
  });
  return (
    <Loaded state={lease}>
      {(l) => (
        <>
          <h1>
            {t('leaseTitle')} {l.id}
          </h1>
          <Section title={t('leaseTitle')}>
            <dl className="stats" data-testid="lease-summary">
              <div><dt>{t('colModel')}</dt><dd><Link to={`/markets/${encodeURIComponent(l.market)}`}>{l.market}</Link></dd></div>
              <div><dt>{t('node')}</dt><dd>{l.nodeId} · GPU {l.gpuIndices.join(', ')}</dd></div>
              <div><dt>{t('price')}</dt><dd><Price fen={l.priceFenPerGpuHour} acceleratorId={l.market.split('@')[0]} /></dd></div>
              <div><dt>{t('start')}</dt><dd>{formatTime(l.startAt, lang)}</dd></div>
              <div><dt>{t('end')}</dt><dd>{formatTime(l.endedAt ?? l.endAt, lang)}</dd></div>
              <div><dt>{t('state')}</dt><dd data-testid="lease-state">{l.state}</dd></div>
              {typeof l['attestation'] === 'string' ? (
                <div>
                  <dt>{t('attestation')}</dt>
                  <dd>
                    <span className={`badge ${l['attestation'] === 'verified' ? 'good' : 'bad'}`} data-attestation={l['attestation']}>
                      {l['attestation'] === 'verified' ? t('att_verified') : `⚠ ${l['attestation'] === 'mismatch' ? t('att_mismatch') : t('att_unverified')}`}
                    </span>
                  </dd>
                </div>
              ) : null}
              <div><dt>{t('charged')}</dt><dd>{formatFen(l.billing?.accruedFen ?? null)}</dd></div>
            </dl>
            {l.role === 'buyer' ? <LeasesTable leases={[l]} onEnded={lease.reload} /> : null}
          </Section>
          <Section title={t('access')}>
            {!('access' in l) ? (
              <Empty>{t('accessUnsupported')}</Empty>
            ) : l.access === null || l.access === undefined ? (
              <Empty>{t('accessNone')}</Empty>
            ) : (
              <>
              {l.access['kind'] === 'ssh' && typeof l.access['host'] === 'string' ? (
                <div className="command">
                  <pre tabIndex={0}>
                    <code data-testid="ssh-command">{`ssh -p ${String(l.access['port'] ?? 22)} ${String(l.access['user'] ?? 'root')}@${l.access['host']}`}</code>
                  </pre>
                </div>
              ) : null}
              <dl className="kv" data-testid="lease-access">
                {Object.entries(l.access).map(([k, v]) => (
                  <div key={k}>
                    <dt>{k}</dt>
                    <dd>
                      <code>{typeof v === 'string' ? v : JSON.stringify(v)}</code>
                    </dd>
                  </div>
                ))}
              </dl>
              </>
            )}
          </Section>
          <Section title={t('logs')}>
            {l.role === 'buyer' ? <Logs id={l.id} live={l.state === 'active' || l.state === 'provisioning' || l.state === 'pending'} /> : <Empty>{t('logsBuyerOnly')}</Empty>}
          </Section>
        </>
      )}
    </Loaded>
  );
}

export default function LeasePage({ id }: { id: string }) {
  return (
    <RequireUser>
      <LeaseBody id={id} />
    </RequireUser>
  );
}
