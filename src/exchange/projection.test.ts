import { describe, expect, it } from 'vitest';
import { listAccelerators } from '../core/catalog/index.js';
import type { PlaceAsk, PlaceBid } from '../core/market/types.js';
import type { CoreCommand, CoreResult } from './core.js';
import { emptyRows, Projection } from './projection.js';

const A100 = 'nvidia-a100-sxm4-40g';

/**
 * Rest `bid` (its remaining as the engine reports it), then fill 2 GPUs of it in a trade made
 * when an ask arrives (a retry: no later event of the bid's own carries its remainder, so the
 * projection works it out from the trade). The bid's row remaining after that.
 */
function remainingAfterRetryFill(bid: PlaceBid, restedRemaining: number): number {
  const p = new Projection(listAccelerators());
  const rested: CoreResult = {
    ok: true, transfers: [],
    events: [{ type: 'order_accepted', orderId: bid.orderId, side: 'bid' }, { type: 'order_rested', orderId: bid.orderId, side: 'bid', remaining: restedRemaining }],
  };
  p.project(bid as CoreCommand, rested, 1, emptyRows());
  const ask = { type: 'placeAsk', now: 0, orderId: 'a1', providerId: 'p', nodeIds: ['n1'], priceFenPerGpuHour: 2000 } as PlaceAsk;
  const retried: CoreResult = {
    ok: true, transfers: [],
    events: [
      { type: 'order_accepted', orderId: 'a1', side: 'ask' },
      {
        type: 'trade', tradeId: 't1', bidId: bid.orderId, askId: 'a1', buyerId: bid.buyerId, providerId: 'p', market: `${A100}@cn-beijing`,
        gpus: 2, priceFenPerGpuHour: 2000, startMs: 0, endMs: 3_600_000,
      },
    ],
  };
  const out = emptyRows();
  p.project(ask as CoreCommand, retried, 2, out);
  return out.orders.find((o) => o.id === bid.orderId)!.remaining;
}

describe('Projection', () => {
  it("counts a GPU bid's fills in GPUs, whatever its workload's text holds", () => {
    const bid = {
      type: 'placeBid', now: 0, orderId: 'b1', buyerId: 'u', acceleratorIds: [A100], quantity: { kind: 'gpus', gpus: 5 }, hours: 1, limitFen: 3000,
      // A workload is the buyer's own: it may hold anything, this pair included.
      workload: { image: 'trainer', env: { Q: { kind: 'compute' } } },
    } as unknown as PlaceBid;
    expect(remainingAfterRetryFill(bid, 5)).toBe(3);
  });

  it("counts a compute bid's fills in deci-TFLOPS of the traded accelerator", () => {
    const bid = {
      type: 'placeBid', now: 0, orderId: 'b2', buyerId: 'u', computeClass: { minFp16Tflops: 100 }, quantity: { kind: 'compute', deciTflops: 20_000 },
      hours: 1, limitFen: 30_000,
    } as PlaceBid;
    // Two A100s at 312 dense FP16 TFLOPS: 6,240 deci-TFLOPS.
    expect(remainingAfterRetryFill(bid, 20_000)).toBe(20_000 - 2 * 3_120);
  });
});
