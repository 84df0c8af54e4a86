import { z } from 'zod';
import { ConfigError, commonSettings, kafkaSettings, parseConfig } from '../src';

const schema = z.object({ ...commonSettings, ...kafkaSettings });

describe('parseConfig', () => {
  test('When nothing is set, then every setting has its documented default and the result is frozen', () => {
    const config = parseConfig(schema, {});
    expect(config).toMatchObject({
      AWS_REGION: 'us-east-1',
      ORDERS_TABLE: 'Orders',
      OUTBOX_TABLE: 'OrderOutbox',
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      ORDER_EVENTS_TOPIC: 'order-notification-event-topic',
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.KAFKA_BROKERS)).toBe(true);
  });

  test('When several settings are invalid, then one ConfigError lists every one of them', () => {
    let caught: unknown;
    try {
      parseConfig(schema, { KAFKA_BROKERS: 'no-port', DYNAMODB_ENDPOINT: 'not a url', LOG_LEVEL: 'loud' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join('\n');
    expect(problems).toMatch(/KAFKA_BROKERS/);
    expect(problems).toMatch(/DYNAMODB_ENDPOINT/);
    expect(problems).toMatch(/LOG_LEVEL/);
  });

  test('When Copilot injects addon outputs as ORDERS_TABLE_NAME and ORDER_OUTBOX_TABLE_NAME, then they name the tables', () => {
    const config = parseConfig(schema, {
      ORDERS_TABLE_NAME: 'app-prod-Orders',
      ORDER_OUTBOX_TABLE_NAME: 'app-prod-OrderOutbox',
    });
    expect(config.ORDERS_TABLE).toBe('app-prod-Orders');
    expect(config.OUTBOX_TABLE).toBe('app-prod-OrderOutbox');
  });
});
