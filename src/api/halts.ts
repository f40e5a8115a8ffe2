/**
 * Market halts. The engine stops matching in a halted market (its asks trade with nobody; a bid
 * open to several markets trades only in the others) until it is resumed, when resting bids are
 * retried at once. The API also keeps the list as a setting (`halted_markets`) and refuses NEW
 * asks and bids whose markets are all halted (409 MARKET_HALTED). Resting orders stay in the
 * book; running leases run on.
 *
 * The setting has one writer (the admin halt route, in this process), so it is read from the
 * store once per store and then kept in memory, not read again on every order.
 */
import type { Store } from '../store/port.js';
import { ApiError } from './errors.js';

export const HALTED_MARKETS_SETTING = 'halted_markets';

const known = new WeakMap<Store, Promise<ReadonlySet<string>>>();

async function load(store: Store): Promise<ReadonlySet<string>> {
  const raw = await store.getSetting(HALTED_MARKETS_SETTING);
  if (raw === undefined) return new Set();
  const parsed: unknown = JSON.parse(raw);
  return new Set(Array.isArray(parsed) ? parsed.filter((m): m is string => typeof m === 'string') : []);
}

export function haltedMarkets(store: Store): Promise<ReadonlySet<string>> {
  let halted = known.get(store);
  if (!halted) {
    halted = load(store);
    known.set(store, halted);
    halted.catch(() => known.delete(store)); // a failed read is retried next time
  }
  return halted;
}

/** After the setting was committed: what later reads see. */
export function rememberHaltedMarkets(store: Store, markets: readonly string[]): void {
  known.set(store, Promise.resolve(new Set(markets)));
}

/** Throws 409 MARKET_HALTED when every market an order could trade in is halted. */
export async function assertTradable(store: Store, markets: readonly string[]): Promise<void> {
  const halted = await haltedMarkets(store);
  if (halted.size === 0 || markets.length === 0) return;
  if (markets.every((m) => halted.has(m))) {
    throw new ApiError(409, 'MARKET_HALTED', `trading is halted in ${markets.length === 1 ? markets[0] : 'every market this order could trade in'}`, { markets });
  }
}
