/** A market's book kept live: REST for the first paint, then the feed's snapshot and deltas. */
import { useEffect, useState } from 'react';
import { api, type Book, type Level } from './api';
import { useChannel } from './live';

export function mergeLevels(levels: Level[], changes: Level[], ascending: boolean): Level[] {
  const m = new Map(levels.map((l) => [l.priceFenPerGpuHour, l.gpus]));
  for (const c of changes) {
    if (c.gpus === 0) m.delete(c.priceFenPerGpuHour);
    else m.set(c.priceFenPerGpuHour, c.gpus);
  }
  return [...m].map(([priceFenPerGpuHour, gpus]) => ({ priceFenPerGpuHour, gpus })).sort((a, b) => (ascending ? a.priceFenPerGpuHour - b.priceFenPerGpuHour : b.priceFenPerGpuHour - a.priceFenPerGpuHour));
}

export function useLiveBook(market: string): { book: Book | undefined; error: unknown; reload: () => void } {
  const [book, setBook] = useState<Book | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setError(undefined);
    api.book(market).then(
      (b) => live && setBook((cur) => cur ?? b),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [market, n]);
  useChannel(`book:${market}`, (m) => {
    const d = m.data as Book;
    if (m.type === 'snapshot') setBook({ market, asks: d.asks, bids: d.bids });
    else setBook((b) => (b ? { market, asks: mergeLevels(b.asks, d.asks, true), bids: mergeLevels(b.bids, d.bids, false) } : b));
  });
  return { book, error, reload: () => setN((x) => x + 1) };
}
