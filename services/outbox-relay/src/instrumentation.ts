/**
 * Tracing entry, loaded before `main.js` with `node --import ./dist/instrumentation.js dist/main.js`
 * (Dockerfile, local stack, tests), so http, express, the AWS SDK, kafkajs and pino are patched
 * before anything loads them. It imports the tracing module alone, never the shared index.
 */
import { startTracing } from '@outbox/shared/dist/observability/startTracing';

startTracing({
  service: 'outbox-relay',
  env: process.env,
  // The relay writes one producer span per record itself (see publish/producerSpans.ts).
  kafkajs: false,
});
