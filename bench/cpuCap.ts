/**
 * A CPU quota for a group of processes, to run a relay the size of its Fargate task (the
 * `cpu:` of `copilot/outbox-relay/manifest.yml`, 256 units = 0.25 vCPU) on a laptop whose cores
 * it would otherwise share freely with the servers. Linux cgroups: v1 `cpu` controller
 * (`cpu.cfs_quota_us`) or v2 (`cpu.max`); both need root. Without access the bench says so and
 * runs the relays uncapped.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PERIOD_US = 100_000;

export interface CpuCap {
  /** The quota, in CPUs. */
  readonly cpus: number;
  /** Puts a running process under the quota. */
  add(pid: number): void;
  /** Removes the group once its processes have exited (the kernel frees it a moment after). */
  remove(): Promise<void>;
}

/** A new group with `cpus` CPUs (e.g. 0.25), or the reason none can be made here. */
export function createCpuCap(name: string, cpus: number): CpuCap | { unavailable: string } {
  const candidates = [
    {
      dir: join('/sys/fs/cgroup/cpu', name),
      parentProbe: '/sys/fs/cgroup/cpu/cpu.cfs_quota_us',
      limit: (dir: string) => {
        writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
        writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(Math.round(cpus * PERIOD_US)));
      },
    },
    {
      dir: join('/sys/fs/cgroup', name),
      parentProbe: '/sys/fs/cgroup/cgroup.subtree_control',
      limit: (dir: string) => writeFileSync(join(dir, 'cpu.max'), `${Math.round(cpus * PERIOD_US)} ${PERIOD_US}`),
    },
  ];
  const problems: string[] = [];
  for (const candidate of candidates) {
    if (!existsSync(candidate.parentProbe)) continue;
    if (
      candidate.parentProbe.endsWith('subtree_control') &&
      !readFileSync(candidate.parentProbe, 'utf8').includes('cpu')
    ) {
      problems.push('cgroup v2 without the cpu controller enabled');
      continue;
    }
    try {
      mkdirSync(candidate.dir, { recursive: true });
      candidate.limit(candidate.dir);
      const dir = candidate.dir;
      return {
        cpus,
        add: (pid) => writeFileSync(join(dir, 'cgroup.procs'), String(pid)),
        remove: async () => {
          // A group is busy for a moment after its last process exited: retry for up to 2 s.
          for (let attempt = 0; attempt < 40 && existsSync(dir); attempt++) {
            try {
              rmdirSync(dir);
            } catch {
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          }
        },
      };
    } catch (error) {
      problems.push(`${candidate.dir}: ${(error as Error).message}`);
    }
  }
  return { unavailable: problems.length > 0 ? problems.join('; ') : 'no cgroup cpu controller mounted' };
}

/** The relay task's vCPU from its Copilot manifest (`cpu: 256` → 0.25). */
export function relayTaskCpus(manifestFile: string): number {
  const match = /^cpu:\s*(\d+)\s*$/m.exec(readFileSync(manifestFile, 'utf8'));
  if (!match) throw new Error(`${manifestFile} has no top-level cpu: line`);
  return Number(match[1]) / 1024;
}

/** A variable the relay's Copilot manifest sets for its task (`  LEASE_DURATION_MS: 6000`), if any. */
export function relayTaskVariable(manifestFile: string, name: string): string | undefined {
  const match = new RegExp(`^\\s+${name}:\\s*'?([^'\\s#]+)'?\\s*(#.*)?$`, 'm').exec(readFileSync(manifestFile, 'utf8'));
  return match?.[1];
}

/** CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat` (NaN once gone). */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The machine's CPU time so far, all cores, from `/proc/stat`: busy (not idle, not waiting on I/O) and total, in ticks. */
export function machineCpuTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, n) => sum + n, 0);
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
}

/** The share of all cores busy between two {@link machineCpuTicks} readings (0–1). */
export function busyShare(before: { busy: number; total: number }, after: { busy: number; total: number }): number {
  return after.total > before.total ? (after.busy - before.busy) / (after.total - before.total) : Number.NaN;
}
