/** Catalog types. Pure data: spec-sheet numbers of accelerators, regions and hubs. */

export type Vendor = 'nvidia' | 'huawei' | 'cambricon' | 'hygon' | 'kunlunxin' | 'enflame' | 'amd' | 'other';

/** Software stack a workload must be written for (the cross-architecture pain point of SEED.md). */
export type SoftwareStack = 'cuda' | 'cann' | 'neuware' | 'dtk' | 'xpu' | 'tops' | 'rocm';

export type Interconnect = 'nvlink' | 'pcie' | 'hccs' | 'mlu-link' | 'xgmi' | 'other';

export interface Accelerator {
  /** Stable catalog id, e.g. `nvidia-a100-sxm4-40g`. Used in market keys `acceleratorId@regionId`. */
  readonly id: string;
  readonly name: string;
  readonly vendor: Vendor;
  readonly architecture: string;
  readonly memoryGiB: number;
  readonly memoryBandwidthGBps: number;
  /** Dense (no sparsity) FP16/BF16 tensor TFLOPS. 1 P = 1000 of these. */
  readonly fp16Tflops: number;
  readonly fp32Tflops: number;
  /** Dense INT8 TOPS (inference estimates use this). */
  readonly int8Tops: number;
  readonly interconnect: Interconnect;
  readonly stack: SoftwareStack;
  /** Product names that `nvidia-smi` (or the vendor tool) prints for this model. */
  readonly smiNames: readonly string[];
  /** True where some figures are reported but not published by the vendor. */
  readonly unofficial?: boolean;
  readonly notes?: string;
}

export type HubSide = 'east' | 'west' | 'abroad';

export interface Hub {
  readonly id: string;
  readonly name: string;
  readonly nameZh: string;
  readonly side: HubSide;
  /** Demand centre (east) or low-cost western centre. */
  readonly role: 'demand' | 'supply' | 'abroad';
}

export interface Region {
  /** Stable id, e.g. `cn-beijing`. */
  readonly id: string;
  readonly name: string;
  readonly nameZh: string;
  readonly hubId: string;
  readonly side: HubSide;
}
