import { startLocalStack } from '@outbox/local-stack';

type LocalStack = Awaited<ReturnType<typeof startLocalStack>>;

/** What globalSetup leaves for globalTeardown (both run in Jest's main process). */
export const runState = globalThis as { __localStack?: LocalStack; __localStackUsers?: number };

/**
 * Starts DynamoDB Local, Kafka and kinesalite once for the whole run (reusing any already up on
 * their ports) and hands their endpoints to the tests through the environment. The component and
 * e2e projects both name this setup; the second call finds the stack of the first.
 */
export default async function globalSetup(): Promise<void> {
  runState.__localStackUsers = (runState.__localStackUsers ?? 0) + 1;
  if (runState.__localStack) return;
  const stack = await startLocalStack({ log: (line) => process.stderr.write(`[local-stack] ${line}\n`) });
  process.env.DYNAMODB_ENDPOINT = stack.endpoints.dynamodb;
  process.env.KAFKA_BROKERS = stack.endpoints.kafkaBrokers.join(',');
  process.env.KINESIS_ENDPOINT = stack.endpoints.kinesis;
  process.env.AWS_REGION ??= 'us-east-1';
  runState.__localStack = stack;
}
