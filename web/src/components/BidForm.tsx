/**
 * A bid by GPU count (limit per GPU-hour) or by compute amount in P (limit per P-hour), with a
 * preview: the estimated cost at today's asks and the hold placed now (the worst case, the same
 * rule as the exchange: limit × GPUs × hours; for P, one more GPU group of the largest accepted
 * model). After placing, the exchange's own figures replace the preview.
 */
import { useMemo, useState, type FormEvent } from 'react';
import { api, ApiError, type Book, type BidInput, type Placement, type Workload } from '../api';
import { formatFen, parseYuanToFen, yuanOfFen } from '../format';
import { useI18n } from '../i18n';
import { Link } from '../router';
import { useCatalog, useSession } from '../session';
import { ErrorBox, Field, Notice, Price } from '../ui';

type Mode = 'gpus' | 'p';

/** The workload as typed: a command as words or a JSON array of strings; none when both are empty. */
export function workloadOf(runtime: 'process' | 'docker', command: string, image: string, sshKey: string): Workload | undefined {
  const c = command.trim();
  let argv: string[] | undefined;
  if (c.startsWith('[')) {
    const parsed: unknown = JSON.parse(c);
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((x) => typeof x === 'string')) throw new ApiError(400, 'VALIDATION_FAILED', 'command', { issues: [{ path: 'json.workload.command', message: 'a JSON array of strings' }] });
    argv = parsed as string[];
  } else if (c !== '') argv = c.split(/\s+/);
  if (runtime === 'process' && !argv) return undefined;
  if (runtime === 'docker' && image.trim() === '') return undefined;
  return { runtime, ...(argv ? { command: argv } : {}), ...(runtime === 'docker' ? { image: image.trim(), ...(sshKey.trim() ? { sshPublicKey: sshKey.trim() } : {}) } : {}) };
}

/** The exchange's worst case for a bid, in fen (see core/market/rules + core/lease/billing). */
export function holdPreviewFen(mode: Mode, limitFen: number, hours: number, qty: { gpus: number; deciTflops: number; largestGpuDeciTflops: number; gpusPerNode?: number }): bigint {
  if (mode === 'gpus') return BigInt(limitFen) * BigInt(qty.gpus) * BigInt(hours);
  const worst = qty.deciTflops - 1 + qty.largestGpuDeciTflops * (qty.gpusPerNode ?? 1);
  return (BigInt(limitFen) * BigInt(worst) * BigInt(hours)) / 10_000n;
}

/** Cost of `gpus` GPUs for `hours` walking the asks up to the limit; null if the book is short. */
export function costPreviewFen(book: Book | undefined, gpus: number, hours: number, limitFen: number): { fen: bigint; gpus: number } | null {
  if (!book) return null;
  let left = gpus;
  let fen = 0n;
  for (const l of [...book.asks].sort((a, b) => a.priceFenPerGpuHour - b.priceFenPerGpuHour)) {
    if (left === 0 || l.priceFenPerGpuHour > limitFen) break;
    const take = Math.min(left, l.gpus);
    fen += BigInt(l.priceFenPerGpuHour) * BigInt(take) * BigInt(hours);
    left -= take;
  }
  return { fen, gpus: gpus - left };
}

export function BidForm({ acceleratorIds, regionIds, book, onPlaced }: { acceleratorIds: string[]; regionIds?: string[]; book?: Book; onPlaced?: (p: Placement) => void }) {
  const { t } = useI18n();
  const { user } = useSession();
  const { accelerators } = useCatalog();
  const [mode, setMode] = useState<Mode>('gpus');
  const [gpus, setGpus] = useState('1');
  const [computeP, setComputeP] = useState('2.5');
  const [gpusPerNode, setGpusPerNode] = useState('');
  const [hours, setHours] = useState('1');
  const bestAsk = book?.asks.length ? Math.min(...book.asks.map((a) => a.priceFenPerGpuHour)) : undefined;
  const [limit, setLimit] = useState(bestAsk ? yuanOfFen(bestAsk) : '30.00');
  const [tif, setTif] = useState<'GTC' | 'IOC' | 'FOK'>('GTC');
  const [partial, setPartial] = useState(false);
  const [rematch, setRematch] = useState(false);
  const [runtime, setRuntime] = useState<'process' | 'docker'>('process');
  const [command, setCommand] = useState('');
  const [image, setImage] = useState('');
  const [sshKey, setSshKey] = useState('');
  const [task, setTask] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [placed, setPlaced] = useState<Placement | null>(null);

  const limitFen = parseYuanToFen(limit);
  const hoursN = Number(hours);
  const gpusN = Number(gpus);
  const gpn = gpusPerNode === '' ? undefined : Number(gpusPerNode);
  const deci = /^\d{1,7}(\.\d{1,4})?$/.test(computeP) ? Math.round(Number(computeP) * 10_000) : 0;
  const largest = Math.max(0, ...acceleratorIds.map((id) => Math.round((accelerators.get(id)?.fp16Tflops ?? 0) * 10)));
  const valid = limitFen !== null && Number.isInteger(hoursN) && hoursN >= 1 && (mode === 'gpus' ? Number.isInteger(gpusN) && gpusN >= 1 : deci > 0);
  const hold = valid ? holdPreviewFen(mode, limitFen!, hoursN, { gpus: gpusN, deciTflops: deci, largestGpuDeciTflops: largest, ...(gpn ? { gpusPerNode: gpn } : {}) }) : null;
  const cost = useMemo(() => (valid && mode === 'gpus' ? costPreviewFen(book, gpusN, hoursN, limitFen!) : null), [valid, mode, book, gpusN, hoursN, limitFen]);

  if (!user || user.role !== 'buyer') {
    return (
      <p className="muted">
        {t('needLoginBuyer')} <Link to="/login">{t('login')}</Link> · <Link to="/signup">{t('signup')}</Link>
      </p>
    );
  }

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!valid || busy) return;
    setBusy(true);
    setError(undefined);
    setPlaced(null);
    const body: BidInput = {
      acceleratorIds,
      ...(regionIds && regionIds.length ? { regionIds } : {}),
      hours: hoursN,
      timeInForce: tif,
      ...(partial ? { allowPartial: true } : {}),
      ...(rematch ? { rematch: true } : {}),
      ...(gpn ? { gpusPerNode: gpn } : {}),
      ...(mode === 'gpus' ? { gpus: gpusN, limitFenPerGpuHour: limitFen! } : { computeP, limitFenPerPHour: limitFen! }),
    };
    let workload: Workload | undefined;
    try {
      workload = workloadOf(runtime, command, image, sshKey);
    } catch (err) {
      setError(err);
      setBusy(false);
      return;
    }
    if (workload) body.workload = workload;
    try {
      const p = task && workload ? await api.placeJob(body) : await api.placeBid(body);
      setPlaced(p);
      onPlaced?.(p);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form bid-form" onSubmit={submit} aria-label={t('bidTitle')} data-testid="bid-form">
      <fieldset className="row">
        <legend>{t('bidBy')}</legend>
        <label className="inline">
          <input type="radio" name="mode" value="gpus" checked={mode === 'gpus'} onChange={() => setMode('gpus')} /> {t('byGpus')}
        </label>
        <label className="inline">
          <input type="radio" name="mode" value="p" checked={mode === 'p'} onChange={() => setMode('p')} /> {t('byP')}
        </label>
      </fieldset>
      <div className="grid">
        {mode === 'gpus' ? (
          <Field label={t('gpuCount')}>{(id) => <input id={id} name="gpus" inputMode="numeric" value={gpus} onChange={(e) => setGpus(e.target.value)} required />}</Field>
        ) : (
          <Field label={t('computeP')}>{(id) => <input id={id} name="computeP" inputMode="decimal" value={computeP} onChange={(e) => setComputeP(e.target.value)} required />}</Field>
        )}
        <Field label={t('hours')}>{(id) => <input id={id} name="hours" inputMode="numeric" value={hours} onChange={(e) => setHours(e.target.value)} required />}</Field>
        <Field label={mode === 'gpus' ? t('limitGpuHour') : t('limitPHour')}>
          {(id) => <input id={id} name="limit" inputMode="decimal" value={limit} onChange={(e) => setLimit(e.target.value)} required />}
        </Field>
        <Field label={t('gpusPerNode')}>{(id) => <input id={id} name="gpusPerNode" inputMode="numeric" value={gpusPerNode} onChange={(e) => setGpusPerNode(e.target.value)} />}</Field>
        <Field label={t('timeInForce')}>
          {(id) => (
            <select id={id} name="tif" value={tif} onChange={(e) => setTif(e.target.value as typeof tif)}>
              <option value="GTC">GTC</option>
              <option value="IOC">IOC</option>
              <option value="FOK">FOK</option>
            </select>
          )}
        </Field>
        <label className="inline check">
          <input type="checkbox" checked={partial} onChange={(e) => setPartial(e.target.checked)} /> {t('allowPartial')}
        </label>
        <label className="inline check">
          <input type="checkbox" name="rematch" checked={rematch} onChange={(e) => setRematch(e.target.checked)} /> {t('rematch')}
        </label>
      </div>
      <details className="workload" open={command !== '' || image !== ''}>
        <summary>{t('workload')}</summary>
        <div className="grid">
          <Field label={t('runtime')}>
            {(id) => (
              <select id={id} name="runtime" value={runtime} onChange={(e) => setRuntime(e.target.value as typeof runtime)}>
                <option value="process">process</option>
                <option value="docker">docker</option>
              </select>
            )}
          </Field>
          <Field label={t('command')}>{(id) => <input id={id} name="command" value={command} onChange={(e) => setCommand(e.target.value)} spellCheck={false} />}</Field>
          {runtime === 'docker' ? (
            <>
              <Field label={t('image')}>{(id) => <input id={id} name="image" value={image} onChange={(e) => setImage(e.target.value)} spellCheck={false} />}</Field>
              <Field label={t('sshKey')}>{(id) => <input id={id} name="sshKey" value={sshKey} onChange={(e) => setSshKey(e.target.value)} spellCheck={false} />}</Field>
            </>
          ) : null}
          <label className="inline check">
            <input type="checkbox" name="task" checked={task} onChange={(e) => setTask(e.target.checked)} /> {t('taskMode')}
          </label>
        </div>
      </details>
      <div className="preview" aria-live="polite" data-testid="bid-preview">
        <h3>{t('preview')}</h3>
        <dl>
          {mode === 'gpus' ? (
            <>
              <dt>{t('estCost')}</dt>
              <dd data-testid="preview-cost">{cost === null ? '—' : cost.gpus < gpusN ? `${formatFen(cost.fen)} (${cost.gpus}/${gpusN} ${t('gpus')}) — ${t('noFill')}` : formatFen(cost.fen)}</dd>
            </>
          ) : null}
          <dt>{t('worstHold')}</dt>
          <dd data-testid="preview-hold">{hold === null ? '—' : formatFen(hold)}</dd>
        </dl>
        <p className="muted small">
          {t('youPayAsk')} {bestAsk !== undefined ? <>({t('colBestAsk')}: <Price fen={bestAsk} acceleratorId={acceleratorIds[0]} />)</> : null}
        </p>
      </div>
      <ErrorBox error={error} />
      <button type="submit" className="primary" disabled={!valid || busy}>
        {t('placeBid')}
      </button>
      {placed ? (
        <Notice>
          <span data-testid="bid-result" data-order={placed.order.id} data-status={placed.order.status}>
            {t('placed')}: {placed.order.id} · {t('status')} {placed.order.status} · {t('holdActual')} {formatFen(placed.holdFen ?? '0')}
            {placed.trades.length > 0
              ? ` · ${t('traded')} ${placed.trades.map((tr) => `${tr.gpus} ${t('gpus')} @ ¥${yuanOfFen(tr.priceFenPerGpuHour)}`).join(', ')}`
              : ` · ${t('resting')}`}
          </span>{' '}
          {placed.leases.length > 0 ? <Link to={`/leases/${encodeURIComponent(placed.leases[0]!.id)}`}>{t('leaseTitle')} {placed.leases[0]!.id}</Link> : null}
        </Notice>
      ) : null}
    </form>
  );
}
