/**
 * `suanli agent`: the provider's daemon on a GPU server (docs/agent.md). Exit codes: 0 stopped by
 * a signal, 2 bad flags, 3 exchange unreachable, 4 token refused or revoked (or another agent took
 * the node over), 5 no GPUs / hardware refused, 1 anything else.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { startAgent, type AgentOptions } from '../agent/agent.js';
import { AgentError, AgentExitCodes } from '../agent/errors.js';

interface AgentCliOptions {
  server?: string;
  token?: string;
  stateDir?: string;
  runtime: 'process' | 'docker';
  nvidiaSmi?: string;
  fakeGpus?: string;
  probe?: boolean;
  heartbeatMs?: number;
  graceMs?: number;
  publicHost?: string;
  sshPorts?: readonly [number, number];
  hostShare?: number;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer ≥ 0');
  return n;
}

function portRange(value: string): readonly [number, number] {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(value);
  const first = Number(m?.[1]);
  const last = Number(m?.[2]);
  if (!m || first < 1 || last > 65_535 || first > last) throw new InvalidArgumentError('expected FIRST-LAST, e.g. 22000-22999');
  return [first, last];
}

function share(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError('expected a fraction in (0, 1]');
  return n;
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run the provider agent on a GPU server: enroll once, then run the leases the exchange sends')
    .addOption(new Option('--server <url>', 'exchange URL (first run; later runs use the enrolled one)').env('SUANLI_SERVER'))
    .addOption(new Option('--token <token>', 'one-time enrollment token (first run only)').env('SUANLI_ENROLL_TOKEN'))
    .addOption(new Option('--state-dir <dir>', 'node identity and scratch dirs (default /var/lib/suanli-agent as root, else ~/.suanli/agent)').env('SUANLI_AGENT_STATE_DIR'))
    .addOption(new Option('--runtime <kind>', 'how workloads run').choices(['process', 'docker']).default('process'))
    .addOption(new Option('--nvidia-smi <path>', 'nvidia-smi program (default: nvidia-smi on PATH)'))
    .addOption(new Option('--fake-gpus <spec>', 'no GPUs: report made-up ones from the catalog, e.g. nvidia-h100-sxm5-80g:8 (shown as unverified)'))
    .addOption(new Option('--probe', 'measure bf16 TFLOPS per GPU with PyTorch and report them'))
    .addOption(new Option('--heartbeat-ms <ms>', "heartbeat interval (default: the exchange's)").argParser(positiveInt))
    .addOption(new Option('--grace-ms <ms>', 'time a stopped workload gets between SIGTERM and SIGKILL').argParser(nonNegativeInt).default(10_000))
    .addOption(new Option('--public-host <host>', 'docker: host name buyers SSH to (default: this host name)'))
    .addOption(new Option('--ssh-ports <first-last>', 'docker: host ports for SSH').argParser(portRange))
    .addOption(new Option('--host-share <fraction>', 'docker: share of host CPUs and RAM all leases may use').argParser(share))
    .showHelpAfterError('(add --help for usage)')
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : AgentExitCodes.usage);
    })
    .action(async (opts: AgentCliOptions) => {
      // An empty environment variable (SUANLI_SERVER=) means unset, not "".
      for (const key of ['server', 'token', 'stateDir'] as const) if (opts[key] === '') delete opts[key];
      const options: AgentOptions = {
        ...(opts.server !== undefined ? { server: opts.server } : {}),
        ...(opts.token !== undefined ? { token: opts.token } : {}),
        ...(opts.stateDir !== undefined ? { stateDir: opts.stateDir } : {}),
        runtime: opts.runtime,
        ...(opts.nvidiaSmi !== undefined ? { nvidiaSmi: opts.nvidiaSmi } : {}),
        ...(opts.fakeGpus !== undefined ? { fakeGpus: opts.fakeGpus } : {}),
        probe: opts.probe === true,
        ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
        ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}),
        docker: {
          ...(opts.publicHost !== undefined ? { publicHost: opts.publicHost } : {}),
          ...(opts.sshPorts !== undefined ? { sshPortRange: opts.sshPorts } : {}),
          ...(opts.hostShare !== undefined ? { hostShare: opts.hostShare } : {}),
        },
      };
      let agent;
      try {
        agent = await startAgent(options);
      } catch (err) {
        process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(err instanceof AgentError ? err.exitCode : AgentExitCodes.unexpected);
      }
      process.stderr.write(
        `suanli agent: node ${agent.nodeId} of ${agent.server}, ${agent.hardware.gpus.length} GPU(s)${agent.hardware.fake ? ' (fake)' : ''}, runtime ${opts.runtime}, state ${agent.stateDir}\n`,
      );
      let signalled = false;
      const onSignal = (): void => {
        if (signalled) return;
        signalled = true;
        process.stderr.write('suanli agent: stopping (workloads get their grace period)…\n');
        void agent.stop();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const end = await agent.done;
      if (end.reason !== 'stopped') process.stderr.write(`error: ${end.message}\n`);
      process.exit(end.exitCode);
    });
}
