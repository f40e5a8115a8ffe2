/** Journey 1: every market (no login) and the price index beside SEED's cloud list prices. */
import { useEffect } from 'react';
import { api, type Market } from '../api';
import { formatNumber, formatPct, formatPrice } from '../format';
import { useAsync } from '../hooks';
import { useI18n } from '../i18n';
import { REFERENCE_PRICES } from '../reference';
import { Link } from '../router';
import { useCatalog } from '../session';
import { DataTable, Empty, Loaded, Price, Section } from '../ui';

const REFRESH_MS = 5_000;

export function useMarkets() {
  const state = useAsync(() => api.markets().then((r) => r.items), []);
  useEffect(() => {
    const timer = window.setInterval(state.reload, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [state.reload]);
  return state;
}

/** A market some of whose capacity is on GPUs not attested real (fake GPUs) says so. */
export function UnverifiedBadge({ market }: { market: Market }) {
  const { t } = useI18n();
  if (market.verified !== false) return null;
  return (
    <span className="badge bad" data-unverified={market.unverifiedNodes ?? ''} title={t('fakeGpu')}>
      ⚠ {t('att_unverified')}
    </span>
  );
}

export function MarketsTable({ markets, caption }: { markets: Market[]; caption: string }) {
  const { t, lang } = useI18n();
  const { regions, hubs } = useCatalog();
  return (
    <DataTable
      testId="markets-table"
      caption={caption}
      head={
        <>
          <th scope="col">{t('colModel')}</th>
          <th scope="col">{t('colRegion')}</th>
          <th scope="col">{t('colHub')}</th>
          <th scope="col" className="r">{t('colBestBid')}</th>
          <th scope="col" className="r">{t('colBestAsk')}</th>
          <th scope="col" className="r">{t('colLast')}</th>
          <th scope="col" className="r">{t('colChange')}</th>
          <th scope="col" className="r">{t('colVolume')}</th>
          <th scope="col" className="r">{t('colFree')}</th>
        </>
      }
    >
      {markets.map((m) => {
        const region = regions.get(m.regionId);
        const hub = hubs.get(m.hubId);
        return (
          <tr key={m.market} data-market={m.market}>
            <th scope="row">
              <Link to={`/markets/${encodeURIComponent(m.market)}`}>{m.acceleratorName}</Link>
              {m.halted ? <span className="badge warn">{t('halted')}</span> : null}
              <UnverifiedBadge market={m} />
            </th>
            <td>{lang === 'zh' ? (region?.nameZh ?? m.regionName) : m.regionName}</td>
            <td>
              {hub ? (lang === 'zh' ? hub.nameZh : hub.name) : m.hubId} <small className="muted">{t(`side_${m.side}`)}</small>
            </td>
            <td className="r" data-col="bid"><Price fen={m.bestBidFen} acceleratorId={m.acceleratorId} /></td>
            <td className="r" data-col="ask"><Price fen={m.bestAskFen} acceleratorId={m.acceleratorId} /></td>
            <td className="r" data-col="last"><Price fen={m.lastTradeFen} acceleratorId={m.acceleratorId} /></td>
            <td className={`r ${m.change24hPct === null || m.change24hPct === 0 ? '' : m.change24hPct > 0 ? 'up' : 'down'}`}>{formatPct(m.change24hPct)}</td>
            <td className="r">{formatNumber(m.volume24hGpuHours, 1)}</td>
            <td className="r" data-col="free">{formatNumber(m.freeGpus)}</td>
          </tr>
        );
      })}
    </DataTable>
  );
}

function PriceIndex({ markets }: { markets: Market[] }) {
  const { t, lang, unit } = useI18n();
  const { accelerators } = useCatalog();
  return (
    <Section title={t('indexTitle')} id="price-index">
      <DataTable
        testId="price-index"
        head={
          <>
            <th scope="col">{t('colModel')}</th>
            <th scope="col" className="r">{t('colCloudMean')}</th>
            <th scope="col">{t('colCloudRange')}</th>
            <th scope="col" className="r">{t('colMarketAsk')}</th>
            <th scope="col" className="r">{t('colMarketLast')}</th>
            <th scope="col" className="r">{t('colVsCloud')}</th>
          </>
        }
      >
        {REFERENCE_PRICES.map((ref) => {
          const ms = markets.filter((m) => m.acceleratorId === ref.acceleratorId);
          const asks = ms.map((m) => m.bestAskFen).filter((x): x is number => x !== null);
          const lowestAsk = asks.length ? Math.min(...asks) : null;
          const lasts = ms.map((m) => m.lastTradeFen).filter((x): x is number => x !== null);
          const lastMean = lasts.length ? Math.round(lasts.reduce((a, b) => a + b, 0) / lasts.length) : null;
          const refFen = Math.round(ref.meanYuan * 100);
          const vs = lowestAsk === null ? null : Math.round(((lowestAsk - refFen) / refFen) * 10_000) / 100;
          const tflops = accelerators.get(ref.acceleratorId)?.fp16Tflops;
          const values = Object.values(ref.vendors);
          return (
            <tr key={ref.acceleratorId} data-accelerator={ref.acceleratorId}>
              <th scope="row">{ref.label}</th>
              <td className="r" data-col="cloud">{formatPrice(refFen, unit, lang, tflops)}</td>
              <td>
                <small>
                  {Object.entries(ref.vendors)
                    .map(([v, p]) => `${v} ${p.toFixed(1)}`)
                    .join(' · ')}
                  {values.length > 1 ? ` (¥${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)})` : ''}
                </small>
              </td>
              <td className="r" data-col="ask">{formatPrice(lowestAsk, unit, lang, tflops)}</td>
              <td className="r" data-col="last">{formatPrice(lastMean, unit, lang, tflops)}</td>
              <td className={`r ${vs === null ? '' : vs <= 0 ? 'up' : 'down'}`} data-col="vs">{formatPct(vs)}</td>
            </tr>
          );
        })}
      </DataTable>
      <p className="muted small">{t('indexNote')}</p>
    </Section>
  );
}

export function MarketsPage() {
  const { t } = useI18n();
  const state = useMarkets();
  return (
    <>
      <h1>{t('marketsTitle')}</h1>
      <p className="muted">{t('tagline')}</p>
      <Section title={t('marketsTitle')}>
        <Loaded state={state}>{(ms) => (ms.length === 0 ? <Empty>{t('noMarkets')}</Empty> : <MarketsTable markets={ms} caption={t('marketsTitle')} />)}</Loaded>
      </Section>
      {state.data ? <PriceIndex markets={state.data} /> : null}
    </>
  );
}

