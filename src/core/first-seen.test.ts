import { describe, expect, it } from 'vitest';
import { FirstSeen } from './first-seen.js';

describe('FirstSeen', () => {
  it('keeps each item once in first-seen order, below and past the scan limit, and starts over when cleared', () => {
    const s = new FirstSeen<string>();
    for (const n of [3, 40]) {
      const expected: string[] = [];
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < n; i++) {
          const id = `x${(i * 7) % n}`;
          const isNew = !expected.includes(id);
          expect(s.add(id)).toBe(isNew);
          if (isNew) expected.push(id);
        }
      }
      expect(s.items).toEqual(expected);
      s.clear();
      expect(s.items).toEqual([]);
      expect(s.add('x0')).toBe(true);
      s.clear();
    }
  });
});
