#!/usr/bin/env node
/**
 * A stand-in for `nvidia-smi` that replays one real capture from /work/shared/fixtures/nvidia-smi.
 *
 * FAKE_NVIDIA_SMI_CAPTURE names the capture, in one of two shapes:
 * - a sectioned capture file (nvidia_gpu_exporter format): blocks introduced by
 *       ####…
 *       # <phase> :: <label>
 *       # $ nvidia-smi <args>
 *       ####…
 *   followed by the raw output, with `# (exit code: N)` as the last line where the command failed;
 * - a path prefix `<dir>/<stem>` for bare captures `<stem>__list-gpus.txt` (`-L`) and
 *   `<stem>__topo-m.txt` (`topo -m`), as in fixtures/nvidia-smi/multi-gpu/.
 *
 * FAKE_NVIDIA_SMI_PHASE picks which recording answers `--query-gpu` and the plain table where the
 * capture has several (`idle`, the default, or `load`).
 *
 * Supported invocations: `-L` / `--list-gpus`, `topo -m`, `--version`, no arguments (the summary
 * table), and `--query-gpu=<fields> --format=csv[,noheader][,nounits]` for ANY field list: columns
 * are selected and reordered by the header names recorded in the capture (aliases such as
 * `gpu_name` are resolved through the recorded `--help-query-gpu`). An unknown field exits 2 with
 * nvidia-smi's message. A command the capture does not hold exits 1.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const capturePath = process.env.FAKE_NVIDIA_SMI_CAPTURE;
const phase = process.env.FAKE_NVIDIA_SMI_PHASE ?? 'idle';

function fail(message, code) {
  process.stderr.write(message.endsWith('\n') ? message : `${message}\n`);
  process.exit(code);
}

if (!capturePath) fail('fake-nvidia-smi: FAKE_NVIDIA_SMI_CAPTURE is not set', 1);

/** @returns {{ phase: string, label: string, command: string | null, body: string, exitCode: number }[]} */
function readSections(path) {
  const lines = readFileSync(path, 'utf8').replace(/\r\n/g, '\n').split('\n');
  const sections = [];
  const rule = /^#{40,}$/;
  let i = 0;
  while (i < lines.length) {
    if (!rule.test(lines[i] ?? '')) {
      i++;
      continue;
    }
    // A header block: rule, comment lines, rule.
    let j = i + 1;
    const comments = [];
    while (j < lines.length && !rule.test(lines[j] ?? '') && (lines[j] ?? '').startsWith('#')) comments.push(lines[j++]);
    if (j >= lines.length || !rule.test(lines[j] ?? '')) {
      i = j;
      continue;
    }
    let k = j + 1;
    const body = [];
    while (k < lines.length && !rule.test(lines[k] ?? '')) body.push(lines[k++]);
    const title = /^# (\S+) :: (.*)$/.exec(comments[0] ?? '');
    const cmd = comments.map((c) => /^# \$ nvidia-smi(?: (.*))?$/.exec(c)).find(Boolean);
    while (body.length > 0 && (body[body.length - 1] ?? '').trim() === '') body.pop();
    let exitCode = 0;
    const exitLine = /^# \(exit code: (\d+)\)$/.exec(body[body.length - 1] ?? '');
    if (exitLine) {
      exitCode = Number(exitLine[1]);
      body.pop();
      while (body.length > 0 && (body[body.length - 1] ?? '').trim() === '') body.pop();
    }
    if (title) {
      sections.push({
        phase: title[1],
        label: title[2],
        command: cmd ? (cmd[1] ?? '').trim() : null,
        body: body.length > 0 ? `${body.join('\n')}\n` : '',
        exitCode,
      });
    }
    i = k;
  }
  return sections;
}

function loadCapture(path) {
  if (existsSync(path)) return readSections(path);
  // Bare captures: <stem>__list-gpus.txt, <stem>__topo-m.txt.
  const dir = dirname(path);
  const stem = `${basename(path)}__`;
  const commands = { 'list-gpus': '-L', 'topo-m': 'topo -m' };
  const sections = [];
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(stem) || !name.endsWith('.txt')) continue;
      const what = name.slice(stem.length, -'.txt'.length);
      const command = commands[what];
      if (command === undefined) continue;
      const body = readFileSync(join(dir, name), 'utf8').replace(/\r\n/g, '\n');
      sections.push({ phase: 'capabilities', label: what, command, body, exitCode: 0 });
    }
  }
  if (sections.length === 0) fail(`fake-nvidia-smi: no capture at ${path}`, 1);
  return sections;
}

const sections = loadCapture(capturePath);

/** The recording of `nvidia-smi <command>`, preferring the requested phase. */
function find(predicate) {
  const all = sections.filter(predicate);
  return all.find((s) => s.phase === phase) ?? all[0];
}

function replay(section, what) {
  if (!section) fail(`fake-nvidia-smi: the capture holds no recording of 'nvidia-smi ${what}'`, 1);
  if (section.exitCode !== 0) {
    process.stdout.write(section.body);
    process.exit(section.exitCode);
  }
  process.stdout.write(section.body);
  process.exit(0);
}

/** Aliases from the recorded `--help-query-gpu`: lines like `"name" or "gpu_name"`. */
function aliasGroups() {
  const help = find((s) => s.command === '--help-query-gpu');
  const groups = new Map();
  if (!help) return groups;
  for (const line of help.body.split('\n')) {
    if (!/^"[^"]+"( or "[^"]+")*\s*$/.test(line)) continue;
    const names = [...line.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    for (const n of names) groups.set(n.toLowerCase(), names);
  }
  return groups;
}

/** Splits one line of nvidia-smi CSV: values are separated by ", " and never quoted. */
function splitCsv(line) {
  return line.split(', ').map((v) => v.trim());
}

function queryGpu(fieldList, format) {
  const formats = format.split(',').map((f) => f.trim());
  if (!formats.includes('csv')) fail('"--format=" option is missing or has invalid value. Please run \'nvidia-smi -h\' for help.', 2);
  const rec = find((s) => s.command !== null && s.command.startsWith('--query-gpu=') && s.exitCode === 0);
  if (!rec) fail("fake-nvidia-smi: the capture holds no recording of 'nvidia-smi --query-gpu'", 1);
  const lines = rec.body.split('\n').filter((l) => l.trim() !== '');
  const recordedFormat = /--format=(\S+)/.exec(rec.command)?.[1]?.split(',') ?? [];
  if (recordedFormat.includes('noheader')) fail('fake-nvidia-smi: the recorded query-gpu has no header line', 1);
  const header = splitCsv(lines[0] ?? '').map((h) => {
    const m = /^(.*?)(?: \[(.+)\])?$/.exec(h);
    return { label: h, name: (m?.[1] ?? h).toLowerCase(), unit: m?.[2] ?? null };
  });
  const rows = lines.slice(1).map(splitCsv);
  for (const r of rows) {
    if (r.length !== header.length) fail(`fake-nvidia-smi: recorded row has ${r.length} values for ${header.length} columns`, 1);
  }
  const aliases = aliasGroups();
  const wanted = fieldList.split(',').map((f) => f.trim());
  const columns = wanted.map((field) => {
    const candidates = aliases.get(field.toLowerCase()) ?? [field];
    const idx = header.findIndex((h) => h.name === field.toLowerCase() || candidates.some((c) => c.toLowerCase() === h.name));
    if (idx < 0) fail(`Field "${field}" is not a valid field to query.\n`, 2);
    return idx;
  });
  const noheader = formats.includes('noheader');
  const nounits = formats.includes('nounits');
  const out = [];
  if (!noheader) out.push(columns.map((c) => header[c].label).join(', '));
  for (const r of rows) {
    out.push(
      columns
        .map((c) => {
          const v = r[c] ?? '';
          const unit = header[c].unit;
          if (nounits && unit !== null && v.endsWith(` ${unit}`)) return v.slice(0, -unit.length - 1);
          return v;
        })
        .join(', '),
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
  process.exit(0);
}

const args = process.argv.slice(2);
const queryArg = args.find((a) => a.startsWith('--query-gpu='));
if (queryArg !== undefined) {
  const formatArg = args.find((a) => a.startsWith('--format='));
  if (formatArg === undefined) fail('"--format=" option is missing or has invalid value. Please run \'nvidia-smi -h\' for help.', 2);
  queryGpu(queryArg.slice('--query-gpu='.length), formatArg.slice('--format='.length));
} else if (args.length === 1 && (args[0] === '-L' || args[0] === '--list-gpus')) {
  replay(find((s) => s.command === '-L'), '-L');
} else if (args.length === 2 && args[0] === 'topo' && args[1] === '-m') {
  replay(find((s) => s.command === 'topo -m'), 'topo -m');
} else if (args.length === 1 && args[0] === '--version') {
  replay(find((s) => s.command === '--version'), '--version');
} else if (args.length === 0) {
  replay(find((s) => s.command === ''), '');
} else {
  fail(`fake-nvidia-smi: unsupported arguments: ${args.join(' ')}\nInvalid combination of input arguments. Please run 'nvidia-smi -h' for help.`, 2);
}
