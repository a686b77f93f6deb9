# syntax=docker/dockerfile:1
# runwarden: build with the full toolchain, run with production dependencies only.

FROM node:22-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 compiles its native addon when no prebuilt binary fits.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    RUNWARDEN_SERVER_ADDRESS=0.0.0.0:9464 \
    RUNWARDEN_STATE_DIR=/var/lib/runwarden \
    RUNWARDEN_BACKUP_DIR=/var/backups/runwarden \
    RUNWARDEN_BACKUP_SOURCES_DATA_DIR=/data \
    RUNWARDEN_LOG_FORMAT=json
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY config/runwarden.example.yaml /etc/runwarden/runwarden.yaml
RUN mkdir -p /var/lib/runwarden /var/backups/runwarden && chown node:node /var/lib/runwarden /var/backups/runwarden
USER node
# /data is the app's data folder (its SQLite files and media), mounted read-write for restores.
VOLUME ["/var/lib/runwarden", "/var/backups/runwarden", "/data"]
EXPOSE 9464
# `healthcheck` asks /healthz over what the config serves (https with server.tls), at its address.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "dist/cli/main.js", "healthcheck", "--config", "/etc/runwarden/runwarden.yaml"]
# Exec form: node is PID 1 and gets SIGTERM directly (no shell between); runwarden drains on it.
# The node flags of the CLI's shebang (src/cli/main.ts says why): they keep the daemon's memory down.
ENTRYPOINT ["node", "--max-semi-space-size=4", "--v8-pool-size=1", "dist/cli/main.js"]
CMD ["daemon", "--config", "/etc/runwarden/runwarden.yaml"]
