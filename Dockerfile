# syntax=docker/dockerfile:1

# Build: all dependencies, then the project's own `npm run build` (dist/ with the Redis Lua scripts).
# The whole context goes in (.dockerignore keeps out tests, benchmarks, build output), so the image
# builds whatever `npm run build` needs; only dist/ reaches the runtime stage.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Runtime: production dependencies and dist/ only, as the unprivileged `node` user.
FROM node:20-slim
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# Liveness only: readiness (/health/ready) depends on Redis and is checked by the orchestrator.
# Node's own fetch, as slim images have no curl or wget.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Herald drains on SIGTERM (clients closed with 1012, exit 0 within SHUTDOWN_TIMEOUT_MS). Exec form,
# so node is PID 1 and receives the signal itself.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
