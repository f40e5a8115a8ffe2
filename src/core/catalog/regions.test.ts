import { describe, expect, it } from 'vitest';
import { getHub, getRegion, listHubs, listRegions, regionsInHub } from './regions.js';

describe('hubs', () => {
  const hubs = listHubs();

  it('lists the eight national hubs: four east/demand, four west/supply, plus abroad', () => {
    const east = hubs.filter((h) => h.side === 'east');
    const west = hubs.filter((h) => h.side === 'west');
    expect(east.map((h) => h.id).sort()).toEqual(
      ['beijing-tianjin-hebei', 'chengdu-chongqing', 'guangdong-hongkong-macao', 'yangtze-river-delta'].sort(),
    );
    expect(west.map((h) => h.id).sort()).toEqual(['gansu', 'guizhou', 'inner-mongolia', 'ningxia'].sort());
    for (const h of east) expect(h.role).toBe('demand');
    for (const h of west) expect(h.role).toBe('supply');
    expect(getHub('abroad')).toMatchObject({ side: 'abroad', role: 'abroad' });
    expect(new Set(hubs.map((h) => h.id)).size).toBe(hubs.length);
  });

  it('every hub has at least one region', () => {
    for (const h of hubs) expect(regionsInHub(h.id).length, h.id).toBeGreaterThan(0);
  });
});

describe('regions', () => {
  const regions = listRegions();

  it('has unique ids and every region sits in an existing hub on the hub side', () => {
    expect(new Set(regions.map((r) => r.id)).size).toBe(regions.length);
    for (const r of regions) {
      const hub = getHub(r.hubId);
      expect(hub, r.id).toBeDefined();
      expect(r.side, r.id).toBe(hub?.side);
      expect(r.id).toMatch(/^[a-z]{2}-[a-z0-9]+(-[a-z0-9]+)*$/);
    }
  });

  it('regionsInHub partitions the regions', () => {
    const total = listHubs().reduce((n, h) => n + regionsInHub(h.id).length, 0);
    expect(total).toBe(regions.length);
    expect(regionsInHub('nowhere')).toEqual([]);
  });

  it.each([
    ['cn-beijing', 'beijing-tianjin-hebei', 'east'],
    ['cn-tianjin', 'beijing-tianjin-hebei', 'east'],
    ['cn-hebei-zhangjiakou', 'beijing-tianjin-hebei', 'east'],
    ['cn-shanghai', 'yangtze-river-delta', 'east'],
    ['cn-jiangsu', 'yangtze-river-delta', 'east'],
    ['cn-zhejiang-hangzhou', 'yangtze-river-delta', 'east'],
    ['cn-anhui-wuhu', 'yangtze-river-delta', 'east'],
    ['cn-guangdong-shenzhen', 'guangdong-hongkong-macao', 'east'],
    ['cn-guangdong-guangzhou', 'guangdong-hongkong-macao', 'east'],
    ['cn-hongkong', 'guangdong-hongkong-macao', 'east'],
    ['cn-sichuan-chengdu', 'chengdu-chongqing', 'east'],
    ['cn-chongqing', 'chengdu-chongqing', 'east'],
    ['cn-neimenggu-hohhot', 'inner-mongolia', 'west'],
    ['cn-neimenggu-horinger', 'inner-mongolia', 'west'],
    ['cn-guizhou-guiyang', 'guizhou', 'west'],
    ['cn-gansu-qingyang', 'gansu', 'west'],
    ['cn-ningxia-zhongwei', 'ningxia', 'west'],
    ['sg-singapore', 'abroad', 'abroad'],
  ])('%s is in %s (%s)', (id, hubId, side) => {
    expect(getRegion(id)).toMatchObject({ id, hubId, side });
  });

  it('returns undefined for an unknown region', () => {
    expect(getRegion('cn-atlantis')).toBeUndefined();
  });
});
