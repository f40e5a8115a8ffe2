/**
 * `--probe`: a short bf16 matrix-multiply benchmark per GPU with PyTorch, reported as
 * `measuredTflops` (dense) in the hardware report. Where python3, PyTorch or CUDA is missing the
 * probe is skipped with a warning: it is evidence for buyers, never a condition to run.
 *
 * The script prints one line `SUANLI_PROBE <json>`; everything else it prints is ignored, so a
 * noisy PyTorch import cannot break the parse.
 */
import { execFile } from 'node:child_process';
import { describeError } from './errors.js';

export const PROBE_MARKER = 'SUANLI_PROBE ';
const DEFAULT_PROBE_TIMEOUT_MS = 180_000;
const MAX_PROBE_OUTPUT_BYTES = 1024 * 1024;

/**
 * CUDA_DEVICE_ORDER=PCI_BUS_ID (set by `runProbe`) makes torch's device ordinals the nvidia-smi
 * indices; CUDA's default order (fastest first) can differ on mixed hosts.
 */
export const PROBE_SCRIPT = `
import json, sys
def out(o):
    print("${PROBE_MARKER}" + json.dumps(o), flush=True)
try:
    import torch
except Exception as e:
    out({"skip": "PyTorch is not installed (" + type(e).__name__ + ")"}); sys.exit(0)
if not torch.cuda.is_available():
    out({"skip": "PyTorch sees no CUDA device"}); sys.exit(0)
n, iters = 8192, 20
res = {}
for i in range(torch.cuda.device_count()):
    try:
        d = torch.device("cuda", i)
        a = torch.randn(n, n, device=d, dtype=torch.bfloat16)
        b = torch.randn(n, n, device=d, dtype=torch.bfloat16)
        for _ in range(3): a @ b
        torch.cuda.synchronize(d)
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(iters): a @ b
        e.record(); torch.cuda.synchronize(d)
        res[str(i)] = round(2 * n**3 * iters / (s.elapsed_time(e) / 1000) / 1e12, 1)
    except Exception as ex:
        res[str(i)] = None
out({"tflops": res})
`;

export type ProbeResult =
  | { readonly kind: 'measured'; readonly tflops: Readonly<Record<string, number>>; readonly warnings: readonly string[] }
  | { readonly kind: 'skipped'; readonly warning: string };

/** Reads the script's marker line. Anything unexpected becomes a skip with a reason, not a throw. */
export function parseProbeOutput(stdout: string): ProbeResult {
  const line = stdout
    .split(/\r?\n/)
    .reverse()
    .find((l) => l.startsWith(PROBE_MARKER));
  if (line === undefined) return { kind: 'skipped', warning: 'probe skipped: the benchmark printed no result' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.slice(PROBE_MARKER.length));
  } catch {
    return { kind: 'skipped', warning: 'probe skipped: the benchmark printed an unreadable result' };
  }
  const o = parsed as { skip?: unknown; tflops?: unknown };
  if (typeof o.skip === 'string') return { kind: 'skipped', warning: `probe skipped: ${o.skip.slice(0, 500)}` };
  if (typeof o.tflops !== 'object' || o.tflops === null) return { kind: 'skipped', warning: 'probe skipped: the benchmark printed no figures' };
  const tflops: Record<string, number> = {};
  const warnings: string[] = [];
  for (const [index, value] of Object.entries(o.tflops as Record<string, unknown>)) {
    if (!/^\d{1,4}$/.test(index)) continue;
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) tflops[index] = value;
    else warnings.push(`probe: GPU ${index} could not be measured`);
  }
  if (Object.keys(tflops).length === 0) return { kind: 'skipped', warning: 'probe skipped: no GPU could be measured' };
  return { kind: 'measured', tflops, warnings };
}

export interface ProbeOptions {
  /** python3 by default; tests pass a stand-in. */
  readonly pythonCommand?: string;
  readonly pythonArgs?: readonly string[];
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export function runProbe(options: ProbeOptions = {}): Promise<ProbeResult> {
  const command = options.pythonCommand ?? 'python3';
  const args = [...(options.pythonArgs ?? []), '-c', PROBE_SCRIPT];
  const env = { ...(options.env ?? process.env), CUDA_DEVICE_ORDER: 'PCI_BUS_ID' };
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env, timeout: options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS, maxBuffer: MAX_PROBE_OUTPUT_BYTES, windowsHide: true },
      (err, stdout) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') resolve({ kind: 'skipped', warning: `probe skipped: ${command} not found` });
          else resolve({ kind: 'skipped', warning: `probe skipped: ${command} failed: ${describeError(err).split('\n')[0] ?? ''}` });
          return;
        }
        resolve(parseProbeOutput(String(stdout)));
      },
    );
  });
}
