/** Journey 1: one market — live book (table and depth), trades and candles; a bid form for buyers. */
import { useEffect, useRef, useState } from 'react';
import { api, type Book, type Candle, type MarketTrade } from '../api';
import { useLiveBook } from '../book';
import type { ChartHandle } from '../charts';
import { BidForm } from '../components/BidForm';
import { formatNumber, formatPct, formatTime } from '../format';
import { useAsync } from '../hooks';
import { useI18n } from '../i18n';
import { useChannel } from '../live';
import { Link } from '../router';
import { useCatalog } from '../session';
import { DataTable, Empty, ErrorBox, Loaded, Loading, Price, Section } from '../ui';
import { useMarkets } from './Markets';

const BOOK_ROWS = 12;

/** Mounts a lightweight-charts chart (lazy module) into a div and keeps it fed. */
function ChartBox({ kind, data, label }: { kind: 'candles' | 'depth'; data: unknown; label: string }) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<ChartHandle | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    let gone = false;
    import('../charts').then(
      (m) => {
        if (gone || !el.current) return;
        chart.current = kind === 'candles' ? m.candleChart(el.current, data as Candle[]) : m.depthChart(el.current, data as Book);
      },
      (e: unknown) => setError(e),
    );
    return () => {
      gone = true;
      chart.current?.destroy();
      chart.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [kind]);
  useEffect(() => {
    chart.current?.update(data);
  }, [data]);
  return (
    <>
      <ErrorBox error={error} />
      <div ref={el} className="chart" role="img" aria-label={label} data-testid={`chart-${kind}`} />
      <p className="muted small attribution">
        <a href="https://www.tradingview.com/" rel="noopener noreferrer" target="_blank">
          TradingView Lightweight Charts™
        </a>
      </p>
    </>
  );
}

function BookTable({ book, acceleratorId }: { book: Book; acceleratorId: string }) {
  const { t } = useI18n();
  const asks = book.asks.slice(0, BOOK_ROWS).reverse();
  const bids = book.bids.slice(0, BOOK_ROWS);
  if (asks.length === 0 && bids.length === 0) return <Empty>{t('emptyBook')}</Empty>;
  return (
    <table className="data book" data-testid="book-table">
      <thead>
        <tr>
          <th scope="col" className="r">{t('price')}</th>
          <th scope="col" className="r">{t('gpus')}</th>
        </tr>
      </thead>
      <tbody>
        {asks.map((l) => (
          <tr key={`a${l.priceFenPerGpuHour}`} className="ask" data-side="ask" data-price={l.priceFenPerGpuHour} data-gpus={l.gpus}>
            <td className="r"><Price fen={l.priceFenPerGpuHour} acceleratorId={acceleratorId} /></td>
            <td className="r">{l.gpus}</td>
          </tr>
        ))}
        <tr className="spread" aria-hidden="true">
          <td colSpan={2} />
        </tr>
        {bids.map((l) => (
          <tr key={`b${l.priceFenPerGpuHour}`} className="bid" data-side="bid" data-price={l.priceFenPerGpuHour} data-gpus={l.gpus}>
            <td className="r"><Price fen={l.priceFenPerGpuHour} acceleratorId={acceleratorId} /></td>
            <td className="r">{l.gpus}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export default function MarketPage({ market }: { market: string }) {
  const { t, lang } = useI18n();
  const { regions } = useCatalog();
  const markets = useMarkets();
  const [acceleratorId = '', regionId = ''] = market.split('@');
  const summary = markets.data?.find((m) => m.market === market);
  const { book, error: bookError, reload: reloadBook } = useLiveBook(market);
  const [trades, setTrades] = useState<MarketTrade[] | undefined>(undefined);
  const [bucket, setBucket] = useState<'1m' | '1h' | '1d'>('1h');
  const [tradeTick, setTradeTick] = useState(0);
  const initial = useAsync(() => api.marketTrades(market), [market]);
  const candles = useAsync(() => api.candles(market, bucket).then((r) => r.items), [market, bucket, tradeTick]);

  useEffect(() => {
    if (initial.data) setTrades((tr) => tr ?? initial.data!.items);
  }, [initial.data]);
  useChannel(`trades:${market}`, (m) => {
    if (m.type === 'snapshot') setTrades((m.data as { trades: MarketTrade[] }).trades);
    else {
      setTrades((tr) => [m.data as MarketTrade, ...(tr ?? [])].slice(0, 100));
      setTradeTick((n) => n + 1);
    }
  });

  const region = regions.get(regionId);
  return (
    <>
      <p>
        <Link to="/">{t('backToMarkets')}</Link>
      </p>
      <h1>
        {summary?.acceleratorName ?? acceleratorId} · {lang === 'zh' ? (region?.nameZh ?? regionId) : (region?.name ?? regionId)}
        {summary?.halted ? <span className="badge warn">{t('halted')}</span> : null}
      </h1>
      {markets.error !== undefined && !summary ? <ErrorBox error={markets.error} onRetry={markets.reload} /> : null}
      {summary ? (
        <dl className="stats" data-testid="market-summary">
          <div><dt>{t('colBestBid')}</dt><dd><Price fen={summary.bestBidFen} acceleratorId={acceleratorId} /></dd></div>
          <div><dt>{t('colBestAsk')}</dt><dd><Price fen={summary.bestAskFen} acceleratorId={acceleratorId} /></dd></div>
          <div><dt>{t('colLast')}</dt><dd><Price fen={summary.lastTradeFen} acceleratorId={acceleratorId} /></dd></div>
          <div><dt>{t('colChange')}</dt><dd>{formatPct(summary.change24hPct)}</dd></div>
          <div><dt>{t('colVolume')}</dt><dd>{formatNumber(summary.volume24hGpuHours, 1)}</dd></div>
          <div><dt>{t('colFree')}</dt><dd>{formatNumber(summary.freeGpus)}</dd></div>
        </dl>
      ) : null}
      <div className="cols">
        <Section title={t('book')}>
          {book ? <BookTable book={book} acceleratorId={acceleratorId} /> : bookError !== undefined ? <ErrorBox error={bookError} onRetry={reloadBook} /> : <Loading />}
        </Section>
        <Section title={t('depth')}>{book ? <ChartBox kind="depth" data={book} label={t('depth')} /> : <Loading />}</Section>
      </div>
      <Section
        title={t('candles')}
        actions={
          <label className="inline">
            {t('interval')}{' '}
            <select value={bucket} onChange={(e) => setBucket(e.target.value as typeof bucket)}>
              <option value="1m">1m</option>
              <option value="1h">1h</option>
              <option value="1d">1d</option>
            </select>
          </label>
        }
      >
        <Loaded state={candles}>{(cs) => (cs.length === 0 ? <Empty>{t('noCandles')}</Empty> : <ChartBox kind="candles" data={cs} label={t('candles')} />)}</Loaded>
      </Section>
      <div className="cols">
        <Section title={t('trades')}>
          {trades === undefined ? (
            initial.error !== undefined ? <ErrorBox error={initial.error} onRetry={initial.reload} /> : <Loading />
          ) : trades.length === 0 ? (
            <Empty>{t('noTrades')}</Empty>
          ) : (
            <DataTable
              testId="trades-table"
              wrap="short"
              head={
                <>
                  <th scope="col">{t('time')}</th>
                  <th scope="col" className="r">{t('price')}</th>
                  <th scope="col" className="r">{t('gpus')}</th>
                  <th scope="col" className="r">{t('hours')}</th>
                </>
              }
            >
              {trades.slice(0, 50).map((tr) => (
                <tr key={tr.id} data-trade={tr.id}>
                  <td>{formatTime(tr.at, lang)}</td>
                  <td className="r"><Price fen={tr.priceFenPerGpuHour} acceleratorId={acceleratorId} /></td>
                  <td className="r">{tr.gpus}</td>
                  <td className="r">{formatNumber(tr.hours, 2)}</td>
                </tr>
              ))}
            </DataTable>
          )}
        </Section>
        <Section title={t('bidTitle')}>{book ? <BidForm acceleratorIds={[acceleratorId]} regionIds={[regionId]} book={book} /> : <Loading />}</Section>
      </div>
    </>
  );
}
