/**
 * Journey 3: the provider — connect servers with the agent (one-time token and the exact
 * command), see servers with health, utilisation and attestation, post an ask with the market's
 * best prices and the reference prices beside the form, earnings, and payback with their numbers.
 * The agent fields (enrollment tokens, attestation, GPU health) show when the exchange has them.
 */
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { api, ApiError, type EnrollmentToken, type GpuHealth, type NodeInfo, type Placement } from '../api';
import { formatNumber, formatTime, parseYuanToFen } from '../format';
import { useAsync } from '../hooks';
import { useI18n } from '../i18n';
import { referenceFor } from '../reference';
import { useCatalog } from '../session';
import { DataTable, Empty, ErrorBox, Field, Loaded, Notice, Price, Section } from '../ui';
import { BalancesCard, RequireUser, StatementTable } from './Account';
import { CalcForm } from './Calculators';
import { useMarkets } from './Markets';

function CopyButton({ text }: { text: string }) {
  const { t } = useI18n();
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(
          () => setDone(true),
          () => setDone(false),
        );
      }}
    >
      {done ? t('copied') : t('copy')}
    </button>
  );
}

function Enrollment() {
  const { t, lang } = useI18n();
  const { regions, accelerators } = useCatalog();
  const tokens = useAsync(() => api.enrollmentTokens().then((r) => r.items), []);
  const unsupported = tokens.error instanceof ApiError && tokens.error.code === 'NOT_FOUND';
  const [regionId, setRegionId] = useState('cn-beijing');
  const [acceleratorId, setAcceleratorId] = useState('');
  const [gpuCount, setGpuCount] = useState('');
  const [label, setLabel] = useState('');
  const [created, setCreated] = useState<EnrollmentToken | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await api.createEnrollmentToken({ regionId, ...(acceleratorId ? { acceleratorId } : {}), ...(gpuCount ? { gpuCount: Number(gpuCount) } : {}), ...(label ? { label } : {}) });
      setCreated(r);
      tokens.reload();
    } catch (err) {
      setError(err);
    }
  };
  if (unsupported) return <Section title={t('enroll')}><Empty>{t('enrollUnsupported')}</Empty></Section>;
  return (
    <Section title={t('enroll')}>
      <p className="muted">{t('enrollHelp')}</p>
      <form className="form" onSubmit={submit} data-testid="enroll-form">
        <div className="grid">
          <Field label={t('colRegion')}>
            {(id) => (
              <select id={id} value={regionId} onChange={(e) => setRegionId(e.target.value)}>
                {[...regions.values()].map((r) => (
                  <option key={r.id} value={r.id}>{lang === 'zh' ? r.nameZh : r.name}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label={t('colModel')}>
            {(id) => (
              <select id={id} value={acceleratorId} onChange={(e) => setAcceleratorId(e.target.value)}>
                <option value="">{t('any')}</option>
                {[...accelerators.values()].map((a) => (
                  <option key={a.id} value={a.id}>{a.name}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label={t('gpuCount')}>{(id) => <input id={id} inputMode="numeric" value={gpuCount} onChange={(e) => setGpuCount(e.target.value)} />}</Field>
          <Field label={t('label')}>{(id) => <input id={id} value={label} onChange={(e) => setLabel(e.target.value)} />}</Field>
        </div>
        <ErrorBox error={error} />
        <button type="submit" className="primary">{t('createToken')}</button>
      </form>
      {created?.command ? (
        <div className="command" data-testid="enroll-command">
          <pre tabIndex={0}><code>{created.command}</code></pre>
          <CopyButton text={created.command} />
          <p className="muted small">{t('expires')}: {formatTime(created.expiresAt, lang)}</p>
        </div>
      ) : null}
      <h3>{t('tokens')}</h3>
      <Loaded state={tokens}>
        {(items) =>
          items.length === 0 ? (
            <Empty />
          ) : (
            <DataTable
              testId="tokens-table"
              wrap="none"
              head={
                <>
                  <th scope="col">{t('label')}</th>
                  <th scope="col">{t('colRegion')}</th>
                  <th scope="col">{t('colModel')}</th>
                  <th scope="col">{t('expires')}</th>
                  <th scope="col">{t('status')}</th>
                </>
              }
            >
              {items.map((k, i) => (
                <tr key={k.id ?? k.token ?? i}>
                  <td>{k.label || k.id || '—'}</td>
                  <td>{k.regionId ?? '—'}</td>
                  <td>{k.acceleratorId ?? t('any')}</td>
                  <td>{formatTime(k.expiresAt, lang)}</td>
                  <td>{k.usedAt ? String(k.usedAt) : '—'}</td>
                </tr>
              ))}
            </DataTable>
          )
        }
      </Loaded>
    </Section>
  );
}

function gpuUtil(g: GpuHealth): number | undefined {
  const v = g.utilizationPct ?? g.utilisationPct ?? (typeof g['utilization'] === 'number' ? (g['utilization'] as number) : undefined);
  return typeof v === 'number' ? v : undefined;
}

export function AttestationBadge({ node }: { node: NodeInfo }) {
  const { t } = useI18n();
  const a = node.attestation;
  if ((a === undefined || a === null) && node.unverified !== true) return <span className="muted">{node.kind === 'agent' ? t('att_none') : '—'}</span>;
  const flagged = node.unverified === true || a === 'unverified' || a === 'mismatch';
  const label = a === 'verified' ? t('att_verified') : a === 'mismatch' ? t('att_mismatch') : a === 'unverified' || node.unverified ? t('att_unverified') : t('att_none');
  return (
    <span
      className={`badge ${flagged ? 'bad' : a === 'verified' ? 'good' : ''}`}
      data-attestation={a ?? (node.unverified ? 'unverified' : 'none')}
      title={[flagged ? t('fakeGpu') : '', ...(Array.isArray(node['attestationReasons']) ? (node['attestationReasons'] as string[]) : [])].filter(Boolean).join(' · ') || undefined}
    >
      {flagged ? '⚠ ' : ''}
      {label}
    </span>
  );
}

function NodesTable({ nodes }: { nodes: NodeInfo[] }) {
  const { t } = useI18n();
  if (nodes.length === 0) return <Empty>{t('noNodes')}</Empty>;
  return (
    <DataTable
      testId="nodes-table"
      head={
        <>
          <th scope="col">{t('node')}</th>
          <th scope="col">{t('colModel')}</th>
          <th scope="col" className="r">{t('gpus')}</th>
          <th scope="col">{t('kind')}</th>
          <th scope="col">{t('status')}</th>
          <th scope="col">{t('attestation')}</th>
          <th scope="col">{t('health')} / {t('utilisation')}</th>
        </>
      }
    >
      {nodes.map((n) => (
        <tr key={n.id} data-node={n.id} data-kind={n.kind}>
          <th scope="row"><small>{n.id}</small></th>
          <td>{n.market}</td>
          <td className="r">{n.gpuCount}</td>
          <td>{n.kind === 'manual' || n.kind === 'offline' || n.kind === 'agent' ? t(`kind_${n.kind}`) : n.kind}</td>
          <td>
            {n.status}
            {n.online === undefined || n.online === null ? null : (
              <span className={`badge ${n.online ? 'good' : 'bad'}`} data-online={String(n.online)}>
                {n.online ? t('online') : t('nodeOffline')}
              </span>
            )}
          </td>
          <td>
            <AttestationBadge node={n} />
            {n.unverified === true ? (
              <div className="small bad-text" data-testid="attestation-reasons">
                {Array.isArray(n['attestationReasons']) && (n['attestationReasons'] as string[]).length > 0 ? (n['attestationReasons'] as string[]).join('; ') : t('fakeGpu')}
              </div>
            ) : null}
          </td>
          <td>
            {Array.isArray(n.gpus) && n.gpus.length > 0 ? (
              <ul className="gpus">
                {n.gpus.map((g, i) => {
                  const u = gpuUtil(g);
                  const healthy = g.healthy ?? (g.health === undefined ? undefined : g.health === 'ok' || g.health === 'healthy');
                  return (
                    <li key={g.index ?? i} className={healthy === false ? 'bad' : ''}>
                      GPU {g.index ?? i}: {healthy === false ? '✗' : '✓'} {u === undefined ? '' : `${formatNumber(u)}%`}
                      {typeof g.temperatureC === 'number' ? ` ${g.temperatureC}°C` : ''}
                    </li>
                  );
                })}
              </ul>
            ) : (
              <span className="muted">{n.kind === 'agent' ? t('noAgentData') : '—'}</span>
            )}
          </td>
        </tr>
      ))}
    </DataTable>
  );
}

function AddNode({ onAdded }: { onAdded: () => void }) {
  const { t, lang } = useI18n();
  const { regions, accelerators } = useCatalog();
  const [acceleratorId, setAcceleratorId] = useState('nvidia-a100-sxm4-40g');
  const [regionId, setRegionId] = useState('cn-beijing');
  const [gpuCount, setGpuCount] = useState('8');
  const [kind, setKind] = useState<'manual' | 'offline'>('manual');
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      await api.createNode({ acceleratorId, regionId, gpuCount: Number(gpuCount), kind });
      onAdded();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="form" onSubmit={submit} aria-label={t('addNode')} data-testid="add-node">
      <h3>{t('addNode')}</h3>
      <div className="grid">
        <Field label={t('colModel')}>
          {(id) => (
            <select id={id} name="acceleratorId" value={acceleratorId} onChange={(e) => setAcceleratorId(e.target.value)}>
              {[...accelerators.values()].map((a) => (
                <option key={a.id} value={a.id}>{a.name}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('colRegion')}>
          {(id) => (
            <select id={id} name="regionId" value={regionId} onChange={(e) => setRegionId(e.target.value)}>
              {[...regions.values()].map((r) => (
                <option key={r.id} value={r.id}>{lang === 'zh' ? r.nameZh : r.name}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('gpuCount')}>{(id) => <input id={id} name="gpuCount" inputMode="numeric" value={gpuCount} onChange={(e) => setGpuCount(e.target.value)} />}</Field>
        <Field label={t('kind')}>
          {(id) => (
            <select id={id} name="kind" value={kind} onChange={(e) => setKind(e.target.value as typeof kind)}>
              <option value="manual">{t('kind_manual')}</option>
              <option value="offline">{t('kind_offline')}</option>
            </select>
          )}
        </Field>
      </div>
      <ErrorBox error={error} />
      <button type="submit">{t('register')}</button>
    </form>
  );
}

function AskForm({ nodes, onPosted }: { nodes: NodeInfo[]; onPosted: (price: number, node: NodeInfo) => void }) {
  const { t } = useI18n();
  const markets = useMarkets();
  const [nodeId, setNodeId] = useState(nodes[0]?.id ?? '');
  const node = nodes.find((n) => n.id === nodeId) ?? nodes[0];
  const [price, setPrice] = useState('');
  const [sellUnit, setSellUnit] = useState<'gpu' | 'node'>('gpu');
  const [minHours, setMinHours] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [posted, setPosted] = useState<Placement | null>(null);
  const summary = markets.data?.find((m) => m.market === node?.market);
  const ref = node ? referenceFor(node.acceleratorId) : undefined;
  if (!node) return <Empty>{t('noNodes')}</Empty>;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    const fen = parseYuanToFen(price);
    if (fen === null) {
      setError(new ApiError(400, 'INVALID_PRICE', 'price'));
      return;
    }
    try {
      const p = await api.placeAsk({ nodeIds: [node.id], priceFenPerGpuHour: fen, unit: sellUnit, ...(minHours ? { minHours: Number(minHours) } : {}) });
      setPosted(p);
      onPosted(fen, node);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div className="cols">
      <form className="form" onSubmit={submit} aria-label={t('postAsk')} data-testid="ask-form">
        <div className="grid">
          <Field label={t('askNodes')}>
            {(id) => (
              <select id={id} name="node" value={node.id} onChange={(e) => setNodeId(e.target.value)}>
                {nodes.map((n) => (
                  <option key={n.id} value={n.id}>{`${n.id} · ${n.market} · ${n.gpuCount} GPU`}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label={t('askPrice')}>{(id) => <input id={id} name="price" inputMode="decimal" value={price} onChange={(e) => setPrice(e.target.value)} required />}</Field>
          <Field label={t('askUnit')}>
            {(id) => (
              <select id={id} name="unit" value={sellUnit} onChange={(e) => setSellUnit(e.target.value as typeof sellUnit)}>
                <option value="gpu">{t('unit_gpu')}</option>
                <option value="node">{t('unit_node')}</option>
              </select>
            )}
          </Field>
          <Field label={t('minHours')}>{(id) => <input id={id} name="minHours" inputMode="numeric" value={minHours} onChange={(e) => setMinHours(e.target.value)} />}</Field>
        </div>
        <ErrorBox error={error} />
        <button type="submit" className="primary">{t('postAsk')}</button>
        {posted ? (
          <Notice>
            <span data-testid="ask-result" data-order={posted.order.id}>
              {t('askPosted')}: {posted.order.id} · {posted.order.status}
              {posted.trades.length > 0 ? ` · ${t('traded')} ${posted.trades.reduce((a, x) => a + x.gpus, 0)} ${t('gpus')}` : ''}
            </span>
          </Notice>
        ) : null}
      </form>
      <aside className="aside" aria-label={t('marketBest')} data-testid="ask-context">
        <h3>{t('marketBest')} · {node.market}</h3>
        <dl className="kv">
          <div><dt>{t('colBestBid')}</dt><dd data-testid="ctx-bid"><Price fen={summary?.bestBidFen} acceleratorId={node.acceleratorId} /></dd></div>
          <div><dt>{t('colBestAsk')}</dt><dd data-testid="ctx-ask"><Price fen={summary?.bestAskFen} acceleratorId={node.acceleratorId} /></dd></div>
          <div><dt>{t('colLast')}</dt><dd><Price fen={summary?.lastTradeFen} acceleratorId={node.acceleratorId} /></dd></div>
        </dl>
        <h3>{t('reference')}</h3>
        {ref ? (
          <dl className="kv" data-testid="ctx-reference">
            <div><dt>{ref.label}</dt><dd><Price fen={Math.round(ref.meanYuan * 100)} acceleratorId={node.acceleratorId} /></dd></div>
            {Object.entries(ref.vendors).map(([v, p]) => (
              <div key={v}><dt>{v}</dt><dd><Price fen={Math.round(p * 100)} acceleratorId={node.acceleratorId} /></dd></div>
            ))}
          </dl>
        ) : (
          <p className="muted small" data-testid="ctx-reference">—</p>
        )}
      </aside>
    </div>
  );
}

/** Payback inputs from the provider's own servers and ask price (SEED: ¥1.8 M per 8-GPU A100 kit). */
export function paybackInputs(node: NodeInfo | undefined, priceFen: number | undefined): Record<string, string> {
  const gpus = node?.gpuCount ?? 8;
  const out: Record<string, string> = { capex: String(Math.round((1_800_000 * gpus) / 8)) };
  if (priceFen !== undefined) out.pricePerServerHour = ((priceFen * gpus) / 100).toFixed(2);
  return out;
}

/** Health and utilisation change with every heartbeat: the servers list refreshes itself. */
const NODES_REFRESH_MS = 5_000;

function ProviderBody() {
  const { t } = useI18n();
  const nodes = useAsync(() => api.nodes().then((r) => r.items), []);
  useEffect(() => {
    const timer = window.setInterval(nodes.reload, NODES_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [nodes.reload]);
  const balances = useAsync(() => api.balances(), []);
  const asks = useAsync(() => api.orders({ side: 'ask', status: 'active', limit: 50 }), []);
  const [lastAsk, setLastAsk] = useState<{ fen: number; node: NodeInfo } | null>(null);
  const firstAsk = asks.data?.items[0];
  const askNode = lastAsk?.node ?? nodes.data?.find((n) => firstAsk?.ask?.nodeIds.includes(n.id)) ?? nodes.data?.[0];
  const priceFen = lastAsk?.fen ?? firstAsk?.priceFen;
  const initial = useMemo(() => paybackInputs(askNode, priceFen), [askNode, priceFen]);
  return (
    <>
      <h1>{t('providerTitle')}</h1>
      <Enrollment />
      <Section title={t('nodes')}>
        <Loaded state={nodes}>{(ns) => <NodesTable nodes={ns} />}</Loaded>
        <AddNode onAdded={nodes.reload} />
      </Section>
      <Section title={t('postAsk')}>
        <Loaded state={nodes}>
          {(ns) => (
            <AskForm
              nodes={ns}
              onPosted={(fen, node) => {
                setLastAsk({ fen, node });
                asks.reload();
                balances.reload();
              }}
            />
          )}
        </Loaded>
      </Section>
      <Section title={t('earnings')}>
        <Loaded state={balances}>{(b) => <BalancesCard balances={b} />}</Loaded>
        <h3>{t('earningsStatement')}</h3>
        <StatementTable account="earnings" />
      </Section>
      <p className="muted">{t('paybackMineNote')}</p>
      <CalcForm key={JSON.stringify(initial)} kind="payback" initial={initial} titleKey="paybackMine" />
    </>
  );
}

export default function ProviderPage() {
  return (
    <RequireUser roles={['provider']}>
      <ProviderBody />
    </RequireUser>
  );
}
