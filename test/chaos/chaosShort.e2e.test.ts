import type * as Chaos from '../../bench/chaos/runChaos.ts' with { 'resolution-mode': 'import' };
import type { ChaosService } from '../../bench/chaos/runChaos.ts' with { 'resolution-mode': 'import' };
import { createDynamoDbClients } from '@outbox/shared';
import { startServiceProcess } from '@outbox/testkit';
import { createTestTables, createTestTopic, pipelineEnv, testEndpoints } from '@outbox/testkit';

// bench/ is an ES module package (node runs bench/chaos.ts directly): a CommonJS test loads it with import().
let chaos: typeof Chaos;
beforeAll(async () => {
  chaos = await import('../../bench/chaos/runChaos.ts');
});

/** A service process of the test's own, in the shape the chaos run signals. */
async function startChaosService(
  kind: 'order-api' | 'outbox-relay' | 'notifier',
  name: string,
  env: Record<string, string>,
): Promise<ChaosService> {
  const service = await startServiceProcess(kind, env);
  return {
    name,
    port: service.port,
    opsPort: service.opsPort,
    child: service.child,
    kill: service.kill,
    stop: async () => {
      // A graceful stop, bounded: whatever still runs after 20 s is killed.
      const timer = setTimeout(() => service.child.kill('SIGKILL'), 20_000);
      await service.stop();
      clearTimeout(timer);
    },
  };
}

describe('chaos, short scenario (npm test)', () => {
  test('When the relay leader is SIGKILLed and the notifier is SIGKILLed between effect and commit under load, then the independent verifier finds none missing, no double effect and per-aggregate order, and both faults recover', async () => {
    const { dynamodb, kafkaBrokers, region } = testEndpoints();
    const tables = await createTestTables();
    const topic = await createTestTopic();
    const { client, doc } = createDynamoDbClients({ region, endpoint: dynamodb });
    const log: string[] = [];
    try {
      const result = await chaos.runChaos({
        durationS: 30,
        rate: 5,
        seed: 13,
        faults: ['relay-sigkill', 'notifier-sigkill'],
        startService: startChaosService,
        env: pipelineEnv(tables, topic),
        brokers: kafkaBrokers,
        topic,
        notificationsTable: tables.notifications,
        doc,
        log: (line) => log.push(line),
        recoveryTimeoutMs: 90_000,
      });
      // The report names every fault and invariant; on failure it is the message to read.
      const verdict = `${result.report}\n${log.join('\n')}`;
      expect(result.faults.map((fault) => fault.name)).toEqual([
        'SIGKILL relay leader',
        expect.stringContaining('SIGKILL notifier between effect and commit'),
      ]);
      expect(result.faults.map((fault) => [fault.name, fault.recoveryMs !== undefined, fault.problem])).toEqual(
        result.faults.map((fault) => [fault.name, true, undefined]),
      );
      expect(result.invariants).toHaveLength(5);
      expect(result.invariants.every((invariant) => invariant.checked > 0)).toBe(true);
      expect({ violations: result.invariants.flatMap((invariant) => invariant.violations), verdict }).toEqual({
        violations: [],
        verdict,
      });
      expect(result.counts.created).toBeGreaterThan(50);
      expect(result.failed).toBe(false);
    } finally {
      client.destroy();
    }
  }, 240_000);
});
