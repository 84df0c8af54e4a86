import { toMinorUnits } from '../src/domain/money';

describe('toMinorUnits', () => {
  test.each([
    [0, 0],
    [12.5, 1250],
    [0.1, 10],
    [19.99, 1999],
    [1000000.01, 100000001],
  ])('When the price is %p, then it is %p minor units exactly', (price, minor) => {
    expect(toMinorUnits(price)).toBe(minor);
  });

  test.each([[1.005], [-1], [Number.NaN], [Number.POSITIVE_INFINITY], [1e-7]])(
    'When the price is %p, then it is refused',
    (price) => {
      expect(toMinorUnits(price)).toBeUndefined();
    },
  );
});
