/**
 * Records of the process groups the process runtime started, so that a restarted agent can end
 * the ones a killed predecessor left running (they were detached into their own sessions, so
 * nothing else ends them, and nobody bills them any more).
 *
 * A pid alone proves nothing (pids are reused): each record also keeps the process's start time
 * (field 22 of /proc/<pid>/stat), and only a process with the same pid and start time is killed.
 * Linux only; where /proc is missing nothing is recorded and the sweep does nothing.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The start time of `pid` in clock ticks since boot, or null (gone, or no /proc). */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

export class PidRecords {
  constructor(private readonly dir: string) {}

  /** Synchronous on purpose: a few bytes, and the record must exist before anything else happens. */
  add(leaseId: string, pid: number): void {
    const started = processStartTime(pid);
    if (started === null) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(this.dir, leaseId), `${pid} ${started}\n`, { mode: 0o600 });
  }

  remove(leaseId: string): void {
    rmSync(join(this.dir, leaseId), { force: true });
  }

  /** Kills every recorded group whose leader is still the recorded process; forgets all records. Returns how many. */
  sweep(): number {
    let killed = 0;
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      const [pidText, started] = readFileSync(join(this.dir, name), 'utf8').trim().split(' ');
      const pid = Number(pidText);
      if (Number.isSafeInteger(pid) && pid > 1 && started !== undefined && processStartTime(pid) === started) {
        try {
          process.kill(-pid, 'SIGKILL');
          killed++;
        } catch {
          // gone meanwhile
        }
      }
      rmSync(join(this.dir, name), { force: true });
    }
    return killed;
  }
}
