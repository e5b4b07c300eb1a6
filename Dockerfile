# One image for every process of the pipeline: worker, scheduler, dashboard and one-off CLI runs.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

COPY package.json package-lock.json ./
# npm ci applies them (postinstall: patch-package): postgres.js's fix for a connection that dies
# inside a transaction.
COPY patches ./patches
RUN npm ci --omit=dev && npm cache clean --force

COPY . .

USER node
ENTRYPOINT ["node", "bin/pipeline.js"]
CMD ["--help"]
