import { startLocalStack } from '@outbox/local-stack';

/**
 * Starts DynamoDB Local, Kafka and kinesalite once for the whole run (reusing any already up on
 * their ports) and hands their endpoints to the tests through the environment.
 */
export default async function globalSetup(): Promise<void> {
  const stack = await startLocalStack({ log: (line) => process.stderr.write(`[local-stack] ${line}\n`) });
  process.env.DYNAMODB_ENDPOINT = stack.endpoints.dynamodb;
  process.env.KAFKA_BROKERS = stack.endpoints.kafkaBrokers.join(',');
  process.env.KINESIS_ENDPOINT = stack.endpoints.kinesis;
  process.env.AWS_REGION ??= 'us-east-1';
  (globalThis as { __localStack?: typeof stack }).__localStack = stack;
}
