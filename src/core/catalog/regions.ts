/**
 * Regions and the national compute hubs of 东数西算 ("compute in the west for data in the east").
 *
 * The eight national hub nodes (SEED.md): four demand centres tagged `east` — Beijing–Tianjin–
 * Hebei, Yangtze River Delta, Guangdong–Hong Kong–Macao, Chengdu–Chongqing — and four low-cost
 * supply centres tagged `west` — Inner Mongolia, Guizhou, Gansu, Ningxia. (Chengdu–Chongqing is
 * geographically western China but the programme classes it with the demand centres; we follow
 * the paper.) Regions abroad hang off one `abroad` hub.
 *
 * A region is a province-level unit or a city (or data-centre cluster) inside one; regions never
 * overlap, so a node belongs to exactly one. Ids are stable: they appear in market keys
 * `acceleratorId@regionId`. Only places inside a hub are listed for now; add a hub before adding
 * a region outside the eight.
 */
import type { Hub, Region } from './types.js';

const HUBS: readonly Hub[] = [
  { id: 'beijing-tianjin-hebei', name: 'Beijing–Tianjin–Hebei', nameZh: '京津冀', side: 'east', role: 'demand' },
  { id: 'yangtze-river-delta', name: 'Yangtze River Delta', nameZh: '长三角', side: 'east', role: 'demand' },
  { id: 'guangdong-hongkong-macao', name: 'Guangdong–Hong Kong–Macao Greater Bay Area', nameZh: '粤港澳大湾区', side: 'east', role: 'demand' },
  { id: 'chengdu-chongqing', name: 'Chengdu–Chongqing', nameZh: '成渝', side: 'east', role: 'demand' },
  { id: 'inner-mongolia', name: 'Inner Mongolia', nameZh: '内蒙古', side: 'west', role: 'supply' },
  { id: 'guizhou', name: 'Guizhou', nameZh: '贵州', side: 'west', role: 'supply' },
  { id: 'gansu', name: 'Gansu', nameZh: '甘肃', side: 'west', role: 'supply' },
  { id: 'ningxia', name: 'Ningxia', nameZh: '宁夏', side: 'west', role: 'supply' },
  { id: 'abroad', name: 'Abroad', nameZh: '海外', side: 'abroad', role: 'abroad' },
];

type RegionRow = readonly [id: string, name: string, nameZh: string, hubId: string];

const REGION_ROWS: readonly RegionRow[] = [
  // Beijing–Tianjin–Hebei (Zhangjiakou is the hub's data-centre cluster)
  ['cn-beijing', 'Beijing', '北京', 'beijing-tianjin-hebei'],
  ['cn-tianjin', 'Tianjin', '天津', 'beijing-tianjin-hebei'],
  ['cn-hebei-zhangjiakou', 'Zhangjiakou, Hebei', '河北张家口', 'beijing-tianjin-hebei'],
  ['cn-hebei-langfang', 'Langfang, Hebei', '河北廊坊', 'beijing-tianjin-hebei'],
  ['cn-hebei-baoding', 'Baoding, Hebei', '河北保定', 'beijing-tianjin-hebei'],
  // Yangtze River Delta (Wuhu is the hub's cluster; Qingpu–Wujiang–Jiashan is the other)
  ['cn-shanghai', 'Shanghai', '上海', 'yangtze-river-delta'],
  ['cn-jiangsu', 'Jiangsu', '江苏', 'yangtze-river-delta'],
  ['cn-zhejiang-hangzhou', 'Hangzhou, Zhejiang', '浙江杭州', 'yangtze-river-delta'],
  ['cn-zhejiang-ningbo', 'Ningbo, Zhejiang', '浙江宁波', 'yangtze-river-delta'],
  ['cn-zhejiang-jiaxing', 'Jiaxing, Zhejiang', '浙江嘉兴', 'yangtze-river-delta'],
  ['cn-anhui-wuhu', 'Wuhu, Anhui', '安徽芜湖', 'yangtze-river-delta'],
  ['cn-anhui-hefei', 'Hefei, Anhui', '安徽合肥', 'yangtze-river-delta'],
  // Guangdong–Hong Kong–Macao (Shaoguan is the hub's cluster)
  ['cn-guangdong-guangzhou', 'Guangzhou, Guangdong', '广东广州', 'guangdong-hongkong-macao'],
  ['cn-guangdong-shenzhen', 'Shenzhen, Guangdong', '广东深圳', 'guangdong-hongkong-macao'],
  ['cn-guangdong-dongguan', 'Dongguan, Guangdong', '广东东莞', 'guangdong-hongkong-macao'],
  ['cn-guangdong-shaoguan', 'Shaoguan, Guangdong', '广东韶关', 'guangdong-hongkong-macao'],
  ['cn-hongkong', 'Hong Kong', '香港', 'guangdong-hongkong-macao'],
  ['cn-macao', 'Macao', '澳门', 'guangdong-hongkong-macao'],
  // Chengdu–Chongqing (Tianfu and Chongqing clusters)
  ['cn-sichuan-chengdu', 'Chengdu, Sichuan', '四川成都', 'chengdu-chongqing'],
  ['cn-chongqing', 'Chongqing', '重庆', 'chengdu-chongqing'],
  // Inner Mongolia (Horinger is the hub's cluster, in Hohhot's territory but listed apart)
  ['cn-neimenggu-hohhot', 'Hohhot, Inner Mongolia', '内蒙古呼和浩特', 'inner-mongolia'],
  ['cn-neimenggu-horinger', 'Horinger, Inner Mongolia', '内蒙古和林格尔', 'inner-mongolia'],
  ['cn-neimenggu-ulanqab', 'Ulanqab, Inner Mongolia', '内蒙古乌兰察布', 'inner-mongolia'],
  ['cn-neimenggu-baotou', 'Baotou, Inner Mongolia', '内蒙古包头', 'inner-mongolia'],
  // Guizhou (Gui'an is the hub's cluster)
  ['cn-guizhou-guiyang', 'Guiyang, Guizhou', '贵州贵阳', 'guizhou'],
  ['cn-guizhou-guian', "Gui'an New Area, Guizhou", '贵州贵安', 'guizhou'],
  // Gansu (Qingyang is the hub's cluster)
  ['cn-gansu-qingyang', 'Qingyang, Gansu', '甘肃庆阳', 'gansu'],
  ['cn-gansu-lanzhou', 'Lanzhou, Gansu', '甘肃兰州', 'gansu'],
  // Ningxia (Zhongwei is the hub's cluster)
  ['cn-ningxia-zhongwei', 'Zhongwei, Ningxia', '宁夏中卫', 'ningxia'],
  ['cn-ningxia-yinchuan', 'Yinchuan, Ningxia', '宁夏银川', 'ningxia'],
  // Abroad
  ['sg-singapore', 'Singapore', '新加坡', 'abroad'],
  ['my-johor', 'Johor, Malaysia', '马来西亚柔佛', 'abroad'],
  ['jp-tokyo', 'Tokyo, Japan', '日本东京', 'abroad'],
  ['us-west', 'US West', '美国西部', 'abroad'],
  ['de-frankfurt', 'Frankfurt, Germany', '德国法兰克福', 'abroad'],
];

const HUB_BY_ID: ReadonlyMap<string, Hub> = new Map(HUBS.map((h) => [h.id, h]));

const REGIONS: readonly Region[] = REGION_ROWS.map(([id, name, nameZh, hubId]) => {
  const hub = HUB_BY_ID.get(hubId);
  if (hub === undefined) throw new Error(`region ${id}: unknown hub ${hubId}`); // catalog bug
  return { id, name, nameZh, hubId, side: hub.side };
});

const REGION_BY_ID: ReadonlyMap<string, Region> = new Map(REGIONS.map((r) => [r.id, r]));

export function listRegions(): readonly Region[] {
  return REGIONS;
}

export function getRegion(id: string): Region | undefined {
  return REGION_BY_ID.get(id);
}

export function listHubs(): readonly Hub[] {
  return HUBS;
}

export function getHub(id: string): Hub | undefined {
  return HUB_BY_ID.get(id);
}

/** Regions of one hub, in catalog order; empty for an unknown hub. */
export function regionsInHub(hubId: string): readonly Region[] {
  return REGIONS.filter((r) => r.hubId === hubId);
}
