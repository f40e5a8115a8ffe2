/**
 * Candles and depth with TradingView's lightweight-charts (loaded only on a market page).
 * Depth uses the options chart, whose horizontal axis is a number (here: ¥ per GPU-hour).
 */
import { AreaSeries, CandlestickSeries, createChart, createOptionsChart, HistogramSeries, type UTCTimestamp } from 'lightweight-charts';
import type { Book, Candle } from './api';

// The logo injects a <style> element, which the CSP forbids; the pages link to TradingView instead.
const FONT = { attributionLogo: false, fontFamily: 'system-ui, "Noto Sans CJK SC", sans-serif', fontSize: 11 };
const GRID = { vertLines: { color: '#eef0f3' }, horzLines: { color: '#eef0f3' } };
const UP = '#c0392b'; // Chinese convention: red rises
const DOWN = '#1e8449';

export interface ChartHandle {
  update(data: unknown): void;
  destroy(): void;
}

export function candleChart(el: HTMLElement, candles: readonly Candle[]): ChartHandle {
  const chart = createChart(el, {
    autoSize: true,
    layout: { ...FONT, textColor: '#333', background: { color: '#ffffff' } },
    grid: GRID,
    timeScale: { timeVisible: true, secondsVisible: false },
    rightPriceScale: { scaleMargins: { top: 0.1, bottom: 0.25 } },
  });
  const price = chart.addSeries(CandlestickSeries, {
    upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
    priceFormat: { type: 'price', precision: 2, minMove: 0.01 },
  });
  const volume = chart.addSeries(HistogramSeries, { priceScaleId: 'vol', color: '#9aa5b1', priceFormat: { type: 'volume' } });
  chart.priceScale('vol').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  const set = (cs: readonly Candle[]) => {
    const t = (c: Candle) => Math.floor(Date.parse(c.startAt) / 1000) as UTCTimestamp;
    price.setData(cs.map((c) => ({ time: t(c), open: c.open / 100, high: c.high / 100, low: c.low / 100, close: c.close / 100 })));
    volume.setData(cs.map((c) => ({ time: t(c), value: c.volumeGpuHours, color: c.close >= c.open ? '#e6b0aa' : '#a9dfbf' })));
    chart.timeScale().fitContent();
  };
  set(candles);
  return { update: (d) => set(d as readonly Candle[]), destroy: () => chart.remove() };
}

/** Cumulative GPUs: bids from the best (highest) down, asks from the best (lowest) up. */
export function depthSeries(book: Pick<Book, 'asks' | 'bids'>): { bids: { time: number; value: number }[]; asks: { time: number; value: number }[] } {
  const bids = [...book.bids].sort((a, b) => b.priceFenPerGpuHour - a.priceFenPerGpuHour);
  let sum = 0;
  const bidPts = bids.map((l) => ({ time: l.priceFenPerGpuHour / 100, value: (sum += l.gpus) })).reverse();
  const asks = [...book.asks].sort((a, b) => a.priceFenPerGpuHour - b.priceFenPerGpuHour);
  sum = 0;
  const askPts = asks.map((l) => ({ time: l.priceFenPerGpuHour / 100, value: (sum += l.gpus) }));
  // Each side steps up from zero at its best price (one fen outside it), unless that meets the other side.
  const bestBid = bids[0]?.priceFenPerGpuHour;
  const bestAsk = asks[0]?.priceFenPerGpuHour;
  if (bestBid !== undefined && (bestAsk === undefined || bestBid + 1 < bestAsk)) bidPts.push({ time: (bestBid + 1) / 100, value: 0 });
  if (bestAsk !== undefined && bestAsk > 1 && (bestBid === undefined || bestAsk - 1 > bestBid + 1)) askPts.unshift({ time: (bestAsk - 1) / 100, value: 0 });
  return { bids: bidPts, asks: askPts };
}

export function depthChart(el: HTMLElement, book: Pick<Book, 'asks' | 'bids'>): ChartHandle {
  const chart = createOptionsChart(el, {
    autoSize: true,
    layout: { ...FONT, textColor: '#333', background: { color: '#ffffff' } },
    grid: GRID,
  });
  const bids = chart.addSeries(AreaSeries, { lineColor: DOWN, topColor: 'rgba(30,132,73,0.35)', bottomColor: 'rgba(30,132,73,0.05)', lineType: 1, priceFormat: { type: 'volume' } });
  const asks = chart.addSeries(AreaSeries, { lineColor: UP, topColor: 'rgba(192,57,43,0.35)', bottomColor: 'rgba(192,57,43,0.05)', lineType: 1, priceFormat: { type: 'volume' } });
  const set = (b: Pick<Book, 'asks' | 'bids'>) => {
    const d = depthSeries(b);
    bids.setData(d.bids);
    asks.setData(d.asks);
    chart.timeScale().fitContent();
  };
  set(book);
  return { update: (d) => set(d as Book), destroy: () => chart.remove() };
}
