# syntax=docker/dockerfile:1
# One recipe, one service per image:
#   docker build --build-arg SERVICE=order-api -t order-api .      (or outbox-relay, notifier)
# The runtime stage holds Node, that service's production dependencies, and the compiled
# JavaScript of the service and packages/shared: no local-stack, tests, TypeScript sources,
# compiler or npm. test/deploy/dockerfile.test.ts checks this file and what npm installs for it.
#
# Base image: node:24-slim (Debian), pinned by the digest of its multi-platform index so every
# build gets the same bytes. How it was chosen: this machine has no Docker engine and no access to
# Docker Hub, so the digest is one that several public repositories pin for node:24-slim (their
# notes call it the OCI index); it was not re-checked against the registry. Verify it before the
# first real build, and refresh it deliberately:
#   docker buildx imagetools inspect node:24-slim   (the "Digest:" line)
ARG NODE_IMAGE=node:24-slim@sha256:a9f5f7c91a432850b2a8a7797adf5eadb6c733ceed61167806cee7ea7fbc29df

FROM ${NODE_IMAGE} AS base
ARG SERVICE
# A missing or unknown SERVICE stops the build here, with the list of what it accepts.
RUN case "${SERVICE}" in \
      order-api|outbox-relay|notifier) ;; \
      '') echo 'build argument SERVICE is required: --build-arg SERVICE=order-api|outbox-relay|notifier' >&2; exit 1 ;; \
      *) echo "unknown SERVICE '${SERVICE}': expected order-api, outbox-relay or notifier" >&2; exit 1 ;; \
    esac
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
WORKDIR /app

# Production dependencies of SERVICE (with packages/shared, a workspace it depends on), from the
# lockfile. Only manifests are copied, so this layer is rebuilt only when a manifest changes.
# `npm ci` is right here: a clean install of exactly the lockfile from the public registry, which
# carries every platform's optional binaries (.ci/run uses `npm install` only because its mirror
# lacks some of them).
FROM base AS deps
ARG SERVICE
COPY package.json package-lock.json ./
COPY packages/shared/package.json packages/shared/
COPY services/${SERVICE}/package.json services/${SERVICE}/
RUN npm ci --omit=dev --workspace services/${SERVICE} && npm cache clean --force

# The compiler and type definitions (root devDependencies), then the sources: only a source change
# re-runs the build from here.
FROM base AS build
ARG SERVICE
COPY package.json package-lock.json ./
COPY packages/shared/package.json packages/shared/
COPY services/${SERVICE}/package.json services/${SERVICE}/
RUN npm ci --workspace services/${SERVICE} --include-workspace-root --ignore-scripts
COPY tsconfig.base.json ./
COPY packages/shared/tsconfig.json packages/shared/
COPY packages/shared/src packages/shared/src
COPY services/${SERVICE}/tsconfig.json services/${SERVICE}/
COPY services/${SERVICE}/src services/${SERVICE}/src
# Type declarations and their maps are for compilers, not for the runtime.
RUN npx tsc -b services/${SERVICE} \
  && find packages/shared/dist services/${SERVICE}/dist \( -name '*.d.ts' -o -name '*.d.ts.map' -o -name '*.tsbuildinfo' \) -delete

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ENV NODE_ENV=production
# Memory settings, the same for npm start, the tests and the bench
# (packages/shared/src/runtime/serviceRuntime.ts says why): glibc keeps two arenas and returns
# freed memory; the V8 flags are in CMD.
ENV MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=131072
# The service runs `node` only: npm, npx, corepack and yarn leave the image.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /opt/yarn-* \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg
WORKDIR /app
# Files stay owned by root and read-only for the `node` user the process runs as.
COPY --from=deps /app ./
COPY --from=build /app/packages/shared/dist packages/shared/dist
COPY --from=build /app/services/${SERVICE}/dist services/${SERVICE}/dist
WORKDIR /app/services/${SERVICE}
USER node
# `node` is the container's main process, so ECS's SIGTERM reaches the service's shutdown handler;
# the V8 flags keep the young generation small and grow the old one in small steps (serviceRuntime.ts);
# `--import` loads the tracing entry first, so OpenTelemetry patches what main.js loads.
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=10", "--import", "./dist/instrumentation.js", "dist/main.js"]
