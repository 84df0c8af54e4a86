/**
 * The values of `OTEL_TRACES_SAMPLER` the services take (see `samplerFrom`): only parent-based
 * ones, so an order's trace is kept or dropped whole. Apart from the sampler so that the config
 * can name them without loading the tracing SDK.
 */
export const SAMPLERS = ['parentbased_always_on', 'parentbased_traceidratio', 'parentbased_always_off'] as const;
