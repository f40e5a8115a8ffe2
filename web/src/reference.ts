/**
 * Cloud list prices (SEED.md, "Reference prices", 2024-08-15), per GPU per hour in CNY, and the
 * catalog accelerator each row is. The paper's means are its own (rounded) figures.
 */
export interface ReferenceRow {
  readonly acceleratorId: string;
  readonly label: string;
  readonly vendors: Readonly<Record<string, number>>;
  /** The paper's mean, ¥ per GPU-hour. */
  readonly meanYuan: number;
  /** The paper's 8-GPU server-month mean, 万元. */
  readonly serverMonthWan: number;
}

export const REFERENCE_PRICES: readonly ReferenceRow[] = [
  { acceleratorId: 'nvidia-v100-sxm2-32g', label: 'V100 32GB NVLink', vendors: { Alibaba: 19.7, Baidu: 15.3, Tianyi: 15.4 }, meanYuan: 16.8, serverMonthWan: 5.8 },
  { acceleratorId: 'nvidia-a100-pcie-40g', label: 'A100 40GB PCIe', vendors: { Tianyi: 21.3 }, meanYuan: 21.3, serverMonthWan: 8.2 },
  { acceleratorId: 'nvidia-a100-sxm4-40g', label: 'A100 40GB NVLink', vendors: { Baidu: 26.1, Tencent: 19.3 }, meanYuan: 22.7, serverMonthWan: 10.6 },
  { acceleratorId: 'nvidia-a100-sxm4-80g', label: 'A100 80GB NVLink', vendors: { Volcano: 40.4 }, meanYuan: 40.4, serverMonthWan: 14.4 },
];

export const referenceFor = (acceleratorId: string): ReferenceRow | undefined => REFERENCE_PRICES.find((r) => r.acceleratorId === acceleratorId);
