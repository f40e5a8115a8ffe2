/**
 * Journey 5: the calculators — the same code as `suanli estimate` (POST /api/v1/estimate/*),
 * so every figure here is the CLI's figure. Defaults are SEED.md's worked examples.
 */
import { useMemo, useState, type FormEvent } from 'react';
import { api } from '../api';
import { groupThousands } from '../../../src/core/catalog/units.js';
import { useI18n, type Key } from '../i18n';
import { useCatalog } from '../session';
import { ErrorBox, Field, Section } from '../ui';

export type CalcKind = 'training' | 'inference' | 'payback' | 'platform-margin' | 'convert';

interface FieldSpec {
  readonly name: string;
  readonly label: Key;
  readonly def: string;
  readonly kind?: 'gpu' | 'optional';
}

export const CALCS: readonly { kind: CalcKind; title: Key; fields: readonly FieldSpec[] }[] = [
  {
    kind: 'training',
    title: 'training',
    fields: [
      { name: 'params', label: 'params', def: '175e9' },
      { name: 'tokens', label: 'tokensTrain', def: '300e9' },
      { name: 'days', label: 'days', def: '30' },
      { name: 'gpu', label: 'gpuModel', def: 'nvidia-a100-sxm4-40g', kind: 'gpu' },
      { name: 'util', label: 'util', def: '0.45' },
      { name: 'models', label: 'models', def: '1' },
    ],
  },
  {
    kind: 'inference',
    title: 'inference',
    fields: [
      { name: 'params', label: 'params', def: '80e9' },
      { name: 'visits', label: 'visits', def: '1e6' },
      { name: 'questions', label: 'questions', def: '10' },
      { name: 'tokensPerQuestion', label: 'tokensPerQuestion', def: '1000' },
      { name: 'gpu', label: 'gpuModel', def: 'nvidia-a100-sxm4-40g', kind: 'gpu' },
      { name: 'util', label: 'util', def: '0.45' },
      { name: 'models', label: 'models', def: '1' },
    ],
  },
  {
    kind: 'payback',
    title: 'payback',
    fields: [
      { name: 'capex', label: 'capex', def: '1800000' },
      { name: 'years', label: 'years', def: '5' },
      { name: 'cashShare', label: 'cashShare', def: '0.4' },
      { name: 'pricePerServerHour', label: 'pricePerServerHour', def: '180' },
      { name: 'utilization', label: 'util', def: '1' },
    ],
  },
  {
    kind: 'platform-margin',
    title: 'margin',
    fields: [
      { name: 'gpu', label: 'gpuModel', def: 'nvidia-a100-sxm4-40g', kind: 'gpu' },
      { name: 'gpus', label: 'gpusPerServer', def: '8' },
      { name: 'pricePerServerHour', label: 'pricePerServerHour', def: '180' },
      { name: 'costPerPYear', label: 'costPerPYear', def: '200000' },
      { name: 'utilization', label: 'util', def: '1' },
    ],
  },
  {
    kind: 'convert',
    title: 'convert',
    fields: [
      { name: 'gpu', label: 'gpuModel', def: 'nvidia-a100-sxm4-40g', kind: 'gpu' },
      { name: 'pricePerGpuHour', label: 'pricePerGpuHour', def: '22.7' },
      { name: 'gpusPerServer', label: 'gpusPerServer', def: '8' },
    ],
  },
];

const LABELS: Readonly<Record<string, Key>> = { gpus: 'gpusNeeded', flopsPerSecond: 'flopsNeeded', paybackYears: 'paybackYears', paybackMonths: 'paybackMonths', valuePerPYear: 'valuePerP', revenuePerPYear: 'revenuePerP' };

const DECIMALS: Readonly<Record<string, number>> = { gpus: 1, gpusPerModel: 1, paybackYears: 2, paybackMonths: 1, pflops: 1, pflopsExact: 3, pflopsPerGpu: 3, pricePerServerMonthWan: 2, pricePerPYearWan: 2 };

/** A figure as people read it: big ones in scientific notation, shares in %. */
export function formatFigure(key: string, v: unknown): string {
  if (typeof v !== 'number') return String(v);
  if (key === 'marginShare') return `${(v * 100).toFixed(1)}%`;
  if (Math.abs(v) >= 1e9) return v.toExponential(2);
  if (Number.isInteger(v)) return groupThousands(v);
  return groupThousands(v, DECIMALS[key] ?? 2);
}

export function CalcForm({ kind, initial, titleKey }: { kind: CalcKind; initial?: Record<string, string>; titleKey?: Key }) {
  const { t } = useI18n();
  const { accelerators } = useCatalog();
  const spec = CALCS.find((c) => c.kind === kind)!;
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(spec.fields.map((f) => [f.name, initial?.[f.name] ?? f.def])));
  const [result, setResult] = useState<Record<string, unknown> | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const gpus = useMemo(() => [...accelerators.values()].sort((a, b) => a.name.localeCompare(b.name)), [accelerators]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const body: Record<string, unknown> = {};
    for (const f of spec.fields) {
      const v = values[f.name] ?? '';
      if (v.trim() === '') continue;
      body[f.name] = f.kind === 'gpu' ? v : Number(v);
    }
    try {
      setResult(await api.estimate(kind, body));
    } catch (err) {
      setResult(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title={t(titleKey ?? spec.title)} id={`calc-${kind}`}>
      <form className="form" onSubmit={submit} data-testid={`calc-${kind}`} aria-label={t(titleKey ?? spec.title)}>
        <div className="grid">
          {spec.fields.map((f) => (
            <Field key={f.name} label={t(f.label)}>
              {(id) =>
                f.kind === 'gpu' ? (
                  <select id={id} name={f.name} value={values[f.name]} onChange={(e) => setValues((v) => ({ ...v, [f.name]: e.target.value }))}>
                    {gpus.map((a) => (
                      <option key={a.id} value={a.id}>
                        {a.name}
                      </option>
                    ))}
                  </select>
                ) : (
                  <input id={id} name={f.name} inputMode="decimal" value={values[f.name]} onChange={(e) => setValues((v) => ({ ...v, [f.name]: e.target.value }))} />
                )
              }
            </Field>
          ))}
        </div>
        <button type="submit" className="primary" disabled={busy}>
          {t('calculate')}
        </button>
      </form>
      <ErrorBox error={error} />
      {result ? (
        <table className="data result" data-testid={`calc-${kind}-result`} aria-live="polite">
          <caption className="sr-only">{t('result')}</caption>
          <tbody>
            {Object.entries(result).map(([k, v]) => (
              <tr key={k} data-key={k} data-value={typeof v === 'number' ? String(v) : undefined}>
                <th scope="row">{LABELS[k] ? `${t(LABELS[k])} (${k})` : k}</th>
                <td className="r num">{formatFigure(k, v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}

export default function CalculatorsPage() {
  const { t } = useI18n();
  return (
    <>
      <h1>{t('calcTitle')}</h1>
      <p className="muted">{t('calcNote')}</p>
      <div className="cols">
        {CALCS.map((c) => (
          <CalcForm key={c.kind} kind={c.kind} />
        ))}
      </div>
    </>
  );
}
