# One image recipe for every service: docker build --build-arg SERVICE=order-api .
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages ./packages
COPY services ./services
RUN npm ci --no-audit --no-fund && npx tsc -b && npm prune --omit=dev

FROM node:24-slim
ARG SERVICE
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
WORKDIR /app/services/${SERVICE}
USER node
# node itself is PID 1's child-free main process, so SIGTERM from ECS reaches it directly.
CMD ["node", "--import", "./dist/instrumentation.js", "dist/main.js"]
