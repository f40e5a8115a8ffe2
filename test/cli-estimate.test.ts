/**
 * `suanli estimate …` as a real process: build with tsc, run dist/src/cli/index.js, check the
 * SEED.md figures in its JSON and exit code 2 on bad flags.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist/src/cli/index.js');

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(...args: string[]): Run {
  const r = spawnSync(process.execPath, [CLI, 'estimate', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(...args: string[]): Record<string, number | string> {
  const r = run(...args, '--json');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Record<string, number | string>;
}

function num(o: Record<string, number | string>, key: string): number {
  const v = o[key];
  if (typeof v !== 'number') throw new Error(`${key} is not a number in ${JSON.stringify(o)}`);
  return v;
}

const round = (x: number, decimals: number): number => Math.round(x * 10 ** decimals) / 10 ** decimals;

beforeAll(() => {
  // dist/ is built once by test/global-setup.ts.
  if (!existsSync(CLI) || !existsSync(join(ROOT, 'dist/src/cli/estimate.js'))) throw new Error('dist/ is missing: run npx tsc -p tsconfig.build.json');
});

describe('suanli estimate training', () => {
  it('GPT-3: 1.2e17 FLOP/s, 865.6 A100s', () => {
    const o = json('training', '--params', '175e9', '--tokens', '300e9', '--days', '30', '--gpu', 'nvidia-a100-sxm4-40g', '--util', '0.45');
    expect(Number(num(o, 'flopsPerSecond').toPrecision(2))).toBe(1.2e17);
    expect(round(num(o, 'gpus'), 1)).toBe(865.6);
    expect(o['gpu']).toBe('nvidia-a100-sxm4-40g');
  });

  it('GPT-4 from a FLOP budget: about 22,788 A100s', () => {
    const o = json('training', '--flop', '2.15e25', '--days', '100', '--util', '0.35');
    expect(Math.round(num(o, 'gpus'))).toBe(22_788);
  });

  it('China: 3.7e16 FLOP/s, 263.8 per model, 100 models → 26,380', () => {
    const o = json('training', '--params', '80e9', '--tokens', '200e9', '--days', '30', '--util', '0.45', '--models', '100');
    expect(Number(num(o, 'flopsPerSecond').toPrecision(2))).toBe(3.7e16);
    expect(round(num(o, 'gpusPerModel'), 1)).toBe(263.8);
    expect(Math.round(num(o, 'gpus'))).toBe(26_380);
  });

  it('prints readable text without --json', () => {
    const r = run('training', '--params', '175e9', '--tokens', '300e9', '--days', '30', '--util', '0.45');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('865.6');
    expect(() => JSON.parse(r.stdout) as unknown).toThrow();
  });
});

describe('suanli estimate inference', () => {
  it('ChatGPT: 7.0e11 tokens/day, 2.8e18 ops/s, about 10,000 A100s', () => {
    const o = json('inference', '--params', '175e9', '--visits', '0.7e8', '--questions', '10', '--tokens-per-question', '1000', '--gpu', 'nvidia-a100-sxm4-40g', '--util', '0.45');
    expect(num(o, 'tokensPerDay')).toBe(7.0e11);
    expect(Number(num(o, 'opsPerSecond').toPrecision(2))).toBe(2.8e18);
    expect(Number(num(o, 'gpus').toPrecision(2))).toBe(10_000);
  });

  it('China: 1e10 tokens/day, 1.9e16 ops/s, 65.9 per model, 50 models → 3,297.5', () => {
    const o = json('inference', '--params', '80e9', '--visits', '1e6', '--questions', '10', '--tokens-per-question', '1000', '--util', '0.45', '--models', '50');
    expect(num(o, 'tokensPerDay')).toBe(1e10);
    expect(Number(num(o, 'opsPerSecond').toPrecision(2))).toBe(1.9e16);
    expect(round(num(o, 'gpusPerModel'), 1)).toBe(65.9);
    expect(round(num(o, 'gpus'), 1)).toBe(3297.5);
  });
});

describe('suanli estimate payback', () => {
  it('1.577M revenue, 240k cash cost, 1.35 years = 16.2 months', () => {
    const o = json('payback', '--capex', '1800000', '--years', '5', '--cash-share', '0.4', '--price-per-server-hour', '180', '--utilization', '1');
    expect(round(num(o, 'annualRevenue') / 1e6, 3)).toBe(1.577);
    expect(Math.round(num(o, 'annualCashCost'))).toBe(240_000);
    expect(round(num(o, 'paybackYears'), 2)).toBe(1.35);
    expect(round(num(o, 'paybackMonths'), 1)).toBe(16.2);
  });
});

describe('suanli estimate platform-margin', () => {
  it('2.5 P, 631k revenue per P-year, 431k value per P-year', () => {
    const o = json('platform-margin', '--gpu', 'nvidia-a100-sxm4-40g', '--gpus', '8', '--price-per-server-hour', '180', '--cost-per-p-year', '200000');
    expect(num(o, 'pflops')).toBe(2.5);
    expect(Math.round(num(o, 'revenuePerPYear') / 1000)).toBe(631);
    expect(Math.round(num(o, 'valuePerPYear') / 1000)).toBe(431);
  });
});

describe('suanli estimate convert', () => {
  it('¥22.7/GPU-hour → server-month and P-year for an A100', () => {
    const o = json('convert', '--gpu', 'nvidia-a100-sxm4-40g', '--price-per-gpu-hour', '22.7');
    expect(num(o, 'pricePerGpuHourFen')).toBe(2270);
    expect(Math.round(num(o, 'pricePerServerMonthYuan'))).toBe(132_568);
    expect(Math.round(num(o, 'pricePerPYearYuan'))).toBe(637_346);
  });

  it('honours --gpus-per-server', () => {
    const o = json('convert', '--price-per-gpu-hour', '10', '--gpus-per-server', '4');
    expect(num(o, 'pricePerServerMonthYuan')).toBe(29_200);
  });
});

describe('bad flags exit 2 with a message on stderr', () => {
  it.each([
    ['non-numeric', ['training', '--params', 'abc', '--tokens', '300e9', '--days', '30', '--util', '0.45']],
    ['negative', ['training', '--params', '-175e9', '--tokens', '300e9', '--days', '30', '--util', '0.45']],
    ['zero days', ['training', '--params', '175e9', '--tokens', '300e9', '--days', '0', '--util', '0.45']],
    ['util above 1', ['training', '--params', '175e9', '--tokens', '300e9', '--days', '30', '--util', '1.5']],
    ['missing --days', ['training', '--params', '175e9', '--tokens', '300e9', '--util', '0.45']],
    ['missing --tokens', ['training', '--params', '175e9', '--days', '30', '--util', '0.45']],
    ['--flop with --params', ['training', '--flop', '1e20', '--params', '1e9', '--days', '30', '--util', '0.45']],
    ['unknown GPU', ['training', '--params', '175e9', '--tokens', '300e9', '--days', '30', '--util', '0.45', '--gpu', 'nvidia-a100']],
    ['unknown option', ['training', '--params', '175e9', '--tokens', '300e9', '--days', '30', '--util', '0.45', '--bogus']],
    ['missing inference flag', ['inference', '--params', '80e9', '--visits', '1e6', '--util', '0.45']],
    ['negative capex', ['payback', '--capex', '-1', '--years', '5', '--cash-share', '0.4', '--price-per-server-hour', '180']],
    ['cash share 1', ['payback', '--capex', '1800000', '--years', '5', '--cash-share', '1', '--price-per-server-hour', '180']],
    ['never pays back', ['payback', '--capex', '1800000', '--years', '5', '--cash-share', '0.4', '--price-per-server-hour', '1']],
    ['non-numeric price', ['platform-margin', '--price-per-server-hour', 'x', '--cost-per-p-year', '200000']],
    ['convert without a price', ['convert', '--gpu', 'nvidia-a100-sxm4-40g']],
    ['convert with two prices', ['convert', '--price-per-gpu-hour', '1', '--price-per-p-year', '1']],
    ['unknown subcommand', ['nosuch']],
  ])('%s', (_label, args) => {
    const r = run(...args, '--json');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error/i);
    expect(r.stdout).toBe('');
  });

  it('--help still exits 0', () => {
    const r = run('training', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--params');
  });
});
