import { describe, expect, it } from 'vitest';
import { compatibleAcceleratorList, indexCatalog } from './rules.js';

const catalog = indexCatalog({
  accelerators: [
    { id: 'a', fp16Tflops: 100, memoryGiB: 24, stack: 'cuda' },
    { id: 'b', fp16Tflops: 300, memoryGiB: 80, stack: 'cuda' },
    { id: 'c', fp16Tflops: 400, memoryGiB: 64, stack: 'cann' },
  ],
  regions: [{ id: 'r1' }],
});

describe('compatibleAcceleratorList', () => {
  it('hands out one array for the same accelerators named in any order (the engine keys its choices by it)', () => {
    const abc = compatibleAcceleratorList({ acceleratorIds: ['a', 'b', 'c'] }, catalog);
    expect(abc).toEqual(['a', 'b', 'c']);
    expect(compatibleAcceleratorList({ acceleratorIds: ['c', 'a', 'b'] }, catalog)).toBe(abc);
    expect(compatibleAcceleratorList({ acceleratorIds: ['b', 'c', 'a', 'b'] }, catalog)).toBe(abc);
  });

  it('gives a compute class and an explicit list with the same members the same array', () => {
    const big = compatibleAcceleratorList({ computeClass: { minMemoryGiB: 48 } }, catalog);
    expect(big).toEqual(['b', 'c']);
    expect(compatibleAcceleratorList({ acceleratorIds: ['c', 'b'] }, catalog)).toBe(big);
  });

  it('keeps different sets apart', () => {
    const ab = compatibleAcceleratorList({ acceleratorIds: ['a', 'b'] }, catalog);
    const bc = compatibleAcceleratorList({ acceleratorIds: ['b', 'c'] }, catalog);
    expect(ab).toEqual(['a', 'b']);
    expect(bc).toEqual(['b', 'c']);
    expect(ab).not.toBe(bc);
    expect(compatibleAcceleratorList({ acceleratorIds: ['a', 'zzz'] }, catalog)).toEqual(['a']);
  });
});
