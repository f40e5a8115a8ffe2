export type { Accelerator, Hub, HubSide, Interconnect, Region, SoftwareStack, Vendor } from './types.js';
export { findAcceleratorBySmiName, getAccelerator, listAccelerators } from './accelerators.js';
export { getHub, getRegion, listHubs, listRegions, regionsInHub } from './regions.js';
export * from './units.js';
