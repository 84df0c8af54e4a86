import type { z } from 'zod';
import type { FieldError } from './errors';

/**
 * Turns zod issues into field errors named by path (`items.0.price`). Unknown keys are reported
 * on the object that holds them (`(body)` at the top), one error per key, naming the key.
 */
export function fieldErrorsOf(error: z.ZodError, root = '(body)'): FieldError[] {
  return error.issues.flatMap((issue): FieldError[] => {
    const field = issue.path.map(String).join('.') || root;
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field, message: `unknown field "${key}" is not allowed` }));
    }
    return [{ field, message: issue.message }];
  });
}
