export * from './result.js';
export * from './training.js';
export * from './inference.js';
export * from './payback.js';
export * from './platformMargin.js';
export * from './convert.js';
