/**
 * The accelerator catalog: public spec-sheet numbers, one entry per model the exchange can list.
 *
 * Conventions (hold for every entry; the market engine and the calculators rely on them):
 * - `fp16Tflops` is DENSE (no 2:4 sparsity) FP16/BF16 tensor throughput with FP32 accumulate,
 *   the figure mixed-precision training actually gets. Vendors print sparse figures as the
 *   headline ("1979 TFLOPS*"); we halve those. GeForce cards run FP16-with-FP32-accumulate at
 *   half their FP16-accumulate rate, so their entry is that half rate (noted per entry).
 * - `int8Tops` is dense INT8 tensor throughput.
 * - `fp32Tflops` is non-tensor (CUDA-core / vector) FP32.
 * - `memoryGiB` is the vendor's nominal capacity ("80GB" → 80). nvidia-smi reports a little less
 *   (reserved memory, e.g. 81559 MiB on an H100 80GB); matching uses the product name, not this.
 * - `memoryBandwidthGBps` is the vendor's figure in GB/s (10^9 bytes/s).
 * - `smiNames` are the exact product names `nvidia-smi` prints (`-L`, `-q` "Product Name",
 *   `--query-gpu=name`). Older drivers printed some names without the "NVIDIA " prefix; those are
 *   listed too. Non-NVIDIA entries leave the list empty: we do not guess what npu-smi / cnmon /
 *   hy-smi / xpu-smi print until a captured fixture shows it.
 * - `unofficial: true` marks an entry where at least one figure is reported by the press or
 *   derived by us rather than printed in a vendor datasheet; the comment says which.
 *
 * "Source:" comments name the vendor document each number comes from.
 */
import type { Accelerator } from './types.js';

const ACCELERATORS: readonly Accelerator[] = [
  // ───────────────────────────── NVIDIA Volta ─────────────────────────────
  // Source: NVIDIA Tesla V100 GPU Accelerator datasheet (SXM2): tensor 125 TFLOPS, FP32 15.7,
  // 900 GB/s HBM2, NVLink 300 GB/s. Volta has no INT8 tensor cores; int8Tops is DP4A = 4 × FP32
  // rate (derived, not in the datasheet), hence unofficial.
  {
    id: 'nvidia-v100-sxm2-16g',
    name: 'NVIDIA Tesla V100 SXM2 16GB',
    vendor: 'nvidia',
    architecture: 'Volta',
    memoryGiB: 16,
    memoryBandwidthGBps: 900,
    fp16Tflops: 125,
    fp32Tflops: 15.7,
    int8Tops: 62.8,
    interconnect: 'nvlink',
    stack: 'cuda',
    smiNames: ['Tesla V100-SXM2-16GB'],
    unofficial: true,
    notes: 'INT8 figure is DP4A (4 × FP32), derived; no INT8 tensor cores.',
  },
  {
    id: 'nvidia-v100-sxm2-32g',
    name: 'NVIDIA Tesla V100 SXM2 32GB',
    vendor: 'nvidia',
    architecture: 'Volta',
    memoryGiB: 32,
    memoryBandwidthGBps: 900,
    fp16Tflops: 125,
    fp32Tflops: 15.7,
    int8Tops: 62.8,
    interconnect: 'nvlink',
    stack: 'cuda',
    smiNames: ['Tesla V100-SXM2-32GB'],
    unofficial: true,
    notes: 'INT8 figure is DP4A (4 × FP32), derived; no INT8 tensor cores.',
  },

  // ───────────────────────────── NVIDIA Ampere ────────────────────────────
  // Source: NVIDIA A100 Tensor Core GPU datasheet: FP16/BF16 312 TFLOPS (624 sparse), INT8 624
  // TOPS (1248 sparse), FP32 19.5; 40GB PCIe 1555 GB/s, 40GB SXM 1555 GB/s, 80GB PCIe 1935 GB/s,
  // 80GB SXM 2039 GB/s; NVLink 600 GB/s (SXM).
  {
    id: 'nvidia-a100-pcie-40g',
    name: 'NVIDIA A100 PCIe 40GB',
    vendor: 'nvidia',
    architecture: 'Ampere',
    memoryGiB: 40,
    memoryBandwidthGBps: 1555,
    fp16Tflops: 312,
    fp32Tflops: 19.5,
    int8Tops: 624,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA A100-PCIE-40GB', 'A100-PCIE-40GB'],
  },
  {
    id: 'nvidia-a100-sxm4-40g',
    name: 'NVIDIA A100 SXM4 40GB',
    vendor: 'nvidia',
    architecture: 'Ampere',
    memoryGiB: 40,
    memoryBandwidthGBps: 1555,
    fp16Tflops: 312,
    fp32Tflops: 19.5,
    int8Tops: 624,
    interconnect: 'nvlink',
    stack: 'cuda',
    smiNames: ['NVIDIA A100-SXM4-40GB', 'A100-SXM4-40GB'],
  },
  {
    id: 'nvidia-a100-pcie-80g',
    name: 'NVIDIA A100 PCIe 80GB',
    vendor: 'nvidia',
    architecture: 'Ampere',
    memoryGiB: 80,
    memoryBandwidthGBps: 1935,
    fp16Tflops: 312,
    fp32Tflops: 19.5,
    int8Tops: 624,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA A100 80GB PCIe'],
  },
  {
    id: 'nvidia-a100-sxm4-80g',
    name: 'NVIDIA A100 SXM4 80GB',
    vendor: 'nvidia',
    architecture: 'Ampere',
    memoryGiB: 80,
    memoryBandwidthGBps: 2039,
    fp16Tflops: 312,
    fp32Tflops: 19.5,
    int8Tops: 624,
    interconnect: 'nvlink',
    stack: 'cuda',
    smiNames: ['NVIDIA A100-SXM4-80GB'],
  },
  // Source: NVIDIA A800 Tensor Core GPU datasheet (China): same compute and memory as the A100
  // 80GB parts; NVLink cut to 400 GB/s (SXM).
  {
    id: 'nvidia-a800-sxm4-80g',
    name: 'NVIDIA A800 SXM4 80GB',
    vendor: 'nvidia',
    architecture: 'Ampere',
    memoryGiB: 80,
    memoryBandwidthGBps: 2039,
    fp16Tflops: 312,
    fp32Tflops: 19.5,
    int8Tops: 624,
    interconnect: 'nvlink',
    stack: 'cuda',
    smiNames: ['NVIDIA A800-SXM4-80GB'],
    notes: 'NVLink 400 GB/s (A100: 600 GB/s).',
  },
  {
    id: 'nvidia-a800-pcie-80g',
    name: 'NVIDIA A800 PCIe 80GB',
    vendor: 'nvidia',
    architecture: 'Ampere',
    memoryGiB: 80,
    memoryBandwidthGBps: 1935,
    fp16Tflops: 312,
    fp32Tflops: 19.5,
    int8Tops: 624,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA A800 80GB PCIe'],
  },
  // Source: NVIDIA A10 Tensor Core GPU datasheet: FP16 125 (250 sparse), INT8 250 (500 sparse),
  // FP32 31.2, 24GB GDDR6 600 GB/s.
  {
    id: 'nvidia-a10-24g',
    name: 'NVIDIA A10',
    vendor: 'nvidia',
    architecture: 'Ampere',
    memoryGiB: 24,
    memoryBandwidthGBps: 600,
    fp16Tflops: 125,
    fp32Tflops: 31.2,
    int8Tops: 250,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA A10'],
  },
  // Source: NVIDIA A40 datasheet: FP16 149.7 (299.4 sparse), INT8 299.3 (598.6 sparse), FP32
  // 37.4, 48GB GDDR6 696 GB/s; optional 2-way NVLink bridge (not an 8-GPU NVLink fabric).
  {
    id: 'nvidia-a40-48g',
    name: 'NVIDIA A40',
    vendor: 'nvidia',
    architecture: 'Ampere',
    memoryGiB: 48,
    memoryBandwidthGBps: 696,
    fp16Tflops: 149.7,
    fp32Tflops: 37.4,
    int8Tops: 299.3,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA A40'],
  },
  // Source: NVIDIA Ampere GA102 GPU Architecture whitepaper, appendix (RTX 3090): FP16 tensor
  // with FP32 accumulate 71 (FP16 accumulate 142), INT8 284, FP32 35.6, 24GB GDDR6X 936 GB/s.
  {
    id: 'nvidia-rtx-3090-24g',
    name: 'NVIDIA GeForce RTX 3090',
    vendor: 'nvidia',
    architecture: 'Ampere',
    memoryGiB: 24,
    memoryBandwidthGBps: 936,
    fp16Tflops: 71,
    fp32Tflops: 35.6,
    int8Tops: 284,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA GeForce RTX 3090', 'GeForce RTX 3090'],
    notes: 'GeForce: FP16 with FP16 accumulate is 142 TFLOPS; FP32 accumulate (listed) is half.',
  },

  // ───────────────────────────── NVIDIA Turing ────────────────────────────
  // Source: NVIDIA T4 Tensor Core GPU datasheet: FP16 65, INT8 130, FP32 8.1, 16GB GDDR6 320 GB/s.
  {
    id: 'nvidia-t4-16g',
    name: 'NVIDIA Tesla T4',
    vendor: 'nvidia',
    architecture: 'Turing',
    memoryGiB: 16,
    memoryBandwidthGBps: 320,
    fp16Tflops: 65,
    fp32Tflops: 8.1,
    int8Tops: 130,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['Tesla T4'],
  },
  // Source: NVIDIA GeForce RTX 2080 SUPER product page (3072 CUDA cores, 1815 MHz boost, 8GB
  // GDDR6 at 15.5 Gbps × 256-bit = 496 GB/s). Tensor figures derived with the per-SM rates of
  // the NVIDIA Turing GPU Architecture whitepaper (1024 FP16 FLOP/clk/SM, GeForce FP32-accumulate
  // at half rate): 48 SM × 1.815 GHz × 1024 / 2 = 44.6 TFLOPS; INT8 2 × FP16-acc = 178.4 TOPS.
  {
    id: 'nvidia-rtx-2080-super-8g',
    name: 'NVIDIA GeForce RTX 2080 SUPER',
    vendor: 'nvidia',
    architecture: 'Turing',
    memoryGiB: 8,
    memoryBandwidthGBps: 496,
    fp16Tflops: 44.6,
    fp32Tflops: 11.2,
    int8Tops: 178.4,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA GeForce RTX 2080 SUPER', 'GeForce RTX 2080 SUPER'],
    unofficial: true,
    notes: 'Tensor figures derived from whitepaper per-SM rates × SM count × boost clock.',
  },

  // ───────────────────────────── NVIDIA Ada Lovelace ──────────────────────
  // Source: NVIDIA L40 datasheet: FP16 181.05 (362.1 sparse), INT8 362.1 (724.2 sparse), FP32
  // 90.5, 48GB GDDR6 864 GB/s.
  {
    id: 'nvidia-l40-48g',
    name: 'NVIDIA L40',
    vendor: 'nvidia',
    architecture: 'Ada Lovelace',
    memoryGiB: 48,
    memoryBandwidthGBps: 864,
    fp16Tflops: 181.05,
    fp32Tflops: 90.5,
    int8Tops: 362.1,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA L40'],
  },
  // Source: NVIDIA L40S datasheet: FP16/BF16 362.05 (733 sparse), INT8 733 (1466 sparse), FP32
  // 91.6, 48GB GDDR6 864 GB/s.
  {
    id: 'nvidia-l40s-48g',
    name: 'NVIDIA L40S',
    vendor: 'nvidia',
    architecture: 'Ada Lovelace',
    memoryGiB: 48,
    memoryBandwidthGBps: 864,
    fp16Tflops: 362.05,
    fp32Tflops: 91.6,
    int8Tops: 733,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA L40S'],
  },
  // L20: China-market part; NVIDIA has no public datasheet. Figures as reported by the trade
  // press from NVIDIA's partner product brief: FP16 119.5 dense (239 sparse), INT8 239 dense,
  // FP32 59.8, 48GB GDDR6 864 GB/s.
  {
    id: 'nvidia-l20-48g',
    name: 'NVIDIA L20',
    vendor: 'nvidia',
    architecture: 'Ada Lovelace',
    memoryGiB: 48,
    memoryBandwidthGBps: 864,
    fp16Tflops: 119.5,
    fp32Tflops: 59.8,
    int8Tops: 239,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA L20'],
    unofficial: true,
    notes: 'Reported figures (no public NVIDIA datasheet).',
  },
  // Source: NVIDIA Ada GPU Architecture whitepaper, appendix (RTX 4090): FP16 tensor with FP32
  // accumulate 165.2 (FP16 accumulate 330.3), INT8 660.6, FP32 82.6, 24GB GDDR6X 1008 GB/s.
  {
    id: 'nvidia-rtx-4090-24g',
    name: 'NVIDIA GeForce RTX 4090',
    vendor: 'nvidia',
    architecture: 'Ada Lovelace',
    memoryGiB: 24,
    memoryBandwidthGBps: 1008,
    fp16Tflops: 165.2,
    fp32Tflops: 82.6,
    int8Tops: 660.6,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA GeForce RTX 4090'],
    notes: 'GeForce: FP16 with FP16 accumulate is 330.3 TFLOPS; FP32 accumulate (listed) is half.',
  },
  // Source: NVIDIA GeForce RTX 4080 SUPER product page (10240 CUDA cores, 2550 MHz boost, 16GB
  // GDDR6X at 23 Gbps × 256-bit = 736 GB/s; FP32 = 10240 × 2 × 2.55 = 52.2). Tensor figures
  // derived with the Ada whitepaper per-SM rates: 80 SM × 2.55 GHz × 1024 FLOP/clk / 2
  // (GeForce FP32 accumulate) = 104.4 TFLOPS; INT8 = 2 × 208.9 = 417.8 TOPS (matches the
  // product page's "836 AI TOPS", which is sparse).
  {
    id: 'nvidia-rtx-4080-super-16g',
    name: 'NVIDIA GeForce RTX 4080 SUPER',
    vendor: 'nvidia',
    architecture: 'Ada Lovelace',
    memoryGiB: 16,
    memoryBandwidthGBps: 736,
    fp16Tflops: 104.4,
    fp32Tflops: 52.2,
    int8Tops: 417.8,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA GeForce RTX 4080 SUPER'],
    unofficial: true,
    notes: 'Tensor figures derived from whitepaper per-SM rates × SM count × boost clock.',
  },

  // ───────────────────────────── NVIDIA Hopper ────────────────────────────
  // Source: NVIDIA H100 Tensor Core GPU datasheet. SXM: FP16/BF16 1979 sparse → 989 dense (we use
  // 989), INT8 3958 sparse → 1979 dense, FP32 67, 80GB HBM3 3.35 TB/s, NVLink 900 GB/s.
  // PCIe: FP16 1513 sparse → 756 dense, INT8 3026 sparse → 1513 dense, FP32 51, 80GB 2.0 TB/s.
  // NVL: FP16 1671 sparse → 835 dense, INT8 3341 sparse → 1670 dense, FP32 60, 94GB 3.9 TB/s.
  {
    id: 'nvidia-h100-pcie-80g',
    name: 'NVIDIA H100 PCIe 80GB',
    vendor: 'nvidia',
    architecture: 'Hopper',
    memoryGiB: 80,
    memoryBandwidthGBps: 2000,
    fp16Tflops: 756,
    fp32Tflops: 51,
    int8Tops: 1513,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA H100 PCIe'],
  },
  {
    id: 'nvidia-h100-sxm5-80g',
    name: 'NVIDIA H100 SXM5 80GB',
    vendor: 'nvidia',
    architecture: 'Hopper',
    memoryGiB: 80,
    memoryBandwidthGBps: 3350,
    fp16Tflops: 989,
    fp32Tflops: 67,
    int8Tops: 1979,
    interconnect: 'nvlink',
    stack: 'cuda',
    smiNames: ['NVIDIA H100 80GB HBM3'],
  },
  {
    id: 'nvidia-h100-nvl-94g',
    name: 'NVIDIA H100 NVL 94GB',
    vendor: 'nvidia',
    architecture: 'Hopper',
    memoryGiB: 94,
    memoryBandwidthGBps: 3900,
    fp16Tflops: 835,
    fp32Tflops: 60,
    int8Tops: 1670,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA H100 NVL'],
    notes: 'PCIe card; NVLink bridges join pairs only, not an 8-GPU NVLink fabric.',
  },
  // Source: NVIDIA H800 Tensor Core GPU datasheet (China): compute and memory as H100 SXM/PCIe;
  // NVLink cut to 400 GB/s; FP64 cut to 1 TFLOPS.
  {
    id: 'nvidia-h800-sxm5-80g',
    name: 'NVIDIA H800 SXM5 80GB',
    vendor: 'nvidia',
    architecture: 'Hopper',
    memoryGiB: 80,
    memoryBandwidthGBps: 3350,
    fp16Tflops: 989,
    fp32Tflops: 67,
    int8Tops: 1979,
    interconnect: 'nvlink',
    stack: 'cuda',
    smiNames: ['NVIDIA H800'],
    notes: 'NVLink 400 GB/s (H100: 900 GB/s).',
  },
  {
    id: 'nvidia-h800-pcie-80g',
    name: 'NVIDIA H800 PCIe 80GB',
    vendor: 'nvidia',
    architecture: 'Hopper',
    memoryGiB: 80,
    memoryBandwidthGBps: 2000,
    fp16Tflops: 756,
    fp32Tflops: 51,
    int8Tops: 1513,
    interconnect: 'pcie',
    stack: 'cuda',
    smiNames: ['NVIDIA H800 PCIe'],
  },
  // H20: China-market part; no public datasheet. Figures as reported from NVIDIA's partner
  // brief: FP16/BF16 148 dense, INT8 296 dense, FP32 44, 96GB HBM3 4.0 TB/s, NVLink 900 GB/s.
  {
    id: 'nvidia-h20-96g',
    name: 'NVIDIA H20',
    vendor: 'nvidia',
    architecture: 'Hopper',
    memoryGiB: 96,
    memoryBandwidthGBps: 4000,
    fp16Tflops: 148,
    fp32Tflops: 44,
    int8Tops: 296,
    interconnect: 'nvlink',
    stack: 'cuda',
    smiNames: ['NVIDIA H20'],
    unofficial: true,
    notes: 'Reported figures (no public NVIDIA datasheet).',
  },
  // Source: NVIDIA H200 Tensor Core GPU datasheet (SXM): compute as H100 SXM (1979 sparse FP16 →
  // 989 dense, INT8 1979 dense, FP32 67), 141GB HBM3e 4.8 TB/s, NVLink 900 GB/s.
  {
    id: 'nvidia-h200-sxm-141g',
    name: 'NVIDIA H200 SXM 141GB',
    vendor: 'nvidia',
    architecture: 'Hopper',
    memoryGiB: 141,
    memoryBandwidthGBps: 4800,
    fp16Tflops: 989,
    fp32Tflops: 67,
    int8Tops: 1979,
    interconnect: 'nvlink',
    stack: 'cuda',
    smiNames: ['NVIDIA H200'],
  },

  // ───────────────────────────── NVIDIA Blackwell ─────────────────────────
  // Source: NVIDIA HGX B200 / DGX B200 datasheet, 8-GPU totals with sparsity: FP16/BF16 36 PFLOPS,
  // INT8 72 POPS, FP32 600 TFLOPS, 1.4 TB HBM3e, 64 TB/s. Per GPU dense: 36/8/2 = 2.25 PFLOPS,
  // 72/8/2 = 4.5 POPS, FP32 75, 180GB, 8 TB/s; NVLink 5 1.8 TB/s.
  {
    id: 'nvidia-b200-180g',
    name: 'NVIDIA B200',
    vendor: 'nvidia',
    architecture: 'Blackwell',
    memoryGiB: 180,
    memoryBandwidthGBps: 8000,
    fp16Tflops: 2250,
    fp32Tflops: 75,
    int8Tops: 4500,
    interconnect: 'nvlink',
    stack: 'cuda',
    smiNames: ['NVIDIA B200'],
  },

  // ───────────────────────────── AMD ──────────────────────────────────────
  // Source: AMD Instinct MI300X accelerator datasheet: FP16/BF16 1307.4 TFLOPS dense, INT8 2614.9
  // TOPS dense, FP32 163.4, 192GB HBM3 5.3 TB/s, Infinity Fabric (xGMI) links.
  {
    id: 'amd-mi300x-192g',
    name: 'AMD Instinct MI300X',
    vendor: 'amd',
    architecture: 'CDNA 3',
    memoryGiB: 192,
    memoryBandwidthGBps: 5300,
    fp16Tflops: 1307.4,
    fp32Tflops: 163.4,
    int8Tops: 2614.9,
    interconnect: 'xgmi',
    stack: 'rocm',
    smiNames: [],
  },

  // ───────────────────────────── Domestic (China) ─────────────────────────
  // Huawei Ascend 910B: Huawei publishes no per-chip datasheet for the 910B SKUs (910B1–B4).
  // Reported: FP16 ~320 TFLOPS, INT8 ~640 TOPS, 64GB HBM2e ~1.6 TB/s, HCCS. FP32 is not
  // reported consistently; 80 is a placeholder of FP16/4 (the Cube units do not run FP32) and
  // must not be used for pricing. (The original Ascend 910, 2019 launch: 256 FP16 / 512 INT8.)
  {
    id: 'huawei-ascend-910b',
    name: 'Huawei Ascend 910B',
    vendor: 'huawei',
    architecture: 'Da Vinci',
    memoryGiB: 64,
    memoryBandwidthGBps: 1600,
    fp16Tflops: 320,
    fp32Tflops: 80,
    int8Tops: 640,
    interconnect: 'hccs',
    stack: 'cann',
    smiNames: [],
    unofficial: true,
    notes: 'Reported figures; FP32 is a placeholder (FP16/4).',
  },
  // Source: Cambricon MLU370-X8 product page: FP32 24 TFLOPS, FP16/BF16 96 TFLOPS, INT8 256
  // TOPS, 48GB LPDDR5 614.4 GB/s, MLU-Link.
  {
    id: 'cambricon-mlu370-x8',
    name: 'Cambricon MLU370-X8',
    vendor: 'cambricon',
    architecture: 'MLUarch03',
    memoryGiB: 48,
    memoryBandwidthGBps: 614.4,
    fp16Tflops: 96,
    fp32Tflops: 24,
    int8Tops: 256,
    interconnect: 'mlu-link',
    stack: 'neuware',
    smiNames: [],
  },
  // Cambricon MLU590: no public datasheet. Reported: FP16/BF16 ~314 TFLOPS, INT8 ~628 TOPS,
  // 80GB HBM2e ~2.7 TB/s, MLU-Link. FP32 is not reported; 78.5 is a placeholder (FP16/4).
  {
    id: 'cambricon-mlu590',
    name: 'Cambricon MLU590',
    vendor: 'cambricon',
    architecture: 'MLUarch05',
    memoryGiB: 80,
    memoryBandwidthGBps: 2700,
    fp16Tflops: 314,
    fp32Tflops: 78.5,
    int8Tops: 628,
    interconnect: 'mlu-link',
    stack: 'neuware',
    smiNames: [],
    unofficial: true,
    notes: 'Reported figures; FP32 is a placeholder (FP16/4).',
  },
  // Hygon DCU K100-AI: no public datasheet. Reported: FP16 ~196 TFLOPS, FP32 ~49, INT8 ~392,
  // 64GB HBM2e ~896 GB/s. Runs the DTK (ROCm-derived) stack. Treat as indicative.
  {
    id: 'hygon-k100-ai',
    name: 'Hygon DCU K100-AI',
    vendor: 'hygon',
    architecture: 'DCU (GPGPU)',
    memoryGiB: 64,
    memoryBandwidthGBps: 896,
    fp16Tflops: 196,
    fp32Tflops: 49,
    int8Tops: 392,
    interconnect: 'pcie',
    stack: 'dtk',
    smiNames: [],
    unofficial: true,
    notes: 'Reported figures; treat as indicative.',
  },
  // Source: Kunlunxin R200 product page (2nd-gen Kunlun, XPU-R): INT8 256 TOPS, FP16 128 TFLOPS,
  // 32GB GDDR6 512 GB/s. FP32 32 TFLOPS is as reported (not on the product page).
  {
    id: 'kunlunxin-r200',
    name: 'Kunlunxin R200',
    vendor: 'kunlunxin',
    architecture: 'XPU-R',
    memoryGiB: 32,
    memoryBandwidthGBps: 512,
    fp16Tflops: 128,
    fp32Tflops: 32,
    int8Tops: 256,
    interconnect: 'pcie',
    stack: 'xpu',
    smiNames: [],
    unofficial: true,
    notes: 'FP32 figure reported, not on the vendor page.',
  },
  // Enflame CloudBlazer (云燧) T20: figures as announced at launch (2021): FP16/BF16 128 TFLOPS,
  // FP32 32 TFLOPS, INT8 256 TOPS, 32GB HBM2e 1.6 TB/s, GCU-LARE links. Not re-verified
  // against a current vendor datasheet, hence unofficial.
  {
    id: 'enflame-t20',
    name: 'Enflame CloudBlazer T20',
    vendor: 'enflame',
    architecture: 'GCU-CARA 2.0',
    memoryGiB: 32,
    memoryBandwidthGBps: 1600,
    fp16Tflops: 128,
    fp32Tflops: 32,
    int8Tops: 256,
    interconnect: 'other',
    stack: 'tops',
    smiNames: [],
    unofficial: true,
    notes: 'Launch-announcement figures, not verified against a current datasheet.',
  },
];

const BY_ID: ReadonlyMap<string, Accelerator> = new Map(ACCELERATORS.map((a) => [a.id, a]));

/** Keys are normalised product names (see `normaliseSmiName`). */
const BY_SMI_NAME: ReadonlyMap<string, Accelerator> = (() => {
  const map = new Map<string, Accelerator>();
  for (const acc of ACCELERATORS) {
    for (const smiName of acc.smiNames) {
      const key = normaliseSmiName(smiName);
      const prior = map.get(key);
      // Catalog bug, not input: two models claiming one product name would make detection ambiguous.
      if (prior !== undefined) throw new Error(`smiName "${smiName}" claimed by ${prior.id} and ${acc.id}`);
      map.set(key, acc);
    }
  }
  return map;
})();

/** Trim and lower-case; inner whitespace runs collapse to one space. Nothing else is forgiven. */
function normaliseSmiName(name: string): string {
  return name.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** Every model, in catalog order. */
export function listAccelerators(): readonly Accelerator[] {
  return ACCELERATORS;
}

export function getAccelerator(id: string): Accelerator | undefined {
  return BY_ID.get(id);
}

/**
 * The model whose `smiNames` contains `name` exactly (case-insensitive, surrounding whitespace
 * trimmed, inner whitespace runs collapsed). Unknown names give `undefined`: detection must
 * never guess a model from a near miss ("NVIDIA H100" is not "NVIDIA H100 80GB HBM3").
 */
export function findAcceleratorBySmiName(name: string): Accelerator | undefined {
  return BY_SMI_NAME.get(normaliseSmiName(name));
}
