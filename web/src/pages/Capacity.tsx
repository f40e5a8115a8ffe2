/**
 * Journey 2: find capacity. The filters run over GET /markets joined with the catalog, so the
 * rows are exactly the API's markets that pass them (the browser test checks this).
 */
import { useMemo, useState } from 'react';
import type { Accelerator, Market, Region } from '../api';
import { useLiveBook } from '../book';
import { BidForm } from '../components/BidForm';
import { formatNumber, parseYuanToFen } from '../format';
import { useI18n } from '../i18n';
import { Link } from '../router';
import { useCatalog } from '../session';
import { DataTable, Empty, ErrorBox, Field, Loaded, Loading, Price, Section } from '../ui';
import { UnverifiedBadge, useMarkets } from './Markets';

export interface CapacityFilter {
  acceleratorId: string; // '' = any
  minMemoryGiB: string;
  interconnect: string;
  place: string; // '' | 'hub:<id>' | 'region:<id>'
  maxPriceYuan: string;
  minFreeGpus: string;
  verifiedOnly: boolean;
}

export const NO_FILTER: CapacityFilter = { acceleratorId: '', minMemoryGiB: '', interconnect: '', place: '', maxPriceYuan: '', minFreeGpus: '', verifiedOnly: false };

export function matches(m: Market, f: CapacityFilter, acc: Accelerator | undefined, region: Region | undefined): boolean {
  if (f.acceleratorId && m.acceleratorId !== f.acceleratorId) return false;
  if (f.minMemoryGiB !== '' && !((acc?.memoryGiB ?? 0) >= Number(f.minMemoryGiB))) return false;
  if (f.interconnect && acc?.interconnect !== f.interconnect) return false;
  if (f.place.startsWith('hub:') && (region?.hubId ?? m.hubId) !== f.place.slice(4)) return false;
  if (f.place.startsWith('region:') && m.regionId !== f.place.slice(7)) return false;
  if (f.maxPriceYuan !== '') {
    const max = parseYuanToFen(f.maxPriceYuan);
    if (max === null || m.bestAskFen === null || m.bestAskFen > max) return false;
  }
  if (f.minFreeGpus !== '' && !(m.freeGpus >= Number(f.minFreeGpus))) return false;
  if (f.verifiedOnly && m.verified !== true) return false;
  return true;
}

function BidPanel({ market }: { market: Market }) {
  const { t } = useI18n();
  const { book, error, reload } = useLiveBook(market.market);
  return (
    <Section title={`${t('bidTitle')} · ${market.acceleratorName} @ ${market.regionName}`} id="bid-panel">
      {book ? (
        <BidForm acceleratorIds={[market.acceleratorId]} regionIds={[market.regionId]} book={book} />
      ) : error !== undefined ? (
        <ErrorBox error={error} onRetry={reload} />
      ) : (
        <Loading />
      )}
    </Section>
  );
}

export default function CapacityPage() {
  const { t, lang } = useI18n();
  const { accelerators, regions, hubs, ready } = useCatalog();
  const markets = useMarkets();
  const [f, setF] = useState<CapacityFilter>(NO_FILTER);
  const [selected, setSelected] = useState<string | null>(null);
  const set = (patch: Partial<CapacityFilter>) => setF((x) => ({ ...x, ...patch }));
  const verifiedKnown = markets.data?.some((m) => m.verified !== undefined) ?? false;
  const interconnects = useMemo(() => [...new Set([...accelerators.values()].map((a) => a.interconnect))].sort(), [accelerators]);
  const models = useMemo(() => {
    const ids = new Set(markets.data?.map((m) => m.acceleratorId) ?? []);
    return [...accelerators.values()].filter((a) => ids.has(a.id)).sort((a, b) => a.name.localeCompare(b.name));
  }, [accelerators, markets.data]);
  const rows = (markets.data ?? []).filter((m) => matches(m, f, accelerators.get(m.acceleratorId), regions.get(m.regionId)));
  const chosen = markets.data?.find((m) => m.market === selected);

  if (!ready) return <Loading />;
  return (
    <>
      <h1>{t('capacityTitle')}</h1>
      <form className="filters" role="search" aria-label={t('capacityTitle')} onSubmit={(e) => e.preventDefault()} data-testid="filters">
        <Field label={t('filterModel')}>
          {(id) => (
            <select id={id} name="model" value={f.acceleratorId} onChange={(e) => set({ acceleratorId: e.target.value })}>
              <option value="">{t('any')}</option>
              {models.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('filterMemory')}>{(id) => <input id={id} name="memory" inputMode="numeric" value={f.minMemoryGiB} onChange={(e) => set({ minMemoryGiB: e.target.value })} />}</Field>
        <Field label={t('filterInterconnect')}>
          {(id) => (
            <select id={id} name="interconnect" value={f.interconnect} onChange={(e) => set({ interconnect: e.target.value })}>
              <option value="">{t('any')}</option>
              {interconnects.map((i) => (
                <option key={i} value={i}>
                  {i}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('filterPlace')}>
          {(id) => (
            <select id={id} name="place" value={f.place} onChange={(e) => set({ place: e.target.value })}>
              <option value="">{t('any')}</option>
              {[...hubs.values()].map((h) => (
                <optgroup key={h.id} label={lang === 'zh' ? h.nameZh : h.name}>
                  <option value={`hub:${h.id}`}>{lang === 'zh' ? `${h.nameZh}（全部）` : `${h.name} (all)`}</option>
                  {[...regions.values()]
                    .filter((r) => r.hubId === h.id)
                    .map((r) => (
                      <option key={r.id} value={`region:${r.id}`}>
                        {lang === 'zh' ? r.nameZh : r.name}
                      </option>
                    ))}
                </optgroup>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('filterMaxPrice')}>{(id) => <input id={id} name="maxPrice" inputMode="decimal" value={f.maxPriceYuan} onChange={(e) => set({ maxPriceYuan: e.target.value })} />}</Field>
        <Field label={t('filterMinFree')}>{(id) => <input id={id} name="minFree" inputMode="numeric" value={f.minFreeGpus} onChange={(e) => set({ minFreeGpus: e.target.value })} />}</Field>
        <label className="inline check" title={verifiedKnown ? undefined : t('verifiedUnavailable')}>
          <input type="checkbox" name="verified" checked={f.verifiedOnly} disabled={!verifiedKnown} onChange={(e) => set({ verifiedOnly: e.target.checked })} /> {t('filterVerified')}
          {verifiedKnown ? null : <small className="muted"> ({t('verifiedUnavailable')})</small>}
        </label>
      </form>
      <Section title={`${rows.length} ${t('results')}`}>
        <Loaded state={markets}>
          {() =>
            rows.length === 0 ? (
              <Empty>{t('noResults')}</Empty>
            ) : (
              <DataTable
                testId="capacity-results"
                head={
                  <>
                    <th scope="col">{t('colModel')}</th>
                    <th scope="col" className="r">{t('memory')}</th>
                    <th scope="col">{t('interconnect')}</th>
                    <th scope="col">{t('colRegion')}</th>
                    <th scope="col" className="r">{t('colBestAsk')}</th>
                    <th scope="col" className="r">{t('colFree')}</th>
                    <th scope="col"><span className="sr-only">{t('bid')}</span></th>
                  </>
                }
              >
                {rows.map((m) => {
                  const a = accelerators.get(m.acceleratorId);
                  const r = regions.get(m.regionId);
                  return (
                    <tr key={m.market} data-market={m.market} aria-selected={selected === m.market}>
                      <th scope="row">
                        <Link to={`/markets/${encodeURIComponent(m.market)}`}>{m.acceleratorName}</Link>
                        {m.halted ? <span className="badge warn">{t('halted')}</span> : null}
                        <UnverifiedBadge market={m} />
                      </th>
                      <td className="r">{a ? `${a.memoryGiB} GiB` : '—'}</td>
                      <td>{a?.interconnect ?? '—'}</td>
                      <td>{lang === 'zh' ? (r?.nameZh ?? m.regionName) : m.regionName}</td>
                      <td className="r"><Price fen={m.bestAskFen} acceleratorId={m.acceleratorId} /></td>
                      <td className="r">{formatNumber(m.freeGpus)}</td>
                      <td>
                        <button type="button" onClick={() => setSelected(m.market)} aria-label={`${t('bid')}: ${m.acceleratorName} ${m.regionName}`}>
                          {t('bid')}
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </DataTable>
            )
          }
        </Loaded>
      </Section>
      {chosen ? <BidPanel key={chosen.market} market={chosen} /> : null}
    </>
  );
}
