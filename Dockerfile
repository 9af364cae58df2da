# syntax=docker/dockerfile:1
# placement-webhook: build the TypeScript, install production dependencies, run on a minimal Node image as a
# non-root numeric user. Works with a read-only root filesystem (it writes nothing; TLS files are mounted).
# .ci/image.sh performs these same steps without Docker.
#
# The image builds and runs on Node 24 (LTS): Node 20 reached its end of life on 2026-04-30. The code, CI and
# package.json's engines stay compatible with Node 20.19 and later, which development machines still run.
# Installs skip lifecycle scripts: `prepare` builds with tsc, which the production install does not have, and the
# build stage runs the build itself once the sources are in.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY examples ./examples
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cli/main.js", "serve"]
