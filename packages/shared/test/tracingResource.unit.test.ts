import { z } from 'zod';
import { commonSettings, parseConfig, resourceAttributesFrom } from '@outbox/shared';

describe('the resource attributes of the spans, from OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME', () => {
  test('When nothing is set, then the spans carry the service name alone', () => {
    expect(resourceAttributesFrom({}, 'outbox-relay')).toEqual({ 'service.name': 'outbox-relay' });
  });

  test('When a list is set, then its entries are added, trimmed and percent-decoded, and an empty value stays empty', () => {
    expect(
      resourceAttributesFrom(
        { OTEL_RESOURCE_ATTRIBUTES: ' deployment.environment.name=prod , team=orders%2C%20payments,empty= ' },
        'notifier',
      ),
    ).toEqual({
      'service.name': 'notifier',
      'deployment.environment.name': 'prod',
      team: 'orders, payments',
      empty: '',
    });
  });

  test('When OTEL_SERVICE_NAME is set, then it names the service, over a service.name in the list too', () => {
    expect(
      resourceAttributesFrom(
        { OTEL_SERVICE_NAME: 'order-api-eu', OTEL_RESOURCE_ATTRIBUTES: 'service.name=other,team=orders' },
        'order-api',
      ),
    ).toEqual({ 'service.name': 'order-api-eu', team: 'orders' });
    expect(resourceAttributesFrom({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=other' }, 'order-api')).toEqual({
      'service.name': 'other',
    });
  });

  test('When an entry is not key=value or a value is badly encoded, then it is refused with the entry at fault, at start and by the config', () => {
    expect(() => resourceAttributesFrom({ OTEL_RESOURCE_ATTRIBUTES: 'team=orders,prod' }, 'x')).toThrow(
      'OTEL_RESOURCE_ATTRIBUTES has an entry that is not key=value: "prod"',
    );
    expect(() => resourceAttributesFrom({ OTEL_RESOURCE_ATTRIBUTES: '=prod' }, 'x')).toThrow('not key=value: "=prod"');
    expect(() => resourceAttributesFrom({ OTEL_RESOURCE_ATTRIBUTES: 'team=100%' }, 'x')).toThrow(
      'OTEL_RESOURCE_ATTRIBUTES: the value of team is not validly percent-encoded: "100%"',
    );
    expect(() => parseConfig(z.object(commonSettings), { OTEL_RESOURCE_ATTRIBUTES: 'team=orders,prod' })).toThrow(
      'OTEL_RESOURCE_ATTRIBUTES: must be a list of key=value pairs',
    );
  });
});
