import fs from 'node:fs';

/** A running process as /proc shows it. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  command: string;
}

/** Every process on this machine (Linux /proc). */
export function listProcesses(): ProcessInfo[] {
  const processes: ProcessInfo[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the parenthesized command name, which may contain spaces.
      const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const command = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      processes.push({ pid: Number(entry), ppid: Number(afterName[1]), command });
    } catch {
      // The process ended while we looked.
    }
  }
  return processes;
}

/** Java processes that are children of `parentPid`. */
export function javaChildrenOf(parentPid: number): ProcessInfo[] {
  return listProcesses().filter((info) => info.ppid === parentPid && /\bjava\b/.test(info.command.split(' ')[0] ?? ''));
}

/** Whether a process with this pid is alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
