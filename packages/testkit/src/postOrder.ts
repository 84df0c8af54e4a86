/** The customer of every order the tests place through order-api. */
export const TEST_CUSTOMER_ID = '5f0c3c3e-8f7a-4c1e-9a53-2f1d3b7f9a10';

/** Options for {@link postOrder}. */
export interface PostOrderOptions {
  /** The order's lines; one of `sku-1` at 3 by default. */
  items?: { productId: string; quantity: number; price: number }[];
  /** Headers besides `content-type` (a caller's `traceparent`, an idempotency key). */
  headers?: Record<string, string>;
}

/** Places an order with `POST /orders` on order-api's port (loopback) and returns the response as it came. */
export function postOrder(port: number, options: PostOrderOptions = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: JSON.stringify({
      customerId: TEST_CUSTOMER_ID,
      items: options.items ?? [{ productId: 'sku-1', quantity: 1, price: 3 }],
    }),
  });
}
