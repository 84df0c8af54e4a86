import { AppError } from '../errors/AppError';

/** Thrown by `loadConfig` with every invalid setting listed at once. */
export class ConfigError extends AppError {
  readonly problems: string[];

  constructor(problems: string[]) {
    super('config.invalid', `Invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      retriable: false,
    });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
