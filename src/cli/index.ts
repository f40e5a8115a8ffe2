#!/usr/bin/env node
import { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerClient } from './client.js';
import { registerDemo } from './demo.js';
import { registerEstimate } from './estimate.js';
import { registerServe } from './serve.js';

const program = new Command();
program
  .name('suanli')
  .description('suanli — an open exchange for AI compute (算力)')
  .version('0.1.0');

registerEstimate(program);
registerDemo(program);
registerServe(program);
registerClient(program);
registerAgent(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
