import { MAX_PRICE_MINOR, MAX_TOTAL_MINOR, decimalTextOf, formatMinorUnits, minorUnitsOf } from '../src/domain/money';
import { numberTextOf, parseExactJson } from '../src/http/exactJsonBody';

describe('minorUnitsOf (decimal text to exact minor units)', () => {
  test.each([
    ['0', 0],
    ['-0', 0],
    ['0.00', 0],
    ['12.5', 1250],
    ['0.1', 10],
    ['19.99', 1999],
    ['1.10', 110],
    ['1.100000', 110],
    ['2e2', 20000],
    ['1.5E+1', 1500],
    ['1234e-2', 1234],
    ['1000000.01', 100000001],
    ['999999999.99', 99999999999],
    ['1000000000', MAX_PRICE_MINOR],
    ['1000000000.00', MAX_PRICE_MINOR],
  ])('When the price text is %p, then it is %p minor units exactly', (text, minor) => {
    expect(minorUnitsOf(text, MAX_PRICE_MINOR)).toEqual({ ok: true, minor });
  });

  test.each([
    ['0.30000000000000001', 'too_precise'],
    ['1.005', 'too_precise'],
    ['0.001', 'too_precise'],
    ['1e-7', 'too_precise'],
    ['1e-99999999999999999999', 'too_precise'],
    ['1000000000.01', 'too_large'],
    ['80000000000000.01', 'too_large'],
    ['1e400', 'too_large'],
    ['1e99999999999999999999', 'too_large'],
    ['-0.01', 'negative'],
    ['-1', 'negative'],
    ['01', 'not_a_number'],
    ['1.', 'not_a_number'],
    ['NaN', 'not_a_number'],
    ['', 'not_a_number'],
  ])('When the price text is %p, then it is refused as %p', (text, problem) => {
    expect(minorUnitsOf(text, MAX_PRICE_MINOR)).toEqual({ ok: false, problem });
  });

  test('When a total is at the maximum, then it is exact; one cent more is too large', () => {
    expect(minorUnitsOf('9999999999999.99', MAX_TOTAL_MINOR)).toEqual({ ok: true, minor: MAX_TOTAL_MINOR });
    expect(minorUnitsOf('10000000000000.00', MAX_TOTAL_MINOR)).toEqual({ ok: false, problem: 'too_large' });
    // Every amount within the bounds survives a trip through a double: responses stay exact.
    expect(MAX_TOTAL_MINOR / 100).toBe(9999999999999.99);
    expect(Number.isSafeInteger(MAX_TOTAL_MINOR)).toBe(true);
  });

  test('When a JavaScript number is turned into text, then it is its shortest round-trip form', () => {
    expect(decimalTextOf(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(decimalTextOf(1e21)).toBe('1e+21');
    expect(formatMinorUnits(5)).toBe('0.05');
    expect(formatMinorUnits(123456n)).toBe('1234.56');
  });
});

describe('parseExactJson (the body parser keeps every number text)', () => {
  test('When a body holds numbers a double cannot keep, then their texts are kept by holder and key', () => {
    const body = parseExactJson(
      '{"items":[{"price":80000000000000.01,"quantity":1},{"price":0.30000000000000001}],"total":1.10}',
    ) as { items: Record<string, unknown>[]; total: number };
    expect(body.items[0]?.price).toBe(80000000000000.02); // what a double makes of it
    expect(numberTextOf(body.items[0] as object, 'price')).toBe('80000000000000.01');
    expect(numberTextOf(body.items[1] as object, 'price')).toBe('0.30000000000000001');
    expect(numberTextOf(body, 'total')).toBe('1.10');
    expect(numberTextOf(body.items, 0)).toBeUndefined();
  });

  const codeOf = (text: string) => {
    try {
      parseExactJson(text);
      return 'parsed';
    } catch (error) {
      return (error as { code?: string }).code;
    }
  };

  test('When the body is empty, a scalar, not JSON or nested too deeply, then it is {} or refused with its code', () => {
    expect(parseExactJson(' \n')).toEqual({});
    expect(codeOf('12')).toBe('request.malformed_json');
    expect(codeOf('{"a":')).toBe('request.malformed_json');
    expect(codeOf(`{"a":${'['.repeat(32)}${']'.repeat(32)}}`)).toBe('request.validation_failed');
    expect(codeOf(`{"a":${'['.repeat(31)}${']'.repeat(31)},"b":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\""}`)).toBe(
      'parsed',
    );
  });
});
