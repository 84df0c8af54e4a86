import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@outbox/testkit';
import type * as CpuCapModule from '../../bench/cpuCap.ts' with { 'resolution-mode': 'import' };

// bench/ is an ES module package (node runs bench/*.ts directly): a CommonJS test loads it with import().
let cpuCap: typeof CpuCapModule;
beforeAll(async () => {
  cpuCap = await import('../../bench/cpuCap.ts');
});

describe('bench CPU quota', () => {
  test("When the relay's Copilot manifest is read, then its task size is 0.25 vCPU (cpu: 256)", () => {
    expect(cpuCap.relayTaskCpus(join(__dirname, '..', '..', 'copilot', 'outbox-relay', 'manifest.yml'))).toBe(0.25);
  });

  test('When a busy process is put under a 0.2 CPU quota as root, then it takes at least 1.2 s of wall time to use 0.3 s of CPU, and the group is gone after it ends', async () => {
    const cap = cpuCap.createCpuCap(`outbox-bench-test-${process.pid}`, 0.2);
    if (process.getuid?.() !== 0) {
      // Without root no cgroup can be made: the bench then says why and runs uncapped.
      expect(cap).toEqual({ unavailable: expect.any(String) });
      return;
    }
    if ('unavailable' in cap) throw new Error(`no CPU quota as root: ${cap.unavailable}`);
    const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    try {
      cap.add(busy.pid!);
      const started = performance.now();
      await waitFor(async () => cpuCap.cpuSeconds(busy.pid!) >= 0.3, {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: '0.3 s of CPU',
      });
      // Uncapped, a busy loop uses 0.3 s of CPU in about 0.3 s.
      expect(performance.now() - started).toBeGreaterThanOrEqual(1200);
    } finally {
      busy.kill('SIGKILL');
      await new Promise((resolve) => busy.once('exit', resolve));
      await cap.remove();
    }
    const name = `outbox-bench-test-${process.pid}`;
    expect([join('/sys/fs/cgroup/cpu', name), join('/sys/fs/cgroup', name)].filter((dir) => existsSync(dir))).toEqual(
      [],
    );
  });

  test('When this process spins for 300 ms, then the machine counts busy ticks, and the busy share between the readings is between 0 and 1', () => {
    const before = cpuCap.machineCpuTicks();
    const until = Date.now() + 300;
    while (Date.now() < until) Math.sqrt(Math.random());
    const after = cpuCap.machineCpuTicks();
    expect(after.busy - before.busy).toBeGreaterThan(0);
    const share = cpuCap.busyShare(before, after);
    expect(share).toBeGreaterThan(0);
    expect(share).toBeLessThanOrEqual(1);
    expect(cpuCap.busyShare({ busy: 10, total: 40 }, { busy: 40, total: 80 })).toBe(0.75);
    expect(cpuCap.busyShare(after, after)).toBeNaN();
  });
});
