#!/usr/bin/env node
/**
 * A stand-in `docker` for the docker runtime tests: appends its argv as one JSON line to
 * $FAKE_DOCKER_LOG and plays a container's life with marker files in $FAKE_DOCKER_STATE.
 * Images: `missing/image` fails like a pull error (exit 125); `exits/now` ends at once with code 0;
 * anything else runs until `docker stop`, then `docker wait` prints 137. `ps` lists two
 * leftover containers.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const state = process.env.FAKE_DOCKER_STATE;
appendFileSync(process.env.FAKE_DOCKER_LOG, `${JSON.stringify(args)}\n`);
const last = args[args.length - 1];
const marker = (name, what) => join(state, `${name}.${what}`);
const untilStopped = (name, then) => {
  const tick = () => (existsSync(marker(name, 'stopped')) ? then() : setTimeout(tick, 20));
  tick();
};

switch (args[0]) {
  case 'run': {
    const name = args[args.indexOf('--name') + 1];
    const image = args.find((a) => a === 'missing/image' || a === 'exits/now' || a.startsWith('example/'));
    if (image === 'missing/image') {
      process.stderr.write('Unable to find image \'missing/image:latest\' locally\ndocker: Error response from daemon: pull access denied.\n');
      process.exit(125);
    }
    if (image === 'exits/now') writeFileSync(marker(name, 'stopped'), 'exited');
    process.stdout.write('4f1c2b9e8d7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e\n');
    break;
  }
  case 'logs':
    process.stdout.write('container says hi\n');
    process.stderr.write('container warns\n');
    untilStopped(last, () => process.exit(0));
    break;
  case 'wait':
    untilStopped(last, () => {
      // A container that exited by itself reports 0; one that `docker stop` killed, 137.
      process.stdout.write(readFileSync(marker(last, 'stopped'), 'utf8') === 'exited' ? '0\n' : '137\n');
      process.exit(0);
    });
    break;
  case 'stop':
    writeFileSync(marker(last, 'stopped'), 'stopped');
    break;
  case 'ps':
    // Two containers "left by a previous run".
    process.stdout.write('aaaaaaaaaaaa\nbbbbbbbbbbbb\n');
    break;
  case 'rm':
    break;
  default:
    process.stderr.write(`fake docker: unsupported ${args.join(' ')}\n`);
    process.exit(1);
}
