# syntax=docker/dockerfile:1
# Image for the ingest service, on Node.js 24 (LTS). Build: docker build -t ingest .
# Run:   docker run -p 5000:5000 -e WORKERS=2 -e REDIS_URL=redis://redis:6379 \
#          -e JWT_PUBLIC_KEY_FILE=/keys/jwt.pem -v /path/to/keys:/keys:ro ingest
# NODE_ENV=production makes a JWT key required and the adapter default to
# redis_streams (REDIS_URL). Stop with a grace period above SHUTDOWN_TIMEOUT_MS
# (docker stop -t 45): docker's 10 s default cuts the shutdown short.
# Every package comes from package-lock.json (npm ci); the image holds only the
# production ones (npm run sbom lists them, docs/operations.md).

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# The CLIs in src/client import the publishable packages' sources (ingest-replay uses
# @ingest/consumer): tsc compiles those into dist/packages beside dist/src.
COPY packages ./packages
RUN npx tsc -p tsconfig.json
# What `npm run build`'s postbuild checks: tsc succeeds without a file nothing imports
# (the worker, the health probe), so an image could build without its own entry points.
COPY ops/check-entry-points.js ops/entry-points.txt ./ops/
RUN node ops/check-entry-points.js --listed-only

# The runtime's node_modules: the lockfile's production packages, installed afresh.
FROM node:24-bookworm-slim AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=production-deps --chown=root:root /app/package.json ./
COPY --from=production-deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist/src ./dist/src
# What dist/src/client requires at run time (ingest-replay in the image: docs/consumer.md).
COPY --from=build --chown=root:root /app/dist/packages ./dist/packages
# The image's own non-root user; the code it runs is owned by root and read-only to it.
USER node
EXPOSE 5000
# Docker's health status, from GET /health on the container's own PORT: healthy or
# degraded pass, unhealthy (no worker can publish, none ready, shutting down) fails.
# The probe is node running dist/src/primary/health-probe.js (copied above with
# dist/src; the slim image has no curl): it finds PORT, HOST and TLS through the
# service's own configuration, so `-e PORT=…` moves the probe too, and gives up
# after 3 s, inside --timeout. The start period covers the backend connection
# (BACKEND_CONNECT_TIMEOUT_MS, 10 s by default). Plain Docker only reports the
# status; an orchestrator that restarts unhealthy containers would also restart
# one during a backend outage (docs/operations.md, "Container").
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "dist/src/primary/health-probe.js"]
# The primary is PID 1 (exec-form CMD, no shell or init in between). It handles
# SIGTERM and SIGINT itself (graceful drain; PID 1 gets no default signal action),
# and reaps its workers, the only processes it starts; so no init is needed.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/primary/main.js"]
