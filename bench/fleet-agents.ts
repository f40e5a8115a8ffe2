/**
 * bench:fleet's load: one process holding many simulated agents. Each is a real WebSocket to the
 * exchange speaking the agent protocol (hello, then a heartbeat with 8 GPUs' health every
 * interval, phases spread evenly so the exchange sees a steady rate, not a thundering herd).
 * Argument: a JSON file `{ url, intervalMs, connectPerSecond, nodes: [{ nodeId, nodeToken }] }`.
 * Prints `{"phase":"connected",…}` once every agent has its welcome, and a final report on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { AGENT_PROTOCOL_VERSION, type AgentMessage } from '../src/agent/protocol.js';
import { fakeHardware } from './fleet-hardware.js';

interface Plan {
  readonly url: string;
  readonly intervalMs: number;
  readonly connectPerSecond: number;
  readonly nodes: readonly { readonly nodeId: string; readonly nodeToken: string }[];
}

const plan = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Plan;
const wsUrl = `${plan.url.replace(/^http/, 'ws')}/api/v1/agent/ws`;
const hardware = fakeHardware();
const gpus = Array.from({ length: 8 }, (_, index) => ({ index, healthy: true, utilizationPct: 0, memoryUsedMiB: 0, temperatureC: 40 }));

let welcomed = 0;
let heartbeats = 0;
let closes = 0;
let errors = 0;
let reconnects = 0;
let stopping = false;
/** How late a heartbeat left this process, beyond its schedule (event-loop lag here, not the exchange's). */
let maxLagMs = 0;
const sockets: WebSocket[] = [];

/** Nodes that have had their first welcome (a reconnect's welcome is not counted again). */
const seen = new Set<string>();

function connect(node: Plan['nodes'][number], phaseMs: number): void {
  const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${node.nodeToken}` }, perMessageDeflate: false });
  sockets.push(ws);
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  ws.on('open', () => {
    const hello: AgentMessage = { type: 'hello', protocol: AGENT_PROTOCOL_VERSION, agentVersion: 'bench', hardware, running: [] };
    ws.send(JSON.stringify(hello));
  });
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as { type: string };
    if (m.type !== 'welcome') return;
    if (!seen.has(node.nodeId)) {
      seen.add(node.nodeId);
      welcomed++;
      if (welcomed === plan.nodes.length) console.log(JSON.stringify({ phase: 'connected', welcomed }));
    }
    // Heartbeats on a fixed schedule from here, offset by this agent's phase.
    let due = Date.now() + phaseMs;
    const beat = (): void => {
      const now = Date.now();
      maxLagMs = Math.max(maxLagMs, now - due);
      const hb: AgentMessage = { type: 'heartbeat', seq: seq++, atMs: now, gpus };
      ws.send(JSON.stringify(hb));
      heartbeats++;
      due += plan.intervalMs;
      timer = setTimeout(beat, Math.max(0, due - Date.now()));
    };
    timer = setTimeout(beat, phaseMs);
  });
  ws.on('close', () => {
    closes++;
    if (timer) clearTimeout(timer);
    // As a real agent does: dial again after a short random wait (a refused dial in the connect
    // storm, or a dropped socket), well inside the exchange's offline window.
    if (!stopping) {
      reconnects++;
      setTimeout(() => connect(node, phaseMs), 200 + Math.floor(Math.random() * 800));
    }
  });
  ws.on('error', () => errors++);
}

// Ramp up at a bounded rate so the exchange's accept queue and our own heap stay sane.
const n = plan.nodes.length;
let next = 0;
const perTick = Math.max(1, Math.round(plan.connectPerSecond / 20));
const ramp = setInterval(() => {
  for (let k = 0; k < perTick && next < n; k++, next++) connect(plan.nodes[next]!, Math.floor((next / n) * plan.intervalMs));
  if (next >= n) clearInterval(ramp);
}, 50);

process.on('SIGTERM', () => {
  stopping = true;
  console.log(JSON.stringify({ phase: 'report', agents: n, welcomed, heartbeats, closes, errors, reconnects, maxLagMs }));
  for (const ws of sockets) ws.terminate();
  process.exit(0);
});
