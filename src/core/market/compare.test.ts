/**
 * The fast engine against the reference engine on seeded random command streams (TigerBeetle VOPR
 * style): identical results and events byte for byte, identical depth, valid internal state after
 * every command. SUANLI_SEEDS=1,2,3 or SUANLI_SEED_COUNT / SUANLI_STREAM_LENGTH change the run.
 */
import { describe, expect, it } from 'vitest';
import { MarketStream, TEST_CATALOG } from '../../sim/market-stream.js';
import { Engine } from './engine.js';
import { ReferenceEngine } from './reference.js';

const seedCount = Number(process.env.SUANLI_SEED_COUNT ?? 100);
const defaultLength = Number(process.env.SUANLI_STREAM_LENGTH ?? 2_000);
const seeds = process.env.SUANLI_SEEDS
  ? process.env.SUANLI_SEEDS.split(',').map(Number)
  : Array.from({ length: seedCount }, (_, i) => i + 1);

function runSeed(seed: number, length = defaultLength): { trades: number; rejections: Set<string> } {
  const fast = new Engine(TEST_CATALOG);
  const ref = new ReferenceEngine(TEST_CATALOG);
  const stream = new MarketStream(seed);
  let trades = 0;
  const rejections = new Set<string>();
  for (let i = 0; i < length; i++) {
    const cmd = stream.next();
    const a = fast.apply(cmd);
    const b = ref.apply(cmd);
    const ja = JSON.stringify(a);
    const jb = JSON.stringify(b);
    if (ja !== jb) {
      throw new Error(`seed ${seed}, command #${i}: ${JSON.stringify(cmd)}\n fast: ${ja}\n  ref: ${jb}`);
    }
    try {
      fast.validateInternalState();
      ref.validateInternalState();
    } catch (e) {
      throw new Error(`seed ${seed}, command #${i}: ${(e as Error).message}`);
    }
    if (!a.ok) rejections.add(a.code);
    for (const e of a.events) if (e.type === 'trade') trades++;
    stream.observe(a.events);
    if (i % 100 === 99 || i === length - 1) {
      for (const m of ref.markets()) {
        const da = JSON.stringify(fast.depth(m));
        const db = JSON.stringify(ref.depth(m));
        if (da !== db) throw new Error(`seed ${seed}, after command #${i}, depth of ${m}:\n fast: ${da}\n  ref: ${db}`);
        expect(fast.summary(m)).toEqual(ref.summary(m));
      }
      expect(fast.markets()).toEqual(ref.markets());
    }
  }
  return { trades, rejections };
}

describe('fast engine = reference engine on random streams', () => {
  it(`${seeds.length} seeds × ${defaultLength} commands`, () => {
    const commands = seeds.length * defaultLength;
    let trades = 0;
    const rejections = new Set<string>();
    for (const seed of seeds) {
      const r = runSeed(seed);
      trades += r.trades;
      for (const c of r.rejections) rejections.add(c);
    }
    // The streams must actually exercise the engine: trades happen and many rejection paths fire.
    expect(trades).toBeGreaterThan(commands / 20);
    expect(rejections.size).toBeGreaterThan(10);
  });

  // Long streams reach deeper states: many resting bids, leases ending and starting, reuse of ids.
  it('2 long streams × 10,000 commands', () => {
    // runSeed throws on any difference; these streams must also trade (about 4,000 trades each).
    for (const seed of [90_001, 90_002]) expect(runSeed(seed, 10_000).trades).toBeGreaterThan(10_000 / 20);
  });
});
